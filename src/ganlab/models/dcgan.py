"""DCGAN (Radford et al. 2015): the classic 64x64 architecture, any power-of-two size, width `ngf`."""

from __future__ import annotations

import math

import torch
from torch import nn

from ganlab.losses import d_loss_bce, g_loss_bce
from ganlab.model_params import DCGANParams
from ganlab.models.base import Variant
from ganlab.models.stabilisers import MinibatchStd


def _levels(resolution: int) -> int:
    """Number of 2x up-samplings from 4x4 to `resolution`."""
    n = math.log2(resolution) - 2
    if n < 1 or n != int(n):
        raise ValueError(f"DCGAN needs a power-of-two resolution >= 8, got {resolution}")
    return int(n)


def init_weights(m: nn.Module) -> None:
    """N(0, 0.02) for convolutions and N(1, 0.02) for batch-norm scales, as in the paper."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


class Generator(nn.Module):
    def __init__(self, nz: int, width: int, resolution: int, channels: int = 3):
        super().__init__()
        n = _levels(resolution)
        ch = width * 2 ** (n - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(nz, ch, 4, 1, 0, bias=False),  # (B, ch, 4, 4)
            nn.BatchNorm2d(ch),
            nn.ReLU(True),
        ]
        for _ in range(n - 1):  # each: (B, ch, s, s) -> (B, ch/2, 2s, 2s)
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1, bias=False), nn.Tanh()]  # (B, 3, R, R) in [-1, 1]
        self.net = nn.Sequential(*layers)
        self.nz = nz
        self.apply(init_weights)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(z.view(z.shape[0], self.nz, 1, 1))


class Discriminator(nn.Module):
    """`minibatch_std`: a minibatch standard deviation map joins the last 4x4 features."""

    def __init__(self, width: int, resolution: int, channels: int = 3, minibatch_std: bool = False):
        super().__init__()
        n = _levels(resolution)
        ch = width
        # no batch norm on the input layer (Radford et al.)
        layers: list[nn.Module] = [nn.Conv2d(channels, ch, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]  # (B, w, R/2, R/2)
        for _ in range(n - 1):  # each: (B, ch, s, s) -> (B, 2ch, s/2, s/2)
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch * 2), nn.LeakyReLU(0.2, True)]
            ch *= 2
        if minibatch_std:
            layers += [MinibatchStd()]  # (B, ch + 1, 4, 4)
        layers += [nn.Conv2d(ch + minibatch_std, 1, 4, 1, 0, bias=False)]  # (B, 1, 1, 1): a logit
        self.net = nn.Sequential(*layers)
        self.apply(init_weights)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(x).view(-1)


class DCGAN(Variant):
    """Radford et al.'s DCGAN with the non-saturating BCE loss; G's step scores the D step's
    fakes, as pytorch/examples' dcgan does."""

    Params = DCGANParams
    reuse_fake = True

    def build(self, resolution: int, channels: int = 3, num_classes: int = 0):
        return Generator(self.p.nz, self.p.width, resolution, channels), Discriminator(self.p.width, resolution, channels, self.p.minibatch_std)

    def critic_loss(self, D, real, fake, labels=None):
        real_logits, fake_logits = D(real, labels), D(fake, labels)
        loss = d_loss_bce(real_logits, fake_logits)
        return loss, {
            "loss_d": loss.detach(),
            "d_real": torch.sigmoid(real_logits.detach()).mean(),  # D(x): near 1 early, ~0.5 at balance
            "d_fake": torch.sigmoid(fake_logits.detach()).mean(),  # D(G(z)) before the G update
        }

    def generator_loss(self, D, fake, labels=None):
        loss = g_loss_bce(D(fake, labels))  # fake labels are real for generator cost
        return loss, {"loss_g": loss.detach()}
