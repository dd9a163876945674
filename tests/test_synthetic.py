"""Tests for the procedural CelebA stand-in (ganlab.data.synthetic)."""

import csv
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganlab.data.synthetic import ATTRIBUTES, HAIR_ATTRIBUTES, IMAGE_SIZE, render_face, write_synthetic

COUNT = 8


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth_a")
    write_synthetic(out, count=COUNT, seed=3, progress=False)
    return out


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def test_write_is_deterministic(written, tmp_path):
    write_synthetic(tmp_path, count=COUNT, seed=3, progress=False)
    first, second = _files(written), _files(tmp_path)
    assert len(first) == COUNT + 3  # images, attributes.csv, true_boxes.csv, landmarks.csv
    assert first == second


def test_face_does_not_depend_on_count(written, tmp_path):
    write_synthetic(tmp_path, count=3, seed=3, progress=False)
    for name in ("000001.jpg", "000002.jpg", "000003.jpg"):
        assert (tmp_path / "images" / name).read_bytes() == (written / "images" / name).read_bytes()
    img_a, attrs_a, box_a = render_face(3, 5)
    img_b, attrs_b, box_b = render_face(3, 5)
    assert img_a.tobytes() == img_b.tobytes() and attrs_a == attrs_b and box_a == box_b


def test_attributes_csv_format(written):
    header, rows = _read_csv(written / "attributes.csv")
    assert header == ["image_id", *ATTRIBUTES]
    assert {"Smiling", "Male", "Eyeglasses", *HAIR_ATTRIBUTES} <= set(header)
    assert [r[0] for r in rows] == [f"{i:06d}.jpg" for i in range(1, COUNT + 1)]
    hair_cols = [header.index(h) for h in HAIR_ATTRIBUTES]
    for row in rows:
        assert re.fullmatch(r"\d{6}\.jpg", row[0])
        assert len(row) == len(header)
        assert set(row[1:]) <= {"-1", "1"}
        assert sum(row[c] == "1" for c in hair_cols) == 1
        with Image.open(written / "images" / row[0]) as img:
            assert img.format == "JPEG" and img.mode == "RGB" and img.size == IMAGE_SIZE


def test_true_boxes_csv(written):
    header, rows = _read_csv(written / "true_boxes.csv")
    assert header == ["image_id", "x1", "y1", "x2", "y2"]
    assert [r[0] for r in rows] == [f"{i:06d}.jpg" for i in range(1, COUNT + 1)]
    for row in rows:
        x1, y1, x2, y2 = map(int, row[1:])
        # Roughly centred, CelebA-aligned face of plausible size inside the image.
        assert 0 <= x1 < x2 <= IMAGE_SIZE[0] and 0 <= y1 < y2 <= IMAGE_SIZE[1]
        assert 65 <= x2 - x1 <= 110 and 80 <= y2 - y1 <= 150
        assert abs((x1 + x2) / 2 - IMAGE_SIZE[0] / 2) < 15


def test_render_face_contract():
    img, attrs, box = render_face(0, 0)
    assert img.mode == "RGB" and img.size == IMAGE_SIZE
    assert set(attrs) == set(ATTRIBUTES) and set(attrs.values()) <= {-1, 1}
    assert len(box) == 4 and all(isinstance(v, int) for v in box)


def test_different_seeds_give_different_images():
    a = np.asarray(render_face(0, 0)[0], dtype=float)
    b = np.asarray(render_face(1, 0)[0], dtype=float)
    assert np.abs(a - b).mean() > 10
    c = np.asarray(render_face(0, 1)[0], dtype=float)
    assert np.abs(a - c).mean() > 10


def test_every_attribute_takes_both_values():
    faces = [render_face(11, i)[1] for i in range(200)]
    for name in ATTRIBUTES:
        positives = sum(f[name] == 1 for f in faces)
        assert 5 <= positives <= 195, (name, positives)
    for f in faces:
        assert sum(f[h] == 1 for h in HAIR_ATTRIBUTES) == 1
        # Beards and lipstick follow CelebA's sex split.
        if f["Male"] == -1:
            assert f["No_Beard"] == 1
        else:
            assert f["Wearing_Lipstick"] == -1


def test_attributes_are_visible():
    """Smiles show teeth and lipstick is red, in the mouth region of the pictures."""
    faces = [render_face(5, i) for i in range(150)]
    mouths = [(np.asarray(img, dtype=float)[135:175, 60:118], a) for img, a, _ in faces]

    def shows_teeth(crop):
        return ((crop.min(-1) > 185) & (np.ptp(crop, axis=-1) < 30)).sum() >= 10

    smiling = [shows_teeth(c) for c, a in mouths if a["Smiling"] == 1]
    neutral = [shows_teeth(c) for c, a in mouths if a["Smiling"] == -1]
    assert np.mean(smiling) > np.mean(neutral) + 0.4

    def redness(crop):
        return (crop[..., 0] - crop[..., 1]).mean()

    red = [redness(c) for c, a in mouths if a["Wearing_Lipstick"] == 1]
    plain = [redness(c) for c, a in mouths if a["Wearing_Lipstick"] == -1]
    assert np.mean(red) > np.mean(plain) + 8
