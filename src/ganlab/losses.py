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
