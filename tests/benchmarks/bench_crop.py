"""Crop throughput: the straightforward per-image `MTCNN.detect` loop against ganlab's crop stage,
on the same images in one run.

    .venv/bin/python tests/benchmarks/bench_crop.py --count 1000
    .venv/bin/python tests/benchmarks/bench_crop.py --raw data/raw      # any raw layout (images/)

Where the raw layout has landmarks.csv (CelebA, the synthetic faces), crop.mode landmarks runs
on the same images too, with the mean IoU of its face boxes against MTCNN's.

The loop decodes each image in the main process and calls `mtcnn.detect` on it alone. The crop
stage decodes in worker processes, batches equal-size images through MTCNN and also writes the
crops and CSVs, so its figure includes work the loop skips. The two alternate for --rounds
rounds and the best round of each is reported (a shared machine's load comes and goes), with
the CPU seconds each spent per image (worker processes included).
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageOps


def cpu() -> float:
    """CPU seconds of this process and its finished children (the decode workers)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def naive(files: list[Path], mtcnn) -> tuple[float, float]:
    """(seconds, CPU seconds) of the plain loop: open, EXIF-transpose, convert, detect, one at a time."""
    start, c = time.perf_counter(), cpu()
    for f in files:
        with Image.open(f) as im:
            mtcnn.detect(ImageOps.exif_transpose(im).convert("RGB"))
    return time.perf_counter() - start, cpu() - c


def ganlab_crop(raw: Path, out: Path, batch_size: int, workers: int) -> tuple[float, float]:
    """(seconds, CPU seconds) of crop_faces: model load, pool start and all writes included."""
    from ganlab.crop import crop_faces
    from ganlab.params import CropParams

    start, c = time.perf_counter(), cpu()
    crop_faces(raw, out / "crops", out / "crop.json", CropParams(batch_size=batch_size, workers=workers), progress=False)
    return time.perf_counter() - start, cpu() - c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--raw", type=Path, help="a raw layout folder (with images/); default: synthetic faces")
    ap.add_argument("--count", type=int, default=1000, help="synthetic faces to draw when --raw is not given")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds of each method")
    ap.add_argument("--loop-threads", type=int, default=0, help="torch threads of the plain loop; 0: torch's default")
    ap.add_argument("--workers", type=int, default=0, help="decode processes; 0: CPU cores - 1")
    a = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        raw = a.raw
        if raw is None:
            from ganlab.data.synthetic import write_synthetic

            raw = tmp / "raw"
            write_synthetic(raw, a.count, seed=0, progress=False)
        files = sorted((raw / "images").iterdir())
        import torch

        from ganlab.faces import load_mtcnn

        print(f"{len(files)} images from {raw}, {os.cpu_count()} CPU cores, torch threads {torch.get_num_threads()}")
        mtcnn = load_mtcnn("cpu")
        default_threads = torch.get_num_threads()
        loop, ours = [], []
        for r in range(a.rounds):
            ours.append(ganlab_crop(raw, tmp / f"run{r}", a.batch_size, a.workers))
            torch.set_num_threads(a.loop_threads or default_threads)
            loop.append(naive(files, mtcnn))
            torch.set_num_threads(default_threads)
            print(f"round {r + 1}: loop {len(files) / loop[-1][0]:.1f} images/s, ganlab {len(files) / ours[-1][0]:.1f} images/s", flush=True)
        n = len(files)
        (lw, lc), (ow, oc) = min(loop), min(ours)
        print(f"per-image MTCNN.detect loop: {n / lw:8.1f} images/s  {1000 * lc / n:6.1f} CPU-ms/image  (torch threads {a.loop_threads or default_threads})")
        print(f"ganlab crop stage:           {n / ow:8.1f} images/s  {1000 * oc / n:6.1f} CPU-ms/image  (batch {a.batch_size}, workers {a.workers or 'auto'})")
        print(f"ratio (best rounds):         {lw / ow:8.2f}x")
        if (raw / "landmarks.csv").exists():
            landmarks_vs_mtcnn(raw, tmp, n, a.workers, ow)


def landmarks_vs_mtcnn(raw: Path, tmp: Path, n: int, workers: int, mtcnn_seconds: float) -> None:
    """crop.mode landmarks on the same images: its speed, and the mean IoU of its face boxes with
    MTCNN's (last round's boxes.csv) over the images both found a face in."""
    import csv

    from ganlab.crop import crop_faces
    from ganlab.faces import iou
    from ganlab.params import CropParams

    start, c = time.perf_counter(), cpu()
    crop_faces(raw, tmp / "landmarks" / "crops", tmp / "landmarks" / "crop.json", CropParams(mode="landmarks", workers=workers), progress=False)
    seconds, cpu_s = time.perf_counter() - start, cpu() - c
    boxes = {}
    for mode, folder in (("mtcnn", sorted(tmp.glob("run*"))[-1]), ("landmarks", tmp / "landmarks")):
        with open(folder / "crops" / "boxes.csv") as f:
            boxes[mode] = {r["image_id"]: [float(r[k]) for k in ("x1", "y1", "x2", "y2")] for r in csv.DictReader(f) if r["face"] == "1"}
    both = sorted(set(boxes["mtcnn"]) & set(boxes["landmarks"]))
    mean_iou = sum(iou(boxes["mtcnn"][i], boxes["landmarks"][i]) for i in both) / max(1, len(both))
    print(f"crop.mode landmarks:         {n / seconds:8.1f} images/s  {1000 * cpu_s / n:6.1f} CPU-ms/image  ({n / mtcnn_seconds:.1f} with mtcnn, best round)")
    print(f"mean IoU landmarks vs MTCNN face boxes: {mean_iou:.3f} over {len(both)} images both found a face in")


if __name__ == "__main__":
    main()
