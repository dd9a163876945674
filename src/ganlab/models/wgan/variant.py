"""WGAN with weight clipping (Arjovsky et al. 2017), with Kaladjian's networks.

Kaladjian's critic is five stride-2 convolutions (batch norm, LeakyReLU) and a linear score; its
generator a linear layer and five stride-2 transposed convolutions (batch norm, ReLU, tanh).
Five halvings fix the smallest feature map at R/32: 1x1 at 32 px, 2x2 at 64 (Kaladjian's first
size), 4x4 at 128 (the size it kept), 8x8 at 256, where Kaladjian saw several faces per image:
each of the 8x8 critic features sees only a 94 px window and only the linear score relates them.
Below 32 px five halvings do not fit, so 16 px is not offered. The two networks live in
models/layers.py: wgan_gp builds them at another depth.
"""

from __future__ import annotations

import torch

from ganlab.losses import d_loss_wasserstein, g_loss_wasserstein
from ganlab.models.base import Variant
from ganlab.models.layers import StrideCritic, StrideGenerator
from ganlab.models.wgan.params import WGANParams

LAYERS = 5  # Kaladjian: five (transposed) convolutions in each network

class WGAN(Variant):
    """Weight-clipped WGAN: the trainer runs n_critic critic steps, each on a fresh real batch
    (as Arjovsky et al. draw one per critic step) and each followed by clipping, then one G step."""

    Params = WGANParams

    def build(self, resolution: int, channels: int = 3, num_classes: int = 0):
        p = self.p
        return StrideGenerator(p.nz, p.width, resolution, LAYERS, channels), StrideCritic(p.width, resolution, LAYERS, channels, "batch", p.minibatch_std)

    def critic_loss(self, D, real, fake, labels=None):
        real_scores, fake_scores = D(real), D(fake)
        loss = d_loss_wasserstein(real_scores, fake_scores)
        return loss, {
            "loss_d": loss.detach(),
            "wasserstein": -loss.detach(),  # mean(real) - mean(fake): the critic's distance estimate
            "d_real": real_scores.detach().mean(),  # mean critic score of reals
            "d_fake": fake_scores.detach().mean(),  # mean critic score of fakes before the G update
        }

    @torch.no_grad()
    def after_critic_step(self, D):
        for w in D.parameters():  # the Lipschitz constraint of the original WGAN
            w.clamp_(-self.p.clip, self.p.clip)

    def generator_loss(self, D, fake, labels=None):
        loss = g_loss_wasserstein(D(fake))
        return loss, {"loss_g": loss.detach()}


VARIANT = WGAN  # what ganlab.models.REGISTRY['wgan'] is
