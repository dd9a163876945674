"""The shared trainer: data, loop, sample grids, checkpoints and logging for every variant."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.optim.swa_utils import AveragedModel
from torchvision.utils import make_grid
from tqdm import tqdm

from ganlab import tracking
from ganlab.errors import GanlabError
from ganlab.generator import MODEL_JSON, WEIGHTS, latents, pick_device, to_uint8
from ganlab.io import atomic_path, load_dataset, write_json
from ganlab.models import REGISTRY, ModelParams
from ganlab.params import TrainParams, to_dict

HISTORY_FIELDS = ("step", "loss_d", "loss_g", "d_real", "d_fake")


def save_grid(G: torch.nn.Module, z: torch.Tensor, labels: torch.Tensor | None, nrow: int, path: Path) -> None:
    """Save G(z, labels) as one PNG grid, with G switched to eval mode for the duration."""
    was_training = G.training
    G.eval()
    with torch.no_grad():
        images = G(z, labels)
    G.train(was_training)
    grid = make_grid(images, nrow=nrow, padding=2, pad_value=1.0)  # (3, H', W') in [-1, 1]
    with atomic_path(path) as tmp:
        Image.fromarray(to_uint8(grid[None])[0]).save(tmp, format="PNG")


def _ema_avg(decay: float):
    """EMA update with warm-up: the decay grows as (1 + n) / (10 + n) up to `decay`, so the
    random initial weights are forgotten within a few hundred steps (as TensorFlow's
    ExponentialMovingAverage does with num_updates)."""

    def avg(averaged: torch.Tensor, current: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
        n = float(n)
        return averaged + (current - averaged) * (1 - min(decay, (1 + n) / (10 + n)))

    return avg


def _write_history(path: Path, rows: list[dict]) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=HISTORY_FIELDS, extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)


def train(
    model: str,
    mp: ModelParams,
    tp: TrainParams,
    data_path: str | Path,
    out_dir: str | Path,
    metrics_path: str | Path,
    history_path: str | Path,
    progress: bool = True,
) -> dict:
    """Train `model` on a prepared npz and write the model folder, metrics and loss history.

    The model folder gets generator.pt (state_dict), model.json (the resolved params, the
    MLflow run id), samples/ (grids of the fixed latent vectors) and checkpoints/last.pt.
    """
    variant = REGISTRY[model]
    out_dir, history_path = Path(out_dir), Path(history_path)
    device = pick_device(tp.device)
    torch.manual_seed(tp.seed)

    try:
        data = load_dataset(data_path)
    except FileNotFoundError:
        raise GanlabError(f"prepared dataset not found: {data_path}") from None
    images = torch.from_numpy(data["images"]).permute(0, 3, 1, 2).float().div(127.5).sub(1)  # (N, 3, R, R) in [-1, 1]
    n, channels, resolution = images.shape[0], images.shape[1], images.shape[2]
    labels = torch.from_numpy(data["labels"]).long() if variant.conditional and "labels" in data else None
    if variant.conditional and labels is None:
        raise GanlabError(f"{model} is conditional but {data_path} holds no category labels")
    num_classes = int(labels.max()) + 1 if labels is not None else 0
    if n < mp.batch_size:
        raise GanlabError(f"{data_path} holds {n} images, fewer than {model}.batch_size={mp.batch_size}")

    G, D = variant.build(mp, resolution, channels, num_classes)
    G, D = G.to(device), D.to(device)
    opt_g, opt_d = variant.optimizers(mp, G, D)
    # The averaged generator gives smoother samples than the raw one at any step (Karras et al.
    # 2018; Yazici et al. 2019). Buffers (batch-norm statistics) are copied, not averaged, as in
    # StyleGAN2: an average would drag the initial running variance along for thousands of steps.
    G_ema = AveragedModel(G, avg_fn=_ema_avg(tp.ema), use_buffers=False) if tp.ema else None
    G_out = G_ema.module if G_ema else G  # the generator behind every output
    gen = torch.Generator().manual_seed(tp.seed)  # one stream for latent vectors and data order
    noise = lambda k: torch.randn(k, mp.nz, generator=gen).to(device)  # noqa: E731
    fixed_z = latents(tp.grid_size**2, mp.nz, tp.seed + 1).to(device)
    # conditional grids: one row per class, cycling when there are more rows than classes
    fixed_labels = (torch.arange(tp.grid_size**2) // tp.grid_size % num_classes).to(device) if num_classes else None

    meta = {
        "model": model,
        "resolution": resolution,
        "channels": channels,
        "num_classes": num_classes,
        "nz": mp.nz,
        "params": to_dict(mp),
        "train": to_dict(tp),
        "data": str(data_path),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "samples").mkdir(exist_ok=True)
    (out_dir / "checkpoints").mkdir(exist_ok=True)

    mlflow = tracking.setup()
    history: list[dict] = []
    with mlflow.start_run(run_name=model) as run:
        meta["mlflow_run_id"] = run.info.run_id
        mlflow.set_tag("model", model)
        mlflow.log_params({**tracking.flatten(model, to_dict(mp)), **tracking.flatten("train", to_dict(tp)), "resolution": resolution, "n_images": n})

        order = torch.randperm(n, generator=gen)
        cursor = 0
        start = time.time()
        bar = tqdm(range(1, mp.steps + 1), desc=f"train {model}", unit="step", disable=not progress)
        for step in bar:
            bs = variant.batch_size(mp, step)
            if cursor + bs > n:  # a new epoch: reshuffle, drop the ragged tail
                order, cursor = torch.randperm(n, generator=gen), 0
            index = order[cursor : cursor + bs]
            cursor += bs
            batch_labels = labels[index].to(device) if labels is not None else None
            losses = variant.train_step(mp, G, D, opt_g, opt_d, images[index].to(device), noise, batch_labels, step)
            if G_ema:
                G_ema.update_parameters(G)
                for b_ema, b in zip(G_ema.module.buffers(), G.buffers()):
                    b_ema.copy_(b)

            if step % tp.log_every == 0 or step == mp.steps:
                history.append({"step": step, **losses})
                mlflow.log_metrics(losses, step=step)
                bar.set_postfix({k: f"{v:.3f}" for k, v in losses.items()})
            if step % tp.sample_every == 0 or step == mp.steps:
                grid = out_dir / "samples" / f"step_{step:06d}.png"
                save_grid(G_out, fixed_z, fixed_labels, tp.grid_size, grid)
                mlflow.log_artifact(str(grid), "samples")
            if step % tp.checkpoint_every == 0 or step == mp.steps:
                checkpoint = {"G": G.state_dict(), "D": D.state_dict(), "G_ema": G_ema.state_dict() if G_ema else None, "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(), "step": step}
                with atomic_path(out_dir / "checkpoints" / "last.pt") as tmp:
                    torch.save(checkpoint, tmp)
                _write_history(history_path, history)
        seconds = time.time() - start

        with atomic_path(out_dir / WEIGHTS) as tmp:
            torch.save(G_out.state_dict(), tmp)
        write_json(out_dir / MODEL_JSON, meta)
        metrics = {
            "steps": mp.steps,
            "train_seconds": round(seconds, 1),
            "images_per_second": round(mp.steps * mp.batch_size / seconds, 1),
            **{f"final_{k}": round(float(np.mean([h[k] for h in history[-10:]])), 4) for k in losses},
        }
        mlflow.log_metrics({"train_seconds": seconds, "images_per_second": metrics["images_per_second"]})
        write_json(metrics_path, metrics)
    return metrics


def run_id(model_dir: str | Path) -> str | None:
    """The MLflow run a trained model was logged to."""
    return json.loads((Path(model_dir) / MODEL_JSON).read_text()).get("mlflow_run_id")
