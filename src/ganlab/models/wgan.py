"""WGAN with weight clipping (Arjovsky et al. 2017), with Kaladjian's networks.

Kaladjian's critic is five stride-2 convolutions (batch norm, LeakyReLU) and a linear score; its
generator a linear layer and five stride-2 transposed convolutions (batch norm, ReLU, tanh).
Five halvings fix the smallest feature map at R/32: 1x1 at 32 px, 2x2 at 64 (Kaladjian's first
size), 4x4 at 128 (the size it kept), 8x8 at 256, where Kaladjian saw several faces per image:
each of the 8x8 critic features sees only a 94 px window and only the linear score relates them.
Below 32 px five halvings do not fit, so 16 px is not offered. The same two modules, with a
depth argument, serve wgan_gp.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from ganlab.losses import d_loss_wasserstein, g_loss_wasserstein
from ganlab.model_params import WGANParams
from ganlab.models.base import Variant
from ganlab.models.dcgan import init_weights
from ganlab.models.stabilisers import MinibatchStd

LAYERS = 5  # Kaladjian: five (transposed) convolutions in each network


def _side(resolution: int, layers: int) -> int:
    """Side of the smallest feature map after `layers` halvings of a `resolution` image."""
    side = resolution >> layers
    if side < 1 or resolution & (resolution - 1):
        raise ValueError(f"{layers} stride-2 layers need a power-of-two resolution >= {2**layers}, got {resolution}")
    return side


class Generator(nn.Module):
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


class Critic(nn.Module):
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


class WGAN(Variant):
    """Weight-clipped WGAN: the trainer runs n_critic critic steps, each on a fresh real batch
    (as Arjovsky et al. draw one per critic step) and each followed by clipping, then one G step."""

    Params = WGANParams

    def build(self, resolution: int, channels: int = 3, num_classes: int = 0):
        p = self.p
        return Generator(p.nz, p.width, resolution, LAYERS, channels), Critic(p.width, resolution, LAYERS, channels, "batch", p.minibatch_std)

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
