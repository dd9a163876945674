"""Image and animation helpers shared by render, arithmetic and the ganlab command."""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ganlab.errors import GanlabError
from ganlab.io import atomic_path

FORMATS = (".gif", ".mp4")  # animation files by extension


def upscale(images: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement of uint8 NHWC images, for viewing small samples."""
    return images.repeat(factor, axis=1).repeat(factor, axis=2) if factor > 1 else images


def write_gif(path: Path, frames: np.ndarray, fps: int) -> None:
    """An endlessly looping GIF, written atomically.

    Pillow stores consecutive identical frames (held key points) as one frame shown for their
    summed duration: the file is smaller and plays the same.
    """
    with atomic_path(path) as tmp:
        iio.imwrite(tmp, frames, extension=".gif", duration=1000 / fps, loop=0)


def write_mp4(path: Path, frames: np.ndarray, fps: int) -> None:
    """An H.264 MP4 (yuv420p, which players expect), written atomically through imageio-ffmpeg."""
    # yuv420p stores colour at half resolution, so libx264 refuses odd sides: pad by repeating the
    # last row / column. imageio would otherwise resize every frame to a multiple of its
    # macro_block_size (16), blurring the nearest-neighbour pixels; H.264 itself pads to 16
    # internally, so sides divisible by 2 play everywhere.
    h, w = frames.shape[1:3]
    frames = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    with atomic_path(path) as tmp:
        # ffmpeg picks the container by file name; the temporary name ends in .tmp, so say mp4.
        # quality 7 is x264's CRF 15: imageio's default (CRF 25) smears small, enlarged faces.
        iio.imwrite(tmp, frames, extension=".mp4", plugin="FFMPEG", fps=fps, quality=7, macro_block_size=2, output_params=["-f", "mp4"])


def animation_path(path: str | Path) -> Path:
    """The path, if its extension names an animation format; a GanlabError otherwise."""
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise GanlabError(f"cannot write an animation as '{path.suffix}' ({path}): use one of {', '.join(FORMATS)}")
    return path


def write_animation(path: str | Path, frames: np.ndarray, fps: int) -> Path:
    """Write uint8 (T, H, W, C) frames as a GIF or an MP4, chosen by the path's extension."""
    path = animation_path(path)
    (write_gif if path.suffix.lower() == ".gif" else write_mp4)(path, frames, fps)
    return path


def hold(frames: np.ndarray, period: int, extra: int, axis: int = 0) -> np.ndarray:
    """Repeat every `period`-th frame along `axis` (the key points) `extra` more times."""
    counts = np.ones(frames.shape[axis], dtype=int)
    counts[::period] += extra
    return np.repeat(frames, counts, axis=axis)


def caption(image: np.ndarray, text: str) -> np.ndarray:
    """The image with `text` written in a white bar under it."""
    font = ImageFont.load_default()
    height = font.getbbox("Ay")[3] + 4  # from a fixed text: every frame of an animation gets the same bar
    bar = Image.new("RGB", (image.shape[1], height), "white")
    ImageDraw.Draw(bar).text((3, 2), text, fill="black", font=font)
    return np.concatenate([image, np.asarray(bar)], axis=0)
