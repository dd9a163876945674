"""Folders and zips behind one read-only interface, with safe extraction and checksums.

A source finds its files by their path inside the given folder or zip (a `Tree`) and places
each image into the raw layout: a hard link from a folder (no copy; a copy only across file
systems), a checked, size-capped stream from a zip. No image is decoded here.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath
from typing import IO, Iterable

from ganlab.errors import GanlabError

_CHUNK = 1 << 20
MAX_RATIO = 1000  # a member that unpacks to more than this times its packed size is a bomb, not data
_RATIO_FLOOR = 1 << 20  # ... when it unpacks to more than this many bytes (tiny files compress freely)
IGNORED_PARTS = ("__MACOSX",)  # resource-fork folders macOS adds to zips


class Tree:
    """Files of a folder or a zip, by posix path relative to its root."""

    names: list[str]
    label: str

    def open(self, name: str) -> IO[bytes]:
        raise NotImplementedError

    def place(self, name: str, dest: Path) -> None:
        """Put file `name` at `dest` (a new path) without decoding it."""
        raise NotImplementedError

    def md5(self, name: str) -> str:
        h = hashlib.md5()
        with self.open(name) as f:
            for chunk in iter(lambda: f.read(_CHUNK), b""):
                h.update(chunk)
        return h.hexdigest()

    def read_text(self, name: str) -> str:
        with self.open(name) as f:
            return f.read().decode("utf-8-sig")

    def close(self) -> None:
        pass


class FolderTree(Tree):
    def __init__(self, root: Path):
        self.root = root
        self.label = str(root)
        names = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            rel = Path(dirpath).relative_to(root)
            names += [(rel / f).as_posix() for f in sorted(filenames)]
        self.names = names

    def open(self, name: str) -> IO[bytes]:
        return open(self.root / name, "rb")

    def path(self, name: str) -> Path:
        return self.root / name

    def place(self, name: str, dest: Path) -> None:
        src = self.root / name
        try:
            os.link(src, dest)  # 200k images: a link costs no space and no copying time
        except OSError:  # another file system, or links not allowed there
            shutil.copyfile(src, dest)


class ZipTree(Tree):
    """A zip whose every member is checked before anything is read: a path that would leave the
    target folder, a link, or a declared size beyond the limits refuses the whole archive."""

    def __init__(self, source: Path | IO[bytes], label: str, max_bytes: int):
        self.label = label
        try:
            self.zf = zipfile.ZipFile(source)
        except (zipfile.BadZipFile, OSError) as e:
            raise GanlabError(f"{label} is not a readable zip: {e}") from None
        self.max_bytes = max_bytes
        self.members: dict[str, zipfile.ZipInfo] = {}
        total = 0
        for info in self.zf.infolist():
            check_member(info, label)
            if info.is_dir():
                continue
            total += info.file_size
            if total > max_bytes:
                raise GanlabError(f"{label} unpacks to more than {max_bytes / 1e9:.1f} GB (data.max_unpacked_gb); refusing a possible decompression bomb")
            self.members[posixpath.normpath(info.filename)] = info
        self.names = sorted(self.members)

    def open(self, name: str) -> IO[bytes]:
        return _Capped(self.zf.open(self.members[name]), self.members[name].file_size, f"{self.label}:{name}")

    def place(self, name: str, dest: Path) -> None:
        with self.open(name) as src, open(dest, "xb") as out:
            shutil.copyfileobj(src, out, _CHUNK)

    def close(self) -> None:
        self.zf.close()


def check_member(info: zipfile.ZipInfo, label: str) -> None:
    """Refuse a member that could write outside the target folder, a link, or a bomb."""
    name = info.filename
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise GanlabError(f"{label}: member '{name}' would land outside the target folder; refusing the archive")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise GanlabError(f"{label}: member '{name}' is a symbolic link; refusing the archive")
    if info.file_size > _RATIO_FLOOR and info.file_size > MAX_RATIO * max(1, info.compress_size):
        raise GanlabError(f"{label}: member '{name}' unpacks {info.file_size / max(1, info.compress_size):.0f}x its packed size; refusing a possible decompression bomb")


class _Capped:
    """A zip member stream that fails once it yields more bytes than its header declared."""

    def __init__(self, f: IO[bytes], limit: int, label: str):
        self.f, self.left, self.label = f, limit, label

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n if n is not None and n >= 0 else self.left + 1)
        self.left -= len(data)
        if self.left < 0:
            raise GanlabError(f"{self.label} unpacks to more bytes than its header declares; refusing it")
        return data

    def __enter__(self) -> "_Capped":
        return self

    def __exit__(self, *exc) -> None:
        self.f.close()


def open_tree(path: str | Path, max_bytes: int) -> Tree:
    """A FolderTree or ZipTree for a local path, or a one-line error if it is neither."""
    path = Path(path).expanduser()
    if path.is_dir():
        return FolderTree(path)
    if path.is_file():
        return ZipTree(path, str(path), max_bytes)
    raise GanlabError(f"data.path: no such folder or zip: {path}")


def safe_extract(zip_path: str | Path, target: str | Path, max_bytes: int = 64 * 10**9) -> list[Path]:
    """Extract a whole zip under `target`, refusing it before writing anything if any member
    would land outside `target`, is a link, or unpacks beyond `max_bytes` in all."""
    target = Path(target)
    tree = ZipTree(Path(zip_path), str(zip_path), max_bytes)
    try:
        out = []
        root = target.resolve()
        for name in tree.names:
            dest = (target / name).resolve()
            if root not in dest.parents:  # normalised names cannot escape; this guards the rule itself
                raise GanlabError(f"{zip_path}: member '{name}' would land outside {target}; refusing it")
            dest.parent.mkdir(parents=True, exist_ok=True)
            tree.place(name, dest)
            out.append(dest)
        return out
    finally:
        tree.close()


def is_ignored(name: str) -> bool:
    """Resource forks and hidden files that archivers and file browsers add."""
    parts = PurePosixPath(name).parts
    return any(p in IGNORED_PARTS or p.startswith(".") for p in parts)


def find(names: Iterable[str], basename: str) -> str | None:
    """The shallowest path among `names` whose last part is `basename`."""
    hits = [n for n in names if PurePosixPath(n).name == basename and not is_ignored(n)]
    return min(hits, key=lambda n: (n.count("/"), n)) if hits else None
