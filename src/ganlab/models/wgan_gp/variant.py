"""WGAN-GP (Gulrajani et al. 2017) as Łukaszyk and Wrona trained it on 64 px bedrooms.

Łukaszyk and Wrona followed the keras.io WGAN-GP example: a dense layer to an 8x8 map and stride-2
upsampling with batch norm and tanh in G; stride-2 convolutions without batch norm down to about
8x8 and a dense score in D. So both networks here run between the image and an 8x8 map
(log2(R) - 3 layers: 1 at 16 px, 3 at 64, 5 at 256), reusing the WGAN modules (models/layers.py). Its second model
added dropout 0.2 in G, latent 1024 and Gaussian instance noise (std 0.001) on D's inputs.
"""

from __future__ import annotations

import math

import torch

from ganlab.losses import d_loss_wasserstein, g_loss_wasserstein, gradient_penalty
from ganlab.models.base import Variant
from ganlab.models.layers import StrideCritic, StrideGenerator
from ganlab.models.wgan_gp.params import WGANGPParams


def layers(resolution: int) -> int:
    """Stride-2 layers between a `resolution` image and Łukaszyk and Wrona's 8x8 map."""
    return max(1, int(math.log2(resolution)) - 3)


class WGANGP(Variant):
    """WGAN with a gradient penalty instead of clipping: n_critic critic steps, then one G step."""

    Params = WGANGPParams
    double_backward = True  # the gradient penalty

    def build(self, resolution: int, channels: int = 3, num_classes: int = 0):
        p, n = self.p, layers(resolution)
        return StrideGenerator(p.nz, p.width, resolution, n, channels, p.dropout), StrideCritic(p.width, resolution, n, channels, p.critic_norm, p.minibatch_std)

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


VARIANT = WGANGP  # what ganlab.models.REGISTRY['wgan_gp'] is
