"""Faults a whole `dvc repro` must survive: a tracking store that is down, FID weights that
arrive late, a corrupt checkpoint and a checkpoint of other code, each through DVC's own commands."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from dvcrepo import BIN, closed_port, dvc, dvc_json, env, git, make_repo, train_digest

TINY = {
    "data": {"count": 40, "seed": 0},
    "crop": {"mode": "center"},  # MTCNN's crop is killed in test_kills; here it would only cost time
    "prepare": {"resolution": 16},
    "train": {"models": ["dcgan"], "sample_every": 10, "checkpoint_every": 10, "log_every": 5, "grid_size": 2},
    "dcgan": {"steps": 100, "batch_size": 8, "width": 8},
    "evaluate": {"fid_samples": 8, "fid_real_samples": 16, "face_samples": 4, "batch_size": 8, "every": 0, "fid_weights": "weights/fid.pth"},
    "classify": {"epochs": 1, "width": 8, "resolution": 16},
    "render": {"points": 2, "frames_per_transition": 2, "hold_frames": 0, "strip_steps": 3, "grid": 0,
               "arithmetic_samples": 32, "group_size": 2, "directions": []},
}


# The tests after the first read nothing from MLflow: their stages run without it (about 3 s less
# for each train, evaluate and render process; the first test covers a store that is up and down).
UNTRACKED = {"GANLAB_TRACKING": "off"}


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """The whole tiny pipeline, run once with the tracking store down and no FID weights yet."""
    repo = make_repo(tmp_path_factory.mktemp("faults"), TINY)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "baseline")  # dvc exp show compares against a commit
    uri = f"http://127.0.0.1:{closed_port()}"
    start = time.monotonic()
    out = dvc(repo, "repro", MLFLOW_TRACKING_URI=uri)
    repo.joinpath("repro.log").write_text(out + f"\nseconds: {time.monotonic() - start:.0f}\n")
    return repo


def test_a_tracking_store_that_is_down_costs_no_output(repo, record_fault):
    out = (repo / "repro.log").read_text()
    warned = [line for line in out.splitlines() if line.startswith("warning: MLflow store http://127.0.0.1:")]
    stages = sorted(re.search(r"\); (\w+ dcgan) logs nothing more", w).group(1) for w in warned)
    assert stages == ["evaluate dcgan", "render dcgan", "train dcgan"]  # one line each
    assert all("is lost to MLflow" in w for w in warned)
    assert "Traceback" not in out
    for name in ("train", "evaluate", "render"):
        assert json.loads((repo / f"metrics/dcgan/{name}.json").read_text())
    workspace = next(row for row in dvc_json(repo, "exp", "show") if row["rev"] == "workspace")
    shown = workspace["data"]["metrics"]
    assert shown["metrics/dcgan/train.json"]["data"]["steps"] == TINY["dcgan"]["steps"]
    assert 0 <= shown["metrics/dcgan/evaluate.json"]["data"]["face_rate"] <= 1
    assert shown["metrics/dcgan/render.json"]["data"]["figures"] >= 3
    # the same training with the store up (the repo's SQLite store) ends with the same weights
    offline = train_digest(repo)
    dvc(repo, "repro", "-f", "-s", "train@dcgan")
    assert train_digest(repo) == offline
    record_fault("MLflow store unreachable during dvc repro", 1, 1, int(train_digest(repo) == offline))


def test_fid_weights_that_arrive_later_are_used(repo, fid_weights, record_fault):
    """Offline first (FID unavailable, cached by DVC), then the weights file appears: the next
    `dvc repro` recomputes the real statistics and FID, with no flag and no param change."""
    assert json.loads((repo / "metrics/dcgan/evaluate.json").read_text())["fid"] is None
    (repo / "weights").mkdir()
    shutil.copy(fid_weights, repo / "weights/fid.pth")
    out = dvc(repo, "repro", **UNTRACKED)
    assert "Running stage 'real_stats'" in out
    fid = json.loads((repo / "metrics/dcgan/evaluate.json").read_text())["fid"]
    assert fid is not None
    again = dvc(repo, "repro", **UNTRACKED)
    assert "Running stage 'real_stats'" not in again  # present and unchanged: not recomputed
    record_fault("FID weights arriving after an offline run", 1, 1)


def kill_after_checkpoint(repo: Path) -> None:
    """Start `dvc repro -f -s train@dcgan` and kill -9 it once its first checkpoint is written."""
    shutil.rmtree(repo / RESUME, ignore_errors=True)
    proc = subprocess.Popen([str(BIN / "dvc"), "repro", "-f", "-s", "train@dcgan"], cwd=repo, env=env(OMP_NUM_THREADS="1", **UNTRACKED),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    while not checkpoint(repo):
        assert proc.poll() is None, "training ended before its first checkpoint"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


RESUME = ".gl/resume/dcgan"  # where train@dcgan keeps what a killed run resumes from (ganlab.folder.ResumeFolder)


def checkpoint(repo: Path) -> Path | None:
    found = list((repo / RESUME).glob("*/checkpoint.pt"))
    return found[0] if found else None


def rerun(repo: Path) -> tuple[int, str]:
    # -f: dvc.lock and the run cache hold this training from the first repro, and a plain `dvc
    # repro` would check its outputs out of DVC's cache, where these tests look at how the
    # killed run's checkpoint is resumed or set aside
    r = subprocess.run([str(BIN / "dvc"), "repro", "-f", "-s", "train@dcgan"], cwd=repo, env=env(OMP_NUM_THREADS="1", **UNTRACKED), capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


def test_a_corrupt_checkpoint_is_set_aside_with_one_line(repo, record_fault):
    want = train_digest(repo)
    kill_after_checkpoint(repo)
    checkpoint(repo).write_bytes(b"\x80\x02 not a checkpoint")
    code, out = rerun(repo)
    assert code == 0, out
    warned = [line for line in out.splitlines() if "not resuming" in line]
    assert len(warned) == 1 and "unreadable" in warned[0] and "Traceback" not in out
    assert train_digest(repo) == want  # trained afresh, to the same weights
    record_fault("corrupt checkpoint", 1, 1, int(train_digest(repo) == want))


def test_a_checkpoint_of_other_code_is_not_resumed(repo, record_fault):
    want = train_digest(repo)
    kill_after_checkpoint(repo)
    losses = repo / "src/ganlab/losses.py"
    original = losses.read_text()
    losses.write_text(original + "\n# an edit: the code that trains is not the code that checkpointed\n")
    try:
        code, out = rerun(repo)
    finally:
        losses.write_text(original)
    assert code == 0, out
    warned = [line for line in out.splitlines() if "not resuming" in line]
    assert len(warned) == 1 and "other code" in warned[0] and "code" in warned[0].split("(")[1]
    assert train_digest(repo) == want  # the edit is a comment: a fresh run gives the same weights
    record_fault("checkpoint of other code", 1, 1, int(train_digest(repo) == want))
