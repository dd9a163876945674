"""The shared trainer: data, loop, sample grids, checkpoints and logging for every variant."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision.utils import make_grid
from tqdm import tqdm

from ganlab import tracking
from ganlab.errors import GanlabError
from ganlab.guard import LossGuard
from ganlab.generator import MODEL_JSON, WEIGHTS, latents, pick_device, to_uint8
from ganlab.io import atomic_path, load_dataset, write_csv, write_json, write_split
from ganlab.models import REGISTRY, ModelParams
from ganlab.params import TrainParams, to_dict

CHECKPOINT = "checkpoints/last.pt"  # everything needed to resume, inside the model folder
SNAPSHOTS = "snapshots"  # the output generator's weights at every checkpoint: what evaluate scores and picks from
COMPARED = ("steps", "train_seconds", "images_per_second")  # train.json, a DVC metric; the rest is diagnostics


def snapshot_name(step: int) -> str:
    return f"step_{step:06d}.pt"


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


class GeneratorEMA:
    """An exponential moving average of G's weights, the generator behind every output.

    Each parameter is warmed up from the step it starts training: until then it equals G's, and
    after it the decay grows as (1 + n) / (10 + n) up to `decay` over its own n updates (as
    TensorFlow's ExponentialMovingAverage does with num_updates). A global count would not do for
    progressive growing, whose 64 px layers start training after thousands of steps: a 0.999
    average would then still hold a third of their random initial weights at the end of a short
    run. Buffers (batch-norm statistics, the growth stage) are copied, not averaged, as in
    StyleGAN2: an average would drag the initial running variance along for thousands of steps.
    """

    def __init__(self, G: torch.nn.Module, decay: float):
        self.module = copy.deepcopy(G).requires_grad_(False)
        self.decay = decay
        self.ages = [0] * len(list(G.parameters()))  # updates each parameter has been averaged over

    @torch.no_grad()
    def update(self, G: torch.nn.Module) -> None:
        for i, (avg, p) in enumerate(zip(self.module.parameters(), G.parameters())):
            if self.ages[i] == 0 and torch.equal(avg, p):
                continue  # not trained yet (a layer that has not faded in): nothing to average
            self.ages[i] += 1
            n = self.ages[i]
            avg.lerp_(p, 1 - min(self.decay, (1 + n) / (10 + n)))
        for b_avg, b in zip(self.module.buffers(), G.buffers()):
            b_avg.copy_(b)

    def state_dict(self) -> dict:
        return {"module": self.module.state_dict(), "ages": list(self.ages)}

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state["module"])
        self.ages = list(state["ages"])


def file_md5(path: str | Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fingerprint(model: str, mp: ModelParams, tp: TrainParams, data_path: Path) -> dict:
    """What a checkpoint must match to be resumed: the model's params, the trainer's, the data."""
    train = {k: v for k, v in to_dict(tp).items() if k != "models"}  # listing another model changes nothing here
    return {"model": model, "params": to_dict(mp), "train": train, "data_md5": file_md5(data_path)}


def _changed(old: dict, new: dict, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two nested dicts."""
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _changed(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}")
    return out


def _distributed(device: torch.device) -> tuple[int, int]:
    """(rank, world size); joins the process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return (torch.distributed.get_rank() if world > 1 else 0), world


def _precision(choice: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype: bf16 where the GPU supports it (no loss scaling needed), else none."""
    if choice == "bf16" or (choice == "auto" and device.type == "cuda" and torch.cuda.is_bf16_supported()):
        return torch.bfloat16
    return None


def train(
    model: str,
    mp: ModelParams,
    tp: TrainParams,
    data_path: str | Path,
    out_dir: str | Path,
    metrics_path: str | Path,
    history_path: str | Path,
    progress: bool = True,
    on_step=None,
    info_path: str | Path | None = None,
) -> dict:
    """Train `model` on a prepared npz and write the model folder, metrics and loss history.

    metrics_path gets what experiments are compared by (COMPARED); info_path the diagnostics
    (weights digest, device, guard restores, final losses). The returned dict holds both.

    The model folder gets generator.pt (state_dict of the EMA generator when train.ema > 0),
    model.json (the resolved params, the MLflow run id), samples/ (grids of the fixed latent
    vectors), snapshots/ (the output generator's weights at every checkpoint and at the last
    step, which evaluate scores and picks from) and, while training, checkpoints/last.pt. A run
    that finds a checkpoint made with the same params and data resumes from it (the folder is a
    persistent DVC output); one made with other params is not resumed. `on_step(step)` is called after every step (tests use it
    to interrupt a run). Under torchrun, G and D are wrapped in DistributedDataParallel and
    each process trains on its own share of every batch.
    """
    variant = REGISTRY[model]
    data_path, out_dir, history_path = Path(data_path), Path(out_dir), Path(history_path)
    device = pick_device(tp.device)
    rank, world = _distributed(device)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    lead = rank == 0  # only the first process writes files and logs
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
    if n < mp.batch_size * world:
        raise GanlabError(f"{data_path} holds {n} images, fewer than {model}.batch_size={mp.batch_size} x {world} processes")
    if resolution not in variant.resolutions:
        raise GanlabError(f"{model} supports resolutions {variant.resolutions}, the data is {resolution} px")

    G, D = variant.build(mp, resolution, channels, num_classes)
    G, D = G.to(device), D.to(device)
    opt_g, opt_d = variant.optimizers(mp, G, D)
    # The averaged generator gives smoother samples than the raw one at any step (Karras et al.
    # 2018; Yazici et al. 2019).
    G_ema = GeneratorEMA(G, tp.ema) if tp.ema else None
    G_out = G_ema.module if G_ema else G  # the generator behind every output
    guard = LossGuard(mp.guard, G, D)
    order_gen = torch.Generator().manual_seed(tp.seed)  # data order: the same in every process
    noise_gen = torch.Generator().manual_seed(tp.seed + 1000 * rank)  # latent vectors: each process its own
    noise = lambda k: torch.randn(k, mp.nz, generator=noise_gen).to(device)  # noqa: E731
    fixed_z = latents(tp.grid_size**2, mp.nz, tp.seed + 1).to(device)
    # conditional grids: one row per class, cycling when there are more rows than classes
    fixed_labels = (torch.arange(tp.grid_size**2) // tp.grid_size % num_classes).to(device) if num_classes else None
    amp = _precision(tp.precision, device)

    fingerprint = _fingerprint(model, mp, tp, data_path)
    state = _load_checkpoint(out_dir / CHECKPOINT, fingerprint, warn=lead)
    if world > 1:
        torch.distributed.barrier()  # every process has read the checkpoint before it may go
    if state is None and lead and out_dir.exists():
        shutil.rmtree(out_dir)  # a fresh run leaves nothing of an older one behind
    if world > 1:
        torch.distributed.barrier()
    (out_dir / "samples").mkdir(parents=True, exist_ok=True)
    (out_dir / "checkpoints").mkdir(exist_ok=True)
    (out_dir / SNAPSHOTS).mkdir(exist_ok=True)

    history: list[dict] = []
    start_step, cursor = 1, 0
    order = torch.randperm(n, generator=order_gen)
    if state is not None:
        G.load_state_dict(state["G"])
        D.load_state_dict(state["D"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        if G_ema:
            G_ema.load_state_dict(state["G_ema"])
        guard.load_state_dict(state["guard"])
        order_gen.set_state(state["order_gen"])
        noise_gen.set_state(state["noise_gen"]) if rank == 0 else noise_gen.manual_seed(tp.seed + 1000 * rank + state["step"])
        torch.set_rng_state(state["torch_rng"])
        order, cursor, history = state["order"], state["cursor"], state["history"]
        start_step = state["step"] + 1
        if lead:
            print(f"train {model}: resuming from step {state['step']} of {mp.steps}", file=sys.stderr)

    G_net, D_net = G, D  # the bare networks, for state dicts and the EMA
    if world > 1:  # gradients are averaged across processes by PyTorch's own DDP
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [device.index] if device.type == "cuda" else None
        # progressive growing leaves the layers of later stages unused until they fade in
        G, D = DDP(G, device_ids=ids, find_unused_parameters=True), DDP(D, device_ids=ids, find_unused_parameters=True)

    meta = {
        "model": model,
        "resolution": resolution,
        "channels": channels,
        "num_classes": num_classes,
        "category_names": [str(s) for s in data["category_names"]] if labels is not None and "category_names" in data else [],
        "nz": mp.nz,
        "params": to_dict(mp),
        "train": to_dict(tp),
        "data": str(data_path),
    }
    mlflow = tracking.setup() if lead else None
    run_ctx = tracking.open_run(state.get("mlflow_run_id") if state else None, model) if lead else contextlib.nullcontext()
    with run_ctx as run:
        if lead:
            meta["mlflow_run_id"] = run.info.run_id
            if state is None:
                mlflow.set_tag("model", model)
                mlflow.log_params({**tracking.flatten(model, to_dict(mp)), **tracking.flatten("train", to_dict(tp)), "resolution": resolution, "n_images": n, "processes": world})

        start, images_seen = time.time(), 0
        losses: dict[str, float] = {}
        bar = tqdm(range(start_step, mp.steps + 1), desc=f"train {model}", unit="step", disable=not (progress and lead), initial=start_step - 1, total=mp.steps)
        for step in bar:
            bs = variant.batch_size(mp, step, resolution)
            if cursor + bs * world > n:  # a new epoch: reshuffle, drop the ragged tail
                order, cursor = torch.randperm(n, generator=order_gen), 0
            index = order[cursor + rank * bs : cursor + (rank + 1) * bs]
            cursor += bs * world
            images_seen += bs * world
            batch_labels = labels[index].to(device) if labels is not None else None
            with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
                losses = variant.train_step(mp, G, D, opt_g, opt_d, images[index].to(device), noise, batch_labels, step)
            guard.after_step(losses)
            if G_ema:
                G_ema.update(G_net)

            if lead and (step % tp.log_every == 0 or step == mp.steps):
                history.append({"step": step, **losses})
                mlflow.log_metrics(losses, step=step)
                bar.set_postfix({k: f"{v:.3f}" for k, v in losses.items()})
            if lead and (step % tp.sample_every == 0 or step == mp.steps):
                grid = out_dir / "samples" / f"step_{step:06d}.png"
                save_grid(G_out, fixed_z, fixed_labels, tp.grid_size, grid)
                mlflow.log_artifact(str(grid), "samples")
            if lead and (step % tp.checkpoint_every == 0 or step == mp.steps):
                with atomic_path(out_dir / SNAPSHOTS / snapshot_name(step)) as tmp:
                    torch.save(G_out.state_dict(), tmp)
            if lead and step % tp.checkpoint_every == 0 and step < mp.steps:
                checkpoint = {
                    "fingerprint": fingerprint, "step": step, "G": G_net.state_dict(), "D": D_net.state_dict(),
                    "G_ema": G_ema.state_dict() if G_ema else None, "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(),
                    "guard": guard.state_dict(), "order_gen": order_gen.get_state(), "noise_gen": noise_gen.get_state(),
                    "torch_rng": torch.get_rng_state(), "order": order, "cursor": cursor, "history": history,
                    "mlflow_run_id": run.info.run_id,
                }
                with atomic_path(out_dir / CHECKPOINT) as tmp:
                    torch.save(checkpoint, tmp)
                write_csv(history_path, history)
            if on_step:
                on_step(step)
        seconds = time.time() - start

        metrics = {"weights_digest": weights_digest(G_net, D_net)}  # equal digests: equal weights
        if lead:
            with atomic_path(out_dir / WEIGHTS) as tmp:
                torch.save(G_out.state_dict(), tmp)
            write_json(out_dir / MODEL_JSON, meta)
            write_csv(history_path, history)
            (out_dir / CHECKPOINT).unlink(missing_ok=True)  # done: nothing left to resume
            metrics = {
                **metrics,
                "steps": mp.steps,
                "train_seconds": round(seconds, 1),
                "images_per_second": round(images_seen / max(seconds, 1e-9), 1),
                "device": describe(device, world),
                "guard_restores_g": guard.restores["G"],
                "guard_restores_d": guard.restores["D"],
                **{f"final_{k}": round(float(np.mean([h[k] for h in history[-10:]])), 4) for k in losses},
            }
            mlflow.log_metrics({"train_seconds": seconds, "images_per_second": metrics["images_per_second"]})
            write_split(metrics, COMPARED, metrics_path, info_path)
    if world > 1:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    return metrics


def describe(device: torch.device, world: int = 1) -> str:
    """The hardware a run trained on, in words, for the results table beside its time."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{device.type.upper()}, {os.cpu_count()} cores"
    return f"{world} x {name}" if world > 1 else name


def weights_digest(*modules: torch.nn.Module) -> str:
    """SHA-256 over the modules' parameters: a short proof that two runs ended with equal weights.

    Buffers are left out: under DDP each process updates its batch-norm statistics from its own
    share of the last batch (rank 0's are broadcast before every forward pass).
    """
    h = hashlib.sha256()
    for m in modules:
        for key, value in m.named_parameters():
            h.update(key.encode())
            h.update(value.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _load_checkpoint(path: Path, fingerprint: dict, warn: bool = True) -> dict | None:
    """The checkpoint at `path` if it was made with the same params and data, else None."""
    if not path.exists():
        return None
    state = torch.load(path, map_location="cpu", weights_only=True)
    changed = _changed(state["fingerprint"], fingerprint)
    if changed:
        if warn:
            print(f"warning: not resuming {path}: made with other params ({', '.join(changed)}); training from scratch", file=sys.stderr)
        return None
    return state
