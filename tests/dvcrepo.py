"""A real git + DVC repo of this project in a temp dir, for the end-to-end tests, and what they read of it."""

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
    # start from the repo's params.yaml: dvc.yaml names keys that must be present in the file
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for section, values in overrides.items():
        params[section].update(values)
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    dvc(repo, "init", "-q")
    dvc(repo, "config", "core.analytics", "false")
    return repo


def train_digest(repo: Path, model: str = "dcgan") -> str:
    """The weights digest the train stage of `model` wrote in repo: equal digests, equal weights."""
    return json.loads((repo / f"metrics/{model}/train_info.json").read_text())["weights_digest"]


def closed_port() -> int:
    """A local TCP port nothing listens on: connections to it are refused at once (a tracking
    server that is down)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
