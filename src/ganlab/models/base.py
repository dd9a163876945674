"""What every model variant shares: its params base class and the variant interface.

A variant owns its networks and its optimisation step; the trainer (ganlab.train) owns the loop,
checkpoints, logging and sampling, and knows nothing about any particular model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

from ganlab.guard import GuardParams
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
    optimizer: Literal["adam", "adamax", "rmsprop"] = "adam"  # seed 002 used Adamax (lr 0.0007), seed 003 RMSProp
    guard: GuardParams = field(default_factory=GuardParams)  # seed 002's loss-bounds guard (off by default)

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

    conditional: bool = False  # True: G(z, labels) and D(x, labels) take integer class labels
    resolutions: tuple[int, ...] = (16, 32, 64, 128, 256)  # image sides build() supports; variants that cannot do all narrow it

    def build(self, p: ModelParams, resolution: int, channels: int = 3, num_classes: int = 0) -> tuple[nn.Module, nn.Module]:
        """Return (generator, discriminator) for square images of `resolution` pixels.

        Every generator maps (B, nz) latent vectors (and labels, if conditional) to
        (B, channels, resolution, resolution) images in [-1, 1].
        """
        raise NotImplementedError

    def optimizers(self, p: ModelParams, G: nn.Module, D: nn.Module) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
        """One optimiser per network, of the kind p.optimizer names."""
        return _optimizer(p, G.parameters(), p.lr_g), _optimizer(p, D.parameters(), p.lr_d)

    def batch_size(self, p: ModelParams, step: int, resolution: int) -> int:
        """Real images for `step` (1-based) on data of `resolution` px; progressive growing
        shrinks it as its working resolution grows."""
        return p.batch_size

    def train_step(self, p, G, D, opt_g, opt_d, real: torch.Tensor, noise, labels: torch.Tensor | None = None, step: int = 1) -> dict[str, float]:
        """The discriminator and generator updates of one step; `noise(n)` draws n latent vectors.

        `real` is (B, C, R, R) in [-1, 1] at the dataset's resolution, `labels` its class labels
        (conditional variants only), `step` the 1-based generator step. Returns the losses to
        record, as floats.
        """
        raise NotImplementedError


def optimize(opt: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    """One gradient step of `opt` on `loss`."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def _optimizer(p: ModelParams, params, lr: float) -> torch.optim.Optimizer:
    if p.optimizer == "adamax":
        return torch.optim.Adamax(params, lr=lr, betas=(p.beta1, p.beta2))
    if p.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    return torch.optim.Adam(params, lr=lr, betas=(p.beta1, p.beta2))
