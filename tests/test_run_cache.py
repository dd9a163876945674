"""Never train the same thing twice: DVC's run cache restores a training (and what follows it)
that ran before with the same code, params and data, through DVC's own commands on a tiny repo.

Every `dvc` call that must restore rather than run is made under refusing_python: a stage
command other than the always-changed fid_weights would fail, so its success proves that no
training step ran.
"""

import shutil
import time
from pathlib import Path

import pytest
import yaml
from dvcrepo import TINY, copy_repo, dvc, dvc_json, git, refusing_python, set_params, train_digest

MODELS = ["dcgan", "wgan_gp"]
CONFIG = {
    **TINY,
    "train": {**TINY["train"], "models": MODELS},
    "wgan_gp": {"steps": 2, "batch_size": 8, "width": 8, "n_critic": 1},
}
RESTORED = ("metrics/dcgan/train.json", "metrics/dcgan/losses.csv", "metrics/dcgan/evaluate.json", "metrics/dcgan/curve.csv")  # cache: false
pytestmark = pytest.mark.usefixtures("tracking_off")  # nothing here reads MLflow
SECONDS: dict[str, float] = {}  # what each step below took, printed for the README's costs


def set_param(repo: Path, key: str, value) -> None:
    section, name = key.split(".")
    set_params(repo, {section: {name: value}})


def timed(label: str, repo: Path, *args: str, **extra: str) -> str:
    start = time.monotonic()
    out = dvc(repo, *args, **extra)
    SECONDS[label] = time.monotonic() - start
    return out


def ran(out: str) -> list[str]:
    return sorted(line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage"))


def cached(out: str) -> list[str]:
    return sorted(line.split("'")[1] for line in out.splitlines() if "is cached - skipping run" in line)


@pytest.fixture(scope="module")
def repo(tiny_pipeline, tmp_path_factory) -> Path:
    """The session's run pipeline (dcgan), copied, with wgan_gp added and run, committed."""
    repo = copy_repo(tiny_pipeline, tmp_path_factory.mktemp("runcache") / "repo")
    set_params(repo, CONFIG)
    out = timed("dvc repro adding wgan_gp (its stages only)", repo, "repro")
    assert ran(out) == ["evaluate@wgan_gp", "fid_weights", "render@wgan_gp", "train@wgan_gp"], out
    assert out.count("MLflow tracking off") == 3, out  # train, evaluate, render
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "wgan_gp")  # dvc exp run needs a baseline commit
    return repo


@pytest.fixture
def refusing(tmp_path):
    return refusing_python(tmp_path / "bin")


def reset(repo: Path) -> None:
    """Back to the baseline commit's params, lock file and outputs."""
    git(repo, "checkout", "--", ".")
    dvc(repo, "checkout", "-q")


def test_switching_a_param_back_restores_training_from_the_run_cache(repo, refusing):
    env, log = refusing
    first = {path: (repo / path).read_text() for path in RESTORED}
    digest = train_digest(repo)
    set_param(repo, "dcgan.lr_g", 0.001)
    out = timed("dvc repro after a dcgan param change (train, evaluate, render dcgan)", repo, "repro")
    assert {"train@dcgan", "evaluate@dcgan", "render@dcgan"} <= set(ran(out)) and "train@wgan_gp" not in ran(out)
    assert train_digest(repo) != digest
    set_param(repo, "dcgan.lr_g", CONFIG["dcgan"].get("lr_g", 0.0002))
    git(repo, "diff", "--exit-code", "params.yaml")  # back to the committed params
    out = timed("dvc repro after switching it back (restored)", repo, "repro", **env)
    assert not log.exists(), log.read_text()
    assert cached(out) == ["evaluate@dcgan", "render@dcgan", "train@dcgan"], out
    assert ran(out) == ["fid_weights"]
    assert train_digest(repo) == digest
    assert {path: (repo / path).read_text() for path in RESTORED} == first  # the uncached metrics too
    assert (repo / "data/models/dcgan/generator.pt").exists() and not (repo / ".gl/resume/dcgan").exists()


def test_exp_run_and_exp_apply_of_an_earlier_configuration_train_nothing(repo, refusing):
    env, log = refusing
    digest = train_digest(repo)
    dvc(repo, "exp", "run", "-n", "lr-fast", "-S", "dcgan.lr_g=0.001")  # trains: the first time in an experiment? no: run above
    reset(repo)
    out = timed("dvc exp run of a configuration run before (restored)", repo, "exp", "run", "-n", "lr-again", "-S", "dcgan.lr_g=0.001", **env)
    assert not log.exists(), log.read_text()
    assert "train@dcgan" in cached(out) and ran(out) == ["fid_weights"], out
    trained = train_digest(repo)
    assert trained != digest
    reset(repo)
    dvc(repo, "exp", "apply", "lr-fast")
    out = dvc(repo, "repro", **env)
    assert not log.exists(), log.read_text()
    assert ran(out) == ["fid_weights"] and train_digest(repo) == trained
    reset(repo)
    assert train_digest(repo) == digest


def changed_stages(repo: Path) -> list[str]:
    return sorted(dvc_json(repo, "status"))


@pytest.mark.parametrize("model, edited", [("dcgan", "variant.py"), ("wgan_gp", "params.py")])
def test_an_edit_to_one_models_package_changes_only_its_stages(repo, model, edited):
    path = repo / "src/ganlab/models" / model / edited
    original = path.read_text()
    path.write_text(original + "\n# an edit\n")
    try:
        changed = changed_stages(repo)
    finally:
        path.write_text(original)
    assert changed == sorted(["fid_weights", f"train@{model}", f"evaluate@{model}", f"render@{model}"])  # fid_weights: always changed
    assert changed_stages(repo) == ["fid_weights"]


def test_adding_a_model_runs_only_its_stages(repo, refusing_new):
    """A copy of dcgan's package under a new name, its params section and its name in
    train.models: only the new model's stages run; no data stage, no other model's."""
    env, log = refusing_new
    models = repo / "src/ganlab/models"
    shutil.copytree(models / "dcgan", models / "dcgan2", ignore=shutil.ignore_patterns("__pycache__"))
    for path in (models / "dcgan2").glob("*.py"):
        path.write_text(path.read_text().replace("ganlab.models.dcgan.", "ganlab.models.dcgan2."))
    params = yaml.safe_load((repo / "params.yaml").read_text())
    set_params(repo, {"dcgan2": params["dcgan"], "train": {"models": [*params["train"]["models"], "dcgan2"]}})
    try:
        out = timed("dvc repro after adding a model (its stages only)", repo, "repro", **env)
        assert not log.exists(), log.read_text()
        assert ran(out) == ["evaluate@dcgan2", "fid_weights", "render@dcgan2", "train@dcgan2"], out
        assert train_digest(repo, "dcgan2") == train_digest(repo, "dcgan")  # the same network, params and seed
    finally:
        shutil.rmtree(models / "dcgan2")
        reset(repo)


@pytest.fixture
def refusing_new(tmp_path):
    """Refuses every stage command but fid_weights' and the new model's."""
    return refusing_python(tmp_path / "bin", r"stages/fid_weights\.py|dcgan2")


def test_zz_report_the_seconds(repo):
    """Not a check: the seconds each step took, for the README (runs last)."""
    for label, seconds in SECONDS.items():
        print(f"{seconds:6.1f} s  {label}")
