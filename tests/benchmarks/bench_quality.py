"""Quality at equal steps: recipes (overrides of a model's section) trained side by side over seeds.

    OMP_NUM_THREADS=2 PYTHONPATH=src python tests/benchmarks/bench_quality.py --models dcgan,wgan_gp \
        --recipes 'today=' 'stab=augment=color+translation,minibatch_std=true' --seeds 0 1 2 \
        --grids bench-grids --out bench.json

A recipe is `name=overrides`: comma-separated `key=value` pairs over each model's section of
params.yaml (values read as YAML; `augment` takes policies joined by `+`, or `[]`); `model.key=value`
applies to that model only. `today=` is params.yaml as it stands. `--settings` instead varies
train.* (precision, memory_format, ema; values read as YAML) as before. Every (model, recipe or setting, seed) is trained
for the model's steps (or --steps) with MLflow off, then scored the way the evaluate stage does
without FID: every snapshot gets the face rate (MTCNN, evaluate.face_samples images of
evaluate.seed + 1's latents) and the offline distribution metrics (ONet features,
ganlab.features: evaluate.feature_samples generated images of evaluate.seed + 3's latents
against the even rows of the prepared set), and the snapshot evaluate would pick (lowest
fd_onet, evaluate.pick) gives the row's numbers; `last_recall` is the last snapshot's. The
table prints median [min-max] over seeds and the training time per step. --grids keeps each
run's last sample grid (the EMA generator's fixed latents) as <model>-<recipe>-s<seed>.png.
Needs torch, torchvision, numpy, Pillow and facenet-pytorch.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
import yaml

from ganlab import features
from ganlab.dataset import open_dataset
from ganlab.evaluate import pick, snapshots_to_score
from ganlab.faces import face_rate, load_mtcnn
from ganlab.folder import ModelFolder, load_generator
from ganlab.generator import generate, latents
from ganlab.model_params import MODEL_PARAMS
from ganlab.params import EvaluateParams, TrainParams, parse
from ganlab.train import train

ROOT = Path(__file__).resolve().parents[2]
SPACE = "onet"
FD, PRECISION, RECALL = features.metric_names(SPACE)


def setting(text: str) -> dict:
    """'precision=bf16,memory_format=channels_last' -> {'precision': 'bf16', ...}"""
    return dict(kv.split("=", 1) for kv in text.split(",")) if text else {}


def recipe(text: str, model: str) -> dict:
    """'stab=augment=color+translation,dcgan.r1=0.01' -> the overrides of `model`'s section."""
    out = {}
    for key, value in setting(text.split("=", 1)[1] if "=" in text else "").items():
        scope, _, key = key.rpartition(".")
        if scope and scope != model:
            continue
        out[key] = [v for v in value.strip("[]").split("+") if v] if key == "augment" else yaml.safe_load(value)  # augment=[]: none
    return out


class Scorer:
    """evaluate's offline scoring of a model folder's snapshots, with the real halves read once."""

    def __init__(self, data: str, ep: EvaluateParams, device: torch.device):
        self.ep, self.device = ep, device
        self.mtcnn = load_mtcnn(device)
        self.extract = features.feature_extractor(SPACE, device, self.mtcnn)
        with open_dataset(data) as d:
            self.n = min(ep.feature_samples, len(d) // 2)
            rows = np.asarray(d.rows[: 2 * self.n])
        self.ref = features.features_of_array(self.extract, rows[0::2], ep.batch_size)  # evaluate's reference half
        self.floor = features.distribution_metrics(self.ref, features.features_of_array(self.extract, rows[1::2], ep.batch_size), SPACE, ep.nearest_k)

    def __call__(self, folder: Path) -> dict:
        ep = self.ep
        G, meta = load_generator(folder, self.device)
        z_face, z_feat = latents(ep.face_samples, meta["nz"], ep.seed + 1), latents(self.n, meta["nz"], ep.seed + 3)
        curve = []
        for snap in snapshots_to_score(folder, ep.every):
            G.load_state_dict(torch.load(snap.path, map_location=self.device, weights_only=True))
            row = {"step": snap.step, "fid": None, "grown": snap.complete}
            row["face_rate"] = round(face_rate(self.mtcnn, np.concatenate(list(generate(G, z_face, ep.batch_size))), ep.face_threshold), 4)
            row.update(features.distribution_metrics(self.ref, features.features_of(self.extract, generate(G, z_feat, ep.batch_size)), SPACE, ep.nearest_k))
            curve.append(row)
        best, _, _ = pick(curve, ep.select, offline=FD)
        return {"picked_step": best["step"], **{k: best[k] for k in (FD, PRECISION, RECALL, "face_rate")}, "last_recall": curve[-1][RECALL], "curve": curve}


def spread(values: list[float]) -> str:
    return f"{np.median(values):.3f} [{min(values):.3f}-{max(values):.3f}]"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--data", default=str(ROOT / "data/prepared/faces.npz"))
    ap.add_argument("--params", default=str(ROOT / "params.yaml"))
    ap.add_argument("--recipes", nargs="+", default=["today="], help="name=key=value,...: overrides of each model's section")
    ap.add_argument("--settings", nargs="+", default=[""], help="train.* overrides, e.g. precision=bf16,memory_format=channels_last")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--models", default="", help="comma-separated; default: train.models")
    ap.add_argument("--steps", type=int, default=0, help="override every model's steps (a quick screen); 0: each section's own")
    ap.add_argument("--grids", default="", help="copy each run's last sample grid into this folder")
    ap.add_argument("--out", default="", help="also write the rows as JSON here")
    a = ap.parse_args()
    raw = yaml.safe_load(Path(a.params).read_text())
    tp0 = parse(TrainParams, raw.get("train"), "train")
    ep = parse(EvaluateParams, raw.get("evaluate"), "evaluate")
    models = a.models.split(",") if a.models else tp0.models
    device = torch.device(a.device)
    score = Scorer(a.data, ep, device)
    print(json.dumps({"real_floor": score.floor}), flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-quality-") as tmp:
        for name in models:
            for text in a.recipes:
                section = {**(raw.get(name) or {}), **recipe(text, name), **({"steps": a.steps} if a.steps else {})}
                mp = parse(MODEL_PARAMS[name], section, name)
                for st in a.settings:
                    for seed in a.seeds:
                        tp = TrainParams(**{**tp0.__dict__, "models": [name], "seed": seed, "device": a.device, **{k: yaml.safe_load(v) for k, v in setting(st).items()}})
                        out = Path(tmp) / f"{name}-{len(rows)}"
                        # its own resume root: a run drops the model's resume folders made with other
                        # params, and benchmarks run side by side in one checkout would drop each other's
                        m = train(name, mp, tp, a.data, out, out / "train.json", out / "losses.csv", progress=False, tracking=False,
                                  resume_root=Path(tmp) / "resume")
                        row = {"model": name, "recipe": text, "setting": st, "seed": seed, "steps": mp.steps, **score(out),
                               "s_per_step": round(m["train_seconds"] / mp.steps, 4), "images_per_second": m["images_per_second"], "precision_used": m["precision"]}
                        if a.grids:
                            Path(a.grids).mkdir(parents=True, exist_ok=True)
                            shutil.copy(ModelFolder(out).samples()[-1][1], Path(a.grids) / f"{name}-{text.split('=', 1)[0]}{'-' + st if st else ''}-s{seed}.png")
                        rows.append(row)
                        print(json.dumps({k: v for k, v in row.items() if k != "curve"}), flush=True)
                        shutil.rmtree(out)
    print(f"\nreal floor ({SPACE}): {score.floor}; median [min-max] over seeds {a.seeds}; numbers of the snapshot evaluate picks (lowest {FD})")
    for text in a.recipes:
        print(f"recipe {text}")
    print(f"{'model':<12} {'recipe':<20} {'precision':<22} {'recall':<22} {FD:<22} {'face rate':<22} {'min last recall':>15} {'s/step':>7}")
    for name in models:
        for text in a.recipes:
            for st in a.settings:
                r = [row for row in rows if row["model"] == name and row["recipe"] == text and row["setting"] == st]
                label = text.split("=", 1)[0] + (f" [{st}]" if st else "")
                cols = [spread([row[k] for row in r]) for k in (PRECISION, RECALL, FD, "face_rate")]
                print(f"{name:<12} {label:<20} " + " ".join(f"{c:<22}" for c in cols) + f" {min(row['last_recall'] for row in r):>15.3f} {np.median([row['s_per_step'] for row in r]):>7.3f}")
    if a.out:
        Path(a.out).write_text(json.dumps({"real_floor": score.floor, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
