"""crop.mode landmarks: the face placed from CelebA's five landmarks, no detector."""

import csv
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganlab.crop import crop_faces
from ganlab.data.sources import write_celeba
from ganlab.data.synthetic import face_landmarks, render_face, write_synthetic
from ganlab.errors import GanlabError
from ganlab.faces import LANDMARKS, iou, landmark_face_box, square_crop_box
from ganlab.params import CropParams, DataParams

sys.path.insert(0, str(Path(__file__).parent))
from test_data_sources import kaggle_zip, mini_celeba, torchvision_folder  # noqa: E402  (the miniature CelebA archives)


def test_synthetic_landmarks_place_the_true_face_box():
    # the renderer's landmarks and its true box (fitted to MTCNN's) describe the same face
    ious = [iou(landmark_face_box(face_landmarks(4, i)), render_face(4, i)[2]) for i in range(60)]
    assert np.mean(ious) > 0.95 and min(ious) > 0.9


def test_landmark_box_follows_the_points():
    points = (69, 109, 106, 113, 77, 142, 73, 152, 108, 154)  # CelebA's first aligned image
    x1, y1, x2, y2 = landmark_face_box(points)
    assert x1 < 69 and x2 > 108 and y1 < 109 and y2 > 154  # eyes and mouth inside the box
    moved = landmark_face_box([v + 10 for v in points])
    assert np.allclose(moved, [x1 + 10, y1 + 10, x2 + 10, y2 + 10])


def test_crop_mode_landmarks(tmp_path):
    write_synthetic(tmp_path / "raw", 12, seed=2, progress=False)
    with open(tmp_path / "raw/landmarks.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["image_id", *LANDMARKS]
    (tmp_path / "raw/landmarks.csv").write_text("\n".join(",".join(r) for r in rows[:-1]) + "\n")  # the last face has none
    p = CropParams(mode="landmarks", margin=0.2, workers=1)
    m = crop_faces(tmp_path / "raw", tmp_path / "crops", tmp_path / "crop.json", p, progress=False)
    assert m["faces"] == 11 and m["rejected"] == 1 and m["mean_iou"] > 0.95
    with open(tmp_path / "crops/boxes.csv") as f:
        boxes = {r["image_id"]: r for r in csv.DictReader(f)}
    for r in rows[1:-1]:
        want = square_crop_box(landmark_face_box([int(v) for v in r[1:]]), 0.2)
        got = tuple(int(boxes[r[0]][k]) for k in ("crop_x1", "crop_y1", "crop_x2", "crop_y2"))
        assert got == want
        with Image.open(tmp_path / "crops/images" / r[0].replace(".jpg", ".png")) as im:
            assert im.size == (want[2] - want[0],) * 2


def test_crop_mode_landmarks_without_the_file_is_one_line_error(tmp_path):
    write_synthetic(tmp_path / "raw", 2, seed=2, progress=False)
    (tmp_path / "raw/landmarks.csv").unlink()
    with pytest.raises(GanlabError, match="landmarks.csv"):
        crop_faces(tmp_path / "raw", tmp_path / "crops", tmp_path / "crop.json", CropParams(mode="landmarks", workers=1), progress=False)


@pytest.mark.parametrize("layout", ["kaggle", "torchvision"])
def test_celeba_landmarks_reach_the_raw_layout(tmp_path, layout):
    data = mini_celeba(6)
    path = kaggle_zip(tmp_path / "celeba.zip", data) if layout == "kaggle" else torchvision_folder(tmp_path / "tv", data)
    write_celeba(DataParams(source="celeba", path=str(path), verify=False), tmp_path / "raw", progress=False)
    with open(tmp_path / "raw/landmarks.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["image_id"] for r in rows] == sorted(r["id"] for r in data["rows"])
    assert all(tuple(int(r[k]) for k in LANDMARKS) == (69, 109, 106, 113, 77, 142, 73, 152, 108, 154) for r in rows)
