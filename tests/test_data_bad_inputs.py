"""Bad input, nothing lost: every awkward file is converted correctly or listed with its reason,
and a re-run over the same inputs gives byte-identical outputs."""

import csv
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganlab.crop import crop_faces
from ganlab.data.fetch import download
from ganlab.data.decode import load_rgb
from ganlab.data.synthetic import render_face
from ganlab.io import load_dataset
from ganlab.params import CropParams, DataParams, PrepareParams
from ganlab.prepare import prepare

MAX_SIDE = 1024
MAX_PIXELS = 20_000_000
EXPECTED_REJECTS = {"truncated.jpg", "zero.jpg", "text.jpg", "huge.png", "notes.txt"}


def face(i: int = 0) -> Image.Image:
    return render_face(21, i)[0]


def jpeg(im: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=95, **kw)
    return buf.getvalue()


def diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """A user's folder with one file of every awkward kind."""
    d = tmp_path_factory.mktemp("bad") / "photos"
    (d / "sub").mkdir(parents=True)
    good = face(0)
    (d / "good.jpg").write_bytes(jpeg(good))
    whole = jpeg(face(1))
    (d / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    (d / "zero.jpg").write_bytes(b"")
    (d / "text.jpg").write_text("this is not an image\n")
    (d / "notes.txt").write_text("not an image file name either\n")
    face(2).convert("CMYK").save(d / "cmyk.jpg", quality=95)
    gray16 = (np.asarray(face(3).convert("L")).astype(np.uint16) * 257)  # full 16-bit range
    Image.fromarray(gray16).save(d / "gray16.png")
    face(4).convert("L").save(d / "sub" / "gray.png")
    rgba = face(5).convert("RGBA")
    alpha = np.full((rgba.height, rgba.width), 255, np.uint8)
    alpha[:, :40] = 0  # a transparent left strip
    rgba.putalpha(Image.fromarray(alpha))
    rgba.save(d / "rgba.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: the stored pixels must be turned 90 degrees clockwise to view
    (d / "exif.jpg").write_bytes(jpeg(face(6).transpose(Image.Transpose.ROTATE_90), exif=exif.tobytes()))
    face(7).resize((178 * 14, 218 * 14), Image.BICUBIC).save(d / "large.jpg", quality=90)  # 2492 x 3052
    Image.new("RGB", (5000, 5000), (90, 120, 150)).save(d / "huge.png")  # 25 Mpx: over MAX_PIXELS
    return d


@pytest.fixture(scope="module")
def cropped(inputs, tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    download(DataParams(source="folder", path=str(inputs)), root / "raw", progress=False)
    p = CropParams(batch_size=4, max_side=MAX_SIDE, max_pixels=MAX_PIXELS, workers=2)
    metrics = crop_faces(root / "raw", root / "crops", root / "crop.json", p, progress=False)
    return root, metrics, p


def test_every_bad_file_is_listed_with_a_reason(cropped):
    root, m, _ = cropped
    with open(root / "crops/rejects.csv", newline="") as f:
        rejects = {r["file"]: r["reason"] for r in csv.DictReader(f)}
    assert set(rejects) == EXPECTED_REJECTS
    assert "too large" in rejects["huge.png"] and "truncated" in rejects["truncated.jpg"]
    assert all(rejects.values())
    with open(root / "crops/boxes.csv", newline="") as f:
        read = {r["image_id"] for r in csv.DictReader(f)}
    # nothing lost: every input file is either read or rejected
    assert read | set(rejects) == {p.name for p in (root / "raw/images").iterdir()} | {"notes.txt"}
    assert read == {"good.jpg", "cmyk.jpg", "gray16.png", "gray.png", "rgba.png", "exif.jpg", "large.jpg"}
    assert m["images"] == 11 and m["rejected"] == 5


def test_awkward_images_convert_correctly(inputs):
    load = lambda name: load_rgb(inputs / name, MAX_SIDE, MAX_PIXELS)  # noqa: E731
    assert diff(load("cmyk.jpg"), np.asarray(face(2))) < 6  # colours survive CMYK (JPEG noise only)
    g16 = load("gray16.png")
    assert g16.shape == (218, 178, 3) and diff(g16[..., 0], np.asarray(face(3).convert("L"))) < 1  # not clipped white
    gray = load("sub/gray.png")
    assert (gray[..., 0] == gray[..., 1]).all() and (gray[..., 1] == gray[..., 2]).all()
    rgba = load("rgba.png")
    assert (rgba[:, :40] == 255).all() and diff(rgba[:, 40:], np.asarray(face(5))[:, 40:]) == 0  # alpha over white
    upright = load("exif.jpg")
    assert upright.shape == (218, 178, 3) and diff(upright, np.asarray(face(6))) < 6
    large = load("large.jpg")
    assert max(large.shape[:2]) == MAX_SIDE and diff(np.asarray(Image.fromarray(large).resize((178, 218), Image.LANCZOS)), np.asarray(face(7))) < 10


def test_folder_names_and_skipped_files(cropped):
    root, _, _ = cropped
    names = sorted(p.name for p in (root / "raw/images").iterdir())
    assert "gray.png" in names  # basenames are unique here, so none is prefixed by its folder
    assert "notes.txt" not in names
    with open(root / "raw/skipped.csv", newline="") as f:
        assert [r["file"] for r in csv.DictReader(f)] == ["notes.txt"]


def test_rerun_is_byte_identical(cropped, tmp_path):
    root, _, p = cropped
    crop_faces(root / "raw", tmp_path / "crops", tmp_path / "crop.json", p, progress=False)
    first = sorted((root / "crops").rglob("*"))
    again = sorted((tmp_path / "crops").rglob("*"))
    assert [f.relative_to(root / "crops") for f in first] == [f.relative_to(tmp_path / "crops") for f in again]
    for a, b in zip(first, again):
        if a.is_file():
            assert a.read_bytes() == b.read_bytes(), a.name
    prepare(root / "crops", root / "raw", tmp_path / "a.npz", PrepareParams(resolution=32), progress=False)
    prepare(tmp_path / "crops", root / "raw", tmp_path / "b.npz", PrepareParams(resolution=32), progress=False)
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    assert len(load_dataset(tmp_path / "a.npz")["images"]) >= 1
