"""A real git + DVC repo of this project in a temp dir, for the end-to-end tests, and what they read of it."""

import fcntl
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

# The whole pipeline on a budget of seconds (experiments, the run cache, a team's remote).
TINY = {
    "data": {"count": 40, "seed": 0},
    "crop": {"mode": "center"},  # MTCNN's detection is tested in test_pipeline; here it would only cost time
    "prepare": {"resolution": 16},
    "train": {"models": ["dcgan"], "sample_every": 2, "checkpoint_every": 2, "log_every": 2, "grid_size": 2},
    "dcgan": {"steps": 2, "batch_size": 8, "width": 8, "lr_g": 0.0002, "lr_d": 0.0002},  # tests set lr_g to 0.001 and back
    # Inception at 299 px is about 0.2 s an image on one core: real statistics of 16 of the 40 faces
    "evaluate": {"fid_samples": 8, "fid_real_samples": 16, "face_samples": 4, "batch_size": 8, "every": 0},
    "classify": {"epochs": 1, "width": 8, "resolution": 16},
    # the default arithmetic groups: a 2-step generator draws no smiling woman, so render must skip
    # that figure (or make it, if the classifier happens to read one) and finish either way
    "render": {"points": 2, "frames_per_transition": 2, "hold_frames": 0, "strip_steps": 3, "grid": 0,
               "arithmetic_samples": 32, "group_size": 2, "directions": []},
}


def env(**extra: str) -> dict[str, str]:
    """The environment DVC runs in: no MLFLOW_TRACKING_URI (the repo's own store must be used),
    this venv first on PATH (stage commands call `python`)."""
    out = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    out["PATH"] = f"{BIN}{os.pathsep}{out['PATH']}"
    return {**out, **extra}


def dvc(repo: Path, *args: str, **extra_env: str) -> str:
    """Run `dvc ARGS` in repo and return its stdout and stderr; a failure fails the test with both."""
    r = subprocess.run([str(BIN / "dvc"), *args], cwd=repo, env=env(**extra_env), capture_output=True, text=True)
    assert r.returncode == 0, f"dvc {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}"
    return r.stdout + r.stderr


def dvc_json(repo: Path, *args: str):
    """`dvc ARGS --json`, parsed (stdout only: warnings go to stderr)."""
    import json

    r = subprocess.run([str(BIN / "dvc"), *args, "--json"], cwd=repo, env=env(), capture_output=True, text=True)
    assert r.returncode == 0, f"dvc {' '.join(args)} --json failed:\n{r.stdout}\n{r.stderr}"
    return json.loads(r.stdout)


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo, check=True, capture_output=True)


def make_repo(repo: Path, overrides: dict) -> Path:
    """Copy the project's code into repo with params.yaml's sections updated by `overrides`;
    git init and dvc init it. Nothing is run."""
    for name in ("stages", "src", "presets"):
        shutil.copytree(ROOT / name, repo / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy(ROOT / "dvc.yaml", repo)
    shutil.copy(ROOT / ".gitignore", repo)
    # start from the project's params.yaml: dvc.yaml names keys that must be present in the file
    set_params(repo, overrides, base=ROOT / "params.yaml")
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    dvc(repo, "init", "-q")
    shutil.copy(ROOT / ".dvcignore", repo)  # after init, which writes its own: __pycache__ is no part of a dep's hash
    dvc(repo, "config", "core.analytics", "false")
    return repo


def set_params(repo: Path, overrides: dict, base: Path | None = None) -> None:
    """Write repo's params.yaml: `base` (default: the repo's own) with each section updated by
    `overrides`; a model section the base lacks (wgan, cdcgan) is added."""
    params = yaml.safe_load((base or repo / "params.yaml").read_text())
    for section, values in overrides.items():
        params.setdefault(section, {}).update(values)
    (repo / "params.yaml").write_text(yaml.safe_dump(params))


def built_once(folder: Path, build) -> Path:
    """`folder`, made by `build(folder)` once for the whole test session: pytest-xdist's workers
    share it (an exclusive file lock beside it; the first builds, the others wait and reuse)."""
    with open(folder.with_name(folder.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = folder.with_name(folder.name + ".built")
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            build(folder)
            done.touch()
    return folder


def copy_repo(source: Path, dest: Path) -> Path:
    """A copy of a repo that has run (git, DVC's cache and run cache, the workspace), as `cp -a`
    makes one, without its MLflow store: the store's artifact locations are absolute paths into
    the source, so a copy starts its own."""
    shutil.copytree(source, dest, symlinks=True, ignore=shutil.ignore_patterns("mlflow.db", "mlflow.db.lock", "mlruns"))
    return dest


def train_digest(repo: Path, model: str = "dcgan") -> str:
    """The weights digest the train stage of `model` wrote in repo: equal digests, equal weights."""
    return json.loads((repo / f"metrics/{model}/train_info.json").read_text())["weights_digest"]


def mlflow_runs(folder: Path):
    """(client, experiment, runs) of the ganlab experiment in the SQLite store `folder`/mlflow.db."""
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{folder / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("ganlab")
    return client, experiment, client.search_runs([experiment.experiment_id])


def closed_port() -> int:
    """A local TCP port nothing listens on: connections to it are refused at once (a tracking
    server that is down)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def refusing_python(folder: Path, allowed: str = "stages/fid_weights.py") -> tuple[dict[str, str], Path]:
    """An environment for `dvc(...)` in which a stage command whose arguments do not match the
    regular expression `allowed` fails at once, and the file in which each refused command is
    logged. Stage commands call `python` from PATH; this puts a `python` first on it that runs
    the venv's python only for allowed commands: a `dvc repro` under it that succeeds with the
    log absent proves that no other stage's command ran (a training restored from DVC's run
    cache, not retrained). fid_weights is allowed by default: it is always_changed and runs at
    every `dvc repro`."""
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "refused.log"
    script = folder / "python"
    script.write_text(
        f"#!{sys.executable}\n"
        "import os, re, sys\n"
        f"if re.search({allowed!r}, ' '.join(sys.argv[1:])):\n"
        f"    os.execv({sys.executable!r}, [{sys.executable!r}, *sys.argv[1:]])\n"
        f"with open({str(log)!r}, 'a') as f:\n"
        "    f.write(' '.join(sys.argv[1:]) + '\\n')\n"
        "sys.exit('refused: this stage was to be restored, not run')\n"
    )
    script.chmod(0o755)
    return {"PATH": f"{folder}{os.pathsep}{env()['PATH']}"}, log
