"""The prepare stage: the selected crops resized to the training size, stored with their
attributes, partition and category labels in one npz."""

from __future__ import annotations

import csv
import multiprocessing
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from ganlab.data.decode import workers
from ganlab.data.select import evaluate
from ganlab.dataset import DatasetWriter
from ganlab.errors import GanlabError
from ganlab.params import PrepareParams

PARTITIONS = {"train": 0, "valid": 1, "test": 2}  # CelebA's list_eval_partition codes


def read_attributes(path: Path) -> tuple[list[str], dict[str, list[int]]]:
    """CelebA's attribute CSV (image_id, then one -1/1 column per attribute) -> names, id -> values."""
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if not header or header[0] != "image_id":
            raise GanlabError(f"{path}: the first column must be image_id, got {(header or [])[:1]}")
        return header[1:], {row[0]: [int(v) for v in row[1:]] for row in reader if row}


def read_partition(path: Path) -> dict[str, int]:
    """partition.csv (image_id,partition with 0 train / 1 valid / 2 test) -> id -> code."""
    with open(path, newline="") as f:
        return {row["image_id"]: int(row["partition"]) for row in csv.DictReader(f)}


def output_size(p: PrepareParams) -> tuple[int, int]:
    """(width, height) of the prepared images: square, or CelebA's 178:218 frame at height p.resolution."""
    if p.aspect == "1:1":
        return p.resolution, p.resolution
    h, w = map(int, p.aspect.split(":"))
    return round(p.resolution * w / h), p.resolution


def fit(im: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """Trim `im` centrally to the aspect of `size` (width, height), then resize to it."""
    w, h = size
    if im.width * h > im.height * w:  # too wide: trim the sides
        cw = round(im.height * w / h)
        x = (im.width - cw) // 2
        im = im.crop((x, 0, x + cw, im.height))
    elif im.width * h < im.height * w:  # too tall: trim top and bottom
        ch = round(im.width * h / w)
        y = (im.height - ch) // 2
        im = im.crop((0, y, im.width, y + ch))
    # Lanczos antialiases when shrinking, so small faces keep no aliasing artefacts.
    return np.asarray(im.convert("RGB").resize(size, Image.LANCZOS))


def _load_job(job: tuple[str, tuple[int, int]]) -> np.ndarray:
    path, size = job
    with Image.open(path) as im:
        return fit(im, size)


def select(ids: list[str], names: list[str], attrs: dict[str, list[int]], partition: dict[str, int], p: PrepareParams) -> tuple[list[int], np.ndarray | None]:
    """Indices into `ids` kept by p's partition, attribute filter, categories and cap; labels or None."""
    matrix = np.array([attrs.get(i, [0] * len(names)) for i in ids], dtype=np.int8).reshape(len(ids), len(names))
    keep = np.ones(len(ids), dtype=bool)
    if p.partition != "all":
        if not partition:
            raise GanlabError(f"prepare.partition: '{p.partition}' needs the source's partition.csv (CelebA has one); use 'all'")
        keep &= np.array([partition.get(i, -1) == PARTITIONS[p.partition] for i in ids], dtype=bool)
    if p.where:
        keep &= evaluate(p.where, matrix, names, "prepare.where")
    labels = None
    if p.categories:
        labels = np.full(len(ids), -1, dtype=np.int64)
        for k, c in reversed(list(enumerate(p.categories))):  # reversed: the first matching category wins
            labels[evaluate(c.where, matrix, names, f"prepare.categories '{c.name}' where")] = k
        keep &= labels >= 0
    index = np.flatnonzero(keep).tolist()
    if p.max_images:
        index = index[: p.max_images]
    return index, None if labels is None else labels[index]


def prepare(crops_dir: str | Path, raw_dir: str | Path, out_path: str | Path, p: PrepareParams, progress: bool = True) -> dict:
    """Write out_path (an uncompressed npz, see ganlab.dataset): images uint8 (N, H, W, 3), attributes int8 (N, A), attribute_names,
    image_ids; labels int64 (N,) and category_names with categories; partition int8 (N,) where known."""
    crops_dir, raw_dir = Path(crops_dir), Path(raw_dir)
    with open(crops_dir / "boxes.csv", newline="") as f:
        ids = [row["image_id"] for row in csv.DictReader(f) if row["face"] == "1"]
    if not ids:
        raise GanlabError(f"no face crops listed in {crops_dir / 'boxes.csv'}")
    names, attrs = read_attributes(raw_dir / "attributes.csv") if (raw_dir / "attributes.csv").exists() else ([], {})
    partition = read_partition(raw_dir / "partition.csv") if (raw_dir / "partition.csv").exists() else {}

    index, labels = select(ids, names, attrs, partition, p)
    if not index:
        raise GanlabError(f"no images left after the selection in params.yaml's prepare section ({len(ids)} crops before it)")
    ids = [ids[k] for k in index]
    size = output_size(p)
    arrays = {
        "attributes": np.array([attrs.get(i, [0] * len(names)) for i in ids], dtype=np.int8).reshape(len(ids), len(names)),
        "attribute_names": np.array(names, dtype=str),
        "image_ids": np.array(ids, dtype=str),
    }
    if labels is not None:
        arrays["labels"] = labels
        arrays["category_names"] = np.array([c.name for c in p.categories], dtype=str)
    if partition:
        arrays["partition"] = np.array([partition.get(i, -1) for i in ids], dtype=np.int8)
    jobs = [(str(crops_dir / "images" / f"{Path(i).stem}.png"), size) for i in ids]
    # Rows go to disk in order as the workers decode them: memory stays a few chunks of rows,
    # whatever the number of images (CelebA at 256 px is a 40 GB array).
    with DatasetWriter(out_path, (len(ids), size[1], size[0], 3), **arrays) as out:  # (N, H, W, 3)
        with multiprocessing.get_context("spawn").Pool(workers(p.workers)) as pool:
            for im in tqdm(pool.imap(_load_job, jobs, chunksize=16), total=len(ids), desc="prepare", unit="img", disable=not progress):
                out.write(im)
    summary = {"images": len(ids), "size": f"{size[1]}x{size[0]}"}
    if labels is not None:
        summary["categories"] = {c.name: int((labels == k).sum()) for k, c in enumerate(p.categories)}
    return summary
