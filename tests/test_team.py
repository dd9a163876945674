"""A team's set-up (docs/team.md), through the commands it documents: a DVC remote that carries
outputs and the run cache to a colleague's fresh clone, and an MLflow tracking server with its
artifact proxy that a pipeline run logs to and that is read back over HTTP."""

import hashlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from dvcrepo import TINY, closed_port, copy_repo, dvc, env, git, refusing_python

from ganlab.server import command



def tree_digest(repo: Path, *folders: str) -> dict[str, str]:
    """SHA-256 of every file under the folders, by path; timings excepted (they differ run to run, not here)."""
    files = sorted(p for folder in folders for p in (repo / folder).rglob("*") if p.is_file() and p.name != ".gitignore")
    return {str(p.relative_to(repo)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


@pytest.fixture(scope="module")
def first(tiny_pipeline, tmp_path_factory) -> Path:
    """The first clone: the pipeline run and committed (a copy of the session's), a remote in a
    local folder, its outputs and the run cache pushed."""
    repo = copy_repo(tiny_pipeline, tmp_path_factory.mktemp("first") / "repo")
    remote = tmp_path_factory.mktemp("remote")
    dvc(repo, "remote", "add", "-d", "team", str(remote))
    git(repo, "commit", "-qam", "the team's remote")
    dvc(repo, "push", "--run-cache")
    return repo


@pytest.fixture(scope="module")
def second(first, tmp_path_factory) -> Path:
    """A colleague's fresh clone of the first, pulled from the remote with the run cache."""
    repo = tmp_path_factory.mktemp("second") / "repo"
    subprocess.run(["git", "clone", "-q", str(first), str(repo)], check=True, capture_output=True)
    dvc(repo, "pull", "--run-cache")
    return repo


def test_a_fresh_clone_restores_every_output_and_trains_nothing(first, second, tmp_path):
    refusing, log = refusing_python(tmp_path / "bin")
    start = time.monotonic()
    out = dvc(second, "repro", **refusing)
    seconds = time.monotonic() - start
    assert not log.exists(), log.read_text()
    ran = [line for line in out.splitlines() if line.startswith("Running stage")]
    assert ran == ["Running stage 'fid_weights':"], out  # always_changed; no crop, no training
    assert tree_digest(second, "data", "metrics") == tree_digest(first, "data", "metrics")
    print(f"dvc repro in a fresh clone after dvc pull --run-cache: {seconds:.1f} s")


def wait_until_up(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"mlflow server exited with {proc.returncode}"
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"mlflow server not up at {url} after {timeout} s")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`python -m ganlab.server` (what `make mlflow-server` runs) on a free port; stopped by its process id."""
    root = tmp_path_factory.mktemp("mlflow-server")
    port = closed_port()
    log = open(root / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "ganlab.server", "--dir", str(root), "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, env=env(), start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, proc)
        yield url, root, proc.pid
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the server and the workers it started
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
    assert proc.poll() is not None


def test_the_server_command_proxies_artifacts_to_a_sqlite_store(tmp_path):
    cmd = command(tmp_path, port=5123)
    assert cmd[1] == "server" and "--serve-artifacts" in cmd
    assert cmd[cmd.index("--backend-store-uri") + 1] == f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"
    assert cmd[cmd.index("--artifacts-destination") + 1] == (tmp_path.resolve() / "artifacts").as_uri()


def test_a_pipeline_run_logs_to_the_server_and_reads_back_over_http(server, tmp_path_factory, tiny_pipeline):
    from mlflow import MlflowClient

    url, root, session = server
    repo = copy_repo(tiny_pipeline, tmp_path_factory.mktemp("tracked") / "repo")
    # the model's stages again (the data stages ran in the copied repo and log nothing to MLflow)
    out = dvc(repo, "repro", "--force", "--downstream", "train@dcgan", MLFLOW_TRACKING_URI=url)
    assert sorted(line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")) == ["evaluate@dcgan", "render@dcgan", "train@dcgan"], out
    assert not (repo / "mlflow.db").exists() and not (repo / "mlruns").exists()  # nothing went to a local store
    client = MlflowClient(url)
    experiment = client.get_experiment_by_name("ganlab")
    runs = client.search_runs([experiment.experiment_id])
    assert [r.info.run_name for r in runs] == ["workspace/dcgan"]
    run = runs[0]
    assert run.info.artifact_uri.startswith("mlflow-artifacts:")  # uploaded through the server's proxy
    assert run.data.params["dcgan.steps"] == str(TINY["dcgan"]["steps"])
    assert {"loss_d", "loss_g", "train_seconds", "face_rate", "fid"} <= set(run.data.metrics)
    assert run.data.metrics["fid"] == yaml.safe_load((repo / "metrics/dcgan/evaluate.json").read_text())["fid"]
    samples = [a.path for a in client.list_artifacts(run.info.run_id, "samples")]
    assert samples, "no sample grid logged"
    got = Path(client.download_artifacts(run.info.run_id, samples[-1], str(tmp_path_factory.mktemp("download"))))
    assert got.read_bytes() == (repo / "data/models/dcgan" / samples[-1]).read_bytes()
    assert list((root / "artifacts").rglob(Path(samples[-1]).name))  # stored where the server keeps artifacts
    # and the server ran no MLflow job runner (huey consumers), which ganlab.server turns off
    running = commands_in_session(session)
    assert any("mlflow" in c for c in running) and not any("huey" in c for c in running), running


def commands_in_session(sid: int) -> list[str]:
    """The command lines of the processes in session `sid` (the server's start_new_session)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after "pid (comm)": state, ppid, pgrp, session
            if int(fields[3]) == sid:
                out.append(stat.with_name("cmdline").read_bytes().replace(b"\0", b" ").decode())
        except (OSError, IndexError):  # a process that ended meanwhile
            continue
    return out
