"""The crop stage: MTCNN over the raw images, a square crop around the most confident face."""

from __future__ import annotations

import csv
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps
from tqdm import tqdm

from ganlab.errors import GanlabError
from ganlab.faces import best_faces, iou, load_mtcnn, square_crop_box
from ganlab.generator import pick_device
from ganlab.io import atomic_path, write_json
from ganlab.params import CropParams

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
BOX_FIELDS = ("image_id", "face", "prob", "x1", "y1", "x2", "y2", "crop_x1", "crop_y1", "crop_x2", "crop_y2")


def open_rgb(path: Path) -> Image.Image:
    """Decode fully (so a truncated file fails here, not later), upright by EXIF, as RGB."""
    with Image.open(path) as im:
        im.load()
        return ImageOps.exif_transpose(im).convert("RGB")


def read_true_boxes(path: Path) -> dict[str, tuple[float, ...]]:
    with open(path, newline="") as f:
        return {row["image_id"]: tuple(float(row[k]) for k in ("x1", "y1", "x2", "y2")) for row in csv.DictReader(f)}


def _write_csv(path: Path, fields: tuple[str, ...], rows: list[dict]) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fields)
            w.writeheader()
            w.writerows(rows)


def crop_faces(raw_dir: str | Path, out_dir: str | Path, metrics_path: str | Path, p: CropParams, progress: bool = True) -> dict:
    """Detect and crop the face of every image in raw_dir/images into out_dir/images (PNG).

    out_dir/boxes.csv lists every readable image (face 0 where none passed p.min_prob);
    out_dir/rejects.csv lists files that could not be read, with the reason.
    """
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    files = sorted(f for f in (raw_dir / "images").iterdir() if f.suffix.lower() in IMAGE_SUFFIXES) if (raw_dir / "images").is_dir() else []
    if not files:
        raise GanlabError(f"no images found in {raw_dir / 'images'}")
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    mtcnn = load_mtcnn(pick_device())

    rows, rejects = [], []
    start = time.time()
    bar = tqdm(total=len(files), desc="crop (MTCNN)", unit="img", disable=not progress)
    for i in range(0, len(files), p.batch_size):
        by_size: dict[tuple[int, int], list[tuple[Path, Image.Image]]] = defaultdict(list)
        for f in files[i : i + p.batch_size]:
            try:
                im = open_rgb(f)
            except Exception as e:  # PIL raises many types for bad files; each is reported, none stops the run
                reason = f"{type(e).__name__}: {e}".splitlines()[0]
                print(f"warning: skipping unreadable image {f}: {reason}", file=sys.stderr)
                rejects.append({"file": f.name, "reason": reason})
                continue
            by_size[im.size].append((f, im))
        for group in by_size.values():
            for (f, im), (box, prob) in zip(group, best_faces(mtcnn, [im for _, im in group])):
                row = {"image_id": f.name, "face": 0, "prob": round(prob, 5)}
                if box is not None and prob >= p.min_prob:
                    crop = square_crop_box(box, p.margin)
                    im.crop(crop).save(out_dir / "images" / f"{f.stem}.png")  # PIL pads outside the frame with black
                    row.update(face=1, **dict(zip(BOX_FIELDS[3:7], np.round(box, 1))), **dict(zip(BOX_FIELDS[7:], crop)))
                rows.append(row)
        bar.update(min(p.batch_size, len(files) - i))
    bar.close()
    seconds = time.time() - start

    rows.sort(key=lambda r: r["image_id"])
    _write_csv(out_dir / "boxes.csv", BOX_FIELDS, rows)
    _write_csv(out_dir / "rejects.csv", ("file", "reason"), rejects)
    faces = [r for r in rows if r["face"]]
    metrics = {
        "images": len(files),
        "rejected": len(rejects),
        "faces": len(faces),
        "detection_rate": round(len(faces) / max(1, len(rows)), 4),
        "images_per_second": round(len(files) / seconds, 2),
    }
    if (raw_dir / "true_boxes.csv").exists():  # the synthetic set knows where its faces are
        truth = read_true_boxes(raw_dir / "true_boxes.csv")
        ious = [iou([r[k] for k in BOX_FIELDS[3:7]], truth[r["image_id"]]) for r in faces if r["image_id"] in truth]
        metrics["mean_iou"] = round(float(np.mean(ious)), 4) if ious else 0.0
    write_json(metrics_path, metrics)
    return metrics
