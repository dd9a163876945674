"""What every model variant shares: its params base class and the variant interface.

A variant is built with its params and owns its networks and its losses; the trainer
(ganlab.train) owns the loop, the critic steps, checkpoints, logging and sampling, and knows
nothing about any particular model. Every discriminator is called as D(x, labels=None); state
such as progressive growing's fade-in lives in the networks, set through `set_step`.
"""

from __future__ import annotations


import torch
from torch import nn

from ganlab.losses import d_loss_bce, g_loss_bce
from ganlab.model_params import ModelParams
from ganlab.models.stabilisers import spectral_normalise


Losses = dict[str, torch.Tensor]  # name -> a detached scalar tensor, read by the trainer at log steps


class Variant:
    """A GAN family built with its params: subclasses set Params and implement build and the losses.

    One step of the trainer is: `set_step`; then `n_critic` times, on a fresh real batch each,
    fakes drawn without gradient (or, when `reuse_fake`, with it, once), `critic_loss`, a D
    update and `after_critic_step`; then `generator_loss` on fakes (the same ones when
    `reuse_fake`, else fresh) and a G update.
    """

    Params: type[ModelParams] = ModelParams

    # Declared once, on the params class (see ModelParams), and copied here by __init_subclass__.
    conditional: bool = ModelParams.conditional  # True: G(z, labels) and D(x, labels) take integer class labels
    resolutions: tuple[int, ...] = ModelParams.resolutions  # image sides build() supports
    # True: G's step scores the fakes of the D step (DCGAN, pytorch/examples); False: fresh ones
    # (WGAN: the critic steps' fakes are drawn without gradient)
    reuse_fake: bool = False
    double_backward: bool = False  # True: the critic loss differentiates through D twice (a gradient penalty)

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        cls.conditional, cls.resolutions = cls.Params.conditional, cls.Params.resolutions

    def __init__(self, p: ModelParams):
        self.p = p

    @property
    def n_critic(self) -> int:
        """Critic updates per generator update, each on its own real batch."""
        return getattr(self.p, "n_critic", 1)

    def build(self, resolution: int, channels: int = 3, num_classes: int = 0) -> tuple[nn.Module, nn.Module]:
        """Return (generator, discriminator) for square images of `resolution` pixels.

        Every generator maps (B, nz) latent vectors (and labels, if conditional) to
        (B, channels, resolution, resolution) images in [-1, 1]; every discriminator maps such
        images (and labels) to (B,) scores.
        """
        raise NotImplementedError

    def networks(self, resolution: int, channels: int = 3, num_classes: int = 0) -> tuple[nn.Module, nn.Module]:
        """build()'s (G, D) as the trainer trains them: D spectrally normalised when p.spectral_norm,
        here once for every family."""
        G, D = self.build(resolution, channels, num_classes)
        return G, spectral_normalise(D) if self.p.spectral_norm else D

    def optimizers(self, G: nn.Module, D: nn.Module, fused: bool = False) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
        """One optimiser per network, of the kind p.optimizer names; `fused`: Adam's fused
        kernel (GPUs), the same update in fewer launches."""
        return _optimizer(self.p, G.parameters(), self.p.lr_g, fused), _optimizer(self.p, D.parameters(), self.p.lr_d, fused)

    def batch_size(self, step: int, resolution: int) -> int:
        """Real images per critic step at `step` (1-based) on data of `resolution` px;
        progressive growing shrinks it as its working resolution grows."""
        return self.p.batch_size

    def set_step(self, G: nn.Module, D: nn.Module, step: int, resolution: int) -> None:
        """Put the bare networks in the state of `step` (progressive growing: stage and fade-in)."""

    def complete(self, G: nn.Module) -> bool:
        """Whether G, as it stands, draws at the data's full resolution (false while a
        progressive generator is still growing): evaluate scores such snapshots but never picks them."""
        return True

    def critic_loss(self, D, real: torch.Tensor, fake: torch.Tensor, labels: torch.Tensor | None) -> tuple[torch.Tensor, Losses]:
        """D's loss on a real batch (B, C, R, R) in [-1, 1] and as many fakes (without gradient
        to G), and the numbers to record."""
        raise NotImplementedError

    def after_critic_step(self, D: nn.Module) -> None:
        """Anything done to D after each of its updates (WGAN: weight clipping)."""

    def generator_loss(self, D, fake: torch.Tensor, labels: torch.Tensor | None) -> tuple[torch.Tensor, Losses]:
        """G's loss on fakes drawn with gradient, and the numbers to record."""
        raise NotImplementedError


class BCEVariant(Variant):
    """Radford et al.'s non-saturating BCE losses, G's step scoring the D step's fakes (as
    pytorch/examples' dcgan does): dcgan's and cdcgan's."""

    reuse_fake = True

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


def optimize(opt: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    """One gradient step of `opt` on `loss`."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def _optimizer(p: ModelParams, params, lr: float, fused: bool = False) -> torch.optim.Optimizer:
    if p.optimizer == "adamax":
        return torch.optim.Adamax(params, lr=lr, betas=(p.beta1, p.beta2))
    if p.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    return torch.optim.Adam(params, lr=lr, betas=(p.beta1, p.beta2), fused=fused or None)
