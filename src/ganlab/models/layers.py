"""Networks more than one model builds: DCGAN's (dcgan, and cdcgan around them) and the
stride-2 stacks of Kaladjian's WGAN (wgan, and wgan_gp at another depth).

Shared, so a DVC dep of every model's stages (dvc.yaml): DVC's foreach can name only a
model's own package, ${item}, so what two models share reruns all of them when edited.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

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


class DCGANGenerator(nn.Module):
    """DCGAN's generator: latent (B, nz) -> transposed convolutions from 4x4 -> (B, C, R, R) in [-1, 1]."""

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


class DCGANDiscriminator(nn.Module):
    """DCGAN's discriminator: image -> stride-2 convolutions -> one logit per image.
    `minibatch_std`: a minibatch standard deviation map joins the last 4x4 features."""

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


def _side(resolution: int, layers: int) -> int:
    """Side of the smallest feature map after `layers` halvings of a `resolution` image."""
    side = resolution >> layers
    if side < 1 or resolution & (resolution - 1):
        raise ValueError(f"{layers} stride-2 layers need a power-of-two resolution >= {2**layers}, got {resolution}")
    return side


class StrideGenerator(nn.Module):
    """Latent vector -> linear -> `layers` stride-2 transposed convolutions -> tanh image.

    Batch norm and ReLU follow every layer but the last; `dropout` > 0 adds dropout after each of
    them (Łukaszyk and Wrona's second WGAN-GP used 0.2 against mode collapse).
    """

    def __init__(self, nz: int, width: int, resolution: int, layers: int, channels: int = 3, dropout: float = 0.0):
        super().__init__()
        side = _side(resolution, layers)
        ch = width * 2 ** (layers - 1)
        self.shape = (ch, side, side)
        self.fc = nn.Linear(nz, ch * side * side)  # (B, ch * s * s), reshaped to (B, ch, s, s)
        body: list[nn.Module] = [nn.BatchNorm2d(ch), nn.ReLU(True)] + ([nn.Dropout(dropout)] if dropout else [])
        for _ in range(layers - 1):  # each: (B, ch, s, s) -> (B, ch/2, 2s, 2s)
            body += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
            body += [nn.Dropout(dropout)] if dropout else []
            ch //= 2
        body += [nn.ConvTranspose2d(ch, channels, 4, 2, 1), nn.Tanh()]  # (B, C, R, R) in [-1, 1]
        self.body = nn.Sequential(*body)
        self.apply(init_weights)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.body(self.fc(z).view(z.shape[0], *self.shape))


class StrideCritic(nn.Module):
    """Image -> `layers` stride-2 convolutions with LeakyReLU(0.2) -> linear score (no sigmoid).

    `norm` follows the convolutions (not the first; batch norm not the last): "batch" (Kaladjian),
    "layer" (Gulrajani et al.: batch norm would make the gradient penalty's per-sample gradients
    depend on the batch) or "none" (Łukaszyk and Wrona). `minibatch_std`: a minibatch standard
    deviation map joins the last features before the score.
    """

    def __init__(self, width: int, resolution: int, layers: int, channels: int = 3, norm: Literal["batch", "layer", "none"] = "batch", minibatch_std: bool = False):
        super().__init__()
        side = _side(resolution, layers)
        body: list[nn.Module] = []
        cin, ch = channels, width
        for i in range(layers):  # each: (B, cin, s, s) -> (B, ch, s/2, s/2)
            # no normalisation on the input layer (Radford et al.), nor batch norm on the last: it
            # would set each channel's batch mean, which is all the score's batch mean can read
            normed = i > 0 and norm != "none" and not (norm == "batch" and i == layers - 1)
            body.append(nn.Conv2d(cin, ch, 4, 2, 1, bias=not normed))
            if normed:
                body.append(nn.BatchNorm2d(ch) if norm == "batch" else nn.GroupNorm(1, ch))  # GroupNorm(1): layer norm over (C, H, W)
            body.append(nn.LeakyReLU(0.2, True))
            cin, ch = ch, ch * 2
        if minibatch_std:
            body.append(MinibatchStd())  # (B, cin + 1, s, s)
        body += [nn.Flatten(), nn.Linear((cin + minibatch_std) * side * side, 1)]  # (B, 1): the score
        self.body = nn.Sequential(*body)
        self.apply(init_weights)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.body(x).view(-1)
