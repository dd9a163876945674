"""The evaluate stage: FID against cached real-image statistics, and the MTCNN face rate."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ganlab import fid, tracking
from ganlab.faces import face_rate, load_mtcnn
from ganlab.generator import generate, latents, load_generator, pick_device
from ganlab.io import load_dataset, write_json
from ganlab.params import EvaluateParams


def _batches(images: np.ndarray, size: int):
    for i in range(0, len(images), size):
        yield images[i : i + size]


def real_stats(data_path: str | Path, out_path: str | Path, p: EvaluateParams, progress: bool = True) -> dict:
    """Inception statistics of the prepared real images, computed once per dataset and cached.

    Where the Inception weights cannot be loaded, the file records why, and every evaluation that
    uses it reports FID as unavailable instead of failing.
    """
    device = pick_device()
    images = load_dataset(data_path)["images"]
    if p.fid_real_samples:
        images = images[: p.fid_real_samples]
    info = {"dataset": str(data_path), "images": int(len(images)), "resolution": int(images.shape[1]), "weights": p.fid_weights or "pytorch-fid default"}
    try:
        model = fid.load_inception(p.fid_weights, device)
    except fid.FIDUnavailable as e:
        print(f"warning: FID unavailable: {e}", file=sys.stderr)
        fid.save_stats(out_path, np.zeros(0), np.zeros((0, 0)), {**info, "available": False, "reason": str(e)})
        return {**info, "available": False}
    acts = fid.inception_activations(model, _batches(images, p.batch_size), device, total=len(images), progress=progress)
    mu, sigma = fid.statistics(acts)
    fid.save_stats(out_path, mu, sigma, {**info, "available": True})
    return {**info, "available": True}


def evaluate(model_dir: str | Path, data_path: str | Path, stats_path: str | Path, metrics_path: str | Path, p: EvaluateParams, progress: bool = True) -> dict:
    """FID of p.fid_samples generated images against the real statistics, and face rates."""
    device = pick_device()
    G, meta = load_generator(model_dir, device)
    mu_r, sigma_r, info = fid.load_stats(stats_path)
    metrics: dict = {}
    if info.get("available"):
        model = fid.load_inception(p.fid_weights, device)
        z = latents(p.fid_samples, meta["nz"], p.seed)
        acts = fid.inception_activations(model, generate(G, z, p.batch_size), device, total=p.fid_samples, progress=progress)
        metrics["fid"] = round(fid.frechet_distance(*fid.statistics(acts), mu_r, sigma_r), 4)
    else:
        metrics["fid"] = None
        metrics["fid_unavailable"] = info.get("reason", "unknown")
        print(f"warning: FID not computed: {metrics['fid_unavailable']}", file=sys.stderr)
    metrics["fid_protocol"] = f"{p.fid_samples} generated vs {info['images']} real images of {info['dataset']} at {info['resolution']} px, Inception weights: {info['weights']}"

    mtcnn = load_mtcnn(device)
    fake = np.concatenate(list(generate(G, latents(p.face_samples, meta["nz"], p.seed + 1), p.batch_size)))
    real = load_dataset(data_path)["images"][: p.face_samples]
    metrics["face_rate"] = round(face_rate(mtcnn, fake, p.face_threshold), 4)
    metrics["face_rate_real"] = round(face_rate(mtcnn, real, p.face_threshold), 4)

    with tracking.open_run(meta.get("mlflow_run_id"), meta["model"]):
        import mlflow

        mlflow.log_metrics({k: v for k, v in metrics.items() if isinstance(v, (int, float))})
    write_json(metrics_path, metrics)
    return metrics
