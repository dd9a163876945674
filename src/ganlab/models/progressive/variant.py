"""Progressive growing of GANs (Karras et al. 2017) as Penne et al. used it: from 16 px upward.

Both networks exist at full size from the start; the schedule decides which part is in use.
Training stabilises at `start_resolution`, then for every doubling fades the new layers in
(alpha 0 -> 1 over one phase) and stabilises them (alpha 1 for one phase), each phase at a
resolution showing that resolution's `phase_images` real images, until it reaches the data
set's resolution and stays there. The
stage is a pure function of the step (`schedule`), so a resumed run continues exactly; the
generator keeps it in buffers so its state_dict alone reproduces its images, and it always
returns the full resolution (the current output upsampled, nearest). The discriminator works at
the current resolution and reads it from its input's size; its fade-in weight is set with
set_stage like G's, as a plain attribute: the trainer sets it before every step, and a float32
buffer would round it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganlab.losses import d_loss_bce, d_loss_wasserstein, drift_penalty, g_loss_bce, g_loss_wasserstein, gradient_penalty
from ganlab.models.base import Variant
from ganlab.models.progressive.params import SIDES, ProgressiveParams
from ganlab.models.stabilisers import MinibatchStd



@dataclass(frozen=True)
class Stage:
    """Where the schedule is at one step: the working resolution, fade-in alpha and minibatch."""

    resolution: int
    alpha: float  # weight of the newest layers; 1 outside fade-in phases
    batch: int


def schedule(p: ProgressiveParams, step: int, target: int = SIDES[-1]) -> Stage:
    """The stage at 1-based generator `step` of a run growing from p.start_resolution to `target`.

    Phases: stabilise at the start resolution, then per doubling a fade-in and a stabilisation,
    each of ceil(phase_images / batch) steps at its resolution; the last stabilisation at `target` never ends.
    """
    phases = [(p.start_resolution, False)]
    r = p.start_resolution
    while r < target:
        r *= 2
        phases += [(r, True), (r, False)]
    t = step - 1
    for resolution, fading in phases:
        batch = min(p.batch_size, p.batch_sizes[SIDES.index(resolution)])
        n = math.ceil(p.phase_images[SIDES.index(resolution)] / batch)
        if t < n or (resolution == target and not fading):
            return Stage(resolution, t / n if fading else 1.0, batch)
        t -= n
    raise AssertionError("unreachable: the last phase is open-ended")


def channels_at(width: int, resolution: int, max_width: int = 0) -> int:
    """Feature maps at `resolution`: `width` at 32 px, halved per doubling above and doubled per
    halving below, capped at `max_width` (0: `width`, Karras's profile: flat up to 32 px)."""
    return max(1, min(max_width or width, width * 32 // resolution))


class EqConv2d(nn.Module):
    """Convolution with equalized learning rate: N(0, 1) weights scaled by He's constant at run time.

    Adam normalises updates per weight, so a weight's effective rate depends on its scale; keeping
    all weights at unit scale makes every layer learn at the same speed (Karras et al. 4.1).
    """

    def __init__(self, cin: int, cout: int, kernel: int, gain: float = math.sqrt(2)):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(cout))
        self.scale = gain / math.sqrt(cin * kernel * kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.weight.shape[-1] // 2)


class EqLinear(nn.Module):
    """Linear layer with equalized learning rate (see EqConv2d)."""

    def __init__(self, cin: int, cout: int, gain: float = math.sqrt(2)):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin))
        self.bias = nn.Parameter(torch.zeros(cout))
        self.scale = gain / math.sqrt(cin)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias)


class PixelNorm(nn.Module):
    """Each pixel's feature vector scaled to unit mean square (Karras et al. 4.2): stops G's
    and D's competition from escalating activation magnitudes."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(1, keepdim=True) + 1e-8)


def _conv(cin: int, cout: int, norm: bool) -> list[nn.Module]:
    return [EqConv2d(cin, cout, 3), nn.LeakyReLU(0.2)] + ([PixelNorm()] if norm else [])


def _lerp(low: torch.Tensor, high: torch.Tensor, alpha: float) -> torch.Tensor:
    return high if alpha >= 1 else low + (high - low) * alpha


def downsample(x: torch.Tensor, resolution: int) -> torch.Tensor:
    """Average-pool square images down to `resolution` (the identity at that size)."""
    return F.avg_pool2d(x, x.shape[-1] // resolution) if x.shape[-1] > resolution else x


class Generator(nn.Module):
    """Latent -> 4x4 -> one block per doubling -> tanh image, always at `resolution` pixels.

    Buffers `stage_resolution` and `alpha` select the blocks in use; set them with set_stage.
    """

    def __init__(self, nz: int, width: int, start: int, resolution: int, channels: int = 3, max_width: int = 0):
        super().__init__()
        ch = lambda r: channels_at(width, r, max_width)  # noqa: E731
        c4 = ch(4)
        self.nz, self.resolution, self.c4 = nz, resolution, c4
        # the dense layer's gain sqrt(2)/4 follows Karras's code: 4x4 outputs per input
        self.dense = nn.Sequential(PixelNorm(), EqLinear(nz, c4 * 16, gain=math.sqrt(2) / 4))  # (B, c4 * 16)
        self.init = nn.Sequential(nn.LeakyReLU(0.2), PixelNorm(), *_conv(c4, c4, True))  # (B, c4, 4, 4)
        self.blocks = nn.ModuleDict()  # "r": (B, c_{r/2}, r/2, r/2) -> (B, c_r, r, r)
        r = 8
        while r <= resolution:
            self.blocks[str(r)] = nn.Sequential(
                nn.Upsample(scale_factor=2, mode="nearest"), *_conv(ch(r // 2), ch(r), True), *_conv(ch(r), ch(r), True)
            )
            r *= 2
        # toRGB only where an output can be taken: the start resolution and above
        self.to_rgb = nn.ModuleDict({str(r): EqConv2d(ch(r), channels, 1, gain=1) for r in SIDES if start <= r <= resolution})
        self.register_buffer("stage_resolution", torch.tensor(start))
        self.register_buffer("alpha", torch.tensor(1.0))

    def set_stage(self, resolution: int, alpha: float) -> None:
        """Work at `resolution`, fading its layers in with weight `alpha` (1: fully in)."""
        self.stage_resolution.fill_(resolution)
        self.alpha.fill_(alpha)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        r, alpha = int(self.stage_resolution), float(self.alpha)
        h = self.init(self.dense(z).view(-1, self.c4, 4, 4))  # (B, c4, 4, 4)
        prev = h
        for side in range(3, int(math.log2(r)) + 1):
            prev, h = h, self.blocks[str(2**side)](h)  # (B, c_r, r, r) at the end
        out = self.to_rgb[str(r)](h)  # (B, C, r, r)
        if alpha < 1:  # fade in: blend with the previous resolution's output, upsampled
            out = _lerp(F.interpolate(self.to_rgb[str(r // 2)](prev), scale_factor=2, mode="nearest"), out, alpha)
        out = torch.tanh(out)  # Penne et al.'s output activation; keeps images in [-1, 1]
        return F.interpolate(out, scale_factor=self.resolution // r, mode="nearest") if r < self.resolution else out  # (B, C, R, R)


class Discriminator(nn.Module):
    """Image at the current resolution -> fromRGB -> one block per halving -> minibatch std (when
    `minibatch_std`, as in Karras et al.) -> score."""

    def __init__(self, width: int, start: int, resolution: int, channels: int = 3, max_width: int = 0, minibatch_std: bool = True):
        super().__init__()
        ch = lambda r: channels_at(width, r, max_width)  # noqa: E731
        self.alpha = 1.0  # weight of the newest layers while they fade in
        self.from_rgb = nn.ModuleDict({str(r): nn.Sequential(EqConv2d(channels, ch(r), 1), nn.LeakyReLU(0.2)) for r in SIDES if start <= r <= resolution})
        self.blocks = nn.ModuleDict()  # "r": (B, c_r, r, r) -> (B, c_{r/2}, r/2, r/2)
        r = 8
        while r <= resolution:
            self.blocks[str(r)] = nn.Sequential(*_conv(ch(r), ch(r), False), *_conv(ch(r), ch(r // 2), False), nn.AvgPool2d(2))
            r *= 2
        c4 = ch(4)
        self.minibatch_std = MinibatchStd() if minibatch_std else nn.Identity()  # (B, c4 + 1, 4, 4) or as it was
        self.final = nn.Sequential(
            *_conv(c4 + minibatch_std, c4, False),  # (B, c4, 4, 4)
            nn.Flatten(),
            EqLinear(c4 * 16, c4),
            nn.LeakyReLU(0.2),
            EqLinear(c4, 1, gain=1),  # (B, 1): the score
        )

    def set_stage(self, alpha: float) -> None:
        """Fade the newest layers in with weight `alpha` (1: fully in); the resolution is the input's."""
        self.alpha = alpha

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        r, alpha = x.shape[-1], self.alpha
        h = self.from_rgb[str(r)](x)  # (B, c_r, r, r)
        if r > 4:
            h = self.blocks[str(r)](h)  # (B, c_{r/2}, r/2, r/2)
            if alpha < 1:  # fade in: blend with the previous resolution's input path
                h = _lerp(self.from_rgb[str(r // 2)](F.avg_pool2d(x, 2)), h, alpha)
            for side in range(int(math.log2(r)) - 1, 2, -1):
                h = self.blocks[str(2**side)](h)  # down to (B, c4, 4, 4)
        return self.final(self.minibatch_std(h)).view(-1)


class Progressive(Variant):
    """Progressive growing with the paper's loss: WGAN-GP plus the drift term, one critic step."""

    Params = ProgressiveParams
    double_backward = True  # the gradient penalty

    def build(self, resolution: int, channels: int = 3, num_classes: int = 0):
        p = self.p
        if p.start_resolution > resolution:
            raise ValueError(f"progressive: start_resolution {p.start_resolution} is above the data's {resolution} px")
        G = Generator(p.nz, p.width, p.start_resolution, resolution, channels, p.max_width)
        D = Discriminator(p.width, p.start_resolution, resolution, channels, p.max_width, p.minibatch_std)
        self.set_step(G, D, 1, resolution)
        return G, D

    def batch_size(self, step, resolution):
        """The minibatch at `step` of the schedule growing towards the data's resolution."""
        return schedule(self.p, step, resolution).batch

    def set_step(self, G, D, step, resolution):
        self.stage = schedule(self.p, step, resolution)
        G.set_stage(self.stage.resolution, self.stage.alpha)
        D.set_stage(self.stage.alpha)

    def complete(self, G):
        return int(G.stage_resolution) == G.resolution and float(G.alpha) >= 1

    def critic_loss(self, D, real, fake, labels=None):
        r, alpha = self.stage.resolution, self.stage.alpha
        real = downsample(real, r)  # (B, C, r, r)
        if alpha < 1:  # reals fade like fakes: the previous resolution's image, upsampled (Karras)
            real = _lerp(F.interpolate(F.avg_pool2d(real, 2), scale_factor=2, mode="nearest"), real, alpha)
        fake = downsample(fake, r)  # exactly the r-pixel output: pooling undoes nearest upsampling
        real_scores, fake_scores = D(real), D(fake)
        wasserstein = d_loss_wasserstein(real_scores, fake_scores)
        gp = gradient_penalty(D, real, fake, self.p.gp_weight)
        if self.p.loss == "bce":
            loss = d_loss_bce(real_scores, fake_scores) + gp
        else:
            loss = wasserstein + gp + drift_penalty(real_scores, self.p.drift)
        return loss, {
            "loss_d": loss.detach(),
            "wasserstein": -wasserstein.detach(),  # mean(real) - mean(fake): the critic's margin under either loss
            "gp": gp.detach(),  # the weighted gradient penalty
            "d_real": real_scores.detach().mean(),  # mean critic score of reals
            "d_fake": fake_scores.detach().mean(),  # mean critic score of fakes before the G update
            "resolution": float(r),  # the working resolution of this step
            "alpha": alpha,  # fade-in weight of the newest layers
        }

    def generator_loss(self, D, fake, labels=None):
        scores = D(downsample(fake, self.stage.resolution))
        loss = g_loss_bce(scores) if self.p.loss == "bce" else g_loss_wasserstein(scores)
        return loss, {"loss_g": loss.detach()}


VARIANT = Progressive  # what ganlab.models.REGISTRY['progressive'] is
