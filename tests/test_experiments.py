"""DVC experiments as users run them, end to end on a fresh repo: queued experiments on two
workers before anything has touched the MLflow store, then `dvc exp run -S` in the workspace."""

import time
from pathlib import Path

import pytest
from dvcrepo import TINY, dvc, dvc_json, git, make_repo

QUEUED = {"exp-a": "dcgan.steps=3", "exp-b": "dcgan.lr_g=0.001"}
WORKSPACE_MARK = "WORKSPACE_CODE_RAN"


def wait_for_queue(repo: Path, timeout: float = 900) -> str:
    """Poll `dvc queue status` until no experiment is queued or running; return the last status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = dvc(repo, "queue", "status")
        rows = [line.split() for line in status.splitlines()]
        if not any(("Queued" in row or "Running" in row) for row in rows):
            return status
        time.sleep(3)
    pytest.fail(f"the queue did not finish in {timeout} s:\n{status}\n{dvc(repo, 'queue', 'logs', QUEUED.popitem()[0])}")


@pytest.fixture(scope="module")
def repo(tmp_path_factory, fid_weights) -> Path:
    repo = make_repo(tmp_path_factory.mktemp("experiments"), {**TINY, "evaluate": {**TINY["evaluate"], "fid_weights": str(fid_weights)}})
    # the data stages only (they do not use MLflow): the experiments share them through DVC's cache
    dvc(repo, "repro", "classify", "real_stats")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "baseline")
    assert not (repo / "mlflow.db").exists()

    for name, setting in QUEUED.items():
        dvc(repo, "exp", "run", "--queue", "-n", name, "-S", setting)  # -S: DVC's YAML writer rewrites params.yaml
    # Code changed after queueing must not reach the queued experiments. PYTHONPATH at the
    # workspace's src/ stands for the editable install, which points there.
    init = repo / "src/ganlab/__init__.py"
    init.write_text(init.read_text() + f"\nimport pathlib; pathlib.Path({str(repo / WORKSPACE_MARK)!r}).touch()\n")
    dvc(repo, "queue", "start", "-j", "2", PYTHONPATH=str(repo / "src"))
    status = wait_for_queue(repo)
    git(repo, "checkout", "src/ganlab/__init__.py")
    assert status.count("Success") == 2, status
    return repo


def test_queued_experiments_ran_their_own_code(repo):
    assert not (repo / WORKSPACE_MARK).exists()


def test_exp_show_has_both_with_their_metrics(repo):
    exps = {e["name"]: e for row in dvc_json(repo, "exp", "show") for e in row.get("experiments") or [] if e.get("name")}
    data = {name: exps[name]["revs"][0]["data"] for name in QUEUED}
    for name, d in data.items():
        assert d["metrics"]["metrics/dcgan/train.json"]["data"]["steps"] == (3 if name == "exp-a" else 2)
        evaluate = d["metrics"]["metrics/dcgan/evaluate.json"]["data"]
        assert 0 <= evaluate["face_rate"] <= 1 and evaluate["fid"] > 0
        assert d["metrics"]["metrics/dcgan/render.json"]["data"]["figures"] >= 3  # render finished on a 2-step model
        assert not any(path.endswith("_info.json") for path in d["metrics"])  # diagnostics are no columns
    assert data["exp-b"]["params"]["params.yaml"]["data"]["dcgan"]["lr_g"] == 0.001


def mlflow_runs(repo: Path):
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{repo / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("ganlab")
    return client, experiment, client.search_runs([experiment.experiment_id])


def test_one_mlflow_run_per_model_and_experiment_with_artifacts_on_disk(repo):
    client, experiment, runs = mlflow_runs(repo)
    assert experiment.artifact_location == (repo / "mlruns").as_uri()  # not in a temporary copy
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    by_name = {r.info.run_name: r for r in runs}
    assert sorted(by_name) == ["exp-a/dcgan", "exp-b/dcgan"]
    for name, run in by_name.items():
        assert run.data.tags["dvc_experiment"] == name.split("/")[0] and run.data.tags["model"] == "dcgan"
        assert len(run.data.tags["git_commit"]) == 40
        assert {"loss_d", "face_rate", "train_seconds"} <= set(run.data.metrics)  # train and evaluate logged to it
    assert not list((repo / ".dvc/tmp/exps").glob("tmp*"))  # DVC has removed its temporary copies...
    for run in runs:  # ...and every artifact the runs logged is still on disk
        root = Path(run.info.artifact_uri.removeprefix("file://"))
        assert root.is_relative_to(repo / "mlruns")
        for folder in ("samples", "model", "render"):
            logged = [a.path for a in client.list_artifacts(run.info.run_id, folder)]
            assert logged and all((root / path).exists() for path in logged), (folder, logged)
        assert (root / "model/generator.pt").exists()  # what `ganlab --run` downloads


def test_exp_run_set_param_in_the_workspace(repo):
    dvc(repo, "exp", "run", "-n", "exp-s", "-S", "dcgan.batch_size=4")
    exps = {e["name"] for row in dvc_json(repo, "exp", "show") for e in row.get("experiments") or [] if e.get("name")}
    assert {"exp-a", "exp-b", "exp-s"} <= exps
    _, _, runs = mlflow_runs(repo)
    assert sorted(r.info.run_name for r in runs) == ["exp-a/dcgan", "exp-b/dcgan", "exp-s/dcgan"]
