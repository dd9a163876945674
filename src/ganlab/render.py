"""The render stage: looping interpolation animations (lerp, slerp, a grid of loops), a strip,
the training progress, and the building blocks the `ganlab` command shares with it."""

from __future__ import annotations

import math
import sys
from functools import partial
from pathlib import Path
from typing import Sequence

import imageio.v3 as iio
import numpy as np
import torch
from tqdm import tqdm

from ganlab import tracking
from ganlab.arithmetic import Reading, render_arithmetic
from ganlab.errors import GanlabError
from ganlab.folder import ModelFolder, load_generator
from ganlab.generator import generate, latents, pick_device
from ganlab.grid import tile  # noqa: F401 (re-exported for the ganlab command)
from ganlab.images import animation_path, caption, hold, upscale, write_animation, write_gif, write_mp4  # noqa: F401 (re-exported for the ganlab command)
from ganlab.io import atomic_path, write_split
from ganlab.latent import line, loop_path
from ganlab.params import RenderParams

# render.json, a DVC metric: what experiments are compared by (the rest goes to render_info.json)
COMPARED = ("figures", "skipped", "arithmetic_hit")

def seed_points(seeds: Sequence[int], nz: int, cells: int = 1) -> torch.Tensor:
    """(cells, K, nz) key points, one per seed: cell c's k-th point is latents(cells, nz, seeds[k])[c].

    With one cell, seed s gives generator.latents(1, nz, s): the stage's loops through seeds
    render.seed, render.seed + 1, ... are reproduced by `ganlab interpolate --seeds`.
    """
    return torch.stack([latents(cells, nz, s) for s in seeds], dim=1)


def cell_labels(num_classes: int, cells: int, first: int = 0) -> list[int] | None:
    """A class label per loop of a conditional generator, cycling through the classes from `first`;
    None for an unconditional one. A loop keeps its label: only the latent vector moves."""
    return [(first + c) % num_classes for c in range(cells)] if num_classes else None


def interpolation(
    G: torch.nn.Module,
    points: torch.Tensor,
    frames_per_transition: int,
    hold_frames: int = 0,
    method: str = "slerp",
    labels: Sequence[int] | None = None,
    factor: int = 1,
    batch_size: int = 64,
) -> np.ndarray:
    """uint8 (T, H', W', C) frames of looping interpolations through (cells, K, nz) key points.

    Each cell loops through its own K points and back to the first; each key point is held for
    `hold_frames` extra frames, so T = K * (frames_per_transition + hold_frames). Conditional
    generators need `labels`, one per cell. The cells, enlarged `factor` times, are tiled into a
    square grid (cells must be 1, 4, 9, ...).
    """
    cells, k, _ = points.shape
    side = math.isqrt(cells)
    if side * side != cells:
        raise ValueError(f"interpolation: {cells} cells do not make a square grid")
    z = torch.cat([loop_path(cell, frames_per_transition, method) for cell in points])  # (cells * K * f, nz)
    steps = len(z) // cells
    y = torch.tensor(labels).repeat_interleave(steps) if labels is not None else None
    images = upscale(np.concatenate(list(generate(G, z, batch_size, y))), factor)
    images = images.reshape(cells, steps, *images.shape[1:])  # (cells, K * f, H', W', C)
    return tile(hold(images, frames_per_transition, hold_frames, axis=1), side)


def sample_grids(training_dir: str | Path) -> list[tuple[int, Path]]:
    """(step, path) of every sample grid in a training folder, in step order."""
    found = ModelFolder(training_dir).samples()
    if not found:
        raise GanlabError(f"no sample grids (samples/step_*.png) in training folder {training_dir}")
    return found


def progress_frames(training_dir: str | Path, hold_frames: int = 0, factor: int = 1) -> np.ndarray:
    """The training folder's sample grids in step order, each with its step written under it.

    Each grid fills 1 + hold_frames frames, so the animation is slower than an interpolation's.
    The grids are read one at a time straight into the frame array: a long run's hundreds of
    grids are never held twice.
    """
    grids = sample_grids(training_dir)
    frames = None
    for i, (step, path) in enumerate(grids):
        frame = caption(upscale(iio.imread(path)[..., :3][None], factor)[0], f"step {step}")
        if frames is None:
            frames = np.empty((len(grids) * (1 + hold_frames), *frame.shape), frame.dtype)
        elif frame.shape != frames.shape[1:]:
            raise GanlabError(f"the sample grids in {training_dir}/samples differ in size; cannot animate them")
        frames[i * (1 + hold_frames) : (i + 1) * (1 + hold_frames)] = frame
    return frames


def strip(G: torch.nn.Module, a: torch.Tensor, b: torch.Tensor, steps: int, label: int | None = None, factor: int = 1) -> np.ndarray:
    """One image: `steps` slerp steps from latent a to latent b side by side."""
    y = torch.full((steps,), label) if label is not None else None
    images = upscale(np.concatenate(list(generate(G, line(a, b, steps, "slerp"), labels=y))), factor)
    return tile(images, steps)


def render(
    model_dir: str | Path,
    out_dir: str | Path,
    p: RenderParams,
    training_dir: str | Path | None = None,
    classifier_dir: str | Path | None = None,
    progress: bool = True,
    metrics_path: str | Path | None = None,
    info_path: str | Path | None = None,
) -> dict[str, Path]:
    """Write the renders of the model in model_dir into out_dir; return file name -> path.

    A figure a weak model cannot give (no generated face read as an arithmetic group) is skipped
    with a warning, so a short trial still gets its other renders; metrics_path (JSON) counts the
    figures written and names the skipped ones, info_path gives the reason for each.

    Animations, each in every one of p.formats: interp_lerp and interp_slerp (one loop through
    p.points points, seeds p.seed, p.seed + 1, ...), interp_grid (p.grid x p.grid loops, each
    through its own points) and, given the training folder, progress (its sample grids in step
    order). Also strip.png, and with a classifier folder the arithmetic renders. Every file is
    logged to the model's MLflow run under "render".
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    G, meta = load_generator(model_dir, pick_device())
    nz, num_classes = meta["nz"], meta.get("num_classes", 0)
    seeds = range(p.seed, p.seed + p.points)
    one = seed_points(seeds, nz)  # (1, K, nz)

    # each animation is built only when its turn comes, so one is held in memory at a time
    loop = partial(interpolation, G, frames_per_transition=p.frames_per_transition, hold_frames=p.hold_frames, factor=p.upscale)
    animations = {f"interp_{m}": partial(loop, one, method=m, labels=cell_labels(num_classes, 1)) for m in ("lerp", "slerp")}
    if p.grid:
        cells = p.grid**2
        animations["interp_grid"] = partial(loop, seed_points(seeds, nz, cells), method="slerp", labels=cell_labels(num_classes, cells))
    if p.progress and training_dir is not None:
        # the grids are already large (8 x 8 images): shown as saved, not enlarged
        animations["progress"] = partial(progress_frames, training_dir, p.hold_frames)

    written = {}
    for name, make in tqdm(animations.items(), desc="render", unit="animation", disable=not progress):
        frames = make()
        for fmt in p.formats:
            path = write_animation(out_dir / f"{name}.{fmt}", frames, p.fps)
            written[path.name] = path

    labels = cell_labels(num_classes, 1)
    image = strip(G, one[0, 0], one[0, 1], p.strip_steps, labels[0] if labels else None, p.upscale)
    written["strip.png"] = out_dir / "strip.png"
    with atomic_path(written["strip.png"]) as tmp:
        iio.imwrite(tmp, image, extension=".png")

    skipped: dict[str, str] = {}
    readings: list[Reading] = []
    if classifier_dir is not None and (p.arithmetic or p.directions):
        def skip(name: str, why: Exception) -> None:
            print(f"warning: render: skipped {name}: {why}", file=sys.stderr)
            skipped[name] = str(why)

        written.update(render_arithmetic(G, meta, classifier_dir, p, out_dir, on_missing=skip, on_read=readings.append))
    for reading in readings:
        print(f"render: arithmetic.png: a - b + c {reading.caption()}", file=sys.stderr if reading.missed else sys.stdout)
    # arithmetic_hit: the share of the result images read as what a - b + c should show; null
    # where the figure was not made or its groups give the result no attribute value
    hit = readings[0].hit if readings else None
    if metrics_path is not None:
        note = {"figures": len(written), "skipped": sorted(skipped), "arithmetic_hit": hit, "skipped_why": skipped}
        if readings:
            note["arithmetic_reading"] = {**readings[0].metrics(), "noise": p.arithmetic_noise}
        write_split(note, COMPARED, metrics_path, info_path)

    with tracking.Run(f"render {meta['model']}", meta.get("mlflow_run_id"), meta["model"]) as run:
        if hit is not None:
            run.log_metrics({"arithmetic_hit": hit})
        for path in written.values():
            run.log_artifact(path, "render")
    return written
