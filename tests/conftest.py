"""Shared fixtures."""

import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


# --- the order modules run in, and what each cost ----------------------------------------------

# The modules that take half a minute or more (each builds and runs DVC repos or trains), slowest
# first, by the "slowest modules" summary below (capped at AVX2, f03b4d1). make test hands whole
# modules to two workers in collection order (--dist loadfile, --no-loadscope-reorder), the next
# to whichever is free: longest first is what keeps both busy to the end. test_train.py was left
# out once and ran its 90 s alone at the end, one core idle. The first two build different repos:
# test_experiments waits for the session's tiny pipeline, test_kills builds its own.
SLOW_FIRST = ["test_experiments.py", "faults/test_kills.py", "test_pipeline.py", "faults/test_pipeline_faults.py",
              "test_train.py", "test_run_cache.py", "test_fid.py", "test_team.py", "test_presets.py", "test_cli.py"]
MODULE_SECONDS: dict[str, float] = {}  # module -> seconds of its tests' setup, call and teardown (in the controller under xdist)


def pytest_collection_modifyitems(items) -> None:
    def rank(item) -> int:
        module = item.nodeid.split("::")[0].removeprefix("tests/")
        return SLOW_FIRST.index(module) if module in SLOW_FIRST else len(SLOW_FIRST)

    items.sort(key=rank)  # stable: the other modules, and the tests within each, keep their order


def pytest_runtest_logreport(report) -> None:
    module = report.nodeid.split("::")[0]
    MODULE_SECONDS[module] = MODULE_SECONDS.get(module, 0.0) + report.duration


# --- the fault-injection table (tests/faults), across pytest-xdist's workers ---------------------

FAULTS = pytest.StashKey[list]()  # (fault, tried, survived, identical) rows, faults/conftest.record_fault


def pytest_configure(config) -> None:
    config.stash[FAULTS] = []


def pytest_sessionfinish(session) -> None:
    if hasattr(session.config, "workeroutput"):  # an xdist worker: its rows go to the controller
        session.config.workeroutput["faults"] = session.config.stash[FAULTS]


@pytest.hookimpl(optionalhook=True)  # xdist's hook, in the controller: absent without xdist
def pytest_testnodedown(node, error) -> None:
    node.config.stash[FAULTS].extend(tuple(row) for row in node.workeroutput.get("faults", []))


def pytest_terminal_summary(terminalreporter) -> None:
    slowest = sorted(MODULE_SECONDS.items(), key=lambda kv: -kv[1])[:10]
    if slowest:  # what to start first (SLOW_FIRST) and to make cheaper next
        terminalreporter.section("slowest modules (setup + call + teardown)")
        for module, seconds in slowest:
            terminalreporter.write_line(f"{seconds:8.1f} s  {module}")
    rows = terminalreporter.config.stash[FAULTS]
    if not rows:
        return
    write = terminalreporter.write_line
    terminalreporter.section("fault injection")
    width = max(len(r[0]) for r in rows)
    write(f"{'fault':<{width}}  tried  survived  identical")
    for fault, tried, survived, identical in rows:
        same = "-" if identical is None else str(identical)
        write(f"{fault:<{width}}  {tried:>5}  {survived:>8}  {same:>9}")


@pytest.fixture(scope="session")
def shared_tmp(tmp_path_factory) -> Path:
    """A folder for what the session builds once: under pytest -n, the one all workers share."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def fid_weights(shared_tmp) -> Path:
    """A randomly initialised FID Inception state dict.

    The real weights cannot be downloaded here (no network), so tests that need Inception run
    pytorch-fid's real network with these random weights: numbers are self-consistent, not
    comparable with published FIDs.
    """
    from dvcrepo import built_once

    from ganlab.fid import write_random_weights

    folder = built_once(shared_tmp / "fid", lambda f: write_random_weights(f / "random_fid_inception.pth", seed=0))
    return folder / "random_fid_inception.pth"


@pytest.fixture(scope="session")
def tiny_pipeline(shared_tmp, fid_weights) -> Path:
    """A git + DVC repo of dvcrepo.TINY (with the session's FID weights) in which `dvc repro`
    has run, committed as "baseline": built once per session, for every worker. Never change
    it: a module takes its own copy (dvcrepo.copy_repo)."""
    from dvcrepo import TINY, built_once, dvc, git, make_repo

    def build(repo: Path) -> None:
        make_repo(repo, {**TINY, "evaluate": {**TINY["evaluate"], "fid_weights": str(fid_weights)}})
        # MLflow off, whichever module asks first: a copy drops the store (copy_repo), so no
        # module reads what the build would log, and it would cost train, evaluate and render ~3 s each
        dvc(repo, "repro", GANLAB_TRACKING="off")
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", "baseline")

    return built_once(shared_tmp / "tiny-pipeline", build)


@pytest.fixture(scope="module")
def tracking_off():
    """GANLAB_TRACKING=off for a module's DVC runs (`pytestmark = pytest.mark.usefixtures(
    "tracking_off")`), in modules that read nothing from MLflow: MLflow's imports and store cost
    each train, evaluate and render stage about 5 s. Its modules check that a stage said so."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANLAB_TRACKING", "off")
        yield


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a test module: on a shared 2-core machine torch's two threads spin
    against other jobs (a training step measured 100x slower than on one thread)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# --- an MLflow store and a tiny model folder, the two things many modules need -------------------


def use_mlflow_store(folder: Path, mp: pytest.MonkeyPatch) -> Path:
    """Point MLflow at its own SQLite store in `folder` and the cwd there (MLflow writes run
    artifacts under the cwd): no test logs into the project's mlflow.db. For module-scoped
    fixtures: `with pytest.MonkeyPatch.context() as mp: use_mlflow_store(folder, mp)`."""
    mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{folder / 'mlflow.db'}")
    mp.chdir(folder)
    return folder


@pytest.fixture
def mlflow_store(tmp_path, monkeypatch) -> Path:
    """This test's own MLflow store in tmp_path, with the cwd there; returns tmp_path."""
    return use_mlflow_store(tmp_path, monkeypatch)


TINY_META = {"model": "dcgan", "nz": 8, "resolution": 16, "channels": 3, "params": {"width": 8, "nz": 8}}


def tiny_generator(seed: int = 0) -> torch.nn.Module:
    """An untrained 16 px DCGAN generator (width 8, nz 8), the same for the same seed."""
    from ganlab.models import REGISTRY

    torch.manual_seed(seed)
    G, _ = REGISTRY["dcgan"](REGISTRY["dcgan"].Params(width=8, nz=8)).build(16)
    return G


def write_model_folder(path: Path, G: torch.nn.Module, meta: dict, snapshots: tuple[int, ...] = ()) -> Path:
    """G written through ModelFolder as render, evaluate and `ganlab` read it: model.json, the
    weights, and a complete snapshot of the same weights at each of `snapshots`."""
    from ganlab.folder import ModelFolder

    folder = ModelFolder(path)
    folder.make_dirs()
    folder.write_meta(meta)
    folder.write_weights(G.state_dict())
    for step in snapshots:
        folder.write_snapshot(step, G.state_dict(), complete=True)
    return path
