"""Images tiled into one: the sample grids of training and the figures of render.

Its own module, with numpy only, so that training (which saves sample grids) does not depend on
the GIF and MP4 writers of images.py: an edit there reruns render, not every training.
"""

from __future__ import annotations

import math

import numpy as np


def tile(images: np.ndarray, columns: int, pad: int = 0, pad_value: int = 255) -> np.ndarray:
    """(N, H, W, C) -> one (rows*H + gaps, columns*W + gaps, C) image, row by row; missing cells are pad_value.

    Works on any leading axes as well: (N, T, H, W, C) gives (T, ...) frames of tiled animations.
    """
    n, lead, (h, w, c) = images.shape[0], images.shape[1:-3], images.shape[-3:]
    rows = math.ceil(n / columns)
    canvas = np.full((*lead, pad + rows * (h + pad), pad + columns * (w + pad), c), pad_value, images.dtype)
    for i in range(n):
        y, x = pad + (i // columns) * (h + pad), pad + (i % columns) * (w + pad)
        canvas[..., y : y + h, x : x + w, :] = images[i]
    return canvas
