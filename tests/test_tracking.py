"""MLflow under DVC experiments: the store, the experiment and the runs, whoever creates them."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dvcrepo import closed_port

from ganlab import tracking


@pytest.fixture
def dvc_env(tmp_path, monkeypatch):
    """A stage as `dvc exp run --queue` runs it: cwd in a temporary copy, DVC_ROOT at the repo."""
    root, copy = tmp_path / "repo", tmp_path / "repo/.dvc/tmp/exps/copy"
    copy.mkdir(parents=True)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("DVC_ROOT", str(root))
    monkeypatch.setenv("DVC_EXP_NAME", "trial-one")
    monkeypatch.setenv("DVC_EXP_BASELINE_REV", "a" * 40)
    monkeypatch.chdir(copy)
    return root


def test_run_from_a_temporary_copy_is_named_tagged_and_stored_at_the_repo_root(dvc_env):
    with tracking.open_run(None, "dcgan") as run:
        pass
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{dvc_env / 'mlflow.db'}")  # at DVC_ROOT, not in the copy
    experiment = client.get_experiment_by_name(tracking.EXPERIMENT)
    assert experiment.artifact_location == (dvc_env / "mlruns").as_uri()
    assert experiment.tags[tracking.KIND_TAG] == "custom_model_development"
    got = client.get_run(run.info.run_id)
    assert got.info.run_name == "trial-one/dcgan"
    assert {k: got.data.tags[k] for k in ("dvc_experiment", "model", "git_commit")} == {
        "dvc_experiment": "trial-one", "model": "dcgan", "git_commit": "a" * 40}
    assert got.info.artifact_uri.startswith((dvc_env / "mlruns").as_uri())


def test_another_experiments_run_is_not_reopened(dvc_env, monkeypatch):
    with tracking.open_run(None, "dcgan") as first:
        pass
    monkeypatch.setenv("DVC_EXP_NAME", "trial-two")  # its train stage came from DVC's cache
    with tracking.open_run(first.info.run_id, "dcgan") as second:
        pass
    assert second.info.run_id != first.info.run_id
    assert second.data.tags["training_run"] == first.info.run_id
    with tracking.open_run(second.info.run_id, "dcgan") as third:  # same experiment: the same run
        pass
    assert third.info.run_id == second.info.run_id


def test_workers_starting_together_on_no_store_all_succeed(dvc_env):
    """`dvc queue start -j N` on a fresh repo: every worker creates the store at once."""
    code = "from ganlab import tracking; tracking.setup(); print(tracking.setup().get_experiment_by_name('ganlab').experiment_id)"
    env = {**os.environ, "PYTHONPATH": str(Path(tracking.__file__).parents[1])}
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], "\n".join(err for _, err in outs)
    assert len({out.strip() for out, _ in outs}) == 1  # one experiment, found by all


def test_a_store_that_is_down_warns_once_and_skips_the_rest(dvc_env, monkeypatch, capsys):
    uri = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    with tracking.Run("evaluate dcgan", None, "dcgan") as run:
        run.log_metrics({"fid": 1.0})
        run.set_tag("selected", "why")
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if line.startswith("warning: MLflow")]
    assert len(warnings) == 1 and uri in warnings[0] and "evaluate dcgan" in warnings[0]
    assert run.run_id is None and run.lost == ["the run", "metrics", "tag selected"]


def test_tracking_off_logs_nothing_and_says_nothing(dvc_env, capsys):
    with tracking.Run("train dcgan", None, "dcgan", enabled=False) as run:
        run.log_metrics({"loss": 1.0})
    assert run.run_id is None and run.lost == [] and capsys.readouterr().err == ""
    assert not (dvc_env / "mlflow.db").exists()


def test_a_store_that_is_up_gets_everything(dvc_env):
    with tracking.Run("evaluate dcgan", None, "dcgan") as run:
        run.log_metrics({"fid": 1.5})
    from mlflow import MlflowClient

    got = MlflowClient(f"sqlite:///{dvc_env / 'mlflow.db'}").get_run(run.run_id)
    assert got.data.metrics == {"fid": 1.5} and got.info.status == "FINISHED" and run.lost == []


def test_ganlab_tracking_off_never_imports_mlflow(dvc_env):
    """GANLAB_TRACKING=off: a stage's run logs nothing, creates no store and never imports MLflow
    (its imports are most of the cost being saved); the stage says so in one line."""
    code = ("import sys; from ganlab import tracking\n"
            "with tracking.Run('render dcgan', None, 'dcgan') as run: run.log_metrics({'fid': 1.0})\n"
            "assert run.run_id is None and run.lost == [] and 'mlflow' not in sys.modules")
    env = {**os.environ, "PYTHONPATH": str(Path(tracking.__file__).parents[1]), "GANLAB_TRACKING": "off"}
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip() == "render dcgan: MLflow tracking off (GANLAB_TRACKING=off); DVC's outputs and metrics hold everything"
    assert not (dvc_env / "mlflow.db").exists()


@pytest.mark.parametrize("value", ["no", "0"])
def test_a_bad_ganlab_tracking_value_is_named(dvc_env, monkeypatch, value):
    monkeypatch.setenv("GANLAB_TRACKING", value)
    with pytest.raises(tracking.GanlabError, match=f"GANLAB_TRACKING={value!r}: use on or off"):
        tracking.Run("train dcgan", None, "dcgan")
