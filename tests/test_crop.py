"""The crop stage with the real facenet-pytorch MTCNN on the synthetic faces."""

import csv
import multiprocessing
import os

import numpy as np
import pytest
from PIL import Image

from ganlab import crop
from ganlab.crop import crop_faces
from ganlab.data.decode import cores, workers
from ganlab.data.synthetic import write_synthetic
from ganlab.faces import face_rate, iou, load_mtcnn, square_crop_box
from ganlab.io import load_dataset
from ganlab.params import CropParams, PrepareParams
from ganlab.prepare import prepare


@pytest.fixture(scope="module")
def cropped(tmp_path_factory):
    root = tmp_path_factory.mktemp("crop")
    write_synthetic(root / "raw", 40, seed=3, progress=False)
    (root / "raw/images/999998.jpg").write_bytes(b"")  # zero bytes
    (root / "raw/images/999999.jpg").write_text("not an image")
    metrics = crop_faces(root / "raw", root / "crops", root / "crop.json", CropParams(batch_size=16), progress=False)
    return root, metrics


def test_mtcnn_finds_synthetic_faces_where_they_are(cropped):
    _, m = cropped
    assert m["images"] == 42 and m["rejected"] == 2
    # measured on seed 3: see the README's crop figures; thresholds leave a margin under them
    assert m["detection_rate"] >= 0.85
    assert m["mean_iou"] >= 0.6


def test_unreadable_files_are_listed_not_fatal(cropped):
    root, _ = cropped
    with open(root / "crops/rejects.csv") as f:
        rejects = {row["file"]: row["reason"] for row in csv.DictReader(f)}
    assert set(rejects) == {"999998.jpg", "999999.jpg"}
    assert all(rejects.values())
    with open(root / "crops/boxes.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 40  # every readable image is listed, with or without a face
    faces = [r for r in rows if r["face"] == "1"]
    assert len(list((root / "crops/images").iterdir())) == len(faces)
    for r in faces:
        with Image.open(root / "crops/images" / r["image_id"].replace(".jpg", ".png")) as im:
            assert im.width == im.height  # square crops


def test_prepare_resizes_and_keeps_attributes(cropped):
    root, m = cropped
    prepare(root / "crops", root / "raw", root / "faces.npz", PrepareParams(resolution=16), progress=False)
    data = load_dataset(root / "faces.npz")
    assert data["images"].shape == (m["faces"], 16, 16, 3) and data["images"].dtype == np.uint8
    with open(root / "raw/attributes.csv") as f:
        truth = {row["image_id"]: row for row in csv.DictReader(f)}
    col = list(data["attribute_names"]).index("Smiling")
    for image_id, attrs in zip(data["image_ids"], data["attributes"]):
        assert attrs[col] == int(truth[image_id]["Smiling"])


def test_face_rate_on_real_crops_and_noise(cropped):
    root, _ = cropped
    mtcnn = load_mtcnn()
    crops = np.stack([np.asarray(Image.open(p).convert("RGB").resize((64, 64))) for p in sorted((root / "crops/images").iterdir())[:12]])
    noise = np.random.default_rng(0).integers(0, 256, size=(12, 64, 64, 3), dtype=np.uint8)
    assert face_rate(mtcnn, crops, 0.9) >= 0.75
    assert face_rate(mtcnn, noise, 0.9) <= 0.1


def test_box_helpers():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 1, 1), (2, 2, 3, 3)) == 0.0
    assert square_crop_box((10, 20, 30, 60), 0.25) == (-10, 10, 50, 70)  # side 40 * 1.5 = 60 around (20, 40)


def test_workers_follow_the_cores_the_process_may_use(monkeypatch):
    """A container or taskset may give the process fewer cores than the machine has."""
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    assert (cores(), workers(0), workers(0, main_works=False), workers(5)) == (3, 2, 3, 5)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {7})
    assert (workers(0), workers(0, main_works=False)) == (1, 1)  # never none
    monkeypatch.delattr(os, "sched_getaffinity")  # macOS, Windows
    assert cores() == 64


class _Started(Exception):
    pass


@pytest.mark.parametrize("mode, on_cpu, started", [("mtcnn", True, 3), ("mtcnn", False, 2), ("center", True, 3)])
def test_crop_starts_one_worker_per_available_core(tmp_path, monkeypatch, mode, on_cpu, started):
    """crop.workers 0: a worker per core, one fewer where the main process runs MTCNN meanwhile (a GPU)."""
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    monkeypatch.setattr(crop, "_cpu_only", lambda: on_cpu)
    pools = []

    class Context:
        def Pool(self, n, *args, **kwargs):
            pools.append(n)
            raise _Started

    monkeypatch.setattr(multiprocessing, "get_context", lambda method: Context())
    (tmp_path / "raw/images").mkdir(parents=True)
    Image.new("RGB", (32, 32)).save(tmp_path / "raw/images/a.png")
    with pytest.raises(_Started):
        crop_faces(tmp_path / "raw", tmp_path / "crops", tmp_path / "crop.json", CropParams(mode=mode), progress=False)
    assert pools == [started]
