"""`kill -9` of a real `dvc repro` at random moments, then `dvc repro` again: the result is the
uninterrupted run's, every time.

Each stage is first run uninterrupted in a reference repo, timed. In a second repo the same
command is started and the whole process group (DVC, the stage, its workers) gets SIGKILL after
a seeded random delay within the reference's wall time; the command is started again until it
completes, and the outputs are compared with the reference's. Training is killed in episodes
(`dvc repro -f` starts one afresh; after KILLS_PER_EPISODE kills the episode runs to its end
uninterrupted) until at least MIN_KILLS kills have landed while the stage was incomplete.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest
import voluptuous
import yaml
from dvc.schema import COMPILED_LOCKFILE_SCHEMA
from dvcrepo import BIN, dvc, env, make_repo, train_digest

pytestmark = pytest.mark.usefixtures("tracking_off")  # nothing here reads MLflow; kills land in the work
MIN_KILLS = 10  # kill points over the training stage, as the issue asks
KILLS_PER_EPISODE = 5  # then the episode's training runs to its end uninterrupted
TINY = {
    "data": {"count": 40, "seed": 0},
    # MTCNN, the default mode: its worker process is killed too. One worker: each is a process that
    # imports torch and facenet-pytorch (about 4 s) to detect in 40 small images
    "crop": {"batch_size": 20, "workers": 1},
    "prepare": {"resolution": 16},
    "train": {"models": ["dcgan"], "sample_every": 20, "checkpoint_every": 20, "log_every": 5, "grid_size": 2},
    "dcgan": {"steps": 200, "batch_size": 8, "width": 8},
}


def tree_digest(path: Path) -> dict[str, str]:
    """SHA-256 of every file under path (or of path itself), by relative name."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return {str(p.relative_to(path.parent)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


TIMINGS = ("images_per_second", "train_seconds", "seconds")  # how fast, not what: they differ run to run


def metrics_without_timings(path: Path) -> dict:
    return {k: v for k, v in json.loads(path.read_text()).items() if k not in TIMINGS}


def timed_repro(repo: Path, *args: str) -> float:
    start = time.monotonic()
    dvc(repo, "repro", *args)
    return time.monotonic() - start


DVC_REPAIRS: dict[str, list[str]] = {"rwlock": [], "dvc.lock": []}  # file -> the kills after which it was repaired


def repair_dvc_files(repo: Path, stage: str) -> None:
    """What a user does after a kill during DVC's own bookkeeping (docs/faults.md).

    DVC rewrites two files in place (open with "w+", then write): a kill in between leaves them
    empty or cut short, and every later `dvc` command stops until they are repaired, with no DVC
    process running. `.dvc/tmp/rwlock` ("Unable to read RWLock-file ... JSON structure is
    corrupted", DVC's issue #7615) is removed. `dvc.lock` ("'./dvc.lock' validation failed") is
    removed too, as a user would restore it with `git checkout dvc.lock`: the stages it recorded
    are then restored from DVC's run cache, not run again. ganlab cannot change either; this
    counts how often they happen.
    """
    lock = repo / ".dvc/tmp/rwlock"
    try:
        json.loads(lock.read_text())
    except FileNotFoundError:
        pass
    except ValueError:
        lock.unlink()
        DVC_REPAIRS["rwlock"].append(stage)
    if not lockfile_is_valid(repo / "dvc.lock"):
        (repo / "dvc.lock").unlink()
        DVC_REPAIRS["dvc.lock"].append(stage)


def lockfile_is_valid(path: Path) -> bool:
    """True if DVC would read `path` (or it is absent): YAML that DVC's own lockfile schema accepts."""
    try:
        COMPILED_LOCKFILE_SCHEMA(yaml.safe_load(path.read_text()) or {})
    except FileNotFoundError:
        return True
    except (yaml.YAMLError, voluptuous.Invalid):
        return False
    return True


def run_killed(repo: Path, delay: float, *args: str) -> bool:
    """`dvc repro ARGS`, its process group killed with SIGKILL after `delay` s; True if the kill
    landed, False if the command ended first (then it must have succeeded)."""
    with open(repo / "killed.log", "a") as log:
        proc = subprocess.Popen([str(BIN / "dvc"), "repro", *args], cwd=repo, env=env(OMP_NUM_THREADS="1"),
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            repair_dvc_files(repo, args[-1])
            return True
    assert proc.returncode == 0, (repo / "killed.log").read_text()
    return False


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, dict[str, float]]:
    """The uninterrupted run, stage by stage, with each stage's wall time."""
    repo = make_repo(tmp_path_factory.mktemp("reference"), TINY)
    dvc(repo, "repro", "download")
    seconds = {stage: timed_repro(repo, stage) for stage in ("crop", "prepare", "train@dcgan")}
    assert not (repo / "mlflow.db").exists()  # tracking_off reached the stages
    return repo, seconds


@pytest.fixture(scope="module")
def killed_repo(tmp_path_factory) -> Path:
    repo = make_repo(tmp_path_factory.mktemp("killed"), TINY)
    dvc(repo, "repro", "download")
    return repo


def no_temporaries(repo: Path) -> bool:
    """No `.<name>.<random>.tmp` left in the data or metrics folders (io.atomic_path's names)."""
    return not [p for folder in ("data", "metrics") for p in (repo / folder).rglob(".*.tmp")]


@pytest.mark.parametrize("stage, outputs, metrics", [("crop", ["data/crops"], "metrics/crop.json"), ("prepare", ["data/prepared/faces.npz"], None)])
def test_a_killed_data_stage_reruns_to_identical_bytes(reference, killed_repo, stage, outputs, metrics, record_fault):
    ref, seconds = reference
    rng = random.Random(f"kill {stage}")
    kills = 0
    for _ in range(3):
        kills += run_killed(killed_repo, rng.uniform(0, seconds[stage]), stage)
    dvc(killed_repo, "repro", stage)
    same = all(tree_digest(killed_repo / out) == tree_digest(ref / out) for out in outputs)
    same = same and (metrics is None or metrics_without_timings(killed_repo / metrics) == metrics_without_timings(ref / metrics))
    assert same, f"{stage} after {kills} kills differs from the uninterrupted run"
    assert no_temporaries(killed_repo)
    record_fault(f"kill -9 of dvc repro {stage}", kills, kills, kills if same else 0)


def history(repo: Path) -> list[dict]:
    with open(repo / "metrics/dcgan/losses.csv") as f:
        return list(csv.DictReader(f))


def test_killed_training_resumes_to_the_uninterrupted_weights(reference, killed_repo, record_fault):
    ref, seconds = reference
    want_digest = train_digest(ref)
    want_history = history(ref)
    assert len({row["step"] for row in want_history}) == len(want_history) == TINY["dcgan"]["steps"] // TINY["train"]["log_every"]
    dvc(killed_repo, "repro", "prepare")
    rng = random.Random("kill train")
    kills, episodes, identical = 0, 0, 0
    while kills < MIN_KILLS:
        episodes += 1
        kills_now, args = 0, ["-f", "-s", "train@dcgan"]  # -f: run it, though the last episode completed; it resumes if a kill left a checkpoint
        # at most KILLS_PER_EPISODE kills, then one uninterrupted run: a kill drawn before the
        # next checkpoint makes no progress, and with the start-up a large part of the reference
        # time, an episode left to end by chance once ran 130 attempts (about 10 minutes)
        while kills_now < KILLS_PER_EPISODE and run_killed(killed_repo, rng.uniform(0, seconds["train@dcgan"]), *args):
            # -f again: dvc.lock (and the run cache) hold the last episode's identical training, and
            # a plain `dvc repro` would check its outputs out of DVC's cache instead of resuming
            kills_now += 1
        if kills_now == KILLS_PER_EPISODE:
            dvc(killed_repo, "repro", *args)  # resumes from the last kill's checkpoint and completes
        dvc(killed_repo, "repro", "train@dcgan")  # a no-op: the last attempt completed
        got = train_digest(killed_repo)
        assert got == want_digest, f"episode {episodes}: {kills_now} kills, weights differ from the uninterrupted run's"
        assert history(killed_repo) == want_history  # each step once, with the same losses
        assert no_temporaries(killed_repo) and not (killed_repo / ".gl/resume/dcgan").exists()  # nothing left to resume
        kills += kills_now
        identical += kills_now
    resumed = (killed_repo / "killed.log").read_text().count("train dcgan: resuming from step")
    record_fault(f"kill -9 of dvc repro train@dcgan ({episodes} fresh run{'s' * (episodes > 1)}, {resumed} resumed)", kills, kills, identical)


def test_a_dvc_lock_cut_short_is_repaired_from_the_run_cache(reference, killed_repo):
    """The repair docs/faults.md gives for a kill while DVC wrote dvc.lock: remove it (or `git
    checkout dvc.lock`) and `dvc repro` again: every stage is restored from DVC's run cache and
    nothing trains again. The empty file is what such a kill left in three of the suite's runs."""
    want = train_digest(reference[0])
    (killed_repo / "dvc.lock").write_text("")
    r = subprocess.run([str(BIN / "dvc"), "repro", "train@dcgan"], cwd=killed_repo, env=env(), capture_output=True, text=True)
    assert r.returncode != 0 and "dvc.lock" in r.stdout + r.stderr  # what the user sees first
    repair_dvc_files(killed_repo, "a dvc.lock cut short on purpose")
    DVC_REPAIRS["dvc.lock"].pop()  # not a kill's: the table counts kills
    log = dvc(killed_repo, "repro", "train@dcgan")
    assert "Running stage" not in log and "skipping run, checking out outputs" in log, log
    assert train_digest(killed_repo) == want and lockfile_is_valid(killed_repo / "dvc.lock")


def test_zz_dvc_file_repairs(record_fault):
    """Not a check: the table's rows of how many kills left DVC's own files unreadable (runs last)."""
    record_fault("kills above leaving DVC's .dvc/tmp/rwlock corrupt (DVC #7615; removed)", len(DVC_REPAIRS["rwlock"]), len(DVC_REPAIRS["rwlock"]))
    record_fault("kills above leaving dvc.lock cut short (removed; restored from the run cache)", len(DVC_REPAIRS["dvc.lock"]), len(DVC_REPAIRS["dvc.lock"]))
