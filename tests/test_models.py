"""Network shapes at every resolution each variant supports and one real optimisation step per
variant, plus the checks that would catch each family's classic mistakes."""

import math

import pytest
import torch
import torch.nn.functional as F

from ganlab.models import REGISTRY
from ganlab.models.progressive.variant import channels_at, schedule
from ganlab.train import as_floats, gan_step

CLASSES = 4  # class count for conditional variants
CASES = [(name, r) for name, variant in sorted(REGISTRY.items()) for r in variant.resolutions]


def small(name, **overrides):
    """The variant's params at a test-sized width and latent."""
    return REGISTRY[name].Params(**{"width": 8, "nz": 16, **overrides})


def build(name, p, resolution):
    return REGISTRY[name](p).build(resolution, 3, CLASSES if REGISTRY[name].conditional else 0)


def labels_for(name, n):
    return torch.arange(n) % CLASSES if REGISTRY[name].conditional else None


def train_step(variant, G, D, opt_g, opt_d, real, noise, labels=None, step=1):
    """One trainer step (the stage of `step`, the critic steps, the G step), losses as floats."""
    variant.set_step(G, D, step, real.shape[-1])
    return as_floats(gan_step(variant, G, D, opt_g, opt_d, real, noise, labels))


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
        assert D(x, y).shape == (2,)
        if REGISTRY[name].conditional:
            assert G(z).shape == x.shape  # labels=None: drawn uniformly, for unconditional callers


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_discriminator_is_called_alike(name):
    """D(x, labels=None) for every variant: the trainer passes labels by one name to all of them,
    and any extra state (progressive's fade-in) is the network's own."""
    p = small(name)
    G, D = build(name, p, 32)
    y = labels_for(name, 2)
    with torch.no_grad():
        x = G(torch.randn(2, p.nz), y)
        assert D(x, labels=y).shape == (2,)
        if not REGISTRY[name].conditional:
            assert torch.equal(D(x, labels=None), D(x))


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_one_step_changes_both_networks(name):
    torch.manual_seed(0)
    p = small(name, batch_size=4)
    variant = REGISTRY[name](p)
    G, D = build(name, p, 32)
    opt_g, opt_d = variant.optimizers(G, D)
    g0 = [t.detach().clone() for t in G.parameters()]
    d0 = [t.detach().clone() for t in D.parameters()]
    n = variant.batch_size(1, 32) * variant.n_critic  # one real batch per critic step
    real = torch.rand(n, 3, 32, 32) * 2 - 1
    losses = train_step(variant, G, D, opt_g, opt_d, real, lambda k: torch.randn(k, p.nz), labels_for(name, n), 1)
    assert {"loss_d", "loss_g"} <= set(losses)
    assert all(math.isfinite(v) for v in losses.values()), losses
    assert any(not torch.equal(a, b) for a, b in zip(g0, G.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(d0, D.parameters()))


def test_dcgan_discriminator_learns_to_separate():
    """With G nearly frozen, D must learn to separate: catches a loss with the wrong sign (Kaladjian)."""
    torch.manual_seed(0)
    p = REGISTRY["dcgan"].Params(width=8, nz=16, batch_size=8, lr_g=1e-6, lr_d=1e-3)
    variant = REGISTRY["dcgan"](p)
    G, D = variant.build(16)
    opt_g, opt_d = variant.optimizers(G, D)
    real = (0.8 + 0.1 * torch.randn(8, 3, 16, 16)).clamp(-1, 1)  # varied: BN would flatten a constant batch
    first = train_step(variant, G, D, opt_g, opt_d, real, lambda n: torch.randn(n, p.nz))["loss_d"]
    for _ in range(30):
        last = train_step(variant, G, D, opt_g, opt_d, real, lambda n: torch.randn(n, p.nz))["loss_d"]
    assert last < first * 0.5


@pytest.mark.parametrize("name", ["wgan", "wgan_gp"])
def test_critic_scores_reals_above_fakes(name):
    """A few critic steps on separable data must rank reals above fakes: Kaladjian's sign error
    (critic loss mean(real) - mean(fake)) would rank them the other way."""
    torch.manual_seed(0)
    p = small(name, batch_size=8, n_critic=2, lr_g=1e-8, lr_d=1e-3)
    variant = REGISTRY[name](p)
    G, D = build(name, p, 32)
    opt_g, opt_d = variant.optimizers(G, D)
    noise = lambda n: torch.randn(n, p.nz)  # noqa: E731
    for _ in range(5):
        real = (0.8 + 0.1 * torch.randn(variant.batch_size(1, 32) * variant.n_critic, 3, 32, 32)).clamp(-1, 1)
        train_step(variant, G, D, opt_g, opt_d, real, noise)
    with torch.no_grad():
        assert D(real[:8]).mean() > D(G(noise(8))).mean()


def test_wgan_clips_every_critic_weight():
    torch.manual_seed(0)
    p = small("wgan", batch_size=4, n_critic=1, clip=0.01, lr_d=0.1)  # a large step that would overshoot the box
    variant = REGISTRY["wgan"](p)
    G, D = build("wgan", p, 32)
    opt_g, opt_d = variant.optimizers(G, D)
    train_step(variant, G, D, opt_g, opt_d, torch.rand(4, 3, 32, 32) * 2 - 1, lambda n: torch.randn(n, p.nz))
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


def test_progressive_schedule():
    """Stabilise at the start, then per doubling alpha rises 0 -> 1 over a fade-in phase and stays
    1 over a stabilisation phase; the run ends, and stays, at the target resolution."""
    p = small("progressive", start_resolution=8, phase_images=[40] * 7, batch_size=8, batch_sizes=[8, 8, 8, 4, 4, 4, 4])
    stages = [schedule(p, step, 32) for step in range(1, 50)]
    resolutions = [s.resolution for s in stages]
    assert resolutions == sorted(resolutions) and resolutions[0] == 8 and resolutions[-1] == 32
    assert stages[:5] == [stages[0]] * 5 and stages[0].alpha == 1  # 40 images / 8 per step
    fade = [s.alpha for s in stages[5:10]]  # 16 px fade-in
    assert fade[0] == 0 and fade == sorted(fade) and fade[-1] < 1
    assert {s.alpha for s in stages[10:15]} == {1.0} and {s.resolution for s in stages[10:15]} == {16}
    assert stages[15].resolution == 32 and stages[15].alpha == 0 and stages[15].batch == 4
    assert {s.alpha for s in stages[15:25]} != {1.0} and {s.alpha for s in stages[25:]} == {1.0}  # 40 / 4 = 10 fade steps
    assert all(REGISTRY["progressive"](p).batch_size(step, 32) == s.batch for step, s in enumerate(stages, 1))


def test_progressive_images_per_resolution():
    """phase_images is per resolution: 16 images at 8 px (2 steps of 8), 80 at 16 px (10 steps of 8)."""
    p = small("progressive", start_resolution=8, phase_images=[1, 16, 80, 1, 1, 1, 1], batch_size=8)
    resolutions = [schedule(p, step, 16).resolution for step in range(1, 25)]
    assert resolutions == [8] * 2 + [16] * 22
    assert [schedule(p, step, 16).alpha for step in (3, 12, 13, 22, 23)] == [0.0, 0.9, 1.0, 1.0, 1.0]


def test_progressive_fade_in_starts_from_the_lower_resolution():
    """At a phase boundary the new layers enter with alpha 0: the full-size output must equal
    the previous stage's, i.e. the lower-resolution image upsampled (nearest)."""
    torch.manual_seed(0)
    p = small("progressive", start_resolution=8, phase_images=[16] * 7, batch_size=8)
    G, _ = build("progressive", p, 32)
    G.eval()
    z = torch.randn(3, p.nz)
    step = next(s for s in range(1, 100) if schedule(p, s, 32).resolution == 16)  # first step at 16 px
    before, after = schedule(p, step - 1, 32), schedule(p, step, 32)
    assert (before.resolution, before.alpha, after.alpha) == (8, 1.0, 0.0)
    with torch.no_grad():
        G.set_stage(before.resolution, before.alpha)
        low = G(z)
        G.set_stage(after.resolution, after.alpha)
        faded_in = G(z)
        G.set_stage(after.resolution, 0.5)
        halfway = G(z)
    assert torch.allclose(low, faded_in, atol=1e-6)
    blocky = F.interpolate(F.avg_pool2d(low, 4), scale_factor=4, mode="nearest")  # 8 px upsampled to 32
    assert torch.allclose(low, blocky, atol=1e-6)
    assert not torch.allclose(halfway, faded_in, atol=1e-4)


def test_progressive_stage_lives_in_the_state_dict():
    """The trainer saves only G.state_dict(): a rebuilt generator must resume the same stage."""
    torch.manual_seed(0)
    p = small("progressive", start_resolution=8)
    G, _ = build("progressive", p, 32)
    G.set_stage(16, 0.25)
    G2, _ = build("progressive", p, 32)
    G2.load_state_dict(G.state_dict())
    z = torch.randn(2, p.nz)
    with torch.no_grad():
        assert torch.equal(G.eval()(z), G2.eval()(z))


@pytest.mark.parametrize("resolution, alpha", [(8, 1.0), (16, 0.3), (32, 0.7), (32, 1.0)])
def test_progressive_discriminator_at_every_stage(resolution, alpha):
    p = small("progressive", start_resolution=8)
    G, D = build("progressive", p, 32)
    G.set_stage(resolution, alpha)
    with torch.no_grad():
        x = G(torch.randn(2, p.nz))
        assert x.shape == (2, 3, 32, 32)
        assert D.set_stage(alpha) is None and D(F.avg_pool2d(x, 32 // resolution)).shape == (2,)


def test_progressive_step_mid_fade_in():
    """A training step halfway through a fade-in works at the new resolution and trains its layers."""
    torch.manual_seed(0)
    p = small("progressive", start_resolution=8, phase_images=[16] * 7, batch_size=4)
    variant = REGISTRY["progressive"](p)
    G, D = variant.build(32)
    opt_g, opt_d = variant.optimizers(G, D)
    step = next(s for s in range(1, 100) if schedule(p, s, 32).alpha == 0.5)
    new = [G.to_rgb["16"].weight, D.from_rgb["16"][0].weight]
    before = [t.detach().clone() for t in new]
    losses = train_step(variant, G, D, opt_g, opt_d, torch.rand(4, 3, 32, 32) * 2 - 1, lambda k: torch.randn(k, p.nz), None, step)
    assert (losses["resolution"], losses["alpha"]) == (16, 0.5)
    assert all(math.isfinite(v) for v in losses.values())
    assert all(not torch.equal(a, b) for a, b in zip(before, new))
    assert (int(G.stage_resolution), float(G.alpha)) == (16, 0.5)


def test_progressive_channel_profile():
    """Karras's profile by default (flat up to 32 px, halved above); max_width doubles the
    channels per halving below 32 px up to the cap, in both networks."""
    assert [channels_at(32, r) for r in (4, 8, 16, 32, 64)] == [32, 32, 32, 32, 16]
    assert [channels_at(32, r, 256) for r in (4, 8, 16, 32, 64)] == [256, 128, 64, 32, 16]
    assert [channels_at(32, r, 64) for r in (4, 8, 16, 32, 64)] == [64, 64, 64, 32, 16]
    p = small("progressive", start_resolution=8, max_width=32)  # width 8: 32, 32, 16, 8 at 4, 8, 16, 32 px
    G, D = build("progressive", p, 32)
    assert G.blocks["8"][1].weight.shape[:2] == (32, 32) and G.blocks["16"][1].weight.shape[:2] == (16, 32)
    assert G.to_rgb["32"].weight.shape[1] == 8 and D.from_rgb["16"][0].weight.shape[0] == 16
    for resolution, alpha in [(8, 1.0), (16, 0.5), (32, 0.5), (32, 1.0)]:
        G.set_stage(resolution, alpha)
        with torch.no_grad():
            x = G(torch.randn(2, p.nz))
            assert x.shape == (2, 3, 32, 32) and D.set_stage(alpha) is None and D(F.avg_pool2d(x, 32 // resolution)).shape == (2,)


@pytest.mark.parametrize("loss", ["wgan_gp", "bce"])
def test_progressive_losses_rank_reals_above_fakes(loss):
    """Discriminator steps on separable data widen the margin between reals and fakes under either
    loss; the BCE loss (Penne et al.) is a cross-entropy plus a penalty, so never negative."""
    torch.manual_seed(0)
    p = small("progressive", start_resolution=16, batch_size=8, loss=loss, lr_g=1e-8, lr_d=1e-3)
    variant = REGISTRY["progressive"](p)
    G, D = variant.build(16)
    opt_g, opt_d = variant.optimizers(G, D)
    noise = lambda n: torch.randn(n, p.nz)  # noqa: E731
    margins = []
    for _ in range(20):
        real = (-0.8 + 0.1 * torch.randn(8, 3, 16, 16)).clamp(-1, 1)  # dark, uniform: far from G's first outputs
        losses = train_step(variant, G, D, opt_g, opt_d, real, noise)
        margins.append(losses["wasserstein"])
        assert loss == "wgan_gp" or losses["loss_d"] >= 0
    assert margins[-1] > 2 * margins[0] > 0
    with torch.no_grad():
        assert D(real).mean() > D(G(noise(8))).mean() + 0.3
