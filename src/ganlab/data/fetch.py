"""The download stage's core: materialise the configured source in the raw layout (see ganlab.data)."""


from __future__ import annotations

from pathlib import Path
from typing import Callable

from ganlab.data.sources import write_celeba, write_folder, write_lsun_bedroom
from ganlab.io import atomic_dir
from ganlab.params import DataParams


def _synthetic(p: DataParams, out: Path, progress: bool = True) -> None:
    from ganlab.data.synthetic import write_synthetic

    write_synthetic(out, p.count, p.seed, progress=progress)


# data.source -> the function writing that source's raw layout into a folder
SOURCES: dict[str, Callable[[DataParams, Path, bool], None]] = {
    "synthetic": _synthetic,
    "celeba": write_celeba,
    "lsun_bedroom": write_lsun_bedroom,
    "folder": write_folder,
}


def download(p: DataParams, out_dir: str | Path, progress: bool = True) -> None:
    """Materialise the configured source in out_dir; the folder appears only when complete."""
    with atomic_dir(out_dir) as tmp:
        SOURCES[p.source](p, tmp, progress)
