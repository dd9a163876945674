"""The render stage on tiny models trained by the real trainer: frame counts, held frames,
formats, the grid, the progress animation, conditional models, MLflow logging."""

from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from conftest import use_mlflow_store
from ganlab import render as R
from ganlab.folder import load_generator
from ganlab.io import save_npz
from ganlab.models import REGISTRY
from ganlab.params import RenderParams, TrainParams
from ganlab.train import train

RES = 16  # image side of the tiny models


def train_tiny(tmp: Path, model: str = "dcgan", classes: int = 0) -> Path:
    """Train `model` for 4 steps on random 16 px images into tmp/<model>; sample grids at steps 2 and 4.

    The caller points MLFLOW_TRACKING_URI (and the cwd, where MLflow puts artifacts) into tmp.
    Four steps leave a DCGAN's batch-norm statistics at their initial values, far from its
    activations, so every image would be the same flat grey: the saved generator gets the
    statistics of a forward pass instead, as a longer training run would, and draws varied images.
    """
    rng = np.random.default_rng(0)
    arrays = {"images": rng.integers(0, 256, (24, RES, RES, 3), dtype=np.uint8)}
    if classes:
        arrays |= {"labels": np.arange(24) % classes, "category_names": np.array([f"c{i}" for i in range(classes)])}
    save_npz(tmp / f"{model}.npz", **arrays)
    mp = REGISTRY[model].Params(steps=4, batch_size=4, width=4, nz=8, lr_g=0.02, lr_d=0.02)
    tp = TrainParams(checkpoint_every=2, sample_every=2, log_every=2, grid_size=2, device="cpu", ema=0.0)
    train(model, mp, tp, tmp / f"{model}.npz", tmp / model, tmp / f"{model}.json", tmp / f"{model}.csv", progress=False)
    G, meta = load_generator(tmp / model)
    G.train()
    for m in G.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None  # a plain average over the pass
    with torch.no_grad():
        G(torch.randn(256, meta["nz"]), torch.arange(256) % classes if classes else None)
    torch.save(G.state_dict(), tmp / model / "generator.pt")
    return tmp / model


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A folder holding this module's MLflow store; tests that log use it through `in_store`."""
    return tmp_path_factory.mktemp("render")


@pytest.fixture
def in_store(store, monkeypatch):
    return use_mlflow_store(store, monkeypatch)


@pytest.fixture(scope="module")
def dcgan(store):
    with pytest.MonkeyPatch.context() as mp:
        return train_tiny(use_mlflow_store(store, mp))


@pytest.fixture(scope="module")
def cdcgan(store):
    with pytest.MonkeyPatch.context() as mp:
        return train_tiny(use_mlflow_store(store, mp), "cdcgan", classes=3)


def shown(path: Path, fps: int) -> list[int]:
    """How many frame periods each frame of a GIF is shown for (Pillow merges identical frames)."""
    return [round(iio.immeta(path, index=i)["duration"] * fps / 1000) for i in range(iio.improps(path, index=None).shape[0])]


def test_hold_repeats_every_key_frame():
    assert R.hold(np.arange(6), 3, 2).tolist() == [0, 0, 0, 1, 2, 3, 3, 3, 4, 5]
    assert R.hold(np.arange(4), 2, 0).tolist() == [0, 1, 2, 3]


def test_tile_places_images_row_by_row():
    images = np.stack([np.full((2, 3, 1), i + 1, np.uint8) for i in range(3)])
    out = R.tile(images, 2, pad=1, pad_value=0)
    assert out.shape == (1 + 2 * 3, 1 + 2 * 4, 1)
    assert out[1, 1, 0] == 1 and out[1, 5, 0] == 2 and out[4, 1, 0] == 3
    assert out[4, 5, 0] == 0 and out[0, :, 0].max() == 0  # the missing fourth cell and the padding


def test_render_writes_every_animation_in_every_format(dcgan, in_store):
    p = RenderParams(points=3, frames_per_transition=4, hold_frames=2, fps=10, formats=["gif", "mp4"], grid=2, strip_steps=5, upscale=2, seed=7)
    out = in_store / "renders"
    written = R.render(dcgan, out, p, training_dir=dcgan, progress=False)
    animations = ("interp_lerp", "interp_slerp", "interp_grid", "progress")
    assert set(written) == {f"{a}.{f}" for a in animations for f in ("gif", "mp4")} | {"strip.png"}
    assert all(path.exists() for path in written.values())
    assert not list(out.glob(".*"))  # atomic writes leave no temporary files

    t, side = 3 * (4 + 2), 2 * RES
    video = iio.imread(out / "interp_slerp.mp4", index=None)
    assert video.shape == (t, side, side, 3)
    for key in (0, 6, 12):  # each key point held: three frames, identical after H.264 too
        assert np.abs(video[key + 1].astype(int) - video[key]).mean() < 1
        assert np.abs(video[key + 2].astype(int) - video[key]).mean() < 1
    periods = shown(out / "interp_slerp.gif", p.fps)
    assert sum(periods) == t and periods.count(3) == 3  # the held frames are one GIF frame shown three times as long
    # as it plays, the GIF is the loop through seeds 7, 8, 9 (what `ganlab interpolate --seeds 7,8,9` draws);
    # a 16 px image has at most 256 colours, so the GIF palette loses nothing
    G, meta = load_generator(dcgan)
    expected = R.interpolation(G, R.seed_points([7, 8, 9], meta["nz"]), 4, 2, "slerp", factor=2)
    assert np.array_equal(np.repeat(iio.imread(out / "interp_slerp.gif", index=None), periods, axis=0), expected)

    assert iio.imread(out / "interp_grid.mp4", index=None).shape == (t, 2 * side, 2 * side, 3)
    assert iio.imread(out / "strip.png").shape[:2] == (side, 5 * side)

    grids = sorted((dcgan / "samples").glob("step_*.png"))
    assert len(grids) == 2
    progress = iio.imread(out / "progress.gif", index=None)
    h, w = iio.imread(grids[0]).shape[:2]
    assert progress.shape[0] == len(grids) and progress.shape[2] == w and progress.shape[1] > h  # the step caption below
    assert iio.imread(out / "progress.mp4", index=None).shape[0] == len(grids) * (1 + p.hold_frames)

    from mlflow.tracking import MlflowClient

    run_id = meta["mlflow_run_id"]
    logged = {Path(a.path).name for a in MlflowClient().list_artifacts(run_id, "render")}
    assert set(written) <= logged


def test_grid_cells_have_their_own_points(dcgan):
    G, meta = load_generator(dcgan)
    frames = R.interpolation(G, R.seed_points([1, 2], meta["nz"], cells=4), 3, 0)
    assert frames.shape == (6, 2 * RES, 2 * RES, 3)
    cells = [frames[0, y : y + RES, x : x + RES] for y in (0, RES) for x in (0, RES)]
    assert all(not np.array_equal(cells[0], c) for c in cells[1:])
    # one cell is the single loop through the same seeds' first vectors
    single = R.interpolation(G, R.seed_points([1, 2], meta["nz"], cells=4)[1:2], 3, 0)
    assert np.array_equal(single, frames[:, :RES, RES:])


def test_conditional_model_keeps_one_label_per_loop(cdcgan, in_store):
    G, meta = load_generator(cdcgan)
    assert meta["num_classes"] == 3
    points = R.seed_points([1, 2], meta["nz"])
    frames = R.interpolation(G, points, 3, 2, labels=R.cell_labels(3, 1))
    # a label drawn afresh per image (cdcgan's default) would change the held frames
    assert np.array_equal(frames[0], frames[1]) and np.array_equal(frames[0], frames[2])
    other = R.interpolation(G, points, 3, 2, labels=R.cell_labels(3, 1, first=1))
    assert not np.array_equal(frames, other)  # the label does condition the images

    p = RenderParams(points=2, frames_per_transition=2, hold_frames=1, fps=10, grid=2, strip_steps=3, progress=False)
    written = R.render(cdcgan, in_store / "renders_c", p, progress=False)
    assert iio.imread(written["interp_grid.gif"], index=0).shape == (2 * 2 * RES, 2 * 2 * RES, 3)


def test_progress_frames_are_in_step_order(tmp_path):
    steps = [1000000, 9, 999999, 10]  # by name, step_1000000 would sort before step_999999
    (tmp_path / "samples").mkdir()
    for step in steps:
        iio.imwrite(tmp_path / "samples" / f"step_{step:06d}.png", np.full((8, 40, 3), step % 251, np.uint8))
    frames = R.progress_frames(tmp_path, hold_frames=1)
    assert frames.shape[0] == 2 * len(steps)
    assert [int(f[0, 0, 0]) for f in frames[::2]] == [s % 251 for s in sorted(steps)]
    assert np.array_equal(frames[0], frames[1])
    assert not np.array_equal(frames[0][8:], frames[2][8:])  # the captions differ: "step 9", "step 10"


def test_mp4_of_odd_size_is_padded_not_resized(tmp_path):
    frames = np.random.default_rng(0).integers(0, 256, (4, 15, 17, 3), dtype=np.uint8)
    R.write_animation(tmp_path / "odd.mp4", frames, 10)
    assert iio.imread(tmp_path / "odd.mp4", index=None).shape == (4, 16, 18, 3)


def test_unknown_animation_format_is_a_one_line_error(tmp_path):
    from ganlab.errors import GanlabError

    with pytest.raises(GanlabError, match=r"'\.avi'"):
        R.write_animation(tmp_path / "x.avi", np.zeros((2, 4, 4, 3), np.uint8), 10)
    assert not (tmp_path / "x.avi").exists()
