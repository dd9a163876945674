"""The prepare stage: face crops resized to the training resolution, stored with attributes in one npz."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from ganlab.errors import GanlabError
from ganlab.io import save_npz
from ganlab.params import PrepareParams


def read_attributes(path: Path) -> tuple[list[str], dict[str, list[int]]]:
    """CelebA's attribute CSV (image_id, then one -1/1 column per attribute) -> names, id -> values."""
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        if not header or header[0] != "image_id":
            raise GanlabError(f"{path}: the first column must be image_id, got {header[:1]}")
        return header[1:], {row[0]: [int(v) for v in row[1:]] for row in reader}


def prepare(crops_dir: str | Path, raw_dir: str | Path, out_path: str | Path, p: PrepareParams, progress: bool = True) -> dict:
    """Write out_path (npz): images uint8 (N, R, R, 3), attributes int8 (N, A), attribute_names, image_ids."""
    crops_dir, raw_dir = Path(crops_dir), Path(raw_dir)
    with open(crops_dir / "boxes.csv", newline="") as f:
        ids = [row["image_id"] for row in csv.DictReader(f) if row["face"] == "1"]
    if not ids:
        raise GanlabError(f"no face crops listed in {crops_dir / 'boxes.csv'}")
    names, attrs = read_attributes(raw_dir / "attributes.csv") if (raw_dir / "attributes.csv").exists() else ([], {})

    images = np.empty((len(ids), p.resolution, p.resolution, 3), dtype=np.uint8)
    for i, image_id in enumerate(tqdm(ids, desc="prepare", unit="img", disable=not progress)):
        with Image.open(crops_dir / "images" / f"{Path(image_id).stem}.png") as im:
            # Lanczos antialiases when shrinking, so small faces keep no aliasing artefacts.
            images[i] = np.asarray(im.convert("RGB").resize((p.resolution, p.resolution), Image.LANCZOS))
    attributes = np.array([attrs.get(i, [0] * len(names)) for i in ids], dtype=np.int8).reshape(len(ids), len(names))
    save_npz(out_path, images=images, attributes=attributes, attribute_names=np.array(names, dtype=str), image_ids=np.array(ids, dtype=str))
    return {"images": len(ids), "resolution": p.resolution}
