"""WGAN-GP (Gulrajani et al. 2017) as seed 004 trained it on 64 px bedrooms.

Seed 004 followed the keras.io WGAN-GP example: a dense layer to an 8x8 map and stride-2
upsampling with batch norm and tanh in G; stride-2 convolutions without batch norm down to about
8x8 and a dense score in D. So both networks here run between the image and an 8x8 map
(log2(R) - 3 layers: 1 at 16 px, 3 at 64, 5 at 256), reusing the WGAN modules. Its second model
added dropout 0.2 in G, latent 1024 and Gaussian instance noise (std 0.001) on D's inputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch

from ganlab.losses import d_loss_wasserstein, g_loss_wasserstein, gradient_penalty
from ganlab.errors import ParamsError
from ganlab.models.base import ModelParams, Variant
from ganlab.models.wgan import Critic, Generator


@dataclass(frozen=True)
class WGANGPParams(ModelParams):
    batch_size: int = 128  # real images per critic step (seed 004)
    nz: int = 128  # latent size (seed 004's first model; its second used 1024)
    width: int = 64  # channels of the generator's last / the critic's first conv layer, doubling per layer
    lr_g: float = 2e-4  # generator learning rate (seed 004; Gulrajani et al. used 1e-4)
    lr_d: float = 2e-4  # critic learning rate (seed 004)
    beta1: float = 0.5  # Adam beta1 of the keras.io example seed 004 built on (Gulrajani et al.: 0.0)
    beta2: float = 0.9  # Adam beta2 (keras.io example and Gulrajani et al.)
    n_critic: int = 3  # critic steps per generator step, each on a fresh real batch (keras.io example; Gulrajani et al.: 5)
    gp_weight: float = 10.0  # gradient penalty weight lambda (seed 004, Gulrajani et al.)
    critic_norm: Literal["layer", "none"] = "none"  # normalisation in the critic: seed 004 had none; Gulrajani et al. used layer norm
    dropout: float = 0.0  # dropout after each generator layer but the output (seed 004's second model: 0.2)
    instance_noise: float = 0.0  # std of Gaussian noise added to every critic input (seed 004's second model: 0.001)

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("width", "n_critic"):
            if getattr(self, name) < 1:
                raise ParamsError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("gp_weight", "instance_noise"):
            if getattr(self, name) < 0:
                raise ParamsError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0 <= self.dropout < 1:
            raise ParamsError(f"dropout must be in [0, 1), got {self.dropout}")


def layers(resolution: int) -> int:
    """Stride-2 layers between a `resolution` image and seed 004's 8x8 map."""
    return max(1, int(math.log2(resolution)) - 3)


class WGANGP(Variant):
    """WGAN with a gradient penalty instead of clipping: n_critic critic steps, then one G step."""

    Params = WGANGPParams

    def build(self, resolution: int, channels: int = 3, num_classes: int = 0):
        p, n = self.p, layers(resolution)
        return Generator(p.nz, p.width, resolution, n, channels, p.dropout), Critic(p.width, resolution, n, channels, p.critic_norm)

    def _noisy(self, x: torch.Tensor) -> torch.Tensor:
        """Instance noise blurs the real/fake boundary (Łukaszyk's second model)."""
        return x + self.p.instance_noise * torch.randn_like(x) if self.p.instance_noise else x

    def critic_loss(self, D, real, fake, labels=None):
        real, fake = self._noisy(real), self._noisy(fake)
        real_scores, fake_scores = D(real), D(fake)
        wasserstein = d_loss_wasserstein(real_scores, fake_scores)
        gp = gradient_penalty(D, real, fake, self.p.gp_weight)
        loss = wasserstein + gp
        return loss, {
            "loss_d": loss.detach(),
            "wasserstein": -wasserstein.detach(),  # mean(real) - mean(fake): the critic's distance estimate
            "gp": gp.detach(),  # the weighted gradient penalty of the last critic step
            "d_real": real_scores.detach().mean(),  # mean critic score of reals
            "d_fake": fake_scores.detach().mean(),  # mean critic score of fakes before the G update
        }

    def generator_loss(self, D, fake, labels=None):
        loss = g_loss_wasserstein(D(self._noisy(fake)))
        return loss, {"loss_g": loss.detach()}
