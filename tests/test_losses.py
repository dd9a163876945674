"""The shared losses against hand computations."""

import pytest
import torch

from ganlab.losses import d_loss_wasserstein, drift_penalty, g_loss_wasserstein, gradient_penalty


def test_wasserstein_losses_have_the_corrected_sign():
    real, fake = torch.tensor([2.0, 4.0]), torch.tensor([-1.0, 1.0])
    assert d_loss_wasserstein(real, fake).item() == -3.0  # mean(fake) - mean(real): low when the critic separates
    assert g_loss_wasserstein(fake).item() == 0.0
    assert g_loss_wasserstein(torch.tensor([3.0])).item() == -3.0


@pytest.mark.parametrize("norm", [0.5, 1.0, 3.0])
def test_gradient_penalty_of_a_linear_critic(norm):
    """f(x) = w.x has gradient w everywhere, so GP = weight * (||w|| - 1)^2 exactly."""
    torch.manual_seed(0)
    w = torch.randn(3, 4, 4)
    w = w / w.norm() * norm
    real, fake = torch.randn(5, 3, 4, 4), torch.randn(5, 3, 4, 4)
    gp = gradient_penalty(lambda x: (x * w).flatten(1).sum(1), real, fake, weight=10.0)
    assert gp.item() == pytest.approx(10.0 * (norm - 1) ** 2, abs=1e-5)


def test_gradient_penalty_of_a_nonlinear_critic_matches_autograd():
    torch.manual_seed(0)
    critic = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    real, fake = torch.randn(4, 3, 2, 2), torch.randn(4, 3, 2, 2)
    eps = torch.tensor([0.0, 0.25, 0.5, 1.0]).view(4, 1, 1, 1)
    gp = gradient_penalty(lambda x: critic(x).view(-1), real, fake, weight=2.0, eps=eps)

    expected = 0.0
    for i in range(4):  # one interpolate at a time: its gradient cannot leak between samples
        x = (eps[i] * real[i] + (1 - eps[i]) * fake[i]).unsqueeze(0).requires_grad_(True)
        (g,) = torch.autograd.grad(critic(x).sum(), x)
        expected += 2.0 * (g.norm() - 1) ** 2 / 4
    assert gp.item() == pytest.approx(expected.item(), rel=1e-5)


def test_gradient_penalty_trains_the_critic():
    """The penalty must be differentiable in the critic's weights (create_graph), not a constant."""
    critic = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    gp = gradient_penalty(lambda x: critic(x).view(-1), torch.randn(4, 3, 2, 2), torch.randn(4, 3, 2, 2))
    gp.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in critic.parameters() if p.dim() == 2)


def test_drift_penalty():
    assert drift_penalty(torch.tensor([1.0, -3.0]), weight=0.001).item() == pytest.approx(0.005)
