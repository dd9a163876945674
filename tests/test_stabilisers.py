"""The stabilisers (ganlab.models.stabilisers) each change what they should, and only that."""

import pytest
import torch

from ganlab.losses import r1_penalty
from ganlab.model_params import AUGMENT_POLICIES
from ganlab.models.dcgan.params import Params as DCGANParams
from ganlab.models.progressive.params import Params as ProgressiveParams
from ganlab.models import REGISTRY
from ganlab.models.stabilisers import MinibatchStd, Stabilisers, diff_augment, xflip
from ganlab.params import ParamsError, parse
from ganlab.train import gan_step

RES = 16


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("policy", AUGMENT_POLICIES)
def test_each_augmentation_is_differentiable_and_changes_the_images(policy):
    """gradcheck: the analytic gradient through the augmentation (its draws fixed by the seed)
    equals the numerical one, so G learns through it."""
    x = torch.rand(3, 3, 8, 8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: diff_augment(t, [policy], gen()), (x,))
    y = diff_augment(x, [policy], gen())
    assert y.shape == x.shape and not torch.equal(y, x)
    assert torch.equal(y, diff_augment(x, [policy], gen()))  # the generator decides every draw


def test_translation_shifts_whole_images_and_cutout_erases_a_square():
    x = torch.arange(1.0, 1 + 16 * 16).view(1, 1, 16, 16).repeat(8, 1, 1, 1)  # no zero pixel
    shifted = diff_augment(x, ["translation"], gen())
    for img in shifted[:, 0]:  # every kept pixel is a neighbour's value moved by the same offset (at most 2 = 16 / 8)
        rows, cols = (img > 0).nonzero(as_tuple=True)
        dy, dx = {(int((img[r, c] - 1) // 16) - int(r), int((img[r, c] - 1) % 16) - int(c)) for r, c in zip(rows, cols)}.pop()
        assert abs(dy) <= 2 and abs(dx) <= 2 and int((img == 0).sum()) == 16 * 16 - (16 - abs(dy)) * (16 - abs(dx))
    cut = diff_augment(x, ["cutout"], gen())
    zeros = (cut[:, 0] == 0).sum((1, 2))
    assert 0 < zeros.min() and zeros.max() == 8 * 8  # a half-side square, clipped at the border


def test_xflip_mirrors_about_half_the_images():
    x = torch.randn(64, 3, 4, 4)
    y = xflip(x, gen())
    flipped = torch.tensor([torch.equal(a, b.flip(2)) for a, b in zip(y, x)])
    kept = torch.tensor([torch.equal(a, b) for a, b in zip(y, x)])
    assert bool((flipped | kept).all()) and 16 < int(flipped.sum()) < 48


class Spy(torch.nn.Module):
    """A discriminator that records every batch it is shown."""

    def __init__(self, D):
        super().__init__()
        self.D, self.seen = D, []

    def forward(self, x, labels=None):
        self.seen.append(x.detach().clone())
        return self.D(x, labels)


def cut_out(x):
    """Whether every image holds the 8x8 zero square of a cutout (16 px images)."""
    return bool(((x == 0).all(1).sum((1, 2)) >= 4 * 4).all())  # clipped at a corner, a quarter stays


@pytest.mark.parametrize("name", ["dcgan", "wgan_gp"])
def test_augmentation_reaches_real_and_fake_in_both_steps(name, monkeypatch):
    """With cutout, every batch D sees (reals and fakes in D's step, fakes in G's) has its
    erased square; WGAN-GP's penalty mixes the augmented images too."""
    p = REGISTRY[name].Params(width=8, nz=8, augment=["cutout"], **({"n_critic": 1} if name == "wgan_gp" else {}))
    variant = REGISTRY[name](p)
    G, D = variant.networks(RES)
    spy = Spy(D)
    opt_g, opt_d = variant.optimizers(G, D)
    mixed = []
    if name == "wgan_gp":
        import ganlab.models.wgan_gp.variant as module

        real_gp = module.gradient_penalty
        monkeypatch.setattr(module, "gradient_penalty", lambda critic, real, fake, w: mixed.append((real, fake)) or real_gp(critic, real, fake, w))
    real = torch.ones(4, 3, RES, RES)  # no zero pixel of its own
    g = gen()
    gan_step(variant, G, spy, opt_g, opt_d, real, lambda k: torch.randn(k, 8, generator=g), stab=Stabilisers(p, g))
    if name == "wgan_gp":  # reals, fakes, the penalty's mixture of the two (which may lack a whole square), G's fakes
        assert len(spy.seen) == 4 and len(mixed) == 1 and cut_out(mixed[0][0]) and cut_out(mixed[0][1])
        del spy.seen[2]
    assert len(spy.seen) == 3 and all(cut_out(x) for x in spy.seen)


@pytest.mark.parametrize("name", ["dcgan", "wgan_gp", "cdcgan"])
def test_spectral_norm_bounds_every_discriminator_layer_near_one(name):
    p = REGISTRY[name].Params(width=8, nz=8, spectral_norm=True)
    classes = 4 if REGISTRY[name].conditional else 0
    _, D = REGISTRY[name](p).networks(RES, 3, classes)
    _, plain = REGISTRY[name](REGISTRY[name].Params(width=8, nz=8)).networks(RES, 3, classes)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in D.modules())
    y = torch.arange(8) % 4 if classes else None
    for _ in range(30):  # each training forward runs one power iteration
        D(torch.randn(8, 3, RES, RES), y)
    layers = [m for m in D.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert layers
    for m in layers:
        sigma = torch.linalg.matrix_norm(m.weight.detach().flatten(1), ord=2)
        assert sigma == pytest.approx(1.0, abs=0.05), m
    plain_sigmas = [float(torch.linalg.matrix_norm(m.weight.detach().flatten(1), ord=2)) for m in plain.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert any(abs(s - 1) > 0.3 for s in plain_sigmas)  # without it, layers are far from 1


def test_progressive_refuses_spectral_norm_naming_the_key():
    with pytest.raises(ParamsError, match=r"progressive\.spectral_norm"):
        parse(ProgressiveParams, {"spectral_norm": True}, "progressive")


def test_minibatch_std_adds_one_channel_that_sees_the_batch():
    x = torch.randn(5, 7, 4, 4)
    out = MinibatchStd()(x)
    assert out.shape == (5, 8, 4, 4) and torch.equal(out[:, :7], x)
    assert torch.allclose(out[:, 7], x.std(0, unbiased=False).mean().expand(5, 4, 4), atol=1e-5)


@pytest.mark.parametrize("name", ["dcgan", "wgan_gp", "progressive"])
def test_minibatch_std_makes_each_score_depend_on_the_batch(name):
    """On, an image's score changes with the rest of its batch; off (WGAN-GP's critic has no
    batch norm), it does not. Progressive has it by default (Karras et al.)."""
    scores = {}
    for on in (False, True):
        torch.manual_seed(0)
        p = REGISTRY[name].Params(width=8, nz=8, minibatch_std=on)
        _, D = REGISTRY[name](p).networks(RES)
        D.eval()  # DCGAN's batch norm then uses running statistics: no batch dependence of its own
        a = torch.randn(4, 3, RES, RES)
        other = torch.cat([a[:1], 3 * torch.randn(3, 3, RES, RES)])  # the same first image in a more varied batch
        with torch.no_grad():
            scores[on] = (D(a)[0], D(other)[0])
    assert scores[False][0] == pytest.approx(float(scores[False][1]), abs=1e-6)
    assert abs(float(scores[True][0] - scores[True][1])) > 1e-4
    assert ProgressiveParams().minibatch_std and not DCGANParams().minibatch_std


def test_r1_of_a_linear_critic():
    """f(x) = w.x has gradient w everywhere: R1 = weight * ||w||^2."""
    w = torch.randn(3, 4, 4)
    real = torch.randn(5, 3, 4, 4)
    assert r1_penalty(lambda x: (x * w).flatten(1).sum(1), real, 0.5).item() == pytest.approx(0.5 * float(w.pow(2).sum()), rel=1e-5)


def test_lazy_r1_runs_on_its_interval_with_the_interval_as_weight(monkeypatch):
    import ganlab.train as train_module

    p = DCGANParams(width=8, nz=8, r1=0.2, r1_every=3)
    variant = REGISTRY["dcgan"](p)
    G, D = variant.networks(RES)
    opt_g, opt_d = variant.optimizers(G, D)
    calls = []
    monkeypatch.setattr(train_module, "r1_penalty", lambda critic, real, weight: calls.append((step, weight)) or r1_penalty(critic, real, weight))
    g = gen()
    for step in range(1, 10):
        gan_step(variant, G, D, opt_g, opt_d, torch.rand(4, 3, RES, RES), lambda k: torch.randn(k, 8, generator=g), stab=Stabilisers(p, g), step=step)
    assert calls == [(3, pytest.approx(0.3)), (6, pytest.approx(0.3)), (9, pytest.approx(0.3))]  # gamma / 2 * every


@pytest.mark.parametrize(
    "key, value, named",
    [
        ("augment", ["colour"], r"dcgan\.augment\[0\]"),
        ("augment", "color", r"dcgan\.augment must be a list"),
        ("augment", ["color", "color"], r"dcgan\.augment lists a policy twice"),
        ("xflip", "yes", r"dcgan\.xflip must be bool"),
        ("spectral_norm", 1, r"dcgan\.spectral_norm must be bool"),
        ("minibatch_std", "on", r"dcgan\.minibatch_std must be bool"),
        ("r1", -0.1, r"dcgan\.r1 must be >= 0"),
        ("r1_every", 0, r"dcgan\.r1_every must be >= 1"),
    ],
)
def test_bad_stabiliser_params_name_the_key(key, value, named):
    with pytest.raises(ParamsError, match=named):
        parse(DCGANParams, {key: value}, "dcgan")
