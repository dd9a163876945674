"""Face quality at equal steps: the default models trained under two settings, side by side.

    PYTHONPATH=src python tests/benchmarks/bench_quality.py --device cuda --data data/prepared/faces.npz \
        --settings precision=fp32,memory_format=contiguous precision=bf16,memory_format=channels_last --seeds 0 1

Each model of params.yaml's train.models is trained with its own section (the default budgets),
once per setting and seed (train.seed), with MLflow off; the final output generator (the EMA)
then draws evaluate.face_samples images from evaluate.seed's latent vectors, and the face rate is
the share in which MTCNN finds a face with p >= evaluate.face_threshold, as the evaluate stage
computes it. A speed setting keeps quality when its face rates stay within the seed-to-seed
spread of the other's. Needs torch, torchvision, numpy, Pillow and facenet-pytorch.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from ganlab.faces import face_rate, load_mtcnn
from ganlab.generator import generate, latents
from ganlab.model_params import MODEL_PARAMS
from ganlab.params import EvaluateParams, TrainParams, parse
from ganlab.train import train

ROOT = Path(__file__).resolve().parents[2]


def setting(text: str) -> dict:
    """'precision=bf16,memory_format=channels_last' -> {'precision': 'bf16', ...}"""
    return dict(kv.split("=", 1) for kv in text.split(",")) if text else {}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--data", default=str(ROOT / "data/prepared/faces.npz"))
    ap.add_argument("--params", default=str(ROOT / "params.yaml"))
    ap.add_argument("--settings", nargs="+", default=["precision=fp32,memory_format=contiguous", "precision=bf16,memory_format=channels_last"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    ap.add_argument("--models", default="", help="comma-separated; default: train.models")
    ap.add_argument("--steps", type=int, default=0, help="override every model's steps (a smoke test); 0: params.yaml's budgets")
    ap.add_argument("--out", default="", help="also write the rows as JSON here")
    a = ap.parse_args()
    raw = yaml.safe_load(Path(a.params).read_text())
    tp0 = parse(TrainParams, raw.get("train"), "train")
    ep = parse(EvaluateParams, raw.get("evaluate"), "evaluate")
    models = a.models.split(",") if a.models else tp0.models
    device = torch.device(a.device)
    mtcnn = load_mtcnn(device)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-quality-") as tmp:
        for name in models:
            mp = parse(MODEL_PARAMS[name], {**(raw.get(name) or {}), **({"steps": a.steps} if a.steps else {})}, name)
            for text in a.settings:
                for seed in a.seeds:
                    tp = TrainParams(**{**tp0.__dict__, "models": [name], "seed": seed, "device": a.device, **setting(text)})
                    out = Path(tmp) / f"{name}-{len(rows)}"
                    start = time.time()
                    m = train(name, mp, tp, a.data, out, out / "train.json", out / "losses.csv", progress=False, tracking=False)
                    seconds = time.time() - start
                    from ganlab.folder import load_generator

                    G, meta = load_generator(out, device)
                    z = latents(ep.face_samples, meta["nz"], ep.seed + 1)  # evaluate's face-rate vectors
                    fake = np.concatenate(list(generate(G, z, ep.batch_size)))
                    rate = face_rate(mtcnn, fake, ep.face_threshold)
                    rows.append({"model": name, "setting": text, "seed": seed, "steps": mp.steps, "face_rate": round(rate, 4), "train_seconds": round(seconds, 1), "images_per_second": m["images_per_second"], "resolved": {k: m[k] for k in ("precision", "memory_format", "data_on")}})
                    print(json.dumps(rows[-1]), flush=True)
    print(f"\n{'model':<12} {'setting':<48} {'face rates by seed':<24} {'mean':>6} {'train s':>8}")
    for name in models:
        for text in a.settings:
            r = [row for row in rows if row["model"] == name and row["setting"] == text]
            rates = [row["face_rate"] for row in r]
            print(f"{name:<12} {text:<48} {' '.join(f'{x:.3f}' for x in rates):<24} {np.mean(rates):6.3f} {np.mean([row['train_seconds'] for row in r]):8.1f}")
    if a.out:
        Path(a.out).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
