"""Paths through latent space."""

from __future__ import annotations

import torch


def lerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Straight line from a to b. Midpoints of Gaussian vectors have a smaller norm than either end."""
    return a + (b - a) * t


def slerp(a: torch.Tensor, b: torch.Tensor, t: float, eps: float = 1e-7) -> torch.Tensor:
    """Spherical interpolation along the last axis: the path keeps the norm a Gaussian sample
    typically has, so in-between images stay as sharp as the ends (White 2016)."""
    na, nb = a.norm(dim=-1, keepdim=True), b.norm(dim=-1, keepdim=True)
    cos = ((a / na) * (b / nb)).sum(-1, keepdim=True).clamp(-1 + eps, 1 - eps)
    omega = torch.acos(cos)
    so = torch.sin(omega)
    out = (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b
    # nearly parallel vectors: sin(omega) ~ 0, where the straight line is the same path
    return torch.where(so.abs() < 1e-4, lerp(a, b, t), out)


INTERPOLATORS = {"lerp": lerp, "slerp": slerp}


def loop_path(points: torch.Tensor, frames_per_transition: int, method: str = "slerp") -> torch.Tensor:
    """(K, nz) key points -> (K * frames, nz): through every point and back to the first."""
    f = INTERPOLATORS[method]
    out = []
    for i in range(len(points)):
        a, b = points[i], points[(i + 1) % len(points)]
        out += [f(a, b, j / frames_per_transition) for j in range(frames_per_transition)]
    return torch.stack(out)


def line(a: torch.Tensor, b: torch.Tensor, steps: int, method: str = "slerp") -> torch.Tensor:
    """`steps` vectors from a to b, both ends included."""
    f = INTERPOLATORS[method]
    return torch.stack([f(a, b, j / (steps - 1)) for j in range(steps)])
