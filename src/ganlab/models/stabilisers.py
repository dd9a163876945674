"""GAN stabilisers every family can switch on through its params (ModelParams): each lives here once.

- DiffAugment (Zhao et al. 2020, `augment`): differentiable colour, translation and cutout
  transforms applied to every image D sees, real and fake, in D's and G's steps; G learns
  through them, so the augmentations do not leak into its images.
- x-flips of the reals (`xflip`): the faces are left-right symmetric, so a mirrored face is
  another real one.
- spectral normalisation of D's layers (Miyato et al. 2018, `spectral_norm`), with D's batch
  norm taken out, as SNGAN's discriminator has none.
- minibatch standard deviation (Karras et al. 2017, `minibatch_std`): the layer, shared by
  every discriminator that has one.

The trainer (ganlab.train.gan_step) applies augmentation, flips and R1; the variant base builds
D with spectral norm. Every random draw takes the trainer's generator, so a resumed run draws
what the uninterrupted one would have.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ganlab.model_params import AUGMENT_POLICIES as POLICIES, ModelParams

TRANSLATION = 0.125  # largest shift, as a share of the side (DiffAugment's 1/8)
CUTOUT = 0.5  # side of the erased square, as a share of the image side (DiffAugment's 1/2)


def _uniform(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """(B, 1, 1, 1) uniform draws in [0, 1), one per image."""
    return torch.rand(x.shape[0], 1, 1, 1, generator=gen, device=x.device, dtype=x.dtype)


def _color(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random brightness (+-0.5), saturation (x0-2) and contrast (x0.5-1.5) per image."""
    x = x + (_uniform(x, gen) - 0.5)
    mean = x.mean(1, keepdim=True)
    x = (x - mean) * (_uniform(x, gen) * 2) + mean
    mean = x.mean((1, 2, 3), keepdim=True)
    return (x - mean) * (_uniform(x, gen) + 0.5) + mean


def _offsets(x: torch.Tensor, low: int, high: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image, an integer row and column offset in [low, high], each (B, 1, 1)."""
    draw = lambda: torch.randint(low, high + 1, (x.shape[0], 1, 1), generator=gen, device=x.device)  # noqa: E731
    return draw(), draw()


def _translation(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Shift each image by up to 1/8 of its side in each direction, filling with zeros."""
    b, _, h, w = x.shape
    dy, dx = _offsets(x, -int(h * TRANSLATION + 0.5), int(h * TRANSLATION + 0.5), gen)
    rows = (torch.arange(h, device=x.device)[None, :, None] + dy + 1).clamp(0, h + 1)  # (B, H, 1) in the padded image
    cols = (torch.arange(w, device=x.device)[None, None, :] + dx + 1).clamp(0, w + 1)  # (B, 1, W)
    padded = F.pad(x, [1, 1, 1, 1]).permute(0, 2, 3, 1)  # (B, H + 2, W + 2, C): out of range reads the zero border
    return padded[torch.arange(b, device=x.device)[:, None, None], rows, cols].permute(0, 3, 1, 2)  # (B, C, H, W)


def _cutout(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Erase one square of half the side per image, centred anywhere in it."""
    _, _, h, w = x.shape
    size = int(h * CUTOUT + 0.5)
    cy, cx = _offsets(x, 0, h - 1 + (1 - size % 2), gen)
    rows = torch.arange(h, device=x.device)[None, :, None]  # (1, H, 1)
    cols = torch.arange(w, device=x.device)[None, None, :]  # (1, 1, W)
    inside = (rows >= cy - size // 2) & (rows < cy - size // 2 + size) & (cols >= cx - size // 2) & (cols < cx - size // 2 + size)
    return x * (~inside).to(x.dtype)[:, None]  # (B, 1, H, W) mask over every channel


TRANSFORMS: dict[str, Callable[[torch.Tensor, torch.Generator], torch.Tensor]] = {"color": _color, "translation": _translation, "cutout": _cutout}


def diff_augment(x: torch.Tensor, policies: Sequence[str], gen: torch.Generator) -> torch.Tensor:
    """DiffAugment of images (B, C, H, W): `policies` (any of POLICIES) in POLICIES' order,
    drawn from `gen`; differentiable in x, so G's gradients pass through."""
    for name in POLICIES:
        if name in policies:
            x = TRANSFORMS[name](x, gen)
    return x


def xflip(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Mirror each image left-right with probability 1/2."""
    flip = torch.rand(x.shape[0], 1, 1, 1, generator=gen, device=x.device) < 0.5
    return torch.where(flip, x.flip(3), x)


class MinibatchStd(nn.Module):
    """Append the batch's mean feature standard deviation as one constant map (Karras et al. 3):
    lets D see a lack of variety across a batch, a symptom of mode collapse. (B, C, H, W) ->
    (B, C + 1, H, W)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        std = x.var(0, unbiased=False).add(1e-8).sqrt().mean()  # one scalar
        return torch.cat([x, std.expand(x.shape[0], 1, *x.shape[2:])], 1)


def spectral_normalise(D: nn.Module) -> nn.Module:
    """D with every Conv2d and Linear spectrally normalised and every BatchNorm2d removed (in
    place): SN bounds each layer's Lipschitz constant by itself, and batch norm, which rescales
    by batch statistics, would undo that bound (SNGAN's D has none)."""
    for name, child in list(D.named_children()):
        if isinstance(child, nn.BatchNorm2d):
            setattr(D, name, nn.Identity())
        elif isinstance(child, (nn.Conv2d, nn.Linear)):
            setattr(D, name, nn.utils.parametrizations.spectral_norm(child))
        else:
            spectral_normalise(child)
    return D


class Stabilisers:
    """What the trainer does to the images D sees, as params `p` ask, drawing from `gen` (the
    trainer's seeded stream): flips of the reals, DiffAugment of reals and fakes, and when R1 is due."""

    def __init__(self, p: ModelParams, gen: torch.Generator | None):
        self.p, self.gen = p, gen

    def reals(self, x: torch.Tensor) -> torch.Tensor:
        """A real batch as training reads it: mirrored at random when p.xflip."""
        return xflip(x, self.gen) if self.p.xflip else x

    def seen(self, x: torch.Tensor) -> torch.Tensor:
        """Images as D sees them, real or fake: augmented when p.augment lists policies."""
        return diff_augment(x, self.p.augment, self.gen) if self.p.augment else x

    def r1_weight(self, step: int) -> float:
        """R1's weight at 1-based generator `step`: gamma / 2 scaled by the lazy interval on every
        r1_every-th step, else 0 (no penalty computed)."""
        return self.p.r1 / 2 * self.p.r1_every if self.p.r1 and step % self.p.r1_every == 0 else 0.0
