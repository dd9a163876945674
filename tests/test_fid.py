"""Tests for ganlab.fid: the Fréchet formula, FID on images, agreement with pytorch-fid's CLI,
weight-loading errors and the statistics file.

All image tests run the FID Inception with RANDOM weights (write_random_weights): the real
weights cannot be downloaded here (no network). The checks that matter still hold with them:
same pipeline as pytorch-fid, same numbers, self-FID ~ 0. pytorch-fid's 2048-d FID costs a
16-18 s matrix square root on CPU: the tests share activations, and only the comparison with its
CLI computes it; the others take evaluate's own path for fewer images than dimensions
(fid_of_activations, milliseconds), which that comparison checks against the CLI too.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganlab import fid
from ganlab.errors import GanlabError

CPU = torch.device("cpu")
N_IMAGES = 20  # per set: enough for a clear face/noise gap, few enough to stay fast
BATCH = 10  # two batches per set, the same split for us and for the CLI


@pytest.fixture(scope="module")
def torch_home(tmp_path_factory, fid_weights) -> Path:
    """A TORCH_HOME whose hub cache holds random weights under pytorch-fid's file name.

    Random weights because the real FID Inception weights cannot be downloaded here.
    """
    home = tmp_path_factory.mktemp("torch_home")
    weights = home / "hub" / "checkpoints" / fid.FID_WEIGHTS_NAME
    weights.parent.mkdir(parents=True)
    shutil.copyfile(fid_weights, weights)  # the session's random weights (conftest)
    return home


@pytest.fixture(scope="module")
def weights(torch_home) -> Path:
    return torch_home / "hub" / "checkpoints" / fid.FID_WEIGHTS_NAME


@pytest.fixture(scope="module")
def model(weights):
    return fid.load_inception(weights, CPU)


@pytest.fixture(scope="module")
def images() -> dict[str, np.ndarray]:
    """Two uint8 NHWC sets: smooth blocky images (a stand-in for faces) and uniform noise."""
    rng = np.random.default_rng(0)
    blocks = rng.integers(0, 256, (N_IMAGES, 4, 4, 3), dtype=np.uint8)
    smooth = blocks.repeat(8, axis=1).repeat(8, axis=2)  # 32x32
    noise = rng.integers(0, 256, (N_IMAGES, 64, 64, 3), dtype=np.uint8)
    return {"smooth": smooth, "noise": noise}


@pytest.fixture(scope="module")
def activations(model, images) -> dict[str, np.ndarray]:
    out = {}
    for name, arr in images.items():
        batches = (arr[i : i + BATCH] for i in range(0, len(arr), BATCH))
        out[name] = fid.inception_activations(model, batches, CPU, total=len(arr), progress=False)
        assert out[name].shape == (N_IMAGES, 2048) and out[name].dtype == np.float64
    return out


@pytest.fixture(scope="module")
def stats(activations) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {name: fid.statistics(acts) for name, acts in activations.items()}


@pytest.fixture(scope="module")
def fid_smooth_vs_noise(activations, stats) -> float:
    return fid.fid_of_activations(activations["noise"], *stats["smooth"])


# 1. The formula on hand-checked cases.


def test_frechet_distance_of_diagonal_gaussians():
    mu1, s1 = np.array([0.0, 1.0, 2.0]), np.array([4.0, 1.0, 9.0])
    mu2, s2 = np.array([1.0, 1.0, 0.0]), np.array([1.0, 9.0, 9.0])
    # |mu1-mu2|^2 = 1 + 0 + 4; trace terms (4+1-2*2) + (1+9-2*3) + (9+9-2*9) = 1 + 4 + 0
    assert fid.frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2)) == pytest.approx(10.0)

    # The same Gaussians in a rotated basis: FID is invariant under rotations.
    rot, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((3, 3)))
    got = fid.frechet_distance(rot @ mu1, rot @ np.diag(s1) @ rot.T, rot @ mu2, rot @ np.diag(s2) @ rot.T)
    assert got == pytest.approx(10.0)


def test_frechet_distance_of_identical_stats_is_zero():
    mu = np.array([0.5, -2.0])
    sigma = np.array([[2.0, 0.3], [0.3, 1.0]])
    assert fid.frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("n", [5, 30, 64, 100])
def test_fid_of_activations_equals_pytorch_fids_formula(n):
    """Fewer samples than dimensions (5, 30 of 64): the trace in the samples' span equals sqrtm's
    over all 64; from n = d on it is pytorch-fid's own computation."""
    rng = np.random.default_rng(n)
    mu_r, sigma_r = fid.statistics(rng.gamma(2.0, size=(300, 64)))
    acts = rng.gamma(2.5, size=(n, 64)).astype(np.float32)
    expected = fid.frechet_distance(*fid.statistics(acts), mu_r, sigma_r)
    assert fid.fid_of_activations(acts, mu_r, sigma_r) == pytest.approx(expected, rel=1e-7)


# 2. FID on images.


def test_fid_of_a_set_with_itself_is_zero(activations, stats):
    value = fid.fid_of_activations(activations["smooth"], *stats["smooth"])
    print(f"FID(smooth, smooth) = {value:.3g}")
    assert abs(value) < 1e-3


def test_fid_against_noise_is_large(fid_smooth_vs_noise):
    # Measured 18.94 with these images and seed-0 random weights; the bound leaves a margin.
    print(f"FID(smooth, noise) = {fid_smooth_vs_noise:.4f}")
    assert fid_smooth_vs_noise > 10.0


def test_activations_reject_non_uint8_rgb(model):
    with pytest.raises(GanlabError, match="uint8 RGB"):
        fid.inception_activations(model, [np.zeros((2, 8, 8, 3), np.float32)], CPU, progress=False)
    with pytest.raises(GanlabError, match="uint8 RGB"):
        fid.inception_activations(model, [np.zeros((2, 8, 8), np.uint8)], CPU, progress=False)


# 3. Same number as pytorch-fid's own command line on the same images saved as PNG.


def test_generated_fid_matches_pytorch_fid_cli(tmp_path, torch_home, model, images, stats):
    """Samples go straight from a generator to Inception (no PNG round trip), yet FID equals
    the CLI's over the same samples saved as PNG: the uint8 quantisation is PNG's.

    The CLI computes pytorch-fid's 2048-dim square root; ours is evaluate's low-rank path for
    fewer images than dimensions. Not computed here a second time in-process (17 s): that our
    frechet_distance is pytorch-fid's, and equals the low-rank path, is
    test_fid_of_activations_equals_pytorch_fids_formula's."""
    from ganlab.generator import generate, latents
    from ganlab.models import REGISTRY

    torch.manual_seed(0)
    variant = REGISTRY["dcgan"]
    G, _ = variant(variant.Params(width=8, nz=16)).build(32, 3)
    G.eval()
    z = latents(N_IMAGES, 16, seed=3)
    acts = fid.inception_activations(model, generate(G, z, BATCH), CPU, total=N_IMAGES, progress=False)
    ours = fid.fid_of_activations(acts, *stats["smooth"])
    assert len(acts) < acts.shape[1]

    generated = np.concatenate(list(generate(G, z, BATCH)))
    dirs = []
    for name, arr in {"generated": generated, "smooth": images["smooth"]}.items():
        folder = tmp_path / name
        folder.mkdir()
        for i, img in enumerate(arr):
            Image.fromarray(img).save(folder / f"{i:03d}.png")
        dirs.append(str(folder))
    # TORCH_HOME makes the CLI find the random weights in its hub cache instead of downloading.
    env = {**os.environ, "TORCH_HOME": str(torch_home)}
    cmd = [sys.executable, "-m", "pytorch_fid", *dirs, "--device", "cpu", "--batch-size", str(BATCH), "--num-workers", "0"]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)  # a hang guard, not a speed check
    assert run.returncode == 0, run.stderr
    cli = float(re.search(r"FID:\s+(\S+)", run.stdout).group(1))
    print(f"pytorch-fid CLI: {cli!r}  ganlab: {ours!r}")
    assert ours == pytest.approx(cli, rel=1e-6)


# 4. Weight-loading failures are one-line FIDUnavailable errors.


def test_missing_weights_file_names_the_path(tmp_path):
    missing = tmp_path / "nope" / "inception.pth"
    with pytest.raises(fid.FIDUnavailable, match=re.escape(str(missing))) as exc:
        fid.load_inception(missing, CPU)
    assert "\n" not in str(exc.value)


def test_bad_weights_file_names_the_path(tmp_path):
    bad = tmp_path / "garbage.pth"
    bad.write_bytes(b"not a checkpoint")
    hub_before = torch.hub.get_dir()
    with pytest.raises(fid.FIDUnavailable, match=re.escape(str(bad))) as exc:
        fid.load_inception(bad, CPU)
    assert "\n" not in str(exc.value)
    assert torch.hub.get_dir() == hub_before  # the temporary hub dir was undone


def test_download_failure_is_fid_unavailable(tmp_path, monkeypatch):
    # Relies on the download failing: an empty TORCH_HOME has no cached weights, and the
    # proxy below (nothing listens on port 9) makes the download fail at once, network or not.
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    for var in ("HTTPS_PROXY", "https_proxy"):  # urllib lets the lower-case one win
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    # urllib caches its default opener (and the proxies it read) at the first urlopen.
    monkeypatch.setattr(urllib.request, "_opener", None)
    with pytest.raises(fid.FIDUnavailable, match=re.escape(fid.FID_WEIGHTS_NAME)) as exc:
        fid.load_inception(None, CPU)
    assert "\n" not in str(exc.value)



def test_the_weights_url_and_pool3_block_are_pytorch_fids():
    from pytorch_fid import inception

    assert fid.FID_WEIGHTS_URL == inception.FID_WEIGHTS_URL  # a copy, so fid_weights need not import pytorch-fid
    assert fid.POOL3 == inception.InceptionV3.BLOCK_INDEX_BY_DIM[2048]


@pytest.mark.parametrize("env", [{}, {"TORCH_HOME": "/x/th"}, {"XDG_CACHE_HOME": "/x/xdg"}, {"TORCH_HOME": "~/th", "XDG_CACHE_HOME": "/x/xdg"}])
def test_the_default_weights_path_is_torch_hubs(env, monkeypatch):
    for name in ("TORCH_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert fid.default_path() == Path(torch.hub.get_dir(), "checkpoints", fid.FID_WEIGHTS_NAME)


def test_fid_unavailable_is_a_ganlab_error():
    assert issubclass(fid.FIDUnavailable, GanlabError)


# 5. The statistics file.


def test_stats_round_trip_is_atomic(tmp_path):
    rng = np.random.default_rng(1)
    mu, sigma = rng.standard_normal(8), rng.standard_normal((8, 8))
    info = {"set": "celeba-test", "images": 20, "weights": fid.FID_WEIGHTS_NAME}
    path = tmp_path / "stats.npz"
    fid.save_stats(path, mu + 1, sigma, {"old": True})
    fid.save_stats(path, mu, sigma, info)  # replaces the old file
    assert [p.name for p in tmp_path.iterdir()] == ["stats.npz"]  # no temp file left behind

    got_mu, got_sigma, got_info = fid.load_stats(path)
    np.testing.assert_array_equal(got_mu, mu)
    np.testing.assert_array_equal(got_sigma, sigma)
    assert got_info == info


def test_load_stats_of_missing_file_is_ganlab_error(tmp_path):
    with pytest.raises(GanlabError, match="missing.npz"):
        fid.load_stats(tmp_path / "missing.npz")


def test_running_statistics_match_the_whole_set_at_once():
    # real_stats accumulates batch by batch (memory independent of the set's size); a large mean
    # is the case where naive sums of squares lose precision
    acts = np.random.default_rng(5).normal(1000.0, 2.0, (203, 64))
    running = fid.RunningStatistics()
    for i in range(0, len(acts), 50):  # uneven last batch
        running.update(acts[i : i + 50])
    mu, sigma = running.result()
    want_mu, want_sigma = fid.statistics(acts)
    np.testing.assert_allclose(mu, want_mu, rtol=1e-12)
    np.testing.assert_allclose(sigma, want_sigma, rtol=1e-9, atol=1e-12)
    with pytest.raises(GanlabError, match="at least 2"):
        one = fid.RunningStatistics()
        one.update(acts[:1])
        one.result()
