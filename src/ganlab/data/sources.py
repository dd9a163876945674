"""Real data sources: CelebA (Kaggle's or torchvision's layout), LSUN bedroom, a folder of images.

Each writes the raw layout (see ganlab.data) from a local folder or zip given as `data.path`,
or, where none is given, from a download: the Kaggle API where its credentials exist, then
torchvision's CelebA downloader. Images are linked or unpacked by name, never decoded here.
"""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from ganlab.data.archive import FolderTree, Tree, ZipTree, find, is_ignored, open_tree
from ganlab.data.decode import IMAGE_SUFFIXES
from ganlab.errors import GanlabError
from ganlab.faces import LANDMARKS
from ganlab.params import DataParams

PARTITIONS = {"0": 0, "1": 1, "2": 2}  # CelebA: 0 train, 1 valid, 2 test
KAGGLE_CELEBA = "jessicali9530/celeba-dataset"
KAGGLE_LSUN = "jhoward/lsun_bedroom"


def is_image(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in IMAGE_SUFFIXES


# --- CelebA -------------------------------------------------------------------------------------


def write_celeba(p: DataParams, out: Path, progress: bool = True) -> None:
    """CelebA's aligned images with their 40 attributes and the train/valid/test partition.

    Kaggle's layout: img_align_celeba/img_align_celeba/*.jpg and list_*.csv (comma-separated,
    with a header). torchvision's: celeba/img_align_celeba/*.jpg (or img_align_celeba.zip) and
    list_*.txt (space-separated; list_attr_celeba.txt starts with a count and a header line).
    """
    tree = open_tree(p.path, _max_bytes(p)) if p.path else _open_download(p, _fetch_celeba(p))
    inner: Tree | None = None
    try:
        if attr := find(tree.names, "list_attr_celeba.csv"):
            names, attrs = _attrs_csv(tree, attr)
            part_name = find(tree.names, "list_eval_partition.csv")
            partition = _partition(tree, part_name, sep=",", header=True) if part_name else {}
        elif attr := find(tree.names, "list_attr_celeba.txt"):
            part_name = find(tree.names, "list_eval_partition.txt")
            if p.verify:
                _verify_torchvision(tree, [n for n in (attr, part_name) if n])
            names, attrs = _attrs_txt(tree, attr)
            partition = _partition(tree, part_name, sep=" ", header=False) if part_name else {}
        else:
            raise GanlabError(f"{tree.label}: neither list_attr_celeba.csv (Kaggle's layout) nor list_attr_celeba.txt (torchvision's) found")

        landmarks = _landmarks(tree)
        images = [n for n in tree.names if PurePosixPath(n).parent.name == "img_align_celeba" and is_image(n) and not is_ignored(n)]
        source = tree
        if not images and (zipped := find(tree.names, "img_align_celeba.zip")):
            if p.verify:
                _verify_torchvision(tree, [zipped])
            inner = ZipTree(tree.path(zipped) if isinstance(tree, FolderTree) else tree.open(zipped).f, f"{tree.label}:{zipped}", _max_bytes(p))
            source = inner
            images = [n for n in inner.names if PurePosixPath(n).parent.name == "img_align_celeba" and is_image(n) and not is_ignored(n)]
        if not images:
            raise GanlabError(f"{tree.label}: no images under img_align_celeba/ (nor an img_align_celeba.zip)")
        ids = place_images(source, images, out, p.limit, progress, rename=False)
    finally:
        if inner:
            inner.close()
        tree.close()

    missing = [i for i in ids if i not in attrs]
    if missing:
        print(f"warning: {len(missing)} images have no attribute row (e.g. {missing[0]}); prepare gives them 0s", file=sys.stderr)
    with open(out / "attributes.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["image_id", *names])
        w.writerows([i, *attrs[i]] for i in ids if i in attrs)
    if landmarks:  # for crop.mode landmarks, in Kaggle's CSV layout whichever layout they came in
        with open(out / "landmarks.csv", "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["image_id", *LANDMARKS])
            w.writerows([i, *landmarks[i]] for i in ids if i in landmarks)
    if partition:
        with open(out / "partition.csv", "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["image_id", "partition"])
            w.writerows([i, partition[i]] for i in ids if i in partition)


def _landmarks(tree: Tree) -> dict[str, list[int]]:
    """list_landmarks_align_celeba, Kaggle's CSV (header image_id,lefteye_x,...) or torchvision's
    TXT (a count line, a line of the ten names, then space-separated rows); {} when absent."""
    if name := find(tree.names, "list_landmarks_align_celeba.csv"):
        rows = list(csv.reader(tree.read_text(name).splitlines()))[1:]
    elif name := find(tree.names, "list_landmarks_align_celeba.txt"):
        rows = [line.split() for line in tree.read_text(name).splitlines()[2:]]
    else:
        return {}
    out = {}
    for k, row in enumerate(r for r in rows if r):
        if len(row) != 1 + len(LANDMARKS):
            raise GanlabError(f"{tree.label}:{name}: row {k + 1} has {len(row)} fields, expected image_id and {len(LANDMARKS)} coordinates")
        out[row[0]] = [int(v) for v in row[1:]]
    return out


def _attrs_csv(tree: Tree, name: str) -> tuple[list[str], dict[str, list[int]]]:
    rows = list(csv.reader(tree.read_text(name).splitlines()))
    if not rows or rows[0][:1] != ["image_id"]:
        raise GanlabError(f"{tree.label}:{name}: the header must start with image_id")
    return rows[0][1:], _attr_rows(rows[1:], len(rows[0]) - 1, f"{tree.label}:{name}", first_line=2)


def _attrs_txt(tree: Tree, name: str) -> tuple[list[str], dict[str, list[int]]]:
    lines = tree.read_text(name).splitlines()
    where = f"{tree.label}:{name}"
    if len(lines) < 2 or not lines[0].strip().isdigit():
        raise GanlabError(f"{where}: expected a count line, then a header line of attribute names")
    names = lines[1].split()
    attrs = _attr_rows([line.split() for line in lines[2:] if line.strip()], len(names), where, first_line=3)
    if int(lines[0]) != len(attrs):
        raise GanlabError(f"{where}: the count line says {int(lines[0])} images, the file lists {len(attrs)}")
    return names, attrs


def _attr_rows(rows: list[list[str]], width: int, where: str, first_line: int) -> dict[str, list[int]]:
    out = {}
    for k, row in enumerate(rows):
        if len(row) != width + 1 or any(v not in ("-1", "1") for v in row[1:]):
            raise GanlabError(f"{where} line {first_line + k}: expected an image id and {width} values of -1 or 1")
        out[row[0]] = [int(v) for v in row[1:]]
    return out


def _partition(tree: Tree, name: str, sep: str, header: bool) -> dict[str, int]:
    lines = [line for line in tree.read_text(name).splitlines() if line.strip()]
    out = {}
    for k, line in enumerate(lines[1:] if header else lines):
        row = line.split(sep) if sep == "," else line.split()
        if len(row) != 2 or row[1].strip() not in PARTITIONS:
            raise GanlabError(f"{tree.label}:{name} line {k + 1 + header}: expected an image id and 0, 1 or 2")
        out[row[0].strip()] = PARTITIONS[row[1].strip()]
    return out


def _verify_torchvision(tree: Tree, names: list[str]) -> None:
    """MD5 against torchvision's published list (the only published checksums of CelebA's files)."""
    from torchvision.datasets import CelebA

    published = {filename: md5 for _, md5, filename in CelebA.file_list}
    for name in names:
        base = PurePosixPath(name).name
        if base in published and (got := tree.md5(name)) != published[base]:
            raise GanlabError(
                f"{tree.label}:{name}: MD5 {got} is not the published {published[base]} (torchvision's list); "
                "a different or damaged copy; set data.verify: false to use it anyway"
            )


def _fetch_celeba(p: DataParams) -> Path:
    cache = _cache(p) / "celeba"
    if zip_path := _kaggle(KAGGLE_CELEBA, cache):
        return zip_path
    try:
        from torchvision.datasets import CelebA

        CelebA(str(cache), split="all", target_type="attr", download=True)  # checks torchvision's MD5s itself
    except Exception as e:  # network, Google Drive quota, a missing gdown: all mean "give a local copy"
        raise GanlabError(
            f"CelebA download failed ({_first_line(e)}); set data.path to Kaggle's celeba-dataset zip or folder, "
            "or to torchvision's folder holding celeba/"
        ) from None
    return cache


# --- LSUN bedroom and any folder of images ------------------------------------------------------


def write_lsun_bedroom(p: DataParams, out: Path, progress: bool = True) -> None:
    """Kaggle's 20 % sample of LSUN bedroom (jhoward/lsun_bedroom): nested folders of JPEGs, no attributes."""
    tree = open_tree(p.path, _max_bytes(p)) if p.path else _open_download(p, _fetch_kaggle_only(p, KAGGLE_LSUN, "lsun_bedroom"))
    _write_images_only(tree, p, out, progress)


def write_folder(p: DataParams, out: Path, progress: bool = True) -> None:
    """Every image in a folder or zip, at any depth; other files are listed in skipped.csv."""
    _write_images_only(open_tree(p.path, _max_bytes(p)), p, out, progress)


def _write_images_only(tree: Tree, p: DataParams, out: Path, progress: bool) -> None:
    try:
        files = [n for n in tree.names if not is_ignored(n)]
        images = [n for n in files if is_image(n)]
        skipped = [n for n in files if not is_image(n)]
        if not images:
            raise GanlabError(f"{tree.label}: no image files ({', '.join(IMAGE_SUFFIXES)}) found")
        place_images(tree, images, out, p.limit, progress, rename=True)
    finally:
        tree.close()
    if skipped:  # nothing is lost silently: crop copies these into its rejects.csv
        with open(out / "skipped.csv", "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["file", "reason"])
            w.writerows([n, "not an image file name"] for n in skipped)


def _fetch_kaggle_only(p: DataParams, ref: str, what: str) -> Path:
    if zip_path := _kaggle(ref, _cache(p) / what):
        return zip_path
    raise GanlabError(f"no data.path given and no Kaggle credentials for {ref}; set data.path to a local folder or zip of {what}")


# --- shared -------------------------------------------------------------------------------------


def place_images(tree: Tree, members: list[str], out: Path, limit: int, progress: bool, rename: bool) -> list[str]:
    """Link or unpack `members` into out/images under their file names; return the image ids.

    With `rename`, names that occur in more than one folder are prefixed by their folder path
    (a/b/x.jpg -> a__b__x.jpg) for every image, so no file overwrites another.
    """
    ids = [PurePosixPath(m).name for m in members]
    if len(set(ids)) != len(ids):
        if not rename:
            dup = next(i for i in ids if ids.count(i) > 1)
            raise GanlabError(f"{tree.label}: image name {dup} occurs more than once")
        ids = [m.replace("/", "__") for m in members]
    order = sorted(range(len(ids)), key=ids.__getitem__)
    if limit:
        order = order[:limit]
    (out / "images").mkdir(parents=True, exist_ok=True)
    for k in tqdm(order, desc="place images", unit="img", disable=not progress):
        tree.place(members[k], out / "images" / ids[k])
    return [ids[k] for k in order]


def _kaggle(ref: str, dest: Path) -> Path | None:
    """Download a Kaggle data set's zip with the Kaggle API, if it is installed and has credentials."""
    config = Path(os.environ.get("KAGGLE_CONFIG_DIR", Path.home() / ".kaggle")) / "kaggle.json"
    if not (config.exists() or {"KAGGLE_USERNAME", "KAGGLE_KEY"} <= set(os.environ)):
        return None
    try:
        from kaggle.api.kaggle_api_extended import KaggleApi
    except ImportError:
        return None
    zip_path = dest / f"{ref.split('/')[1]}.zip"
    if not zip_path.exists():
        try:
            api = KaggleApi()
            api.authenticate()
            api.dataset_download_files(ref, path=str(dest), unzip=False, quiet=False)
        except Exception as e:
            raise GanlabError(f"Kaggle download of {ref} failed ({_first_line(e)}); set data.path to a local copy") from None
    return zip_path


def _open_download(p: DataParams, path: Path) -> Tree:
    return open_tree(path, _max_bytes(p))


def _cache(p: DataParams) -> Path:
    return Path(p.cache).expanduser() if p.cache else Path.home() / ".cache" / "ganlab"


def _max_bytes(p: DataParams) -> int:
    return int(p.max_unpacked_gb * 1e9)


def _first_line(e: BaseException) -> str:
    return (f"{type(e).__name__}: {e}".strip().splitlines() or [type(e).__name__])[0]

