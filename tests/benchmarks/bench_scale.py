"""Peak memory and time of each stage as the dataset grows: is every stage bounded?

    .venv/bin/python tests/benchmarks/bench_scale.py                        # N = 2,000 and 20,000 at 256 px
    .venv/bin/python tests/benchmarks/bench_scale.py --sizes 500,2000 --resolution 64
    .venv/bin/python tests/benchmarks/bench_scale.py --stages prepare,real_stats,classify

For each size N it writes N synthetic crops at R px straight into the crop stage's layout
(`crops/images/*.png`, `crops/boxes.csv`, `raw/attributes.csv`: no MTCNN, so it is quick), then
runs the stage scripts of `stages/` one process each, in a temp dir with its own params.yaml:
prepare, a short DCGAN train, real_stats (random Inception weights, so FID runs offline),
evaluate on a short budget and classify. Each stage's peak RSS is that process's own
(`ru_maxrss` of a wrapper's children: the stage, or its largest worker); the target is a peak
that does not grow with N (within 300 MB from the smallest to the largest N) and stays under 2 GB.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
STAGES = ("prepare", "train", "real_stats", "evaluate", "classify")
ATTRIBUTES = ("Smiling", "Male", "Eyeglasses")

# Runs argv, then prints the peak RSS (kB) of the process it waited for, as the last stderr line.
_MEASURE = "import resource, subprocess, sys; rc = subprocess.run(sys.argv[1:]).returncode; print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(rc)"


def write_crops(root: Path, n: int, resolution: int, seed: int = 0) -> None:
    """N smooth random R x R crops in the crop stage's output layout, with random attributes.

    root/crops/images/<id>.png and root/crops/boxes.csv (every image a face), as `crop` writes
    them, and root/raw/attributes.csv in CelebA's format, as `download` writes it.
    """
    images = root / "crops" / "images"
    images.mkdir(parents=True, exist_ok=True)
    (root / "raw").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    boxes, attrs = [], []
    for i in range(n):
        image_id = f"{i + 1:06d}.jpg"
        # 8 x 8 random colours, smoothly enlarged: PNGs of a realistic size, fast to write
        small = Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
        small.resize((resolution, resolution), Image.BILINEAR).save(images / f"{i + 1:06d}.png", compress_level=1)
        boxes.append({"image_id": image_id, "face": 1, "prob": "", "x1": 0, "y1": 0, "x2": resolution, "y2": resolution, "crop_x1": 0, "crop_y1": 0, "crop_x2": resolution, "crop_y2": resolution})
        attrs.append([image_id, *rng.choice([-1, 1], len(ATTRIBUTES)).tolist()])
    with open(root / "crops" / "boxes.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(boxes[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(boxes)
    with open(root / "raw" / "attributes.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["image_id", *ATTRIBUTES])
        w.writerows(attrs)


def bench_params(path: Path, resolution: int, steps: int, real_samples: int, weights: Path) -> None:
    """The repo's params.yaml with a short budget for every stage after prepare."""
    p = yaml.safe_load((ROOT / "params.yaml").read_text())
    p["prepare"]["resolution"] = resolution
    p["train"].update(models=["dcgan"], checkpoint_every=max(1, steps // 2), sample_every=max(1, steps // 2), device="cpu")
    p["dcgan"].update(steps=steps, batch_size=16, width=8)
    p["evaluate"].update(fid_weights=str(weights), fid_samples=50, fid_real_samples=real_samples, face_samples=50, batch_size=25, every=0)
    p["classify"].update(epochs=1)
    path.write_text(yaml.safe_dump(p, sort_keys=False))


def commands(work: Path) -> dict[str, list[str]]:
    """Each stage's command line, with the paths dvc.yaml gives it (under work/)."""
    data, py = str(work / "prepared/faces.npz"), [sys.executable]
    stage = lambda name: [*py, str(ROOT / "stages" / f"{name}.py"), "--params", str(work / "params.yaml")]  # noqa: E731
    return {
        "prepare": [*stage("prepare"), "--crops", str(work / "crops"), "--raw", str(work / "raw"), "--out", data],
        "train": [*stage("train"), "--model", "dcgan", "--data", data, "--out", str(work / "models/dcgan"), "--metrics", str(work / "train.json"), "--info", str(work / "train_info.json"), "--history", str(work / "losses.csv")],
        "real_stats": [*stage("real_stats"), "--data", data, "--out", str(work / "stats/real_stats.npz")],
        "evaluate": [
            *stage("evaluate"), "--model", str(work / "models/dcgan"), "--data", data, "--stats", str(work / "stats/real_stats.npz"),
            "--classifier", str(work / "classifier"), "--out", str(work / "best/dcgan"), "--metrics", str(work / "evaluate.json"), "--info", str(work / "evaluate_info.json"), "--curve", str(work / "curve.csv"),
        ],
        "classify": [*stage("classify"), "--data", data, "--out", str(work / "classifier"), "--metrics", str(work / "classifier.json")],
    }


def measure(cmd: list[str], env: dict, log: Path) -> tuple[float, float]:
    """(peak RSS in MB, seconds) of one stage process; its output goes to `log`."""
    start = time.perf_counter()
    with open(log, "w") as out:
        r = subprocess.run([sys.executable, "-c", _MEASURE, *cmd], env=env, stdout=out, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    *err, peak = r.stderr.strip().splitlines()
    if r.returncode:
        raise SystemExit(f"{cmd[1]} failed ({r.returncode}):\n" + "\n".join(err[-20:]))
    return int(peak) / 1024, seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="2000,20000", help="dataset sizes N, comma-separated")
    ap.add_argument("--resolution", type=int, default=256, help="crop and prepare resolution R")
    ap.add_argument("--stages", default=",".join(STAGES), help=f"which of {','.join(STAGES)} to run (in that order)")
    ap.add_argument("--train-steps", type=int, default=200)
    ap.add_argument("--real-samples", type=int, default=0, help="evaluate.fid_real_samples for real_stats; 0: every image")
    ap.add_argument("--workdir", type=Path, help="keep the files here (default: a temp dir, removed)")
    a = ap.parse_args()
    sizes, stages = [int(s) for s in a.sizes.split(",")], [s for s in STAGES if s in a.stages.split(",")]
    if "evaluate" in stages and "train" not in stages:
        raise SystemExit("evaluate needs the train stage")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"), "MLFLOW_TRACKING_URI": ""}
    base = Path(a.workdir or tempfile.mkdtemp(prefix="ganlab-scale-"))
    table: dict[str, dict[int, tuple[float, float]]] = {s: {} for s in stages}
    try:
        from ganlab.fid import write_random_weights

        base.mkdir(parents=True, exist_ok=True)
        weights = base / "random_inception.pth"
        write_random_weights(weights)
        for n in sizes:
            work = base / f"n{n}"
            start = time.perf_counter()
            write_crops(work, n, a.resolution)
            print(f"N={n}: {n} crops at {a.resolution} px written in {time.perf_counter() - start:.0f} s", flush=True)
            bench_params(work / "params.yaml", a.resolution, a.train_steps, a.real_samples, weights)
            env["MLFLOW_TRACKING_URI"] = f"sqlite:///{work / 'mlflow.db'}"
            cmd = commands(work)
            for s in stages:
                table[s][n] = measure(cmd[s], env, work / f"{s}.log")
                print(f"N={n} {s}: peak RSS {table[s][n][0]:.0f} MB, {table[s][n][1]:.1f} s", flush=True)
            if "prepare" in stages:
                print(f"N={n}: faces.npz {(work / 'prepared/faces.npz').stat().st_size / 1e9:.2f} GB", flush=True)
            shutil.rmtree(work / "crops")  # the next size needs the disk more than this one
    finally:
        if a.workdir is None:
            shutil.rmtree(base, ignore_errors=True)

    head = " | ".join(f"N={n}: peak RSS, time" for n in sizes)
    print(f"\n{a.resolution} px, {os.cpu_count()} CPU cores\n\n| stage | {head} | growth |\n|---|{'---|' * len(sizes)}---|")
    for s in stages:
        cells = " | ".join(f"{table[s][n][0]:.0f} MB, {table[s][n][1]:.1f} s" for n in sizes)
        growth = table[s][sizes[-1]][0] - table[s][sizes[0]][0]
        print(f"| {s} | {cells} | {growth:+.0f} MB |")


if __name__ == "__main__":
    main()
