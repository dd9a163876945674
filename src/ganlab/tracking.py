"""MLflow tracking: where the store is and how a stage reaches the run of its model.

Stages may run in DVC's temporary copies of the repo (`dvc exp run --queue`, several workers at
once), so nothing here depends on the working directory: the store and the artifacts live at the
repo root DVC names, and the store is created under a lock.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

from ganlab.config_key import params_config_key
from ganlab.errors import GanlabError

EXPERIMENT = "ganlab"
# MLflow 3's UI opens an experiment without this tag in its GenAI view ("Evaluation runs");
# custom_model_development opens the runs table, with FID and face rate as columns.
KIND_TAG, MODEL_TRAINING = "mlflow.experimentKind", "custom_model_development"


def repo_root() -> Path:
    """$DVC_ROOT when DVC runs the stage (so queued experiments log to the workspace), else the cwd."""
    return Path(os.environ.get("DVC_ROOT") or os.getcwd()).resolve()


SWITCH = "GANLAB_TRACKING"  # "off": stages log nothing to MLflow and never import it


def switched_on() -> bool:
    """False under GANLAB_TRACKING=off. MLflow's imports and store cost each train, evaluate and
    render process about 5 s (most of a small stage), which a run that nobody reads in MLflow
    can skip; an environment variable, not a param, because it changes no output DVC compares."""
    value = (os.environ.get(SWITCH) or "on").strip().lower()  # unset or empty: on
    if value not in ("on", "off"):
        raise GanlabError(f"{SWITCH}={os.environ[SWITCH]!r}: use on or off")
    return value == "on"


def tracking_uri() -> str:
    """MLFLOW_TRACKING_URI if set, else a SQLite store at the repo root."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{repo_root() / 'mlflow.db'}"


def artifact_root() -> str | None:
    """`mlruns` beside a SQLite store (`<repo root>/mlruns` for the default one); None for a server's.

    Left to MLflow, the root is ./mlruns of whichever stage creates the experiment: in a queued
    experiment that is DVC's temporary copy, deleted with every artifact when the run ends.
    """
    uri = tracking_uri()
    return (Path(uri.removeprefix("sqlite:///")).parent / "mlruns").as_uri() if uri.startswith("sqlite:///") else None


def lock_path() -> Path:
    """The file lock guarding store creation: beside a SQLite store, else at the repo root."""
    uri = tracking_uri()
    return Path(uri.removeprefix("sqlite:///") + ".lock") if uri.startswith("sqlite:///") else repo_root() / "mlflow.lock"


def dvc_experiment() -> str:
    """The DVC experiment running the stage (`dvc exp run` sets DVC_EXP_NAME); "workspace" for `dvc repro`."""
    return os.environ.get("DVC_EXP_NAME") or "workspace"


def git_commit() -> str | None:
    """The commit the code came from: the experiment's baseline under `dvc exp run`, else HEAD."""
    if rev := os.environ.get("DVC_EXP_BASELINE_REV"):
        return rev
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


# MLflow's own defaults wait 120 s per request and retry 7 times with backoff: a server that is
# down held `dvc repro train@dcgan` for 254 s before it failed. Tracking is best effort here (see
# Run), so a request gets a short timeout and two retries, unless the user set their own.
HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_TIMEOUT": "10", "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2"}


def setup(experiment: str = EXPERIMENT):
    """Point MLflow at the project's store and experiment, creating either if missing; returns mlflow."""
    import logging

    for key, value in HTTP_DEFAULTS.items():  # read by MLflow at each request
        os.environ.setdefault(key, value)
    import mlflow
    from filelock import FileLock

    # Alembic logs every migration of a new SQLite store at INFO; keep stage output readable.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    mlflow.set_tracking_uri(tracking_uri())
    # Two `dvc queue` workers starting on no store would both create its tables (alembic fails
    # in one of them) and both create the experiment: one at a time, the second finds both made.
    with FileLock(str(lock_path()), timeout=600):
        client = mlflow.MlflowClient()
        found = client.get_experiment_by_name(experiment)
        if found is None:
            experiment_id = client.create_experiment(experiment, artifact_location=artifact_root(), tags={KIND_TAG: MODEL_TRAINING})
        else:
            experiment_id = found.experiment_id
            if found.tags.get(KIND_TAG) != MODEL_TRAINING:  # a store made before the tag
                client.set_experiment_tag(experiment_id, KIND_TAG, MODEL_TRAINING)
            wanted = artifact_root()
            if wanted and found.artifact_location != wanted:  # MLflow cannot move it: say so once per stage
                print(f"warning: MLflow experiment '{experiment}' keeps artifacts in {found.artifact_location}, not {wanted}", file=sys.stderr)
    mlflow.set_experiment(experiment_id=experiment_id)
    return mlflow


def flatten(prefix: str, data: dict) -> dict[str, str]:
    """{'a': {'b': 1}} -> {'prefix.a.b': '1'} for mlflow.log_params."""
    out = {}
    for key, value in data.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            out.update(flatten(name, value))
        else:
            out[name] = str(value)
    return out


def open_run(run_id: str | None, name: str):
    """Re-open the training run `run_id`; a new run of model `name` if this store or experiment lacks it.

    Evaluate and render log into their model's run, so one run carries the whole story. A new run
    is named `<DVC experiment>/<name>` and tagged with both, the commit and the config (ganlab.sweep). A run of another DVC
    experiment is not re-opened (its model came from DVC's cache): the new run names it instead.
    """
    mlflow = setup()
    experiment, tags = dvc_experiment(), {}
    if run_id:
        try:
            run = mlflow.get_run(run_id)
        except Exception as e:  # MlflowException for an unknown id; the store may also be another one
            print(f"warning: MLflow run {run_id} not found in {tracking_uri()} ({type(e).__name__}); logging to a new run", file=sys.stderr)
        else:
            if run.data.tags.get("dvc_experiment", experiment) == experiment:
                return mlflow.start_run(run_id=run_id)
            tags["training_run"] = run_id
    tags.update({"dvc_experiment": experiment, "model": name})
    # one seed sweep's runs share the config tag (params.yaml less its seed keys): search
    # `tags.config = '<key>'` in the UI finds them together, as `ganlab results` groups them
    if config := params_config_key():
        tags["config"] = config
    if commit := git_commit():
        tags["git_commit"] = commit
    return mlflow.start_run(run_name=f"{experiment}/{name}", tags=tags)


class Run:
    """The MLflow run of one stage, best effort: tracking never costs a stage its work.

    Every call goes through `_call`. The first that fails (a server down, a bad
    MLFLOW_TRACKING_URI, a store that cannot be written) prints one warning naming the store and
    the reason, and turns tracking off for the rest of the stage, so a store that is down costs
    one timeout, not one per call. What was not logged is lost to MLflow; the stage's DVC outputs
    and metrics, written before or regardless of tracking, hold it. `enabled=False` (a process
    other than the first under torchrun) and GANLAB_TRACKING=off make every call do nothing.

        with tracking.Run("evaluate dcgan", run_id, "dcgan") as run:
            run.log_metrics({"fid": 12.3})
    """

    def __init__(self, stage: str, run_id: str | None, name: str, enabled: bool = True):
        self.stage, self.name, self.wanted = stage, name, run_id
        if enabled and not switched_on():
            print(f"{stage}: MLflow tracking off ({SWITCH}=off); DVC's outputs and metrics hold everything", file=sys.stderr)
            enabled = False
        self.enabled, self.up = enabled, enabled
        self.run_id: str | None = None
        self.lost: list[str] = []  # what could not be logged, for the warning and for tests
        self._mlflow = None

    def __enter__(self) -> "Run":
        def start():
            active = open_run(self.wanted, self.name)
            self._mlflow = sys.modules["mlflow"]
            return active.info.run_id

        self.run_id = self._call("the run", start)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.run_id is not None:
            self._call("the run's end", lambda: self._mlflow.end_run("FAILED" if exc_type else "FINISHED"))

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        if not self.up:
            if self.enabled:
                self.lost.append(what)
            return None
        try:
            return fn()
        except Exception as e:  # MlflowException, connection, SQLAlchemy and lock errors alike
            self.up = False
            self.lost.append(what)
            reason = " ".join(str(e).split())[:160]
            print(f"warning: MLflow store {tracking_uri()} unavailable ({type(e).__name__}: {reason}); {self.stage} logs nothing more to it and what it would have logged is lost to MLflow; its DVC outputs and metrics are written as usual", file=sys.stderr)
            return None

    def log_params(self, params: dict) -> None:
        self._call("params", lambda: self._mlflow.log_params(params))

    def log_metrics(self, metrics: dict, step: int | None = None) -> None:
        self._call("metrics", lambda: self._mlflow.log_metrics(metrics, step=step))

    def set_tag(self, key: str, value: str) -> None:
        self._call(f"tag {key}", lambda: self._mlflow.set_tag(key, value))

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        self._call(f"artifact {path}", lambda: self._mlflow.log_artifact(str(path), artifact_path))

    def log_artifacts(self, path: str | Path, artifact_path: str | None = None) -> None:
        self._call(f"artifacts {path}", lambda: self._mlflow.log_artifacts(str(path), artifact_path))
