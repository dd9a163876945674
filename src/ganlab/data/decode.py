"""Decode any raw image into an upright 8-bit RGB array, or say in one line why not.

Runs in the crop stage's worker processes, so it imports nothing heavy (no torch).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")  # files the raw layout may hold
BACKGROUND = (255, 255, 255)  # transparent pixels are composited onto white, as viewers show them


def load_rgb(path: str | Path, max_side: int, max_pixels: int) -> np.ndarray:
    """uint8 (H, W, 3) of the image at `path`: EXIF-upright, alpha over white, 16-bit scaled to
    8-bit, CMYK and grayscale converted, shrunk to `max_side` on its longer side.

    Raises (any exception type PIL raises) for unreadable, truncated or too large files.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit is below
        with Image.open(path) as im:
            w, h = im.size
            if w * h > max_pixels:
                raise ValueError(f"image too large: {w}x{h} pixels is over crop.max_pixels ({max_pixels})")
            if im.format == "JPEG" and max(w, h) > 2 * max_side:
                im.draft(im.mode, (max_side, max_side))  # decode at 1/2, 1/4 or 1/8 scale: a fraction of the time
            im.load()  # decode fully here, so a truncated file fails now, not later
            im = ImageOps.exif_transpose(im)
    im = to_rgb(im)
    if max(im.size) > max_side:
        s = max_side / max(im.size)
        im = im.resize((max(1, round(im.width * s)), max(1, round(im.height * s))), Image.LANCZOS)
    return np.asarray(im, dtype=np.uint8)


def to_rgb(im: Image.Image) -> Image.Image:
    """8-bit RGB of any PIL mode."""
    if im.mode.startswith("I;16") or im.mode == "I":
        # 16-bit gray (PNG, TIFF): PIL's convert would clip at 255, turning most pixels white.
        a = np.asarray(im).astype(np.int64)
        return Image.fromarray((np.clip(a, 0, 65535) >> 8).astype(np.uint8), "L").convert("RGB")
    if im.mode == "F":
        return Image.fromarray(np.clip(np.asarray(im), 0, 255).astype(np.uint8), "L").convert("RGB")
    if im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        out = Image.new("RGB", im.size, BACKGROUND)
        out.paste(rgba, mask=rgba.getchannel("A"))
        return out
    return im.convert("RGB")  # RGB, L, 1, P, CMYK (PIL undoes Adobe's inverted CMYK), YCbCr, LAB, HSV


def decode_job(job: tuple[str, int, int]) -> tuple[str, np.ndarray | None, str | None]:
    """Pool worker: (path, max_side, max_pixels) -> (file name, array or None, reason or None)."""
    path, max_side, max_pixels = job
    try:
        return Path(path).name, load_rgb(path, max_side, max_pixels), None
    except Exception as e:  # PIL raises many types for bad files; each becomes a reject, none stops the run
        return Path(path).name, None, reason(e)


def reason(e: BaseException) -> str:
    """One line naming the exception: what rejects.csv records."""
    return (f"{type(e).__name__}: {e}".strip().splitlines() or [type(e).__name__])[0]


def cores() -> int:
    """CPU cores this process may run on: its affinity mask where the OS has one, which a
    container's cpuset or taskset makes smaller than os.cpu_count() (all of the machine's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS and Windows have no affinity mask to read
        return os.cpu_count() or 1


def workers(n: int, main_works: bool = True) -> int:
    """Worker processes for a `workers` param: 0 means one per available core, but one fewer
    where the main process works meanwhile (`main_works`); always at least one."""
    return n or max(1, cores() - main_works)
