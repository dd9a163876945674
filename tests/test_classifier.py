"""The attribute / category classifier on real synthetic faces: it beats chance by a measured
margin, round-trips through its files, trains deterministically, and the classify stage writes
what render and evaluate read. (Its conditionality accuracy on generators is tested in
test_arithmetic.py, beside the other tests on generated images.)"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from ganlab import classifier
from ganlab.data.select import evaluate
from ganlab.data.synthetic import ATTRIBUTES, render_face
from ganlab.errors import GanlabError
from ganlab.io import save_npz
from ganlab.params import ClassifyParams

ROOT = Path(__file__).resolve().parents[1]
COUNT = 300  # faces drawn once for the module (about 3 s)
# Razzaq style categories that the drawings show clearly; an image takes the first it matches.
CATEGORIES = [
    ("smiling_woman", "Smiling and not Male"),
    ("neutral_woman", "not Smiling and not Male"),
    ("smiling_man", "Smiling and Male"),
    ("neutral_man", "not Smiling and Male"),
]
SMALL = ClassifyParams(width=16, epochs=8, batch_size=32)  # a test-sized network; resolution 32, holdout 0.2, seed 0


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see conftest


def synthetic_faces(count: int, size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """`count` synthetic faces cut square around their true face box, as the crop stage would,
    at `size` px: images uint8 (N, size, size, 3), attributes int8 (N, A) in CelebA's -1/1."""
    images, attrs = [], []
    for i in range(count):
        im, a, (x1, y1, x2, y2) = render_face(0, i)
        cx, cy, half = (x1 + x2) / 2, (y1 + y2) / 2, 0.6 * max(x2 - x1, y2 - y1)
        im = im.crop((round(cx - half), round(cy - half), round(cx + half), round(cy + half)))
        images.append(np.asarray(im.resize((size, size))))
        attrs.append([a[n] for n in ATTRIBUTES])
    return np.stack(images), np.array(attrs, dtype=np.int8)


def first_match(attrs: np.ndarray) -> np.ndarray:
    labels = np.full(len(attrs), -1)
    for k, (name, where) in reversed(list(enumerate(CATEGORIES))):  # reversed: the first match wins
        labels[evaluate(where, attrs, ATTRIBUTES, name)] = k
    return labels


@pytest.fixture(scope="module")
def faces():
    images, attrs = synthetic_faces(COUNT)
    return images, attrs, first_match(attrs)


@pytest.fixture(scope="module")
def attribute_clf(faces):
    images, attrs, _ = faces
    return classifier.train_classifier(images, attrs, "attributes", ATTRIBUTES, SMALL, progress=False, device="cpu")


@pytest.fixture(scope="module")
def category_clf(faces):
    images, _, labels = faces
    names = [name for name, _ in CATEGORIES]
    return classifier.train_classifier(images, labels, "categories", names, SMALL, progress=False, device="cpu")


def test_attributes_beat_chance(attribute_clf):
    """Measured (300 faces, 60 held out): Smiling 0.95 vs chance 0.52, Male 0.95 vs 0.55,
    all 15 attributes 0.86 vs 0.72. A broken label conversion or loss gives chance."""
    _, report = attribute_clf
    per = report["per_name"]
    assert set(per) == set(ATTRIBUTES)
    assert per["Smiling"]["chance"] < 0.6 and per["Smiling"]["accuracy"] >= 0.8
    assert per["Male"]["chance"] < 0.6 and per["Male"]["accuracy"] >= 0.78
    assert report["accuracy"] >= report["chance"] + 0.08
    assert (report["images_train"], report["images_holdout"]) == (240, 60)


def test_categories_beat_chance(category_clf):
    """Measured: 0.95 vs chance (the majority category's share) 0.32."""
    _, report = category_clf
    assert report["chance"] < 0.4
    assert report["accuracy"] >= 0.75
    assert sum(v["images"] for v in report["per_name"].values()) == 60
    assert all(v["accuracy"] >= 0.5 for v in report["per_name"].values())


def test_predict_gives_probabilities(faces, attribute_clf, category_clf):
    images = faces[0][:10]
    p_attr = attribute_clf[0].predict(images)
    p_cat = category_clf[0].predict(images)
    assert p_attr.shape == (10, len(ATTRIBUTES)) and p_attr.min() >= 0 and p_attr.max() <= 1
    assert p_cat.shape == (10, len(CATEGORIES)) and np.allclose(p_cat.sum(1), 1, atol=1e-5)
    # larger images are shrunk to the classifier's resolution first: 64 px faces read the same
    big = images.repeat(2, axis=1).repeat(2, axis=2)
    assert (category_clf[0].predict(big).argmax(1) == p_cat.argmax(1)).mean() >= 0.8


def test_save_load_round_trip(tmp_path, faces, attribute_clf, category_clf):
    images = faces[0][:32]
    for clf, report in (attribute_clf, category_clf):
        classifier.save_classifier(clf, tmp_path, report)
        back = classifier.load_classifier(tmp_path, clf.kind)
        assert back.meta() == clf.meta() and back.report == report
        assert np.array_equal(back.predict(images), clf.predict(images))
        assert json.loads((tmp_path / f"{clf.kind}.json").read_text())["report"]["accuracy"] == report["accuracy"]
    with pytest.raises(GanlabError, match="no categories classifier"):
        classifier.load_classifier(tmp_path / "missing", "categories")


def test_training_is_deterministic_and_leaves_the_global_rng(faces):
    images, attrs, _ = faces
    p = ClassifyParams(width=4, epochs=1, batch_size=32)
    rng = torch.get_rng_state()
    a, ra = classifier.train_classifier(images[:100], attrs[:100], "attributes", ATTRIBUTES, p, progress=False, device="cpu")
    b, rb = classifier.train_classifier(images[:100], attrs[:100], "attributes", ATTRIBUTES, p, progress=False, device="cpu")
    c, _ = classifier.train_classifier(images[:100], attrs[:100], "attributes", ATTRIBUTES, ClassifyParams(width=4, epochs=1, batch_size=32, seed=1), progress=False, device="cpu")
    assert torch.equal(rng, torch.get_rng_state())
    assert ra == rb
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert not all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), c.state_dict().values()))


def test_chance_is_the_majority_rate(faces):
    """An attribute every face has: always answering it is right every time, so chance is 1."""
    images, attrs, _ = faces
    always = np.concatenate([attrs[:100], np.ones((100, 1), np.int8)], 1)
    _, report = classifier.train_classifier(images[:100], always, "attributes", [*ATTRIBUTES, "Always"], ClassifyParams(width=4, epochs=1), progress=False, device="cpu")
    assert report["per_name"]["Always"]["chance"] == 1.0


def test_too_few_images_is_a_clear_error(faces):
    images, attrs, _ = faces
    with pytest.raises(GanlabError, match="too few"):
        classifier.train_classifier(images[:2], attrs[:2], "attributes", ATTRIBUTES, SMALL, progress=False)


def tiny_npz(path: Path, faces, labels: bool) -> Path:
    images, attrs, cats = faces
    arrays = {"images": images[:80], "attributes": attrs[:80], "attribute_names": np.array(ATTRIBUTES)}
    if labels:
        arrays.update(labels=cats[:80].astype(np.int64), category_names=np.array([n for n, _ in CATEGORIES]))
    save_npz(path, **arrays)
    return path


TINY = ClassifyParams(width=4, epochs=1, batch_size=32)


def test_classify_stage_writes_both_classifiers(tmp_path, faces):
    data = tiny_npz(tmp_path / "faces.npz", faces, labels=True)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "stale.txt").write_text("from an older run")
    metrics = classifier.classify(data, tmp_path / "out", tmp_path / "m.json", TINY, progress=False)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["attributes.json", "attributes.pt", "categories.json", "categories.pt"]
    assert json.loads((tmp_path / "m.json").read_text()) == metrics
    assert metrics["attributes"]["images_holdout"] == 16 and metrics["categories"]["kind"] == "categories"
    assert classifier.load_classifier(tmp_path / "out", "categories").names == [n for n, _ in CATEGORIES]


def test_classify_stage_without_labels(tmp_path, faces):
    data = tiny_npz(tmp_path / "faces.npz", faces, labels=False)
    metrics = classifier.classify(data, tmp_path / "out", tmp_path / "m.json", TINY, progress=False)
    assert metrics["categories"] is None and metrics["attributes"]["kind"] == "attributes"
    assert classifier.exists(tmp_path / "out", "attributes") and not classifier.exists(tmp_path / "out", "categories")


def test_stage_script(tmp_path, faces):
    """The thin door: paths from the command line, its own params section, a one-line summary."""
    data = tiny_npz(tmp_path / "faces.npz", faces, labels=True)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"classify": {"width": 4, "epochs": 1, "batch_size": 32}}))
    cmd = [sys.executable, str(ROOT / "stages/classify.py"), "--params", str(tmp_path / "params.yaml"), "--data", str(data), "--out", str(tmp_path / "clf"), "--metrics", str(tmp_path / "m.json")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # see conftest.one_torch_thread
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("classify: held-out accuracy attributes ") and "categories " in r.stdout and len(r.stdout.splitlines()) == 1
    assert classifier.exists(tmp_path / "clf", "categories")


def test_missing_data_is_a_clear_error(tmp_path):
    with pytest.raises(GanlabError, match="prepared dataset not found"):
        classifier.classify(tmp_path / "none.npz", tmp_path / "clf", tmp_path / "m.json", TINY, progress=False)
    assert not (tmp_path / "clf").exists()
