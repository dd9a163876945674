"""The prepared dataset format: an npz that plain np.load reads, whose images stream from disk,
written by prepare row by row in bounded memory."""

import hashlib
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest

from ganlab.dataset import DatasetWriter, open_dataset, save_dataset
from ganlab.errors import GanlabError
from ganlab.io import load_dataset, save_npz
from ganlab.params import PrepareParams
from ganlab.prepare import prepare

sys.path.insert(0, str(Path(__file__).parent / "benchmarks"))
from bench_scale import write_crops  # noqa: E402  (the benchmark's synthetic crop layout)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("dataset")
    write_crops(root, 60, 24, seed=1)
    p = PrepareParams(resolution=16, workers=2)
    prepare(root / "crops", root / "raw", root / "faces.npz", p, progress=False)
    return root, p


def test_np_load_reads_what_the_in_memory_build_gave(prepared):
    root, p = prepared
    data = load_dataset(root / "faces.npz")  # plain np.load
    # the array the stage built in memory before: each crop fitted to the size, in boxes.csv's order
    from ganlab.prepare import _load_job

    want = np.stack([_load_job((str(root / f"crops/images/{i + 1:06d}.png"), (16, 16))) for i in range(60)])
    assert data["images"].dtype == np.uint8 and np.array_equal(data["images"], want)
    assert list(data["image_ids"]) == [f"{i + 1:06d}.jpg" for i in range(60)]
    assert data["attributes"].shape == (60, 3) and set(np.unique(data["attributes"])) <= {-1, 1}
    with zipfile.ZipFile(root / "faces.npz") as z:
        assert z.namelist()[0] == "images.npy"
        assert {i.compress_type for i in z.infolist()} == {zipfile.ZIP_STORED}  # what makes it mappable


def test_prepare_is_byte_identical_across_reruns(prepared):
    root, p = prepared
    prepare(root / "crops", root / "raw", root / "again.npz", p, progress=False)
    digest = lambda f: hashlib.sha256((root / f).read_bytes()).hexdigest()  # noqa: E731
    assert digest("faces.npz") == digest("again.npz")


def test_mapped_reader_returns_the_rows_of_the_in_memory_one(prepared):
    root, _ = prepared
    full = load_dataset(root / "faces.npz")
    with open_dataset(root / "faces.npz") as ds:
        assert ds.mapped and isinstance(ds.images, np.memmap) and not ds.images.flags.writeable
        assert len(ds) == 60 and ds.rows.shape == full["images"].shape
        assert np.array_equal(ds.images, full["images"])
        assert np.array_equal(ds.rows[7:31], full["images"][7:31])
        idx = np.array([59, 0, 13, 13, 42])
        assert np.array_equal(ds.rows[idx], full["images"][idx])
        assert np.array_equal(ds.rows[-1], full["images"][-1])
        assert np.array_equal(ds.rows[::9], full["images"][::9])
        assert np.array_equal(ds["attributes"], full["attributes"]) and "labels" not in ds
        with pytest.raises(IndexError):
            ds.rows[[60]]


def test_a_compressed_npz_is_still_read(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (5, 4, 4, 3), dtype=np.uint8)
    save_npz(tmp_path / "old.npz", images=images, labels=np.arange(5))
    with open_dataset(tmp_path / "old.npz") as ds:
        assert not ds.mapped  # cannot be mapped: loaded whole
        assert np.array_equal(ds.rows[[4, 1]], images[[4, 1]]) and np.array_equal(ds["labels"], np.arange(5))


def test_writer_refuses_wrong_rows_and_leaves_no_file(tmp_path):
    with pytest.raises(GanlabError, match="expected uint8"), DatasetWriter(tmp_path / "a.npz", (2, 4, 4, 3)) as w:
        w.write(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(GanlabError, match="1 rows written of the 2"), DatasetWriter(tmp_path / "b.npz", (2, 4, 4, 3)) as w:
        w.write(np.zeros((4, 4, 3), np.uint8))
    assert not list(tmp_path.iterdir())


def test_missing_file_is_one_line_error(tmp_path):
    with pytest.raises(GanlabError, match="not found"):
        open_dataset(tmp_path / "none.npz")


def test_save_dataset_round_trips(tmp_path):
    images = np.random.default_rng(1).integers(0, 256, (3, 2, 5, 3), dtype=np.uint8)
    save_dataset(tmp_path / "d.npz", images, image_ids=np.array(["a", "b", "c"]))
    with np.load(tmp_path / "d.npz") as z:
        assert np.array_equal(z["images"], images) and list(z["image_ids"]) == ["a", "b", "c"]


def test_prepare_memory_does_not_grow_with_the_array(tmp_path):
    """4,000 crops at 128 px: a 188 MiB array. Building it in memory (as prepare once did) raises
    the stage's peak RSS by at least that; streaming rows keeps the growth to a few MB."""
    n, size = 4000, 128
    write_crops(tmp_path, n, size, seed=2)
    # After the imports, reset the process's peak RSS (VmHWM; Linux: clear_refs 5): importing
    # torch peaks higher than a 188 MiB array on top of the settled RSS, and would hide it.
    script = textwrap.dedent(f"""
        from pathlib import Path
        from ganlab.params import PrepareParams
        from ganlab.prepare import prepare
        status = lambda key: int(next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith(key)).split()[1])
        Path("/proc/self/clear_refs").write_text("5")
        before = status("VmRSS:")
        prepare({str(tmp_path / "crops")!r}, {str(tmp_path / "raw")!r}, {str(tmp_path / "faces.npz")!r}, PrepareParams(resolution={size}, workers=2), progress=False)
        print((status("VmHWM:") - before) / 1024)
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env={"PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1", "PATH": ""}, check=True)
    growth_mb = float(r.stdout.split()[-1])
    array_mb = n * size * size * 3 / 2**20
    print(f"prepare: peak RSS grew {growth_mb:.1f} MiB while writing a {array_mb:.0f} MiB array")
    assert growth_mb < array_mb / 4
    with open_dataset(tmp_path / "faces.npz") as ds:
        assert ds.rows.shape == (n, size, size, 3)
