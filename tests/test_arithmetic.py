"""Latent arithmetic and directions: the pure cores, group finding, the rendered files, and the
classifiers on generated images (conditionality accuracy).

Generators are tiny random DCGAN / conditional DCGAN networks. With DCGAN's N(0, 0.02) weights
their images are a flat grey, so the transposed convolutions are redrawn wider (N(0, 0.2)):
varied, structured images whose brightness and colour a classifier can learn. The attribute
classifier is trained in the module on two attributes measured from the pixels, "Bright" and
"Red", so the true answer is known for every generated image.
"""

import json

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from conftest import use_mlflow_store, write_model_folder
from ganlab import classifier
from ganlab.arithmetic import BAND, GAP, PAD, SHOWN, SWEEP_BASES, Group, Reading, Samples, arithmetic, arithmetic_figure, direction, direction_sweep, find_group, on_shell, read_result, read_samples, render_arithmetic, result_label, target
from ganlab.errors import GanlabError
from ganlab.generator import generate, latents
from ganlab.models import REGISTRY
from ganlab.params import ClassifyParams, RenderParams
from ganlab.render import upscale

NZ, RES, CLASSES = 16, 16, 3
FIT = ClassifyParams(resolution=RES, width=8, epochs=8, batch_size=32)  # measured: Bright 0.83, Red 0.88 vs chance 0.48
TRUTH = ("Bright", "Red")
CATEGORY_NAMES = ["c0", "c1", "c2"]
SMALL = dict(arithmetic_samples=300, group_size=4, sweep_frames=5, sweep_range=1.5, upscale=2)


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see conftest


def vivid(name: str):
    """A tiny random generator of `name` (eval mode) with wider transposed-conv weights."""
    torch.manual_seed(0)
    variant = REGISTRY[name]
    G, _ = variant(variant.Params(width=8, nz=NZ)).build(RES, 3, CLASSES if variant.conditional else 0)
    for m in G.modules():
        if isinstance(m, torch.nn.ConvTranspose2d):
            torch.nn.init.normal_(m.weight, 0.0, 0.2)
    meta = {"model": name, "nz": NZ, "num_classes": CLASSES if variant.conditional else 0}
    return G.eval(), meta


def pixel_truth(images: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(N, 2) 0/1: brighter / redder than the median image of `reference`."""
    def stats(x):
        x = x.astype(np.float64)
        return np.stack([x.mean((1, 2, 3)), x[..., 0].mean((1, 2)) - x[..., 2].mean((1, 2))], 1)

    return (stats(images) > np.median(stats(reference), 0)).astype(np.int8)


def images_of(G, z, labels=None):
    return np.concatenate(list(generate(G, z, 64, labels)))


@pytest.fixture(scope="module")
def dcgan(tmp_path_factory):
    """A random DCGAN and a folder with an attribute classifier trained on its images."""
    G, meta = vivid("dcgan")
    train = images_of(G, latents(600, NZ, 1))
    clf, _ = classifier.train_classifier(train, pixel_truth(train, train), "attributes", TRUTH, FIT, progress=False, device="cpu")
    folder = tmp_path_factory.mktemp("clf")
    classifier.save_classifier(clf, folder)
    return G, meta, folder, train


@pytest.fixture(scope="module")
def cdcgan(tmp_path_factory):
    """A random conditional DCGAN, its category classifier and an attribute classifier."""
    G, meta = vivid("cdcgan")
    labels = torch.arange(600) % CLASSES
    train = images_of(G, latents(600, NZ, 1), labels)
    folder = tmp_path_factory.mktemp("cclf")
    cats, report = classifier.train_classifier(train, labels.numpy(), "categories", CATEGORY_NAMES, FIT, progress=False, device="cpu")
    assert report["accuracy"] > 0.9  # measured 1.0: cdcgan's label map shows in every image
    attrs, _ = classifier.train_classifier(train, pixel_truth(train, train), "attributes", TRUTH, FIT, progress=False, device="cpu")
    classifier.save_classifier(cats, folder)
    classifier.save_classifier(attrs, folder)
    return G, meta, folder, train


def model_folder(G, meta, tmp_path, monkeypatch):
    """G saved as a model folder render can load; render's MLflow store and cwd in tmp_path."""
    use_mlflow_store(tmp_path, monkeypatch)
    return write_model_folder(tmp_path / "model", G, {**meta, "resolution": RES, "channels": 3, "params": {"width": 8, "nz": NZ}})


# --- the pure cores ------------------------------------------------------------------------


def test_arithmetic_of_identical_groups_returns_c():
    g = torch.Generator().manual_seed(0)
    a, c = torch.randn(5, NZ, generator=g), torch.randn(3, NZ, generator=g)
    assert torch.equal(arithmetic(a, a, c), c.mean(0))
    assert torch.equal(arithmetic(a, a, c[:1]), c[0])
    assert torch.equal(direction(a, a), torch.zeros(NZ))


def test_arithmetic_and_direction_values():
    a = torch.tensor([[1.0, 2.0]])
    b = torch.tensor([[0.0, 1.0], [2.0, 1.0]])
    c = torch.tensor([[3.0, 3.0], [5.0, 5.0]])
    assert torch.equal(arithmetic(a, b, c), torch.tensor([4.0, 5.0]))  # [1, 2] - [1, 1] + [4, 4]
    assert torch.equal(direction(c, b), torch.tensor([3.0, 3.0]))


def hand_samples(present, certainty, usable=None, labels=None, names=("Smiling", "Male"), categories=()):
    n = len(present)
    return Samples(
        z=torch.arange(n, dtype=torch.float32)[:, None].repeat(1, 2),  # row i: (i, i)
        labels=labels,
        images=np.zeros((n, 4, 4, 3), np.uint8),
        present=np.array(present, np.int8),
        certainty=np.array(certainty, np.float32),
        names=list(names) + list(categories),
        categories=list(categories),
        usable=np.ones(n, bool) if usable is None else np.array(usable),
    )


def test_find_group_keeps_the_surest_members():
    s = hand_samples(
        present=[[1, 0], [1, 0], [1, 1], [1, 0], [0, 0]],
        certainty=[[0.9, 0.6], [0.99, 0.95], [1.0, 1.0], [0.7, 0.99], [1.0, 1.0]],
        usable=[True, True, True, True, True],
    )
    g = find_group(s, "Smiling and not Male", 2, "w")
    # rows 0, 1, 3 match; confidence = min over Smiling and Male: 0.6, 0.95, 0.7
    assert g.index.tolist() == [1, 3] and g.matches == 3
    assert np.allclose(g.confidence, [0.95, 0.7])
    assert torch.equal(g.z, torch.tensor([[1.0, 1.0], [3.0, 3.0]]))
    assert find_group(s, "Smiling and not Male", None, "w").index.tolist() == [1, 3, 0]
    # an expression naming one column is ranked by that column alone
    assert find_group(s, "Smiling", None, "w").index.tolist() == [2, 1, 0, 3]


def test_find_group_skips_unusable_samples_and_names_the_expression():
    s = hand_samples(present=[[1, 0], [0, 1]], certainty=[[1, 1], [1, 1]], usable=[False, True])
    with pytest.raises(GanlabError, match=r"render.arithmetic\[0\]: none of the 1 usable generated images is read as 'Smiling and not Male'"):
        find_group(s, "Smiling and not Male", 8, "render.arithmetic[0]")
    with pytest.raises(GanlabError, match="'Smilng and Male'.*unknown attribute 'Smilng'; did you mean 'Smiling'"):
        find_group(s, "Smilng and Male", 8, "render.arithmetic[1] 'Smilng and Male'")


def group_with(labels):
    k = len(labels)
    return Group("x", np.arange(k), torch.zeros(k, 2), torch.tensor(labels), np.zeros((k, 1, 1, 3), np.uint8), np.ones(k), k)


def test_result_label():
    same, other, third = group_with([0, 0]), group_with([1, 1]), group_with([2, 2])
    assert result_label(same, same, other, 3) == 1  # a and b cancel: c's category
    assert result_label(same, other, other, 3) == 0  # c in b's category moves to a's
    assert result_label(same, other, third, 3) == 2  # a tie: the analogy is applied to c
    assert result_label(group_with([0, 1, 1]), same, group_with([0, 0, 2]), 3) == 1  # by shares


# --- generated images ----------------------------------------------------------------------


def test_groups_hold_what_they_claim(dcgan):
    """The most confident members of each group truly have the attributes (measured from their
    pixels): catches an inverted `not`, a wrong column or ranking by the least confident."""
    G, meta, folder, train = dcgan
    s = read_samples(G, meta, folder, 300, seed=5)
    assert s.names == list(TRUTH) and s.usable.all()
    for expression, want in [("Bright and not Red", [1, 0]), ("not Bright and Red", [0, 1]), ("not Bright and not Red", [0, 0])]:
        g = find_group(s, expression, 6, expression)
        assert len(g.index) == 6 and g.matches >= 20
        truth = pixel_truth(g.images, train)
        assert (truth == want).all(1).mean() >= 5 / 6, (expression, truth)


def test_direction_sweep_moves_along_d(dcgan):
    G, _, _, _ = dcgan
    bases, d = latents(3, NZ, 11), latents(1, NZ, 12)[0]
    frames = direction_sweep(G, d, bases, None, frames=5, reach=2.0)
    assert frames.shape == (5, RES, 3 * RES, 3) and frames.dtype == np.uint8
    # t = -2, -1, 0, 1, 2: the middle frame shows the bases themselves, the first base - 2d
    assert np.array_equal(frames[2], np.concatenate(list(images_of(G, bases)), axis=1))
    assert np.array_equal(frames[0][:, :RES], images_of(G, bases[:1] - 2 * d)[0])


def test_render_arithmetic_writes_figure_and_sweeps(tmp_path, dcgan):
    G, meta, folder, _ = dcgan
    p = RenderParams(arithmetic=["Bright and not Red", "not Bright and not Red", "not Bright and Red"], directions=["Bright", "Red"], **SMALL)
    written = render_arithmetic(G, meta, folder, p, tmp_path / "out")
    assert set(written) == {"arithmetic.png", "direction_Bright.gif", "direction_Red.gif"}
    assert all(path.parent == tmp_path / "out" and path.exists() for path in written.values())

    size = RES * p.upscale
    figure = iio.imread(written["arithmetic.png"])
    assert figure.shape == (4 * (BAND + size + PAD), p.group_size * (size + PAD) + GAP + size, 3)
    # the last row's mean column is the face of a - b + c, drawn on the shell of normal samples
    s = read_samples(G, meta, folder, p.arithmetic_samples, p.seed)
    a, b, c = (find_group(s, e, p.group_size, e) for e in p.arithmetic)
    result = upscale(images_of(G, on_shell(arithmetic(a.z, b.z, c.z))[None]), p.upscale)[0]
    y = 3 * (BAND + size + PAD) + BAND
    assert np.array_equal(figure[y : y + size, -size:], result)

    for name in ("direction_Bright.gif", "direction_Red.gif"):
        frames = iio.imread(written[name], index=None)
        assert frames.shape[:3] == (p.sweep_frames, size, SWEEP_BASES * size)


def test_arithmetic_figure_returns_the_result(dcgan):
    G, meta, folder, _ = dcgan
    s = read_samples(G, meta, folder, 200, seed=3)
    groups = [find_group(s, e, 3, e) for e in ("Bright", "not Bright", "Red")]
    figure, result, reading = arithmetic_figure(G, groups, factor=1)
    assert reading is None  # nothing asked to read it
    assert torch.equal(result, groups[0].z.mean(0) - groups[1].z.mean(0) + groups[2].z.mean(0))
    assert figure.shape == (4 * (BAND + RES + PAD), 3 * (RES + PAD) + GAP + RES, 3)
    assert np.array_equal(figure[BAND : BAND + RES, : RES], groups[0].images[0])  # a's surest member first


def test_a_large_group_is_averaged_whole_and_shown_in_part(dcgan):
    """group_size above SHOWN: every member enters the mean, a row shows the SHOWN surest, and
    the result row has SHOWN variations (nine images read, not 1 + group_size)."""
    G, meta, folder, _ = dcgan
    s = read_samples(G, meta, folder, 200, seed=3)
    groups = [find_group(s, e, SHOWN + 4, e) for e in ("Bright", "not Bright", "Red")]
    assert all(len(g.index) == SHOWN + 4 for g in groups)
    seen = []
    figure, result, reading = arithmetic_figure(G, groups, factor=1, read=lambda images, label: seen.append(len(images)))
    assert torch.equal(result, groups[0].z.mean(0) - groups[1].z.mean(0) + groups[2].z.mean(0))
    assert figure.shape == (4 * (BAND + RES + PAD), SHOWN * (RES + PAD) + GAP + RES, 3)
    assert seen == [1 + SHOWN]
    mean_a = images_of(G, on_shell(groups[0].z.mean(0, keepdim=True)))[0]  # the mean of all twelve
    assert np.array_equal(figure[BAND : BAND + RES, -RES:], mean_a)


def test_bad_expressions_name_themselves(tmp_path, dcgan):
    G, meta, folder, _ = dcgan
    bad = RenderParams(arithmetic=["Bright and not Smiling", "Bright", "Red"], directions=[], **SMALL)
    with pytest.raises(GanlabError, match=r"render.arithmetic\[0\] 'Bright and not Smiling': unknown attribute 'Smiling'"):
        render_arithmetic(G, meta, folder, bad, tmp_path)
    empty = RenderParams(arithmetic=[], directions=["Bright and not Bright"], **SMALL)
    with pytest.raises(GanlabError, match="render.directions 'Bright and not Bright': none of the 300"):
        render_arithmetic(G, meta, folder, empty, tmp_path)
    assert not list(tmp_path.glob("*.png")) and not list(tmp_path.glob("*.gif"))


def test_nothing_to_render_needs_no_classifier(tmp_path, dcgan):
    G, meta, _, _ = dcgan
    assert render_arithmetic(G, meta, tmp_path / "no_classifier", RenderParams(arithmetic=[], directions=[]), tmp_path / "out") == {}
    with pytest.raises(GanlabError, match="no attributes classifier"):
        render_arithmetic(G, meta, tmp_path / "no_classifier", RenderParams(**SMALL), tmp_path / "out")


def test_conditional_arithmetic(tmp_path, cdcgan):
    """Category names in expressions; every sample drawn with a label; groups keep their labels."""
    G, meta, folder, _ = cdcgan
    s = read_samples(G, meta, folder, 300, seed=7)
    assert s.names == [*TRUTH, *CATEGORY_NAMES] and s.categories == CATEGORY_NAMES
    assert s.usable.mean() > 0.9  # the category classifier reads (nearly) every label back
    prob = classifier.load_classifier(folder, "categories").predict(s.images)  # (N, K)
    onehot = np.eye(CLASSES)[s.labels.numpy()]
    assert np.array_equal(s.present[:, 2:], onehot)  # a sample's categories: the label it was drawn with
    assert np.allclose(s.certainty[:, 2:], np.where(onehot == 1, prob, 1 - prob))
    g = find_group(s, "c1 and Bright", 4, "w")
    assert (g.labels == 1).all() and (s.present[g.index, 0] == 1).all()

    p = RenderParams(arithmetic=["c0 and Bright", "c0 and not Bright", "c2 and not Bright"], directions=["Bright"], **SMALL)
    written = render_arithmetic(G, meta, folder, p, tmp_path)
    assert set(written) == {"arithmetic.png", "direction_Bright.gif"}
    groups = [find_group(read_samples(G, meta, folder, p.arithmetic_samples, p.seed), e, p.group_size, e) for e in p.arithmetic]
    assert result_label(*groups, CLASSES) == 2


def test_conditional_accuracy(cdcgan):
    G, meta, folder, train = cdcgan
    clf = classifier.load_classifier(folder, "categories")
    m = classifier.conditional_accuracy(G, meta, clf, samples=20, seed=0, batch_size=16)
    assert m["class_accuracy_chance"] == round(1 / 3, 4) and m["class_samples"] == 20
    assert m["class_accuracy_generated"] >= 0.9 and set(m["class_accuracy_per_category"]) == set(CATEGORY_NAMES)
    assert m["class_accuracy_real"] == clf.report["accuracy"] > 0.9  # the classifier's held-out accuracy, from its json
    # a classifier that learnt shifted names (label k called k + 1) must find G disobedient
    labels = (np.arange(600) + 1) % CLASSES
    wrong, _ = classifier.train_classifier(train, labels, "categories", CATEGORY_NAMES, FIT, progress=False, device="cpu")
    assert classifier.conditional_accuracy(G, meta, wrong, samples=20, seed=0)["class_accuracy_generated"] <= 0.1
    with pytest.raises(GanlabError, match="not conditional"):
        classifier.conditional_accuracy(G, {**meta, "num_classes": 0}, clf, 20, 0)


def test_on_shell_gives_the_length_of_a_normal_sample():
    v = torch.tensor([[3.0, 4.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.5]])
    out = on_shell(v)
    assert torch.allclose(out.norm(dim=1), torch.tensor([2.0, 2.0]))  # sqrt(4)
    assert torch.allclose(out[0] / out[0].norm(), v[0] / v[0].norm())  # direction kept


def test_render_of_an_untrained_generator_skips_the_arithmetic(tmp_path, dcgan, monkeypatch, capfd):
    """A short trial's render stage: no generated face is read as a group, so arithmetic.png is
    skipped with a warning and a note in the render metrics; every other render is still made."""
    from ganlab.render import render

    G, meta, folder, _ = dcgan  # untrained: random weights
    model = model_folder(G, meta, tmp_path, monkeypatch)
    # nothing is read as both bright and not bright: the figure cannot be made, whatever the weights
    p = RenderParams(arithmetic=["Bright and not Bright", "Bright", "Red"], directions=["Red"], points=2, frames_per_transition=2,
                     hold_frames=0, grid=0, strip_steps=3, progress=False, **SMALL)
    written = render(model, tmp_path / "out", p, classifier_dir=folder, progress=False,
                     metrics_path=tmp_path / "render.json", info_path=tmp_path / "render_info.json")
    assert set(written) == {"interp_lerp.gif", "interp_slerp.gif", "strip.png", "direction_Red.gif"}
    assert not (tmp_path / "out" / "arithmetic.png").exists()
    assert json.loads((tmp_path / "render.json").read_text()) == {"figures": 4, "skipped": ["arithmetic.png"], "arithmetic_hit": None}
    why = json.loads((tmp_path / "render_info.json").read_text())["skipped_why"]
    assert list(why) == ["arithmetic.png"] and "'Bright and not Bright'" in why["arithmetic.png"]
    warnings = [line for line in capfd.readouterr().err.splitlines() if line.startswith("warning: render: skipped")]
    assert len(warnings) == 1 and "arithmetic.png" in warnings[0]


# --- does the arithmetic show what it claims ----------------------------------------------------


def result_row(figure: np.ndarray, size: int, cells: int) -> list[np.ndarray]:
    """The variations in the last row of an arithmetic figure, as drawn."""
    y = 3 * (BAND + size + PAD) + BAND
    return [figure[y : y + size, i * (size + PAD) : i * (size + PAD) + size] for i in range(cells)]


def test_the_variations_of_the_result_vary(dcgan):
    """Radford et al.'s noise on the result: every variation differs from every other, by a share of
    what tells independent samples apart; without noise they are one image repeated."""
    G, meta, folder, _ = dcgan
    s = read_samples(G, meta, folder, 300, seed=5)
    groups = [find_group(s, e, 6, e) for e in ("Bright and not Red", "not Bright and not Red", "not Bright and Red")]
    rows = {noise: result_row(arithmetic_figure(G, groups, factor=1, noise=noise)[0], RES, 6) for noise in (0.0, 0.5)}
    assert all(np.array_equal(v, rows[0.0][0]) for v in rows[0.0])
    varied = np.stack(rows[0.5]).astype(float)  # (6, H, W, 3)
    gaps = [np.abs(varied[i] - varied[j]).mean() for i in range(6) for j in range(i + 1, 6)]
    samples = images_of(G, latents(6, NZ, 99)).astype(float)
    apart = np.mean([np.abs(samples[i] - samples[j]).mean() for i in range(6) for j in range(i + 1, 6)])
    assert min(gaps) > 0.1 * apart, (min(gaps), apart)


def test_target_is_the_arithmetic_on_the_groups_attributes():
    s = hand_samples(present=[[1, 0], [1, 0], [0, 0], [0, 0], [0, 1], [0, 1]], certainty=np.ones((6, 2)))
    smiling_woman, neutral_woman, neutral_man = (find_group(s, e, None, e) for e in ("Smiling and not Male", "not Smiling and not Male", "not Smiling and Male"))
    assert target(s, [smiling_woman, neutral_woman, neutral_man]) == {"Male": True, "Smiling": True}
    assert target(s, [smiling_woman, smiling_woman, neutral_man]) == {"Male": True, "Smiling": False}  # a - a + c: c
    assert target(s, [neutral_man, neutral_woman, neutral_woman]) == {"Male": True, "Smiling": False}
    miss = Reading({"Smiling": True, "Male": True}, {"Smiling": 0.3, "Male": 0.9}, 0.2, 10)
    assert miss.missed and miss.caption() == "MISSED: only 2 of 10 read as Smiling and Male (Smiling 30%, Male 90%)"
    hit = Reading({"Smiling": True, "Male": False}, {"Smiling": 1.0, "Male": 0.8}, 0.8, 5)
    assert not hit.missed and hit.caption() == "4 of 5 read as Smiling and not Male (Smiling 100%, Male 80%)"


def test_identity_arithmetic_is_read_as_c(tmp_path, dcgan, monkeypatch):
    """a - a + c = c: the result images are read as c's group, through the render stage, and the
    reading goes to render.json (arithmetic_hit) and render_info.json."""
    from ganlab.render import render

    G, meta, folder, _ = dcgan
    c = "not Bright and Red"
    s = read_samples(G, meta, folder, SMALL["arithmetic_samples"], 7)
    groups = [find_group(s, e, SMALL["group_size"], e) for e in ("Bright and not Red", "Bright and not Red", c)]
    images = images_of(G, on_shell(arithmetic(*(g.z for g in groups)))[None])
    assert read_result(images, s, groups, folder).target == {"Bright": False, "Red": True}

    model = model_folder(G, meta, tmp_path, monkeypatch)
    p = RenderParams(arithmetic=["Bright and not Red", "Bright and not Red", c], directions=[], points=2, frames_per_transition=2,
                     hold_frames=0, grid=0, strip_steps=3, progress=False, **SMALL)
    render(model, tmp_path / "out", p, classifier_dir=folder, progress=False, metrics_path=tmp_path / "render.json", info_path=tmp_path / "render_info.json")
    hit = json.loads((tmp_path / "render.json").read_text())["arithmetic_hit"]
    reading = json.loads((tmp_path / "render_info.json").read_text())["arithmetic_reading"]
    assert reading["target"] == "not Bright and Red" and reading["images"] == 1 + p.group_size and reading["noise"] == p.arithmetic_noise
    assert hit == reading["hit"] >= 0.6 and not reading["missed"], reading
