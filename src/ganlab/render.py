"""The render stage: interpolation GIFs (lerp and slerp) and a strip of a 10-step interpolation."""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np
from tqdm import tqdm

from ganlab import tracking
from ganlab.generator import generate, latents, load_generator, pick_device
from ganlab.io import atomic_path
from ganlab.latent import line, loop_path
from ganlab.params import RenderParams


def upscale(images: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement of uint8 NHWC images, for viewing small samples."""
    return images.repeat(factor, axis=1).repeat(factor, axis=2) if factor > 1 else images


def write_gif(path: Path, frames: np.ndarray, fps: int) -> None:
    """An endlessly looping GIF, written atomically."""
    with atomic_path(path) as tmp:
        iio.imwrite(tmp, frames, extension=".gif", duration=1000 / fps, loop=0)


def render(model_dir: str | Path, out_dir: str | Path, p: RenderParams, progress: bool = True) -> dict[str, Path]:
    """Write interp_lerp.gif, interp_slerp.gif and strip.png for the model in model_dir."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    G, meta = load_generator(model_dir, pick_device())
    points = latents(p.points, meta["nz"], p.seed)
    written = {}
    for method in tqdm(("lerp", "slerp"), desc="render", unit="gif", disable=not progress):
        frames = np.concatenate(list(generate(G, loop_path(points, p.frames_per_transition, method))))
        written[f"interp_{method}.gif"] = out_dir / f"interp_{method}.gif"
        write_gif(written[f"interp_{method}.gif"], upscale(frames, p.upscale), p.fps)

    strip = np.concatenate(list(generate(G, line(points[0], points[1], p.strip_steps, "slerp"))))
    written["strip.png"] = out_dir / "strip.png"
    with atomic_path(written["strip.png"]) as tmp:
        iio.imwrite(tmp, np.concatenate(list(upscale(strip, p.upscale)), axis=1), extension=".png")

    with tracking.open_run(meta.get("mlflow_run_id"), meta["model"]):
        import mlflow

        for path in written.values():
            mlflow.log_artifact(str(path), "render")
    return written
