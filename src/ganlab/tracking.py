"""MLflow tracking: where the store is and how a stage reaches the run of its model."""

from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path:
    """$DVC_ROOT when DVC runs the stage (so queued experiments log to the workspace), else the cwd."""
    return Path(os.environ.get("DVC_ROOT") or os.getcwd()).resolve()


def tracking_uri() -> str:
    """MLFLOW_TRACKING_URI if set, else a SQLite store at the repo root."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{repo_root() / 'mlflow.db'}"


def setup(experiment: str = "ganlab"):
    """Point MLflow at the project's store and experiment; returns the mlflow module."""
    import logging

    import mlflow

    # Alembic logs every migration of a new SQLite store at INFO; keep stage output readable.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    mlflow.set_tracking_uri(tracking_uri())
    mlflow.set_experiment(experiment)
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
    """Re-open the training run `run_id`; a new run named `name` if this store does not hold it.

    Evaluate and render log into their model's run, so one run carries the whole story.
    """
    import sys

    mlflow = setup()
    if run_id:
        try:
            mlflow.get_run(run_id)
            return mlflow.start_run(run_id=run_id)
        except Exception as e:  # MlflowException for an unknown id; the store may also be another one
            print(f"warning: MLflow run {run_id} not found in {tracking_uri()} ({type(e).__name__}); logging to a new run", file=sys.stderr)
    return mlflow.start_run(run_name=name)
