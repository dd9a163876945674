"""The prepared dataset on disk: an npz that `np.load` reads, whose `images` can be streamed.

`faces.npz` is an ordinary npz (a zip of .npy files), written uncompressed (ZIP_STORED): the
bytes of the `images` array lie contiguous in the file, so a reader maps them (`np.memmap`) or
reads any rows with one `pread`, and never loads the whole set. Compression bought little on
photos (JPEG-like content) and forced every stage to inflate the whole array in one thread.

The writer streams too: `DatasetWriter` writes the .npy header for the final shape, then the
rows as they come, so `prepare` never holds more than a row.
"""

from __future__ import annotations

import os
import struct
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ganlab.errors import GanlabError
from ganlab.io import atomic_path

IMAGES = "images.npy"  # the member of the npz holding the (N, H, W, 3) uint8 array
# A fixed timestamp on every member: the same data gives the same bytes on every run.
_EPOCH = (1980, 1, 1, 0, 0, 0)
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")  # a zip local file header, before the name and extra


def _member(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_EPOCH)
    info.compress_type = zipfile.ZIP_STORED
    return info


class DatasetWriter:
    """Write a prepared dataset row by row: `images` first (shape known up front), then the
    small arrays (attributes, names, ids, labels...) at close.

        with DatasetWriter(path, (n, h, w, 3), attributes=a, image_ids=ids) as w:
            for row in rows:
                w.write(row)  # uint8 (h, w, 3)

    The file appears (atomically) only if all n rows were written and the block succeeded.
    """

    def __init__(self, path: str | Path, shape: Sequence[int], **arrays: np.ndarray) -> None:
        self.path, self.shape, self.arrays = Path(path), tuple(int(s) for s in shape), arrays
        self.written = 0

    def __enter__(self) -> DatasetWriter:
        self._atomic = atomic_path(self.path)
        tmp = self._atomic.__enter__()
        self._zip = zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED, allowZip64=True)
        # force_zip64: the size is unknown to zipfile when the member opens, and may pass 4 GB
        self._stream = self._zip.open(_member(IMAGES), "w", force_zip64=True)
        np.lib.format.write_array_header_1_0(self._stream, {"descr": "|u1", "fortran_order": False, "shape": self.shape})
        return self

    def write(self, row: np.ndarray) -> None:
        """Append one image, uint8 of shape shape[1:]."""
        if row.shape != self.shape[1:] or row.dtype != np.uint8:
            raise GanlabError(f"dataset row {self.written}: expected uint8 {self.shape[1:]}, got {row.dtype} {row.shape}")
        if self.written == self.shape[0]:
            raise GanlabError(f"dataset: more than the {self.shape[0]} rows announced")
        self._stream.write(np.ascontiguousarray(row).data)
        self.written += 1

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self._stream.close()
            if exc_type is None:
                if self.written != self.shape[0]:
                    raise GanlabError(f"dataset: {self.written} rows written of the {self.shape[0]} announced")
                for name, array in self.arrays.items():
                    with self._zip.open(_member(f"{name}.npy"), "w", force_zip64=True) as f:
                        np.lib.format.write_array(f, np.asarray(array), allow_pickle=False)
            self._zip.close()
        except BaseException as e:
            self._atomic.__exit__(type(e), e, e.__traceback__)
            raise
        self._atomic.__exit__(exc_type, exc, tb)


def save_dataset(path: str | Path, images: np.ndarray, **arrays: np.ndarray) -> None:
    """Write in-memory arrays in the streaming format (small sets: tests, conversions)."""
    with DatasetWriter(path, images.shape, **arrays) as w:
        for row in images:
            w.write(row)


class Rows:
    """The images of a dataset as a read-only array-like: `rows[a:b]`, `rows[[i, j, ...]]` and
    `rows[i]` return fresh uint8 arrays read with `os.preadv`.

    Nothing is mapped into the process, so its resident memory stays what the caller keeps; a
    memmap would count every page it ever touched in the RSS until the kernel reclaims it.
    Safe to share between threads (preadv takes the offset, no shared file position).
    """

    def __init__(self, fd: int, offset: int, shape: tuple[int, ...]) -> None:
        self._fd, self._offset, self.shape = fd, offset, shape
        self.dtype = np.dtype(np.uint8)
        self._row = int(np.prod(shape[1:]))

    def __len__(self) -> int:
        return self.shape[0]

    def _read(self, out: np.ndarray, start: int) -> None:
        view = memoryview(out.reshape(-1))
        done = 0
        while done < len(view):  # preadv may return short reads on large requests
            n = os.preadv(self._fd, [view[done:]], self._offset + start * self._row + done)
            if n <= 0:
                raise GanlabError(f"dataset file ends early (row {start}, byte {done})")
            done += n

    def __getitem__(self, key) -> np.ndarray:
        n = self.shape[0]
        if isinstance(key, slice):
            start, stop, step = key.indices(n)
            if step != 1:
                return self[np.arange(start, stop, step)]
            out = np.empty((max(stop - start, 0), *self.shape[1:]), np.uint8)
            if len(out):
                self._read(out, start)
            return out
        if np.ndim(key) == 0:
            i = int(key)
            if not -n <= i < n:
                raise IndexError(f"row {i} out of range for {n} images")
            out = np.empty(self.shape[1:], np.uint8)
            self._read(out, i % n)
            return out
        idx = np.asarray(key, dtype=np.int64).reshape(-1)
        if len(idx) and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"row indices out of range for {n} images")
        out = np.empty((len(idx), *self.shape[1:]), np.uint8)
        for k, i in enumerate(idx % n if len(idx) else idx):
            self._read(out[k], int(i))
        return out


class _InMemoryRows(Rows):
    """Rows over an array already in memory (an npz written compressed, which cannot be mapped)."""

    def __init__(self, images: np.ndarray) -> None:
        self._images, self.shape, self.dtype = images, images.shape, images.dtype

    def __getitem__(self, key) -> np.ndarray:
        return np.array(self._images[key])


def _images_offset(f, info: zipfile.ZipInfo) -> tuple[int, tuple[int, ...], np.dtype]:
    """Byte offset, shape and dtype of the array data of a stored .npy member."""
    f.seek(info.header_offset)
    fields = _LOCAL_HEADER.unpack(f.read(_LOCAL_HEADER.size))
    if fields[0] != b"PK\x03\x04":
        raise GanlabError(f"not a zip local header at byte {info.header_offset}")
    name_len, extra_len = fields[-2:]
    f.seek(info.header_offset + _LOCAL_HEADER.size + name_len + extra_len)  # the .npy file begins
    version = np.lib.format.read_magic(f)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, fortran, dtype = read(f)
    if fortran:
        raise GanlabError("dataset images are stored in Fortran order; re-run prepare")
    return f.tell(), shape, dtype


class Dataset:
    """A prepared dataset opened for streaming. Use as a context manager, or call close().

    images: the (N, H, W, 3) uint8 array as a read-only np.memmap (a plain array for an npz
        written compressed); pages it touches count in the RSS.
    rows: the same images read on demand (`rows[a:b]`, `rows[indices]`), nothing mapped.
    arrays: the small arrays (attributes, attribute_names, image_ids, labels, category_names,
        partition), loaded into memory; also `ds["attributes"]`, `"labels" in ds`, `ds.get(...)`.
    mapped: whether images are read from disk (False for a compressed npz, loaded whole).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        with np.load(self.path, allow_pickle=False) as z:
            self.arrays = {k: z[k] for k in z.files if k != "images"}
            if "images" not in z.files:
                raise GanlabError(f"{self.path} holds no 'images' array")
        self._file = open(self.path, "rb", buffering=0)
        with zipfile.ZipFile(self.path) as zf:
            info = zf.getinfo(IMAGES)
        self.mapped = info.compress_type == zipfile.ZIP_STORED
        if self.mapped:
            offset, shape, dtype = _images_offset(self._file, info)
            if dtype != np.uint8 or len(shape) != 4:
                raise GanlabError(f"{self.path}: images must be uint8 (N, H, W, C), got {dtype} {shape}")
            self.images = np.memmap(self.path, np.uint8, "r", offset=offset, shape=shape) if shape[0] else np.empty(shape, np.uint8)
            self.rows: Rows = Rows(self._file.fileno(), offset, shape)
        else:  # a compressed npz (written by an older prepare, or by np.savez_compressed)
            with np.load(self.path, allow_pickle=False) as z:
                self.images = z["images"]
            self.rows = _InMemoryRows(self.images)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.images if name == "images" else self.arrays[name]

    def __contains__(self, name: str) -> bool:
        return name == "images" or name in self.arrays

    def get(self, name: str, default=None):
        return self[name] if name in self else default

    def close(self) -> None:
        self.images = None  # drop the map
        self._file.close()

    def __enter__(self) -> Dataset:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_dataset(path: str | Path) -> Dataset:
    """Open a prepared dataset npz for streaming (see Dataset); GanlabError if it is missing."""
    if not Path(path).exists():
        raise GanlabError(f"prepared dataset not found: {path}")
    return Dataset(path)
