"""The shared trainer: data, loop, sample grids, checkpoints and logging for every variant.

`train()` reads as the run it performs: set up, resume, then per step train, log, sample and
checkpoint, then finish. Everything that changes from step to step lives in one TrainerState,
whose state_dict() is the checkpoint.
"""

from __future__ import annotations

import copy
import hashlib
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from ganlab import distributed
from ganlab import tracking as _tracking
from ganlab.dataset import open_dataset
from ganlab.errors import GanlabError
from ganlab.folder import ResumeFolder
from ganlab.generator import latents, pick_device, to_uint8
from ganlab.grid import tile
from ganlab.guard import LossGuard
from ganlab.io import atomic_path, write_csv, write_split
from ganlab.retention import snapshots_to_delete
from ganlab.model_params import ModelParams
from ganlab.models import REGISTRY
from ganlab.models.base import Variant, optimize
from ganlab.losses import r1_penalty
from ganlab.models.stabilisers import Stabilisers
from ganlab.params import TrainParams, to_dict

# Bumped when the checkpoint's layout changes: a checkpoint of another format is not resumed.
CHECKPOINT_FORMAT = 2
COMPARED = ("steps", "train_seconds", "images_per_second")  # train.json, a DVC metric; the rest is diagnostics


def save_grid(G: torch.nn.Module, z: torch.Tensor, labels: torch.Tensor | None, nrow: int, path: Path) -> None:
    """Save G(z, labels) as one PNG grid, with G switched to eval mode for the duration."""
    was_training = G.training
    G.eval()
    with torch.no_grad():
        images = G(z, labels)
    G.train(was_training)
    # torchvision's make_grid(nrow, padding=2, pad_value=1.0) pixel for pixel; importing
    # torchvision (its models and ops, torch._dynamo) cost every training process 2.8 s
    grid = tile(to_uint8(images), columns=min(nrow, len(images)), pad=2, pad_value=255)
    with atomic_path(path) as tmp:
        Image.fromarray(grid).save(tmp, format="PNG")


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
        groups: dict[float, tuple[list, list]] = {}  # weight -> (averages, parameters): one foreach call each
        for i, (avg, p) in enumerate(zip(self.module.parameters(), G.parameters())):
            # not trained yet (a layer that has not faded in): nothing to average. A parameter
            # the optimiser skipped has no gradient; checking that first spares a device sync
            if self.ages[i] == 0 and (p.grad is None or torch.equal(avg, p)):
                continue
            self.ages[i] += 1
            n = self.ages[i]
            group = groups.setdefault(1 - min(self.decay, (1 + n) / (10 + n)), ([], []))
            group[0].append(avg)
            group[1].append(p)
        for weight, (avgs, params) in groups.items():
            torch._foreach_lerp_(avgs, params, weight)
        buffers = list(zip(self.module.buffers(), G.buffers()))
        if buffers:
            torch._foreach_copy_([b for b, _ in buffers], [b for _, b in buffers])

    def state_dict(self) -> dict:
        return {"module": self.module.state_dict(), "ages": list(self.ages)}

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state["module"])
        self.ages = list(state["ages"])


class DataOrder:
    """Which images each step trains on: shuffled epochs with the ragged tail dropped, the same
    order in every process, each process taking its own share of every batch."""

    def __init__(self, n: int, seed: int, rank: int = 0, world: int = 1):
        self.n, self.rank, self.world = n, rank, world
        self.gen = torch.Generator().manual_seed(seed)
        self.order = torch.randperm(n, generator=self.gen)
        self.cursor = 0
        self.device: torch.device | None = None  # where next() returns indices (None: the CPU)
        self._placed: torch.Tensor | None = None  # the order on that device, copied once per epoch

    def next(self, size: int) -> torch.Tensor:
        """Indices of this process's `size` images of the next batch."""
        if self.cursor + size * self.world > self.n:  # a new epoch: reshuffle, drop the ragged tail
            self.order, self.cursor, self._placed = torch.randperm(self.n, generator=self.gen), 0, None
        order = self.order
        if self.device is not None:  # one copy per epoch, not a blocking copy per step
            if self._placed is None:
                self._placed = self.order.to(self.device)
            order = self._placed
        index = order[self.cursor + self.rank * size : self.cursor + (self.rank + 1) * size]
        self.cursor += size * self.world
        return index

    def state_dict(self) -> dict:
        return {"gen": self.gen.get_state(), "order": self.order, "cursor": self.cursor}

    def load_state_dict(self, state: dict) -> None:
        self.gen.set_state(state["gen"])
        self.order, self.cursor, self._placed = state["order"], state["cursor"], None


class RandomStreams:
    """Every random number generator a step draws from: latent vectors (each process its own
    stream, on the training device so that no vector crosses the bus), torch's global CPU
    generator (dropout, the gradient penalty's mixing weights, instance noise on the CPU) and
    the device's (the same on a GPU). Under torchrun every process's streams are saved, so a
    resumed run draws what the uninterrupted one would have on every rank."""

    def __init__(self, seed: int, rank: int, device: torch.device, world: int = 1):
        self.seed, self.rank, self.device, self.world = seed, rank, device, world
        self.noise = torch.Generator(device=device).manual_seed(seed + 1000 * rank)

    def state_dict(self) -> dict:
        """{"ranks": one state per process}; under torchrun a collective: every process calls it."""
        own = {"noise": self.noise.get_state(), "cpu": torch.get_rng_state()}
        if self.device.type == "cuda":
            own["cuda"] = torch.cuda.get_rng_state(self.device)
        return {"ranks": distributed.gather_to_all(own, self.world)}

    def load_state_dict(self, state: dict, step: int = 0) -> None:
        if self.rank >= len(state["ranks"]):  # more processes than made the checkpoint: a stream of its own
            self.noise.manual_seed(self.seed + 1000 * self.rank + step)
            return
        own = state["ranks"][self.rank]
        self.noise.set_state(own["noise"])
        torch.set_rng_state(own["cpu"])
        if self.device.type == "cuda" and "cuda" in own:
            torch.cuda.set_rng_state(own["cuda"], self.device)


class TrainerState:
    """Everything a run carries from one step to the next; its state_dict() is the checkpoint.

    PARTS have state_dict()/load_state_dict(); VALUES are plain data. Adding state to the
    checkpoint is one entry in either tuple.
    """

    PARTS = ("G", "D", "opt_g", "opt_d", "ema", "guard", "data", "rng")
    VALUES = ("step", "history", "mlflow_run_id")

    def __init__(self, variant: Variant, tp: TrainParams, n: int, resolution: int, channels: int, num_classes: int, device: torch.device, rank: int, world: int):
        G, D = variant.networks(resolution, channels, num_classes)
        self.G, self.D = G.to(device), D.to(device)
        # fused Adam on a GPU: one kernel per step instead of several per parameter
        self.opt_g, self.opt_d = variant.optimizers(self.G, self.D, fused=device.type == "cuda")
        # The averaged generator gives smoother samples than the raw one at any step (Karras et
        # al. 2018; Yazici et al. 2019).
        self.ema = GeneratorEMA(self.G, tp.ema) if tp.ema else None
        self.guard = LossGuard(variant.p.guard, self.G, self.D)
        self.data = DataOrder(n, tp.seed, rank, world)
        self.rng = RandomStreams(tp.seed, rank, device, world)
        self.step = 0  # the last step done
        self.history: list[dict] = []  # the losses at every log step
        self.mlflow_run_id: str | None = None

    @property
    def G_out(self) -> torch.nn.Module:
        """The generator behind every output: the moving average when there is one."""
        return self.ema.module if self.ema else self.G

    def state_dict(self) -> dict:
        parts = {name: part.state_dict() if (part := getattr(self, name)) is not None else None for name in self.PARTS}
        return {**parts, **{name: getattr(self, name) for name in self.VALUES}}

    def load_state_dict(self, state: dict) -> None:
        for name in self.PARTS:
            part = getattr(self, name)
            if part is None:
                continue
            if name == "rng":
                part.load_state_dict(state[name], state["step"])
            else:
                part.load_state_dict(state[name])
        for name in self.VALUES:
            setattr(self, name, state[name])


def gan_step(variant: Variant, G, D, opt_g, opt_d, real: torch.Tensor, noise, labels: torch.Tensor | None = None, stab: Stabilisers | None = None, step: int = 1) -> dict[str, Any]:
    """One generator step (the 1-based `step`) and its critic steps; returns the losses as
    unsynchronised tensors.

    G and D are what to call (DDP-wrapped under torchrun); the variant gets the bare networks
    to change. `real` holds variant.n_critic batches, one fresh batch per critic step (Arjovsky
    et al.); `noise(n)` draws n latent vectors. `stab` (default: variant.p's) flips the reals, augments
    every image D sees (the variant's losses and penalties get them augmented) and adds R1 to
    the last critic step of every r1_every-th step.
    """
    stab = stab or Stabilisers(variant.p, None)  # outside the trainer: torch's global generator
    bare_d = distributed.unwrap(D)
    reals = stab.reals(real).chunk(variant.n_critic)
    ys = labels.chunk(variant.n_critic) if labels is not None else [None] * len(reals)
    for i, (chunk, y) in enumerate(zip(reals, ys)):
        if variant.reuse_fake:  # the G step below scores these same fakes
            fake = G(noise(chunk.shape[0]), y)
            seen = fake.detach()
        else:
            with torch.no_grad():
                seen = fake = G(noise(chunk.shape[0]), y)
        chunk = stab.seen(chunk)
        loss_d, d_stats = variant.critic_loss(D, chunk, stab.seen(seen), y)
        if i == len(reals) - 1 and (weight := stab.r1_weight(step)):
            loss_d = loss_d + r1_penalty(lambda x: D(x, y), chunk, weight)
        optimize(opt_d, loss_d)
        variant.after_critic_step(bare_d)
    if not variant.reuse_fake:
        fake = G(noise(chunk.shape[0]), y)
    # D's weights are constants in G's step: their gradients would be computed, then zeroed
    # unread before D's next update (StyleGAN2 freezes them the same way)
    bare_d.requires_grad_(False)
    loss_g, g_stats = variant.generator_loss(D, stab.seen(fake), y)
    optimize(opt_g, loss_g)
    bare_d.requires_grad_(True)
    return {"loss_d": d_stats.pop("loss_d"), "loss_g": g_stats.pop("loss_g"), **d_stats, **g_stats}


def as_floats(losses: dict[str, Any]) -> dict[str, float]:
    """The step's losses as Python floats: a device sync, so only where they are read."""
    return {k: v.item() if isinstance(v, torch.Tensor) else float(v) for k, v in losses.items()}


def file_md5(path: str | Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fingerprint(model: str, mp: ModelParams, tp: TrainParams, data_path: Path, choices: dict) -> dict:
    """What a checkpoint must match to be resumed: the layout, the model's params, the trainer's
    (with what `auto` resolved to here: precision and layout change the arithmetic), the data."""
    train = {k: v for k, v in to_dict(tp).items() if k != "models"}  # listing another model changes nothing here
    resolved = {k: choices[k] for k in ("device", "precision", "memory_format", "compile")}
    return {"format": CHECKPOINT_FORMAT, "model": model, "params": to_dict(mp), "train": train, "resolved": resolved, "code": code_digest(), "data_md5": file_md5(data_path)}


def code_digest() -> str:
    """SHA-256 of the ganlab sources that decide what a training step computes: a checkpoint
    made by other code is not resumed under this one (DVC reruns train@ after a code change,
    and a killed run's resume folder still holds the old checkpoint)."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted([root / "train.py", root / "losses.py", root / "guard.py", root / "model_params.py", *(root / "models").rglob("*.py")]):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


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


def native_bf16(device: torch.device) -> bool:
    """Whether `device` computes in bf16 natively: a GPU that supports it, or a CPU with AVX-512
    BF16 or AMX (elsewhere bf16 is emulated and slower than fp32) that torch is allowed to use:
    `ATEN_CPU_CAPABILITY=avx2` runs torch as on an AVX2-only CPU, and then so does `auto`."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
        return native and torch.backends.cpu.get_cpu_capability().startswith("AVX512")
    return False


def resolve(tp: TrainParams, device: torch.device, data_bytes: int) -> dict[str, Any]:
    """What the `auto` settings of train.* mean on this device (written to train_info.json)."""
    precision = tp.precision if tp.precision != "auto" else ("bf16" if native_bf16(device) else "fp32")
    memory_format = tp.memory_format if tp.memory_format != "auto" else "channels_last"
    data_on = tp.data_device
    if data_on == "auto":
        data_on = "device" if device.type == "cuda" and data_bytes < tp.data_share * torch.cuda.mem_get_info(device)[0] else "host"
    return {"device": device.type, "precision": precision, "memory_format": memory_format, "data_on": data_on, "compile": tp.compile}


class Images:
    """The uint8 NHWC images, read from the dataset file per batch or kept on the training
    device, handed out as float NCHW in [-1, 1] on the training device: only uint8 crosses the
    bus, the conversion runs where the training does, and host memory never holds the set."""

    CHUNK = 4096  # images copied to the device at a time

    def __init__(self, rows, device: torch.device, on_device: bool, channels_last: bool):
        self.rows, self.device, self.channels_last = rows, device, channels_last  # rows: (N, R, R, C) uint8, indexable
        self.on_device = None
        if on_device:
            self.on_device = torch.empty(tuple(rows.shape), dtype=torch.uint8, device=device)
            for a in range(0, len(rows), self.CHUNK):
                self.on_device[a : a + self.CHUNK] = torch.from_numpy(np.asarray(rows[a : a + self.CHUNK])).to(device)

    def batch(self, index: torch.Tensor) -> torch.Tensor:
        if self.on_device is not None:
            raw = self.on_device[index.to(self.device)]  # indices already there: no copy
        else:
            raw = torch.from_numpy(np.asarray(self.rows[index.cpu().numpy()]))
            if self.device.type == "cuda":
                raw = raw.pin_memory().to(self.device, non_blocking=True)
        x = raw.permute(0, 3, 1, 2).float().div(127.5).sub(1)  # (B, C, R, R): channels_last strides, from NHWC
        return x if self.channels_last else x.contiguous()


class Trainer:
    """One training run, as the named steps train() takes: set up (__init__), resume, step, log,
    sample, checkpoint, finish. Everything that changes from step to step is in `self.state`."""

    def __init__(self, model: str, mp: ModelParams, tp: TrainParams, data_path: str | Path, out_dir: str | Path, tracking: bool = True, resume_root: str | Path | None = None):
        self.model, self.mp, self.tp = model, mp, tp
        self.variant = REGISTRY[model](mp)
        self.data_path, self.out_dir = Path(data_path), Path(out_dir)
        self.rank, self.world, self.device = distributed.join(pick_device(tp.device))
        self.lead = self.rank == 0  # only the first process writes files and logs
        self.track = self.lead and tracking
        torch.manual_seed(tp.seed)

        self.data = open_dataset(self.data_path)  # the images stay in the file; batches are read from it
        n, self.resolution, channels = self.data.rows.shape[0], self.data.rows.shape[1], self.data.rows.shape[3]
        self.choices = resolve(tp, self.device, int(np.prod(self.data.rows.shape)))
        labels = torch.from_numpy(self.data["labels"]).long() if self.variant.conditional and "labels" in self.data else None
        if self.variant.conditional and labels is None:
            raise GanlabError(f"{model} is conditional but {data_path} holds no category labels")
        num_classes = int(labels.max()) + 1 if labels is not None else 0
        if n < mp.batch_size * self.world:
            raise GanlabError(f"{data_path} holds {n} images, fewer than {model}.batch_size={mp.batch_size} x {self.world} processes")
        if self.resolution not in self.variant.resolutions:
            raise GanlabError(f"{model} supports resolutions {self.variant.resolutions}, the data is {self.resolution} px")

        self.state = TrainerState(self.variant, tp, n, self.resolution, channels, num_classes, self.device, self.rank, self.world)
        channels_last = self.choices["memory_format"] == "channels_last"
        if channels_last:
            for net in (self.state.G, self.state.D, self.state.ema.module if self.state.ema else None):
                if net is not None:
                    net.to(memory_format=torch.channels_last)
        self.images = Images(self.data.rows, self.device, self.choices["data_on"] == "device", channels_last)
        if self.choices["data_on"] == "device":
            self.state.data.device = self.device
            labels = labels.to(self.device) if labels is not None else None
        self.labels = labels
        self.fixed_z = latents(tp.grid_size**2, mp.nz, tp.seed + 1).to(self.device)
        # conditional grids: one row per class, cycling when there are more rows than classes
        self.fixed_labels = (torch.arange(tp.grid_size**2) // tp.grid_size % num_classes).to(self.device) if num_classes else None
        self.amp = torch.bfloat16 if self.choices["precision"] == "bf16" else None
        self.fingerprint = _fingerprint(model, mp, tp, self.data_path, self.choices)
        # the run builds its model folder in the resume folder and moves it to out_dir when done
        self.resume_folder = ResumeFolder(resume_root or ResumeFolder.default_root(), model, self.fingerprint)
        self.folder = self.resume_folder.model
        self.meta = {
            "model": model,
            "resolution": self.resolution,
            "channels": channels,
            "num_classes": num_classes,
            "category_names": [str(s) for s in self.data["category_names"]] if labels is not None and "category_names" in self.data else [],
            "nz": mp.nz,
            "params": to_dict(mp),
            "train": to_dict(tp),
            "data": str(data_path),
        }
        self.stab = Stabilisers(mp, self.state.rng.noise)  # augmentation and flips draw from the saved latent stream
        self.mlflow = _tracking.Run(f"train {model}", None, model, enabled=False)  # train() opens the real one
        self.images_seen = 0

    def noise(self, k: int) -> torch.Tensor:
        """k latent vectors, drawn on the training device from this process's stream."""
        return torch.randn(k, self.mp.nz, generator=self.state.rng.noise, device=self.device)

    def resume(self) -> bool:
        """Load the folder's checkpoint if it matches, else start the folder afresh; then wrap
        the networks for DDP (and torch.compile). True if resumed."""
        checkpoint = _resumable(self.resume_folder, self.fingerprint, warn=self.lead)
        distributed.barrier(self.world)  # every process has read the checkpoint before it may go
        if checkpoint is None and self.lead:
            _drop_stale(self.resume_folder, self.fingerprint)
            self.resume_folder.start_fresh()  # a fresh run leaves nothing of an older one behind
        elif self.lead:
            self.folder.remove_temporaries()
        distributed.barrier(self.world)
        self.folder.make_dirs()
        if checkpoint is not None:
            self.state.load_state_dict(checkpoint)
            if self.lead:
                print(f"train {self.model}: resuming from step {self.state.step} of {self.mp.steps}", file=sys.stderr)
        self.G, self.D = distributed.wrap(self.state.G, self.device, self.world), distributed.wrap(self.state.D, self.device, self.world)
        if self.tp.compile:  # the state keeps the bare networks: state dicts without compile's prefixes
            self.G = torch.compile(self.G)
            double_backward = self.variant.double_backward or self.mp.r1 > 0  # a gradient penalty or R1
            self.D = self.D if double_backward else torch.compile(self.D)  # compiled graphs have no double backward
        return checkpoint is not None

    def step(self, step: int) -> dict[str, Any]:
        """One generator step and its critic steps; the losses stay on the device."""
        state, variant = self.state, self.variant
        bs = variant.batch_size(step, self.resolution) * variant.n_critic  # one fresh real batch per critic step
        index = state.data.next(bs)
        self.images_seen += bs * self.world
        labels = self.labels[index.to(self.labels.device)].to(self.device) if self.labels is not None else None
        variant.set_step(state.G, state.D, step, self.resolution)
        with torch.autocast(self.device.type, dtype=self.amp or torch.float32, enabled=self.amp is not None):
            losses = gan_step(variant, self.G, self.D, state.opt_g, state.opt_d, self.images.batch(index), self.noise, labels, self.stab, step)
        if self.mp.guard.enabled:  # the guard reads the losses every step, averaged so all ranks decide alike
            state.guard.after_step(as_floats(distributed.mean(losses, self.world)))
        if state.ema:
            state.ema.update(state.G)
        state.step = step
        return losses

    def log(self, step: int, losses: dict[str, Any], bar) -> None:
        values = as_floats(losses)  # the only device sync of a step, at log steps
        self.state.history.append({"step": step, **values})
        self.mlflow.log_metrics(values, step=step)
        bar.set_postfix({k: f"{v:.3f}" for k, v in values.items()})

    def sample(self, step: int) -> None:
        path = self.folder.sample_path(step)
        save_grid(self.state.G_out, self.fixed_z, self.fixed_labels, self.tp.grid_size, path)
        self.mlflow.log_artifact(str(path), "samples")

    def snapshot(self, step: int) -> None:
        """The output generator as evaluate will score it; long runs keep an evenly thinned set."""
        G_out = self.state.G_out
        self.folder.write_snapshot(step, G_out.state_dict(), self.variant.complete(G_out))
        if self.tp.keep_snapshots:
            for old in snapshots_to_delete([snap.step for snap in self.folder.snapshots()], self.tp.keep_snapshots, self.tp.checkpoint_every):
                self.folder.remove_snapshot(old)

    def checkpoint(self, history_path: Path) -> None:
        """Every process calls this (the RNG streams of all are gathered); the first writes."""
        state = self.state.state_dict()
        if self.lead:
            self.resume_folder.write_checkpoint({"fingerprint": self.fingerprint, **state})
            write_csv(history_path, self.state.history)

    def finish(self, seconds: float, losses: dict[str, Any], history_path: Path) -> dict:
        """Write the final generator, its params and the history; drop the checkpoint; return the metrics."""
        state = self.state
        metrics = {"weights_digest": weights_digest(state.G, state.D)}  # equal digests: equal weights
        if self.lead:
            self.folder.write_weights(state.G_out.state_dict())
            self.folder.write_meta(self.meta)
            write_csv(history_path, state.history)
            metrics = {
                **metrics,
                "steps": self.mp.steps,
                "train_seconds": round(seconds, 1),
                "images_per_second": round(self.images_seen / max(seconds, 1e-9), 1),
                **self.choices,
                "device": describe(self.device, self.world),
                "cpu": cpu_name(),
                "guard_restores_g": state.guard.restores["G"],
                "guard_restores_d": state.guard.restores["D"],
                **{f"final_{k}": round(float(np.mean([h[k] for h in state.history[-10:]])), 4) for k in losses},
            }
            self.mlflow.log_metrics({"train_seconds": seconds, "images_per_second": metrics["images_per_second"]})
        return metrics

    def close(self) -> None:
        self.data.close()
        distributed.leave(self.world)


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
    tracking: bool = True,
    info_path: str | Path | None = None,
    resume_root: str | Path | None = None,
) -> dict:
    """Train `model` on a prepared npz and write the model folder, metrics and loss history.

    The model folder (ganlab.folder) gets the output generator, its params, sample grids of the
    fixed latent vectors and snapshots at every checkpoint. The run builds it in a resume folder
    under `resume_root` (ResumeFolder.default_root() when None), beside its checkpoints, and
    moves it to out_dir when done. A run that finds a checkpoint made with the same code, params
    and data resumes from it; states made with others are removed.
    `on_step(step)` is called after every step (tests use it to interrupt a run). Under
    torchrun, G and D are wrapped in DistributedDataParallel and each process trains on its
    own share of every batch. `tracking=False` leaves MLflow out (it need not be installed).

    metrics_path gets what experiments are compared by (COMPARED); info_path the diagnostics
    (weights digest, device, guard restores, final losses). The returned dict holds both.
    """
    history_path = Path(history_path)
    t = Trainer(model, mp, tp, data_path, out_dir, tracking, resume_root)
    resumed = t.resume()
    with _tracking.Run(f"train {model}", t.state.mlflow_run_id, model, enabled=t.track) as run:
        t.mlflow = run
        t.meta["mlflow_run_id"] = t.state.mlflow_run_id = run.run_id
        if not resumed:
            run.set_tag("model", model)
            run.log_params({**_tracking.flatten(model, to_dict(mp)), **_tracking.flatten("train", to_dict(tp)), "resolution": t.resolution, "n_images": len(t.images.rows), "processes": t.world})
        start, losses = time.time(), {}
        bar = tqdm(range(t.state.step + 1, mp.steps + 1), desc=f"train {model}", unit="step", disable=not (progress and t.lead), initial=t.state.step, total=mp.steps)
        for step in bar:
            losses = t.step(step)
            last = step == mp.steps
            if t.lead and (step % tp.log_every == 0 or last):
                t.log(step, losses, bar)
            if t.lead and (step % tp.sample_every == 0 or last):
                t.sample(step)
            if t.lead and (step % tp.checkpoint_every == 0 or last):
                t.snapshot(step)
            if step % tp.checkpoint_every == 0 and not last:
                t.checkpoint(history_path)
            if on_step:
                on_step(step)
        metrics = t.finish(time.time() - start, losses, history_path)
        if t.lead:
            write_split(metrics, COMPARED, metrics_path, info_path)
            # only now, with every output written: a kill before this line resumes, not restarts
            t.resume_folder.publish(out_dir)
    t.close()
    return metrics


def describe(device: torch.device, world: int = 1) -> str:
    """The hardware a run trained on, in words, for the results table beside its time."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{device.type.upper()}, {os.cpu_count()} cores"
    return f"{world} x {name}" if world > 1 else name


def cpu_name() -> str:
    """The host CPU's model and its widest matrix extension, e.g. 'AMD EPYC (AVX-512 BF16)': what
    precision auto chose by and what a CPU run's time depends on, beside every training's figures."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux
        import platform

        return platform.processor() or "unknown CPU"
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "unknown CPU")
    flags = set(next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), []))
    widest = next((label for flag, label in (("amx_bf16", "AMX"), ("avx512_bf16", "AVX-512 BF16"), ("avx512f", "AVX-512"), ("avx2", "AVX2")) if flag in flags), "no AVX2")
    if "avx512f" in flags and not torch.backends.cpu.get_cpu_capability().startswith("AVX512"):
        widest += f", torch capped at {torch.backends.cpu.get_cpu_capability()}"  # ATEN_CPU_CAPABILITY: say so beside the figures
    return f"{name} ({widest})"


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


def _drop_stale(folder: ResumeFolder, fingerprint: dict) -> None:
    """Remove the model's resume folders made with other code, params or data, each with a
    one-line warning naming what changed (one resumable run per model, as DVC keeps one output)."""
    for path, old in folder.others():
        changed = ", ".join(_changed(old, fingerprint)) if old else "no fingerprint"
        print(f"warning: not resuming {path}: made with other code, params or data ({changed}); training from scratch", file=sys.stderr)
        shutil.rmtree(path, ignore_errors=True)


def _resumable(folder: ResumeFolder, fingerprint: dict, warn: bool = True) -> dict | None:
    """The folder's checkpoint if it was made with the same layout, code, params and data, else
    None. An unreadable one (a corrupt file, another format) is not resumed either: a one-line
    warning says why, and the run starts afresh instead of failing on every rerun."""
    try:
        state = folder.read_checkpoint()
        old = state["fingerprint"] if state is not None else None
    except Exception as e:  # pickle, zip and key errors alike: the file cannot be resumed
        if warn:
            print(f"warning: not resuming {folder.checkpoint_path}: unreadable ({type(e).__name__}: {' '.join(str(e).split())[:120]}); training from scratch", file=sys.stderr)
        return None
    if state is None:
        return None
    changed = _changed(old, fingerprint)
    if changed:
        if warn:
            print(f"warning: not resuming {folder.checkpoint_path}: made with other code, params or data ({', '.join(changed)}); training from scratch", file=sys.stderr)
        return None
    return state