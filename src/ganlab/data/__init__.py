"""Data sources: each writes the raw layout the crop stage reads.

The raw layout: images/ (one file per image), attributes.csv (CelebA's format: image_id, then
one -1/1 column per attribute) and, where the source knows them, true_boxes.csv.
"""

from __future__ import annotations

from pathlib import Path

from ganlab.io import atomic_dir
from ganlab.params import DataParams


def download(p: DataParams, out_dir: str | Path, progress: bool = True) -> None:
    """Materialise the configured source in out_dir; the folder appears only when complete."""
    with atomic_dir(out_dir) as tmp:
        if p.source == "synthetic":
            from ganlab.data.synthetic import write_synthetic

            write_synthetic(tmp, p.count, p.seed, progress=progress)
        else:  # params validation allows only known sources; this guards a new one left unwired
            raise NotImplementedError(p.source)
