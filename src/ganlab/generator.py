"""Loading a trained generator and turning latent vectors into uint8 images."""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch



def pick_device(choice: str = "auto") -> torch.device:
    """auto: CUDA, then Apple's MPS, then the CPU."""
    if choice == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(choice)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(B, C, H, W) in [-1, 1] -> (B, H, W, C) uint8, rounded exactly as saving to PNG would."""
    x = (images.detach().float().clamp(-1, 1) + 1) * 127.5
    return x.round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


@torch.no_grad()
def generate(G: torch.nn.Module, z: torch.Tensor, batch_size: int = 64, labels: torch.Tensor | None = None) -> Iterator[np.ndarray]:
    """Yield uint8 NHWC batches of G(z, labels), `batch_size` latent vectors at a time."""
    device = next(G.parameters()).device
    for i in range(0, len(z), batch_size):
        y = labels[i : i + batch_size].to(device) if labels is not None else None
        yield to_uint8(G(z[i : i + batch_size].to(device), y))


def latents(n: int, nz: int, seed: int) -> torch.Tensor:
    """n standard-normal latent vectors, the same for a given seed on every machine."""
    return torch.randn(n, nz, generator=torch.Generator().manual_seed(seed))
