"""What every model variant shares: its params base class and the variant interface.

A variant owns its networks and its optimisation step; the trainer (ganlab.train) owns the loop,
checkpoints, logging and sampling, and knows nothing about any particular model.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ganlab.params import ParamsError


@dataclass(frozen=True)
class ModelParams:
    steps: int = 2000  # generator updates
    batch_size: int = 64  # real images per discriminator step
    nz: int = 100  # latent size (seeds 000 and 002 used 100)
    lr_g: float = 2e-4  # generator learning rate (Radford et al. 2015)
    lr_d: float = 2e-4  # discriminator learning rate
    beta1: float = 0.5  # Adam beta1; 0.5 rather than 0.9 keeps DCGAN training stable (Radford et al.)
    beta2: float = 0.999  # Adam beta2

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "nz", "lr_g", "lr_d"):
            if getattr(self, name) <= 0:
                raise ParamsError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("beta1", "beta2"):
            if not 0 <= getattr(self, name) < 1:
                raise ParamsError(f"{name} must be in [0, 1), got {getattr(self, name)}")


class Variant:
    """A GAN family: subclasses set Params and implement build and train_step."""

    Params: type[ModelParams] = ModelParams

    def build(self, p: ModelParams, resolution: int, channels: int = 3) -> tuple[nn.Module, nn.Module]:
        """Return (generator, discriminator) for square images of `resolution` pixels."""
        raise NotImplementedError

    def optimizers(self, p: ModelParams, G: nn.Module, D: nn.Module) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
        """Adam for both networks unless a variant says otherwise."""
        opt_g = torch.optim.Adam(G.parameters(), lr=p.lr_g, betas=(p.beta1, p.beta2))
        opt_d = torch.optim.Adam(D.parameters(), lr=p.lr_d, betas=(p.beta1, p.beta2))
        return opt_g, opt_d

    def train_step(self, p, G, D, opt_g, opt_d, real: torch.Tensor, noise) -> dict[str, float]:
        """One discriminator and one generator update; `noise(n)` draws n latent vectors.

        Returns the losses to record, as floats.
        """
        raise NotImplementedError
