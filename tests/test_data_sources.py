"""Real sources end to end: miniature CelebA (Kaggle's and torchvision's layouts) and LSUN bedroom
archives under the real file names and formats, run through download -> crop -> prepare by DVC."""

import csv
import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from ganlab.data.synthetic import ATTRIBUTES, render_face
from ganlab.io import load_dataset

from dvcrepo import dvc, make_repo

ROOT = Path(__file__).resolve().parents[1]

# CelebA's 40 attributes in list_attr_celeba's column order.
CELEBA_ATTRIBUTES = (
    "5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose Black_Hair Blond_Hair "
    "Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee Gray_Hair Heavy_Makeup High_Cheekbones Male "
    "Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard Oval_Face Pale_Skin Pointy_Nose Receding_Hairline Rosy_Cheeks "
    "Sideburns Smiling Straight_Hair Wavy_Hair Wearing_Earrings Wearing_Hat Wearing_Lipstick Wearing_Necklace "
    "Wearing_Necktie Young"
).split()
LANDMARKS = "lefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y rightmouth_x rightmouth_y".split()
N_FACES = 30
PRESET = yaml.safe_load((ROOT / "presets/razzaq-celeba-categories.yaml").read_text())


def mini_celeba(n: int = N_FACES, seed: int = 11) -> dict:
    """n synthetic faces as CelebA rows: JPEG bytes, 40 attributes, partition (contiguous, like CelebA's)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        img, attrs, _ = render_face(seed, i)
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=95)
        values = [attrs[a] if a in ATTRIBUTES else int(rng.choice([-1, 1])) for a in CELEBA_ATTRIBUTES]
        part = 0 if i < n * 2 // 3 else (1 if i < n * 5 // 6 else 2)
        rows.append({"id": f"{i + 1:06d}.jpg", "jpeg": buf.getvalue(), "attrs": values, "partition": part})
    return {"rows": rows}


def kaggle_zip(path: Path, data: dict) -> Path:
    """Kaggle's jessicali9530/celeba-dataset archive: nested image folder and four CSVs."""
    rows = data["rows"]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for r in rows:
            z.writestr(f"img_align_celeba/img_align_celeba/{r['id']}", r["jpeg"])
        z.writestr("list_attr_celeba.csv", "image_id," + ",".join(CELEBA_ATTRIBUTES) + "\n" + "".join(f"{r['id']}," + ",".join(map(str, r["attrs"])) + "\n" for r in rows))
        z.writestr("list_eval_partition.csv", "image_id,partition\n" + "".join(f"{r['id']},{r['partition']}\n" for r in rows))
        z.writestr("list_bbox_celeba.csv", "image_id,x_1,y_1,width,height\n" + "".join(f"{r['id']},95,71,226,313\n" for r in rows))
        z.writestr("list_landmarks_align_celeba.csv", "image_id," + ",".join(LANDMARKS) + "\n" + "".join(f"{r['id']},69,109,106,113,77,142,73,152,108,154\n" for r in rows))
    return path


def torchvision_folder(root: Path, data: dict, zipped: bool = True) -> Path:
    """torchvision's CelebA root: celeba/ with img_align_celeba.zip (or its folder) and the .txt lists."""
    rows = data["rows"]
    base = root / "celeba"
    base.mkdir(parents=True)
    if zipped:
        with zipfile.ZipFile(base / "img_align_celeba.zip", "w", zipfile.ZIP_STORED) as z:
            for r in rows:
                z.writestr(f"img_align_celeba/{r['id']}", r["jpeg"])
    else:
        (base / "img_align_celeba").mkdir()
        for r in rows:
            (base / "img_align_celeba" / r["id"]).write_bytes(r["jpeg"])
    # list_attr_celeba.txt: a count line, a header line (trailing space), values right-aligned in 2 columns
    (base / "list_attr_celeba.txt").write_text(
        f"{len(rows)}\n" + " ".join(CELEBA_ATTRIBUTES) + " \n" + "".join(r["id"] + "".join(f" {v:2d}" for v in r["attrs"]) + "\n" for r in rows)
    )
    (base / "list_eval_partition.txt").write_text("".join(f"{r['id']} {r['partition']}\n" for r in rows))
    (base / "identity_CelebA.txt").write_text("".join(f"{r['id']} {k % 7 + 1}\n" for k, r in enumerate(rows)))
    (base / "list_bbox_celeba.txt").write_text(f"{len(rows)}\nimage_id x_1 y_1 width height\n" + "".join(f"{r['id']}    95    71   226   313\n" for r in rows))
    (base / "list_landmarks_align_celeba.txt").write_text(
        f"{len(rows)}\n" + " ".join(LANDMARKS) + "\n" + "".join(f"{r['id']}    69  109  106  113   77  142   73  152  108  154\n" for r in rows)
    )
    return root


def lsun_zip(path: Path, n: int = 12) -> tuple[Path, list[str]]:
    """Kaggle's jhoward/lsun_bedroom sample: JPEGs named by SHA-1 in nested hex folders, short side 256."""
    rng = np.random.default_rng(5)
    names = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(n):
            size = (256 + int(rng.integers(0, 150)), 256) if i % 2 else (256, 256 + int(rng.integers(0, 90)))
            im = Image.new("RGB", size, tuple(int(v) for v in rng.integers(0, 256, 3)))
            im.paste(tuple(int(v) for v in rng.integers(0, 256, 3)), (40, 60, 200, 200))  # a "bed"
            buf = io.BytesIO()
            im.save(buf, format="JPEG", quality=90)
            sha = hashlib.sha1(buf.getvalue()).hexdigest()
            names.append(f"{sha}.jpg")
            z.writestr(f"data0/lsun/bedroom/{sha[0]}/{sha[1]}/{sha[2]}/{sha}.jpg", buf.getvalue())
    return path, sorted(names)


def dvc_repo(tmp: Path, overrides: dict) -> Path:
    return make_repo(tmp / "repo", overrides)


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def razzaq_label(a: dict) -> int:
    """Razzaq's four categories written out by hand (the preset's expressions must agree)."""
    on = {k: v == 1 for k, v in a.items()}
    if on["Attractive"] and not on["Male"] and not on["High_Cheekbones"] and not on["Big_Lips"]:
        return 0
    if on["Attractive"] and on["Male"]:
        return 1
    if on["Attractive"] and not on["Male"] and on["High_Cheekbones"]:
        return 2
    if on["Attractive"] and not on["Male"] and on["Big_Lips"] and not on["High_Cheekbones"]:
        return 3
    return -1


def check_raw_and_crops(repo: Path, data: dict) -> list[str]:
    """The raw layout holds every image under its own name with CelebA's attributes and partition;
    returns the ids MTCNN found a face in."""
    rows = data["rows"]
    assert sorted(p.name for p in (repo / "data/raw/images").iterdir()) == [r["id"] for r in rows]
    attrs = read_csv(repo / "data/raw/attributes.csv")
    assert list(attrs[0]) == ["image_id", *CELEBA_ATTRIBUTES]
    assert [[int(a[k]) for k in CELEBA_ATTRIBUTES] for a in attrs] == [r["attrs"] for r in rows]
    assert [int(p["partition"]) for p in read_csv(repo / "data/raw/partition.csv")] == [r["partition"] for r in rows]
    boxes = read_csv(repo / "data/crops/boxes.csv")
    assert [b["image_id"] for b in boxes] == [r["id"] for r in rows]  # every image read, none rejected
    return [b["image_id"] for b in boxes if b["face"] == "1"]


def test_celeba_kaggle_zip_with_razzaq_categories(tmp_path):
    data = mini_celeba()
    archive = kaggle_zip(tmp_path / "celeba-dataset.zip", data)
    prepare = {**PRESET["prepare"], "resolution": 32, "partition": "train"}
    repo = dvc_repo(tmp_path, {"data": {"source": "celeba", "path": str(archive)}, "crop": {"batch_size": 8}, "prepare": prepare})
    dvc(repo, "repro", "prepare")

    faces = check_raw_and_crops(repo, data)
    assert len(faces) >= 0.8 * N_FACES
    by_id = {r["id"]: r for r in data["rows"]}
    named = lambda r: dict(zip(CELEBA_ATTRIBUTES, r["attrs"]))  # noqa: E731
    expected = [i for i in faces if by_id[i]["partition"] == 0 and razzaq_label(named(by_id[i])) >= 0]
    assert expected, "the miniature must hold some images of Razzaq's categories"

    d = load_dataset(repo / "data/prepared/faces.npz")
    assert list(d["image_ids"]) == expected
    assert d["images"].shape == (len(expected), 32, 32, 3) and d["images"].dtype == np.uint8
    assert list(d["attribute_names"]) == CELEBA_ATTRIBUTES
    assert d["attributes"].dtype == np.int8 and d["attributes"].tolist() == [by_id[i]["attrs"] for i in expected]
    assert list(d["category_names"]) == [c["name"] for c in PRESET["prepare"]["categories"]]
    assert d["labels"].dtype == np.int64 and d["labels"].tolist() == [razzaq_label(named(by_id[i])) for i in expected]
    assert d["partition"].tolist() == [0] * len(expected)
    crop = yaml.safe_load((repo / "metrics/crop.json").read_text())
    assert crop["images"] == N_FACES and crop["rejected"] == 0 and crop["images_per_second"] > 0


def test_celeba_torchvision_layout_without_detection(tmp_path):
    data = mini_celeba(seed=12)
    root = torchvision_folder(tmp_path / "torchvision", data, zipped=True)
    prepare = {"resolution": 64, "aspect": "218:178", "where": "not Eyeglasses and Young", "max_images": 8}
    # verify: false -- a miniature cannot match the published MD5s (tested in test_data_archive.py)
    repo = dvc_repo(tmp_path, {"data": {"source": "celeba", "path": str(root), "verify": False}, "crop": {"mode": "none"}, "prepare": prepare})
    dvc(repo, "repro", "prepare")

    kept = check_raw_and_crops(repo, data)
    assert kept == [r["id"] for r in data["rows"]]  # mode none: every readable image is kept whole
    col = {a: k for k, a in enumerate(CELEBA_ATTRIBUTES)}
    expected = [r["id"] for r in data["rows"] if r["attrs"][col["Eyeglasses"]] == -1 and r["attrs"][col["Young"]] == 1][:8]
    d = load_dataset(repo / "data/prepared/faces.npz")
    assert list(d["image_ids"]) == expected
    assert d["images"].shape == (len(expected), 64, 52, 3)  # CelebA's 218:178 frame at height 64
    assert "labels" not in d and d["partition"].shape == (len(expected),)
    with Image.open(repo / "data/crops/images/000001.png") as im:
        assert im.size == (178, 218)


def test_lsun_bedroom_zip_center_crops(tmp_path):
    archive, names = lsun_zip(tmp_path / "lsun_bedroom.zip")
    repo = dvc_repo(tmp_path, {"data": {"source": "lsun_bedroom", "path": str(archive)}, "crop": {"mode": "center"}, "prepare": {"resolution": 32}})
    dvc(repo, "repro", "prepare")

    assert sorted(p.name for p in (repo / "data/raw/images").iterdir()) == names  # SHA-1 names kept
    assert not (repo / "data/raw/attributes.csv").exists()
    for p in (repo / "data/crops/images").iterdir():
        with Image.open(p) as im:
            assert im.size == (256, 256)  # the central square of a short side of 256
    d = load_dataset(repo / "data/prepared/faces.npz")
    assert list(d["image_ids"]) == names
    assert d["images"].shape == (len(names), 32, 32, 3)
    assert d["attributes"].shape == (len(names), 0) and "partition" not in d
    crop = yaml.safe_load((repo / "metrics/crop.json").read_text())
    assert crop["mode"] == "center" and crop["faces"] == len(names)
