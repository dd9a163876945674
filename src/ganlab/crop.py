"""The crop stage: a square crop around the most confident MTCNN face, the central square, or the
whole image, of every raw image.

Images are decoded EXIF-upright as 8-bit RGB (see ganlab.data.decode) and equal-size images are
batched through MTCNN, which runs a whole batch through each pyramid scale at once. On a CPU
every worker process (one torch thread each) decodes, detects and crops its own chunks of
files; on a GPU, worker processes decode and the main process detects. Files that cannot be
decoded, and images MTCNN cannot take (too small for its smallest window, or failing in it),
are listed with the reason in rejects.csv and never stop the stage; the same inputs give
byte-identical crops and CSVs.
"""

from __future__ import annotations

import csv
import multiprocessing
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image
from tqdm import tqdm

from ganlab.data.decode import IMAGE_SUFFIXES, cores, decode_job, load_rgb, reason, workers
from ganlab.errors import GanlabError
from ganlab.faces import LANDMARKS, MIN_FACE, landmark_face_box, square_crop_box
from ganlab.io import atomic_path, write_json
from ganlab.params import CropParams

BOX_FIELDS = ("image_id", "face", "prob", "x1", "y1", "x2", "y2", "crop_x1", "crop_y1", "crop_x2", "crop_y2")
_BUFFERED = 4  # at most this many batches of decoded images wait for MTCNN at once


def read_true_boxes(path: Path) -> dict[str, tuple[float, ...]]:
    with open(path, newline="") as f:
        return {row["image_id"]: tuple(float(row[k]) for k in ("x1", "y1", "x2", "y2")) for row in csv.DictReader(f)}


def _write_csv(path: Path, fields: tuple[str, ...], rows: list[dict]) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
            w.writeheader()
            w.writerows(rows)


def center_box(width: int, height: int, fraction: float) -> tuple[int, int, int, int]:
    """The central square whose side is `fraction` of the shorter side."""
    side = max(1, round(min(width, height) * fraction))
    x1, y1 = (width - side) // 2, (height - side) // 2
    return (x1, y1, x1 + side, y1 + side)


def decoded(files: list[Path], p: CropParams, pool, ahead: int) -> Iterator[tuple[str, np.ndarray | None, str | None]]:
    """(name, RGB array or None, reject reason or None) of every file, in file order.

    At most `ahead` images are decoded but not yet consumed: the pool's feeder thread waits on
    a semaphore, so 200k decoded images never pile up in memory while MTCNN catches up.
    """
    room = threading.Semaphore(ahead)

    def jobs() -> Iterator[tuple[str, int, int]]:
        for f in files:
            room.acquire()
            yield (str(f), p.max_side, p.max_pixels)

    try:
        for result in pool.imap(decode_job, jobs(), chunksize=4):
            room.release()
            yield result
    finally:  # on an error, unblock the feeder so the pool can shut down
        for _ in files:
            room.release()


def _save(im: np.ndarray, box: tuple[int, int, int, int], path: Path) -> None:
    Image.fromarray(im).crop(box).save(path)  # PIL pads outside the frame with black


def read_landmarks(path: Path) -> dict[str, tuple[int, ...]]:
    """The raw layout's landmarks.csv (CelebA's five points, LANDMARKS order) -> id -> points."""
    with open(path, newline="") as f:
        return {row["image_id"]: tuple(int(row[k]) for k in LANDMARKS) for row in csv.DictReader(f)}


def _plain_job(job: tuple[str, str, CropParams, tuple[int, ...] | None]) -> tuple[str, dict | None, str | None]:
    """Pool worker for modes center, none and landmarks: decode, crop, save; (name, box row, reject reason)."""
    path, out, p, points = job
    name = Path(path).name
    try:
        im = load_rgb(path, p.max_side, p.max_pixels)
        if p.mode == "landmarks":
            with Image.open(path) as f:  # the landmarks are in the file's pixels; load_rgb may have shrunk it
                scale = im.shape[1] / f.width
    except Exception as e:
        return name, None, reason(e)
    h, w = im.shape[:2]
    face = None
    if p.mode == "landmarks":
        face = tuple(v * scale for v in landmark_face_box(points))
        box = square_crop_box(face, p.margin)
    else:
        box = center_box(w, h, p.center_fraction) if p.mode == "center" else (0, 0, w, h)
    _save(im, box, Path(out) / f"{Path(path).stem}.png")
    found = dict(zip(BOX_FIELDS[3:7], (round(v, 1) for v in face))) if face else {}
    return name, {"image_id": name, "face": 1, "prob": "", **found, **dict(zip(BOX_FIELDS[7:], box))}, None


def crop_faces(raw_dir: str | Path, out_dir: str | Path, metrics_path: str | Path, p: CropParams, progress: bool = True) -> dict:
    """Crop every image in raw_dir/images into out_dir/images (PNG, named by the file's stem).

    out_dir/boxes.csv lists every image that was read and searched (face 0 where MTCNN found
    none above p.min_prob); out_dir/rejects.csv lists, with the reason, files that could not be
    read, images MTCNN could not search, and the raw layout's skipped.csv entries.
    """
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    files = sorted(f for f in (raw_dir / "images").iterdir() if f.suffix.lower() in IMAGE_SUFFIXES) if (raw_dir / "images").is_dir() else []
    if not files:
        raise GanlabError(f"no images found in {raw_dir / 'images'}")
    stems = [f.stem for f in files]
    if len(set(stems)) != len(stems):  # crops are PNGs named by stem: a.jpg and a.png would collide
        dup = next(s for s in stems if stems.count(s) > 1)
        raise GanlabError(f"two images in {raw_dir / 'images'} share the name {dup} (with different suffixes)")
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    for old in (out_dir / "images").iterdir():  # a re-run must not keep crops of images since removed
        old.unlink()

    rows, rejects = [], []
    bar = tqdm(total=len(files), desc=f"crop ({p.mode})", unit="img", disable=not progress)
    start = time.perf_counter()
    # spawn: safe with torch threads in the parent, and the same on Linux, macOS and Windows
    if p.mode == "mtcnn" and _cpu_only():
        _crop_mtcnn_in_workers(files, out_dir / "images", p, rows, rejects, bar)
    else:
        with multiprocessing.get_context("spawn").Pool(workers(p.workers, main_works=p.mode == "mtcnn")) as pool:
            if p.mode == "mtcnn":
                _crop_mtcnn(files, out_dir / "images", p, pool, rows, rejects, bar)
            else:
                points: dict[str, tuple[int, ...]] = {}
                todo = files
                if p.mode == "landmarks":
                    if not (raw_dir / "landmarks.csv").exists():
                        raise GanlabError(f"crop.mode landmarks needs {raw_dir / 'landmarks.csv'} (CelebA's list_landmarks_align_celeba; data.source celeba or synthetic writes it)")
                    points = read_landmarks(raw_dir / "landmarks.csv")
                    for f in files:
                        if f.name not in points:  # without landmarks there is no face to place
                            _reject(rejects, f.name, "no row in landmarks.csv")
                    todo = [f for f in files if f.name in points]
                    bar.update(len(rejects))
                jobs = [(str(f), str(out_dir / "images"), p, points.get(f.name)) for f in todo]
                for name, row, why in pool.imap(_plain_job, jobs, chunksize=8):
                    _reject(rejects, name, why) if why else rows.append(row)
                    bar.update()
    seconds = time.perf_counter() - start
    bar.close()

    if (raw_dir / "skipped.csv").exists():
        with open(raw_dir / "skipped.csv", newline="") as f:
            rejects += [{"file": r["file"], "reason": r["reason"]} for r in csv.DictReader(f)]
    rows.sort(key=lambda r: r["image_id"])
    rejects.sort(key=lambda r: r["file"])
    _write_csv(out_dir / "boxes.csv", BOX_FIELDS, rows)
    _write_csv(out_dir / "rejects.csv", ("file", "reason"), rejects)
    kept = [r for r in rows if r["face"]]
    metrics = {
        "mode": p.mode,
        "images": len(files),
        "rejected": len(rejects),
        "faces": len(kept),
        "detection_rate": round(len(kept) / max(1, len(rows)), 4),
        "images_per_second": round(len(files) / seconds, 2),
    }
    if p.mode in ("mtcnn", "landmarks") and (raw_dir / "true_boxes.csv").exists():  # the synthetic set knows where its faces are
        from ganlab.faces import iou

        truth = read_true_boxes(raw_dir / "true_boxes.csv")
        ious = [iou([r[k] for k in BOX_FIELDS[3:7]], truth[r["image_id"]]) for r in kept if r["image_id"] in truth]
        metrics["mean_iou"] = round(float(np.mean(ious)), 4) if ious else 0.0
    write_json(metrics_path, metrics)
    return metrics


def _reject(rejects: list[dict], name: str, why: str) -> None:
    print(f"warning: skipping image {name}: {why}", file=sys.stderr)
    rejects.append({"file": name, "reason": why})


def _crop_mtcnn(files: list[Path], out: Path, p: CropParams, pool, rows: list[dict], rejects: list[dict], bar) -> None:
    """Batched MTCNN over equal-size decoded images; crops saved as out/<stem>.png."""
    import torch  # late, with the two below: torch stays out of the decode workers

    from ganlab.faces import best_faces, load_mtcnn
    from ganlab.generator import pick_device

    mtcnn = load_mtcnn(pick_device())
    # The decode workers take their cores; more torch threads than the cores left over make
    # MTCNN's small convolutions spin and wait (10x slower on a busy 2-core machine).
    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, cores() - workers(p.workers)))
    try:
        _detect_all(files, out, p, pool, rows, rejects, bar, lambda batch: best_faces(mtcnn, batch))
    finally:
        torch.set_num_threads(threads)


def _cpu_only() -> bool:
    from ganlab.generator import pick_device

    return pick_device().type == "cpu"


_DETECTOR = None  # this worker process's MTCNN (set by _init_detector, one per process)


def _init_detector() -> None:
    import torch

    from ganlab.faces import load_mtcnn

    global _DETECTOR
    torch.set_num_threads(1)  # one process per core beats threads: MTCNN's small convolutions scale badly
    _DETECTOR = load_mtcnn("cpu")


class _Inline:
    """A stand-in for a Pool inside a worker: decode in this process."""

    @staticmethod
    def imap(fn, jobs, chunksize=1):
        return map(fn, jobs)


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass


def _mtcnn_job(job: tuple[list[str], str, CropParams]) -> tuple[list[dict], list[dict], int]:
    """Pool worker: decode, detect (batched by size) and crop one chunk of files."""
    from ganlab.faces import best_faces

    files, out, p = job
    rows: list[dict] = []
    rejects: list[dict] = []
    _detect_all([Path(f) for f in files], Path(out), p, _Inline(), rows, rejects, _NoBar(), lambda batch: best_faces(_DETECTOR, batch))
    return rows, rejects, len(files)


def _crop_mtcnn_in_workers(files: list[Path], out: Path, p: CropParams, rows: list[dict], rejects: list[dict], bar) -> None:
    """On CPUs: every process decodes, detects and crops its own chunks of p.batch_size files.

    Measured on 2 cores, this beats both a per-image MTCNN.detect loop and batching in one
    process fed by decode workers (tests/benchmarks/bench_crop.py; figures in the README).
    """
    n = workers(p.workers, main_works=False)  # the main process only collects results
    chunks = [([str(f) for f in files[i : i + p.batch_size]], str(out), p) for i in range(0, len(files), p.batch_size)]
    with multiprocessing.get_context("spawn").Pool(n, initializer=_init_detector) as pool:
        for chunk_rows, chunk_rejects, done in pool.imap(_mtcnn_job, chunks):
            rows += chunk_rows
            rejects += chunk_rejects
            bar.update(done)


def _detect_all(files: list[Path], out: Path, p: CropParams, pool, rows: list[dict], rejects: list[dict], bar, detect) -> None:
    """Group decoded images by size; `detect` (a uint8 NHWC batch -> [(box, prob)]) runs per full group."""
    waiting: dict[tuple[int, ...], list[tuple[str, np.ndarray]]] = {}

    def run(shape: tuple[int, ...]) -> None:
        group = waiting.pop(shape)
        for (name, im), (found, why) in zip(group, _detect_group([im for _, im in group], detect)):
            if why:
                _reject(rejects, name, why)
                continue
            box, prob = found
            row = {"image_id": name, "face": 0, "prob": round(prob, 5)}
            if box is not None and prob >= p.min_prob:
                crop = square_crop_box(box, p.margin)
                _save(im, crop, out / f"{Path(name).stem}.png")
                row.update(face=1, **dict(zip(BOX_FIELDS[3:7], np.round(box, 1))), **dict(zip(BOX_FIELDS[7:], crop)))
            rows.append(row)
        bar.update(len(group))

    for name, im, why in decoded(files, p, pool, ahead=_BUFFERED * p.batch_size):
        if why:
            _reject(rejects, name, why)
            bar.update()
            continue
        if min(im.shape[:2]) < MIN_FACE:  # no pyramid scale fits: MTCNN would fail, not just find no face
            h, w = im.shape[:2]
            _reject(rejects, name, f"too small for face detection: {w}x{h} pixels as decoded (crop.max_side {p.max_side}); MTCNN needs both sides >= {MIN_FACE}")
            bar.update()
            continue
        waiting.setdefault(im.shape, []).append((name, im))
        if len(waiting[im.shape]) == p.batch_size:
            run(im.shape)
        elif sum(map(len, waiting.values())) >= _BUFFERED * p.batch_size:  # many sizes: run the fullest group
            run(max(waiting, key=lambda s: len(waiting[s])))
    for shape in list(waiting):
        run(shape)


def _detect_group(images: list[np.ndarray], detect) -> list[tuple[tuple | None, str | None]]:
    """(detect's (box, prob), None) of each equal-size image, or (None, why detection failed).

    A batch that fails is retried an image at a time: one image MTCNN cannot take is rejected
    alone, and the good images batched with it are still cropped.
    """
    try:
        return [(found, None) for found in detect(np.stack(images))]
    except Exception as e:  # facenet-pytorch raises many types on inputs it cannot handle
        if len(images) == 1:
            return [(None, f"face detection failed: {reason(e)}")]
        return [r for im in images for r in _detect_group([im], detect)]
