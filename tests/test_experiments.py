"""DVC experiments as users run them, end to end in a copy of the session's run tiny pipeline:
queued experiments (a named one that sets two params, and a seed sweep) on two workers before anything has touched
the copy's MLflow store, the sweep summarised by `ganlab results`, then `dvc exp run -S` in the
workspace."""

import json
import statistics
import subprocess
import time
from pathlib import Path

import pytest
from dvcrepo import BIN, copy_repo, dvc, dvc_json, env, git, mlflow_runs

QUEUED = {"exp-a": ("dcgan.steps=3", "dcgan.lr_g=0.001")}  # name -> its -S settings; one named experiment
# beside the sweep's two keeps the queue's two workers busy: each experiment is three stage processes
SWEEP = "train.seed=1,2"  # the README's sweep, as DVC's -S takes it: one experiment per seed (seed 0 is
# the baseline, which DVC's run cache would restore rather than train: no MLflow run to count)
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
def repo(tiny_pipeline, tmp_path_factory) -> Path:
    # the session's tiny pipeline, run and committed; its MLflow store stays behind, so the
    # experiments share the data stages through DVC's cache and start an empty store
    repo = copy_repo(tiny_pipeline, tmp_path_factory.mktemp("experiments") / "repo")
    assert not (repo / "mlflow.db").exists()

    for name, settings in QUEUED.items():
        dvc(repo, "exp", "run", "--queue", "-n", name, *(a for s in settings for a in ("-S", s)))  # -S: DVC's YAML writer rewrites params.yaml
    dvc(repo, "exp", "run", "--queue", "-S", SWEEP)
    # Code changed after queueing must not reach the queued experiments. PYTHONPATH at the
    # workspace's src/ stands for the editable install, which points there.
    init = repo / "src/ganlab/__init__.py"
    init.write_text(init.read_text() + f"\nimport pathlib; pathlib.Path({str(repo / WORKSPACE_MARK)!r}).touch()\n")
    dvc(repo, "queue", "start", "-j", "2", PYTHONPATH=str(repo / "src"))
    status = wait_for_queue(repo)
    git(repo, "checkout", "src/ganlab/__init__.py")
    assert status.count("Success") == 3, status
    return repo


def test_queued_experiments_ran_their_own_code(repo):
    assert not (repo / WORKSPACE_MARK).exists()


def test_exp_show_has_the_named_experiment_with_its_metrics(repo):
    exps = {e["name"]: e for row in dvc_json(repo, "exp", "show") for e in row.get("experiments") or [] if e.get("name")}
    data = {name: exps[name]["revs"][0]["data"] for name in QUEUED}
    for name, d in data.items():
        assert d["metrics"]["metrics/dcgan/train.json"]["data"]["steps"] == 3
        evaluate = d["metrics"]["metrics/dcgan/evaluate.json"]["data"]
        assert 0 <= evaluate["face_rate"] <= 1 and evaluate["fid"] > 0
        assert d["metrics"]["metrics/dcgan/render.json"]["data"]["figures"] >= 3  # render finished on a 3-step model
        assert not any(path.endswith("_info.json") for path in d["metrics"])  # diagnostics are no columns
        assert d["params"]["params.yaml"]["data"]["dcgan"]["lr_g"] == 0.001  # both -S settings reached it


def test_one_mlflow_run_per_model_and_experiment_with_artifacts_on_disk(repo):
    client, experiment, runs = mlflow_runs(repo)
    assert experiment.artifact_location == (repo / "mlruns").as_uri()  # not in a temporary copy
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    by_name = {r.info.run_name: r for r in runs}
    assert len(runs) == 3 and "exp-a/dcgan" in by_name
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
    assert {"exp-a", "exp-s"} <= exps
    _, _, runs = mlflow_runs(repo)
    assert len(runs) == 4 and {"exp-a/dcgan", "exp-s/dcgan"} <= {r.info.run_name for r in runs}


def _swept(repo: Path) -> dict[int, str]:
    """train.seed -> commit of the sweep's experiments (those not named by QUEUED)."""
    out = {}
    for row in dvc_json(repo, "exp", "show"):
        for e in row.get("experiments") or []:
            rev = e["revs"][0]
            if e.get("name") not in QUEUED and e.get("name") != "exp-s":
                out[rev["data"]["params"]["params.yaml"]["data"]["train"]["seed"]] = rev["rev"]
    return out


def test_results_groups_the_seed_sweep_with_medians_by_hand(repo, tmp_path):
    swept = _swept(repo)
    assert sorted(swept) == [1, 2]
    r = subprocess.run([str(BIN / "ganlab"), "results", "--repo", str(repo), "--save", str(tmp_path / "sweep.json"), "--markdown", str(tmp_path / "sweep.md")],
                       capture_output=True, text=True, env=env())
    assert r.returncode == 0, r.stderr
    from ganlab import sweep

    groups = sweep.group(sweep.load(tmp_path / "sweep.json"))
    pair, *others = sorted(groups, key=lambda g: -len(g.runs))
    assert len(pair.runs) == 2 and all(len(g.runs) == 1 and g.runs[0].name in {*QUEUED, "exp-s"} for g in others)  # other configurations: alone
    assert sorted(r.params["train.seed"] for r in pair.runs) == [1, 2]

    def by_hand(stage: str, key: str) -> list[float]:  # from the experiments' own metrics files, in git
        return [json.loads(subprocess.run(["git", "show", f"{rev}:metrics/dcgan/{stage}.json"], cwd=repo, capture_output=True, text=True, check=True).stdout)[key]
                for rev in swept.values()]

    stats = sweep.summarise(pair)["dcgan"]
    for stage, key in (("evaluate", "face_rate"), ("evaluate", "fd_onet"), ("evaluate", "recall_onet"), ("train", "train_seconds")):
        values = by_hand(stage, key)
        assert stats[key] == sweep.Spread(2, statistics.median(values), min(values), max(values)), key
    assert pair.runs[0].made_with["dcgan"]["precision"] in ("bf16", "fp32")  # read from the experiment's train_info.json
    assert f"config {pair.config}" in r.stdout and r.stdout.startswith((tmp_path / "sweep.md").read_text())  # then the "wrote" lines


def test_one_sweeps_mlflow_runs_share_a_config_tag(repo):
    _, _, runs = mlflow_runs(repo)
    names = {r.info.run_name.split("/")[0]: r.data.tags["config"] for r in runs}
    swept = [tag for name, tag in names.items() if name not in QUEUED and name != "exp-s"]
    assert len(swept) == 2 and swept[0] == swept[1]
    assert names["exp-a"] != swept[0]
