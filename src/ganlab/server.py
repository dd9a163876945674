"""A team's MLflow tracking server: `python -m ganlab.server` (or `make mlflow-server`).

It runs `mlflow server` with a SQLite store and the artifact proxy (--serve-artifacts): runs,
params and metrics go to <dir>/mlflow.db, and artifacts are uploaded through the server to
<dir>/artifacts, so a client needs nothing but the URL. Point the pipeline at it with

    MLFLOW_TRACKING_URI=http://127.0.0.1:5000 dvc repro

A module of its own, not part of ganlab.tracking: the stages depend on that file, and starting a
server is no part of what they compute.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def command(root: str | Path, host: str = "127.0.0.1", port: int = 5000, workers: int = 1) -> list[str]:
    """The `mlflow server` command line for a store and artifacts under `root`."""
    root = Path(root).resolve()
    return [
        str(Path(sys.executable).with_name("mlflow")), "server",
        "--host", host,
        "--port", str(port),
        "--workers", str(workers),  # one process: a team's few clients, on a machine that also trains
        "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
        "--serve-artifacts",  # clients upload and download artifacts through the server (mlflow-artifacts:/ URIs)
        "--artifacts-destination", (root / "artifacts").as_uri(),
    ]


def main(argv: list[str] | None = None) -> None:
    a = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_argument("--dir", default=".mlflow-server", help="where the store and the artifacts live (default: .mlflow-server)")
    a.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1; 0.0.0.0 for a team's network, behind its own access control)")
    a.add_argument("--port", type=int, default=5000)
    a.add_argument("--workers", type=int, default=1)
    args = a.parse_args(argv)
    Path(args.dir).mkdir(parents=True, exist_ok=True)
    cmd = command(args.dir, args.host, args.port, args.workers)
    print(f"MLflow server for http://{args.host}:{args.port} (store and artifacts in {Path(args.dir).resolve()}); set MLFLOW_TRACKING_URI=http://{args.host}:{args.port}", file=sys.stderr, flush=True)
    # MLflow 3 starts a job runner by default (huey consumer processes for its GenAI jobs: judges,
    # trace roll-ups), which nothing in ganlab submits; unless the team asks for it, it stays off
    os.environ.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    os.execv(cmd[0], cmd)  # the server is this process: stopping it by its id stops the server


if __name__ == "__main__":
    main()
