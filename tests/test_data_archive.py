"""Archives: unsafe zips are refused before anything is written, checksums, missing sources."""

import hashlib
import stat
import zipfile

import pytest

from ganlab.data import archive
from ganlab.data.fetch import download
from ganlab.data.archive import safe_extract
from ganlab.errors import GanlabError
from ganlab.params import DataParams
from test_data_sources import mini_celeba, torchvision_folder


def zip_with(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)  # a ZipInfo keeps the name as given, '..' included
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return path


@pytest.mark.parametrize("evil", ["../escape.jpg", "images/../../escape.jpg", "/tmp/ganlab-escape.jpg"])
def test_escaping_member_is_refused_and_nothing_is_written(tmp_path, evil):
    z = zip_with(tmp_path / "photos.zip", {"images/a.jpg": b"jpeg", evil: b"evil"})
    target = tmp_path / "deep" / "target"
    before = set(tmp_path.rglob("*"))
    with pytest.raises(GanlabError, match="would land outside the target folder"):
        safe_extract(z, target)
    assert set(tmp_path.rglob("*")) == before  # not even the harmless member was written
    with pytest.raises(GanlabError, match="outside"):
        download(DataParams(source="folder", path=str(z)), tmp_path / "raw", progress=False)
    assert set(tmp_path.rglob("*")) == before  # download's atomic folder is gone too


def test_symlink_member_is_refused(tmp_path):
    info = zipfile.ZipInfo("images/link.jpg")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(tmp_path / "l.zip", "w") as z:
        z.writestr(info, "/etc/passwd")
    with pytest.raises(GanlabError, match="symbolic link"):
        safe_extract(tmp_path / "l.zip", tmp_path / "t")


def test_decompression_bombs_are_refused(tmp_path, monkeypatch):
    z = zip_with(tmp_path / "bomb.zip", {"images/zeros.jpg": bytes(8 << 20)})  # 8 MB of zeros packs to ~8 kB
    with pytest.raises(GanlabError, match="decompression bomb"):
        safe_extract(z, tmp_path / "t", max_bytes=4 << 20)  # the total cap
    monkeypatch.setattr(archive, "MAX_RATIO", 100)
    with pytest.raises(GanlabError, match="decompression bomb"):
        safe_extract(z, tmp_path / "t")  # the ratio cap
    assert not (tmp_path / "t").exists()


def test_safe_extract_extracts_a_good_zip(tmp_path):
    z = zip_with(tmp_path / "ok.zip", {"a/b.jpg": b"1", "c.txt": b"22"})
    out = safe_extract(z, tmp_path / "t")
    assert sorted(p.relative_to(tmp_path / "t").as_posix() for p in out) == ["a/b.jpg", "c.txt"]
    assert (tmp_path / "t/c.txt").read_bytes() == b"22"


def test_torchvision_files_are_checked_against_published_md5(tmp_path, monkeypatch):
    root = torchvision_folder(tmp_path / "tv", mini_celeba(n=4), zipped=True)
    p = DataParams(source="celeba", path=str(root))
    with pytest.raises(GanlabError, match=r"list_attr_celeba.txt: MD5 .* published 75e246fa4810816ffd6ee81facbd244c.*data.verify: false"):
        download(p, tmp_path / "raw", progress=False)
    assert not (tmp_path / "raw").exists()

    from torchvision.datasets import CelebA

    md5 = lambda name: hashlib.md5((root / "celeba" / name).read_bytes()).hexdigest()  # noqa: E731
    names = ("img_align_celeba.zip", "list_attr_celeba.txt", "list_eval_partition.txt")
    monkeypatch.setattr(CelebA, "file_list", [("id", md5(n), n) for n in names])  # as if this were the published copy
    download(p, tmp_path / "raw", progress=False)
    assert len(list((tmp_path / "raw/images").iterdir())) == 4


def test_folder_images_are_hard_links_not_copies(tmp_path):
    (tmp_path / "src/x").mkdir(parents=True)
    (tmp_path / "src/x/a.jpg").write_bytes(b"a")
    (tmp_path / "src/y").mkdir()
    (tmp_path / "src/y/a.jpg").write_bytes(b"b")  # the same name in two folders
    download(DataParams(source="folder", path=str(tmp_path / "src")), tmp_path / "raw", progress=False)
    names = sorted(p.name for p in (tmp_path / "raw/images").iterdir())
    assert names == ["x__a.jpg", "y__a.jpg"]
    assert (tmp_path / "raw/images/x__a.jpg").stat().st_ino == (tmp_path / "src/x/a.jpg").stat().st_ino


def test_missing_sources_say_what_to_set(tmp_path, monkeypatch):
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "no-kaggle"))
    monkeypatch.delenv("KAGGLE_USERNAME", raising=False)
    with pytest.raises(GanlabError, match="set data.path"):
        download(DataParams(source="lsun_bedroom", cache=str(tmp_path / "cache")), tmp_path / "raw", progress=False)
    with pytest.raises(GanlabError, match="no such folder or zip"):
        download(DataParams(source="celeba", path=str(tmp_path / "nowhere.zip")), tmp_path / "raw", progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(GanlabError, match="list_attr_celeba"):
        download(DataParams(source="celeba", path=str(tmp_path / "empty")), tmp_path / "raw", progress=False)
