"""Small file helpers: everything a stage writes lands whole or not at all."""

from __future__ import annotations

import contextlib
import csv
import glob
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Collection, Iterator

import numpy as np


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def remove_temporaries(folder: Path, name: str | None = None) -> None:
    """Remove the temporaries (`.<name>.<random>.tmp`) of atomic_path / atomic_dir writes that a
    kill -9 cut short (it skips the `finally` that removes them): those of file `name` in
    `folder`, or with no name all of them anywhere below `folder`. Left beside a DVC output, or
    inside a persistent one, they would stay in the workspace, or be cached with the output."""
    found = folder.glob(f".{glob.escape(name)}.*.tmp") if name else folder.rglob(".*.*.tmp")
    for old in sorted(found, reverse=True):  # inner paths first
        shutil.rmtree(old) if old.is_dir() else old.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; move it into place only if the block succeeds.

    An interrupted run leaves the old file (or none), never half of a new one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_temporaries(path.parent, path.name)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give them the usual mode
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Like atomic_path for a directory: build it aside, then swap it in."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_temporaries(path.parent, path.name)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes a 0700 folder
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def write_json(path: str | Path, data: dict) -> None:
    """Write pretty JSON atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def write_split(data: dict, compared: Collection[str], metrics_path: str | Path, info_path: str | Path | None = None) -> None:
    """The keys of `data` in `compared` to metrics_path, the rest to info_path (skipped when None).

    metrics_path is a DVC metric: `dvc exp show` makes a column of every key in it, so it holds
    only what users compare across experiments. Diagnostics (digests, final losses, the device,
    protocols) go to info_path, a plain file beside it that is not a DVC metric.
    """
    write_json(metrics_path, {k: v for k, v in data.items() if k in compared})
    if info_path is not None:
        write_json(info_path, {k: v for k, v in data.items() if k not in compared})


def write_csv(path: str | Path, rows: list[dict], fieldnames: list[str] | None = None) -> None:
    """Rows of dicts as CSV (None as an empty cell), atomically; the columns default to the
    first row's keys."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fieldnames or (list(rows[0]) if rows else ["step"]))
            w.writeheader()
            w.writerows(rows)


def save_npz(path: str | Path, **arrays: np.ndarray) -> None:
    """np.savez_compressed, atomically (through a file object, so numpy adds no suffix)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)


def load_dataset(path: str | Path) -> dict[str, np.ndarray]:
    """Read a prepared dataset npz (images uint8 NHWC, attributes, names, ids) fully into memory."""
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}
