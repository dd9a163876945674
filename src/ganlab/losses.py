"""GAN losses. Each takes discriminator logits, so every variant shares one definition."""

import torch
import torch.nn.functional as F


def d_loss_bce(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Standard GAN discriminator loss: real -> 1, fake -> 0."""
    real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real + fake


def g_loss_bce(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss: fake labels are real for generator cost (Goodfellow 2014)."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def d_loss_wasserstein(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Critic loss of a WGAN: mean(fake) - mean(real), minimised.

    The critic maximises mean(real) - mean(fake), its estimate of the Wasserstein distance;
    Kaladjian first had this difference the wrong way round and got very poor results.
    """
    return fake_scores.mean() - real_scores.mean()


def g_loss_wasserstein(fake_scores: torch.Tensor) -> torch.Tensor:
    """Generator loss of a WGAN: raise the critic's score of fakes."""
    return -fake_scores.mean()


def gradient_penalty(critic, real: torch.Tensor, fake: torch.Tensor, weight: float = 10.0, eps: torch.Tensor | None = None) -> torch.Tensor:
    """WGAN-GP penalty (Gulrajani et al. 2017): weight * E[(||grad critic(x_hat)||_2 - 1)^2].

    x_hat = eps * real + (1 - eps) * fake with eps ~ U(0, 1) per sample (or the given (B, 1, 1, 1)
    `eps`). `critic` is any callable from images to one score per image; wrap a critic that
    needs more arguments (labels, fade-in alpha) in a lambda. The graph is kept so the penalty
    trains the critic.
    """
    if eps is None:
        eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    norm = grad.flatten(1).norm(2, dim=1)  # (B,)
    return weight * ((norm - 1) ** 2).mean()


def r1_penalty(critic, real: torch.Tensor, weight: float) -> torch.Tensor:
    """R1 (Mescheder et al. 2018): weight * E[||grad critic(real)||_2^2], at the reals only.

    Pass weight gamma / 2 (times the lazy interval when applied every few steps, as StyleGAN2
    does). `critic` is any callable from images to one score per image; the graph is kept so
    the penalty trains the critic.
    """
    x = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    return weight * grad.flatten(1).pow(2).sum(1).mean()


def drift_penalty(real_scores: torch.Tensor, weight: float = 0.001) -> torch.Tensor:
    """Karras et al. 2017's drift term eps_drift * E[D(x)^2]: keeps critic scores near zero."""
    return weight * (real_scores**2).mean()
