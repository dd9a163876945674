"""The `ganlab` command, run as the installed entry point on tiny models trained by the real trainer."""

import os
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from ganlab import render as R
from ganlab.folder import load_generator
from ganlab.generator import generate, latents
from conftest import use_mlflow_store
from test_render import RES, shown, train_tiny

GANLAB = Path(sys.executable).parent / "ganlab"  # installed by `pip install -e .` from [project.scripts]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A folder with an MLflow store, a trained dcgan and a trained cdcgan (3 classes)."""
    tmp = tmp_path_factory.mktemp("cli")
    with pytest.MonkeyPatch.context() as mp:
        train_tiny(use_mlflow_store(tmp, mp))
        train_tiny(tmp, "cdcgan", classes=3)
    return tmp


def ganlab(cwd: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{cwd / 'mlflow.db'}"}
    r = subprocess.run([str(GANLAB), *args], cwd=cwd, env=env, capture_output=True, text=True)
    if ok:
        assert r.returncode == 0, f"ganlab {' '.join(args)} failed:\n{r.stderr}"
    return r


def one_line_error(r: subprocess.CompletedProcess) -> str:
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    return lines[0]


def test_generate_grid_and_folder(store):
    ganlab(store, "generate", "--model", "dcgan", "--n", "5", "--seed", "3", "--out", "grid.png")
    assert iio.imread(store / "grid.png").shape == (2 + 2 * (RES + 2), 2 + 3 * (RES + 2), 3)  # 3 columns, 2 rows, 2 px gaps
    ganlab(store, "generate", "--model", "dcgan", "--n", "5", "--seed", "3", "--out", "one/")
    files = sorted((store / "one").glob("*.png"))
    assert len(files) == 5
    G, meta = load_generator(store / "dcgan")
    expected = np.concatenate(list(generate(G, latents(5, meta["nz"], 3))))
    assert all(np.array_equal(iio.imread(f), e) for f, e in zip(files, expected))


def test_interpolate_gif_reproduces_the_stage_frames(store):
    ganlab(store, "interpolate", "--model", "dcgan", "--seeds", "7,8,9", "--frames", "4", "--hold", "2", "--fps", "10", "--out", "faces.gif")
    G, meta = load_generator(store / "dcgan")
    # the render stage's slerp loop with render.seed 7, render.points 3 and the default upscale
    expected = R.interpolation(G, R.seed_points(range(7, 10), meta["nz"]), 4, 2, "slerp", factor=2)
    assert expected.shape == (3 * (4 + 2), 2 * RES, 2 * RES, 3)
    periods = shown(store / "faces.gif", 10)
    gif = np.repeat(iio.imread(store / "faces.gif", index=None), periods, axis=0)  # as it plays
    assert np.array_equal(gif, expected)


def test_interpolate_grid_mp4(store):
    ganlab(store, "interpolate", "--model", "dcgan", "--seeds", "1,2,3", "--frames", "3", "--hold", "1", "--grid", "2", "--out", "grid.mp4")
    video = iio.imread(store / "grid.mp4", index=None).astype(float)
    assert video.shape == (3 * (3 + 1), 2 * 2 * RES, 2 * 2 * RES, 3)  # default upscale 2
    G, meta = load_generator(store / "dcgan")
    expected = R.interpolation(G, R.seed_points([1, 2, 3], meta["nz"], cells=4), 3, 1, factor=2).astype(float)
    # H.264 is lossy: each decoded frame is nearest to the frame it should be (or to its held copy)
    distance = ((video[:, None] - expected[None]) ** 2).mean(axis=(2, 3, 4))  # (decoded, expected)
    assert np.array_equal(distance.diagonal(), distance.min(axis=1)), distance.round()


def test_bad_inputs_are_one_line_errors(store):
    line = one_line_error(ganlab(store, "interpolate", "--model", "dcgan", "--seeds", "1,x", "--out", "f.gif", ok=False))
    assert "--seeds" in line and "'1,x'" in line
    line = one_line_error(ganlab(store, "generate", "--model", "no_such_model", "--out", "g.png", ok=False))
    assert "no_such_model" in line
    line = one_line_error(ganlab(store, "interpolate", "--model", "dcgan", "--seeds", "1,2", "--out", "f.avi", ok=False))
    assert "f.avi" in line
    line = one_line_error(ganlab(store, "arithmetic", "--model", "dcgan", "--classifier", ".", "--a", "Smiling", "--out", "a", ok=False))
    assert "--a, --b and --c" in line
    assert not (store / "f.gif").exists() and not (store / "f.avi").exists()


def test_run_downloads_the_model_artifact(store):
    import mlflow

    with pytest.MonkeyPatch.context() as mp:
        use_mlflow_store(store, mp)
        mlflow.set_tracking_uri(f"sqlite:///{store / 'mlflow.db'}")
        with mlflow.start_run() as run:  # as evaluate logs the selected snapshot's folder
            mlflow.log_artifacts(str(store / "dcgan"), "model")
    ganlab(store, "generate", "--run", run.info.run_id, "--n", "4", "--out", "from_run.png")
    G, meta = load_generator(store / "dcgan")
    expected = R.tile(np.concatenate(list(generate(G, latents(4, meta["nz"], 0)))), 2, pad=2)
    assert np.array_equal(iio.imread(store / "from_run.png"), expected)
    line = one_line_error(ganlab(store, "generate", "--run", "0123456789abcdef", "--out", "x.png", ok=False))
    assert "0123456789abcdef" in line


def test_progress_command(store):
    ganlab(store, "progress", "--model", "dcgan", "--out", "progress.gif")
    grids = sorted((store / "dcgan" / "samples").glob("step_*.png"))
    frames = iio.imread(store / "progress.gif", index=None)
    assert len(frames) == len(grids) == 2
    first = iio.imread(grids[0])
    assert np.array_equal(frames[0][: first.shape[0]], first)  # step 2's grid first, unchanged above its caption


def test_conditional_generate_by_label(store):
    ganlab(store, "generate", "--model", "cdcgan", "--n", "2", "--label", "2", "--out", "c2/")
    G, meta = load_generator(store / "cdcgan")
    z = latents(2, meta["nz"], 0)
    image = iio.imread(store / "c2/000000.png")
    assert np.array_equal(image, next(generate(G, z, labels=torch.tensor([2, 2])))[0])
    assert not np.array_equal(image, next(generate(G, z, labels=torch.tensor([0, 0])))[0])
    line = one_line_error(ganlab(store, "generate", "--model", "cdcgan", "--label", "7", "--out", "c.png", ok=False))
    assert "--label 7" in line and "3 classes" in line
    ganlab(store, "interpolate", "--model", "cdcgan", "--seeds", "1,2", "--frames", "2", "--hold", "1", "--grid", "2", "--out", "c.gif")
    assert iio.imread(store / "c.gif", index=0).shape == (2 * 2 * RES, 2 * 2 * RES, 3)
