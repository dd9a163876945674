"""Network shapes at every resolution each variant supports and one real optimisation step per
variant, plus the checks that would catch each family's classic mistakes."""

import math

import pytest
import torch

from ganlab.models import REGISTRY

CLASSES = 4  # class count for conditional variants
CASES = [(name, r) for name, variant in sorted(REGISTRY.items()) for r in variant.resolutions]


def small(name, **overrides):
    """The variant's params at a test-sized width and latent."""
    return REGISTRY[name].Params(**{"width": 8, "nz": 16, **overrides})


def build(name, p, resolution):
    return REGISTRY[name].build(p, resolution, 3, CLASSES if REGISTRY[name].conditional else 0)


def labels_for(name, n):
    return torch.arange(n) % CLASSES if REGISTRY[name].conditional else None


def score(name, D, x, labels):
    return D(x, labels) if REGISTRY[name].conditional else D(x)


def test_every_variant_declares_its_resolutions():
    for name, variant in REGISTRY.items():
        assert variant.resolutions and all(r in (16, 32, 64, 128, 256) for r in variant.resolutions), name


@pytest.mark.parametrize("name, resolution", CASES)
def test_shapes(name, resolution):
    p = small(name)
    G, D = build(name, p, resolution)
    z, y = torch.randn(2, p.nz), labels_for(name, 2)
    with torch.no_grad():
        x = G(z, y)
        assert x.shape == (2, 3, resolution, resolution)
        assert x.min() >= -1 and x.max() <= 1  # tanh output
        assert score(name, D, x, y).shape == (2,)
        if REGISTRY[name].conditional:
            assert G(z).shape == x.shape  # labels=None: drawn uniformly, for unconditional callers


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_one_step_changes_both_networks(name):
    torch.manual_seed(0)
    variant = REGISTRY[name]
    p = small(name, batch_size=4)
    G, D = build(name, p, 32)
    opt_g, opt_d = variant.optimizers(p, G, D)
    g0 = [t.detach().clone() for t in G.parameters()]
    d0 = [t.detach().clone() for t in D.parameters()]
    n = variant.batch_size(p, 1)  # n_critic variants take one real batch per critic step
    real = torch.rand(n, 3, 32, 32) * 2 - 1
    losses = variant.train_step(p, G, D, opt_g, opt_d, real, lambda k: torch.randn(k, p.nz), labels_for(name, n), 1)
    assert {"loss_d", "loss_g"} <= set(losses)
    assert all(math.isfinite(v) for v in losses.values()), losses
    assert any(not torch.equal(a, b) for a, b in zip(g0, G.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(d0, D.parameters()))


def test_dcgan_discriminator_learns_to_separate():
    """With G nearly frozen, D must learn to separate: catches a loss with the wrong sign (seed 000)."""
    torch.manual_seed(0)
    variant = REGISTRY["dcgan"]
    p = variant.Params(width=8, nz=16, batch_size=8, lr_g=1e-6, lr_d=1e-3)
    G, D = variant.build(p, 16)
    opt_g, opt_d = variant.optimizers(p, G, D)
    real = (0.8 + 0.1 * torch.randn(8, 3, 16, 16)).clamp(-1, 1)  # varied: BN would flatten a constant batch
    first = variant.train_step(p, G, D, opt_g, opt_d, real, lambda n: torch.randn(n, p.nz))["loss_d"]
    for _ in range(30):
        last = variant.train_step(p, G, D, opt_g, opt_d, real, lambda n: torch.randn(n, p.nz))["loss_d"]
    assert last < first * 0.5


@pytest.mark.parametrize("name", ["wgan", "wgan_gp"])
def test_critic_scores_reals_above_fakes(name):
    """A few critic steps on separable data must rank reals above fakes: seed 000's sign error
    (critic loss mean(real) - mean(fake)) would rank them the other way."""
    torch.manual_seed(0)
    variant = REGISTRY[name]
    p = small(name, batch_size=8, n_critic=2, lr_g=1e-8, lr_d=1e-3)
    G, D = build(name, p, 32)
    opt_g, opt_d = variant.optimizers(p, G, D)
    noise = lambda n: torch.randn(n, p.nz)  # noqa: E731
    for _ in range(5):
        real = (0.8 + 0.1 * torch.randn(variant.batch_size(p, 1), 3, 32, 32)).clamp(-1, 1)
        variant.train_step(p, G, D, opt_g, opt_d, real, noise)
    with torch.no_grad():
        assert D(real[:8]).mean() > D(G(noise(8))).mean()


def test_wgan_clips_every_critic_weight():
    torch.manual_seed(0)
    variant = REGISTRY["wgan"]
    p = small("wgan", batch_size=4, n_critic=1, clip=0.01, lr_d=0.1)  # a large step that would overshoot the box
    G, D = build("wgan", p, 32)
    opt_g, opt_d = variant.optimizers(p, G, D)
    variant.train_step(p, G, D, opt_g, opt_d, torch.rand(4, 3, 32, 32) * 2 - 1, lambda n: torch.randn(n, p.nz))
    assert all(w.abs().max() <= p.clip for w in D.parameters())


def test_conditional_labels_change_the_image():
    torch.manual_seed(0)
    p = small("cdcgan")
    G, _ = build("cdcgan", p, 32)
    G.eval()
    z = torch.randn(1, p.nz).repeat(CLASSES, 1)
    with torch.no_grad():
        x = G(z, torch.arange(CLASSES))
    for i in range(1, CLASSES):
        assert not torch.allclose(x[0], x[i], atol=1e-4)
