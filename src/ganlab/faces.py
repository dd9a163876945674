"""Face detection with facenet-pytorch's MTCNN: the most confident face of each image."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np
from PIL import Image

if TYPE_CHECKING:  # torch stays out of processes that only decode and crop
    import torch

# MTCNN's smallest face, in pixels. Its pyramid scans windows of this size and larger, so an image
# whose shorter side is under it has no pyramid scale at all, and facenet-pytorch then fails with
# "torch.cat(): expected a non-empty list of Tensors" (its issue #176) instead of finding no face.
MIN_FACE = 20


def load_mtcnn(device: torch.device | str = "cpu"):
    """facenet-pytorch's MTCNN with its bundled weights, returning faces by confidence."""
    from facenet_pytorch import MTCNN

    return MTCNN(min_face_size=MIN_FACE, keep_all=True, select_largest=False, device=device)


def best_faces(mtcnn, images: Sequence[Image.Image] | np.ndarray) -> list[tuple[np.ndarray | None, float]]:
    """Most confident (box, probability) of each image; (None, 0.0) where no face is found.

    `images` is a list of equal-size PIL images or a uint8 NHWC array: MTCNN runs the whole
    batch through each pyramid scale at once, which is why callers group images by size.
    """
    boxes, probs = mtcnn.detect(images)
    out = []
    for box, prob in zip(boxes, probs):
        if box is None:
            out.append((None, 0.0))
        else:
            out.append((np.asarray(box[0], dtype=np.float64), float(prob[0])))
    return out


def face_rate(mtcnn, images: np.ndarray, threshold: float, batch_size: int = 64, min_side: int = 128) -> float:
    """Share of uint8 NHWC images in which MTCNN finds a face with probability >= threshold.

    Small images are enlarged to `min_side` first: MTCNN's pyramid starts at 12-pixel windows
    and misses faces that fill a tiny frame.
    """
    hits = 0
    for i in range(0, len(images), batch_size):
        batch = images[i : i + batch_size]
        if batch.shape[1] < min_side:
            batch = np.stack([np.asarray(Image.fromarray(im).resize((min_side, min_side), Image.BICUBIC)) for im in batch])
        hits += sum(prob >= threshold for _, prob in best_faces(mtcnn, batch))
    return hits / len(images)


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def square_crop_box(box: Sequence[float], margin: float) -> tuple[int, int, int, int]:
    """A square around the box's centre, its side the box's longer side plus `margin` of it on each side."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    side = round(max(box[2] - box[0], box[3] - box[1]) * (1 + 2 * margin))
    x1, y1 = round(cx - side / 2), round(cy - side / 2)
    return (x1, y1, x1 + side, y1 + side)  # from one rounded corner and side: always square


# CelebA's list_landmarks_align_celeba columns, in order (Kaggle's CSV header; torchvision's TXT
# has the same names on its second line).
LANDMARKS = ("lefteye_x", "lefteye_y", "righteye_x", "righteye_y", "nose_x", "nose_y", "leftmouth_x", "leftmouth_y", "rightmouth_x", "rightmouth_y")
# The face box MTCNN reports, in units of the landmarks: half its width per eye distance, half its
# height per eye-to-mouth distance, and its centre's place along the eye-to-mouth line. Measured
# on the synthetic faces, whose true boxes were fitted to MTCNN's (ganlab.data.synthetic):
# cheek to cheek 0.91 head widths against eyes 0.42 apart; forehead to chin 0.91 head heights,
# from 1.06 eye-to-mouth distances above the eyes, against a mouth 0.33 below them.
_HALF_WIDTH, _HALF_HEIGHT, _CENTRE = 1.083, 1.379, 0.318


def landmark_face_box(points: Sequence[float]) -> tuple[float, float, float, float]:
    """The face box (x1, y1, x2, y2) MTCNN would report, placed from CelebA's five landmarks
    (LANDMARKS order): square_crop_box then crops it with mtcnn's margin semantics."""
    lx, ly, rx, ry, _, _, mlx, mly, mrx, mry = (float(v) for v in points)
    ex, ey, mx, my = (lx + rx) / 2, (ly + ry) / 2, (mlx + mrx) / 2, (mly + mry) / 2
    half_w = _HALF_WIDTH * float(np.hypot(rx - lx, ry - ly))
    half_h = _HALF_HEIGHT * float(np.hypot(mx - ex, my - ey))
    cx, cy = ex + _CENTRE * (mx - ex), ey + _CENTRE * (my - ey)  # along the face's own axis, so tilts move it
    return (cx - half_w, cy - half_h, cx + half_w, cy + half_h)

