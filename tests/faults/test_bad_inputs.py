"""Bad images in a user's folder: each is listed in rejects.csv with its reason and none stops a
stage; the good faces beside them are cropped and prepared. The real MTCNN throughout."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dvcrepo import dvc, make_repo
from ganlab.crop import _detect_all
from ganlab.data.synthetic import render_face
from ganlab.faces import best_faces, load_mtcnn
from ganlab.io import load_dataset
from ganlab.params import CropParams

GOOD = ("face0.jpg", "face1.jpg", "face2.jpg")
# file -> (its bytes, a word its reason in rejects.csv must hold). Under MTCNN's 20-pixel smallest
# face MTCNN has no pyramid scale and facenet-pytorch raises (its issue #176); the panorama gets
# there once shrunk to crop.max_side (4000x30 -> 2048x15).
BAD = {
    "tiny.png": ((16, 16), "too small"),
    "sliver.png": ((19, 300), "too small"),
    "panorama.png": ((4000, 30), "too small"),
    "truncated.jpg": (None, "truncated"),
    "text.jpg": (b"not an image\n", "cannot identify"),
}


def jpeg(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def write_inputs(folder: Path) -> None:
    folder.mkdir(parents=True)
    for i, name in enumerate(GOOD):
        (folder / name).write_bytes(jpeg(render_face(5, i)[0]))
    rng = np.random.default_rng(0)
    for name, (what, _) in BAD.items():
        if isinstance(what, tuple):
            w, h = what
            Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(folder / name)
        elif what is None:
            whole = jpeg(render_face(5, 9)[0])
            (folder / name).write_bytes(whole[: len(whole) // 2])
        else:
            (folder / name).write_bytes(what)


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_bad_images_are_rejects_and_the_stages_finish(tmp_path, record_fault):
    write_inputs(tmp_path / "photos")
    repo = make_repo(
        tmp_path / "repo",
        {"data": {"source": "folder", "path": str(tmp_path / "photos")}, "crop": {"batch_size": 4}, "prepare": {"resolution": 32}},
    )
    out = dvc(repo, "repro", "prepare")  # fails the test, with DVC's output, if a stage fails

    assert "Traceback" not in out
    rejects = {r["file"]: r["reason"] for r in read_csv(repo / "data/crops/rejects.csv")}
    boxes = {r["image_id"]: r for r in read_csv(repo / "data/crops/boxes.csv")}
    assert set(rejects) == set(BAD)
    wrong = {name: why for name, why in rejects.items() if BAD[name][1] not in why}
    assert not wrong, wrong
    assert set(boxes) == set(GOOD) and all(r["face"] == "1" for r in boxes.values())  # nothing lost, no good face dropped
    assert len(load_dataset(repo / "data/prepared/faces.npz")["images"]) == len(GOOD)
    survived = sum(name in rejects and BAD[name][1] in rejects[name] for name in BAD)
    record_fault("tiny and panorama images in a folder source", tried=len(BAD), survived=survived)


@pytest.fixture(scope="module")
def mtcnn():
    return load_mtcnn()


class DecodedInline:
    """A pool stand-in that 'decodes' in-memory arrays by name (no files)."""

    def __init__(self, images: dict[str, np.ndarray]):
        self.images = images

    def imap(self, fn, jobs, chunksize=1):
        return ((Path(path).name, self.images[Path(path).name], None) for path, _, _ in jobs)


def test_a_failing_image_does_not_cost_its_batch(tmp_path, mtcnn, record_fault):
    """Should MTCNN fail on one image of a batch, that image alone is rejected and the faces of the
    same size batched with it are still found. A blank frame stands in for an input facenet-pytorch
    cannot take: the detector below raises on any batch holding one, as on issue #176's inputs."""
    faces = {f"face{i}.png": np.asarray(render_face(5, i)[0]) for i in range(3)}
    images = {**faces, "blank.png": np.zeros_like(faces["face0.png"])}

    def detect(batch: np.ndarray):
        if (batch.reshape(len(batch), -1).max(axis=1) == 0).any():
            raise ValueError("torch.cat(): expected a non-empty list of Tensors")
        return best_faces(mtcnn, batch)

    class NoBar:
        def update(self, n: int = 1) -> None:
            pass

    rows: list[dict] = []
    rejects: list[dict] = []
    files = [tmp_path / name for name in sorted(images)]
    _detect_all(files, tmp_path, CropParams(batch_size=4), DecodedInline(images), rows, rejects, NoBar(), detect)

    assert rejects == [{"file": "blank.png", "reason": "face detection failed: ValueError: torch.cat(): expected a non-empty list of Tensors"}]
    assert sorted(r["image_id"] for r in rows if r["face"]) == sorted(faces)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(faces)  # the crops, named by stem
    record_fault("a detection error in one image of a batch", tried=1, survived=int(len(rows) == len(faces)))
