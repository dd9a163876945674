"""Fréchet Inception Distance, computed with pytorch-fid's network and formula.

pytorch-fid does the real work (its InceptionV3, its weights loader, its
``calculate_frechet_distance``); this module only adds what the pipeline needs
around it: images from memory instead of folders, a local weights file, saved
statistics with a note of where they came from, and one-line errors.
"""

from __future__ import annotations

import contextlib
import functools
import json
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from tqdm import tqdm

from ganlab.errors import GanlabError
from ganlab.fid_weights import FID_WEIGHTS_NAME, FID_WEIGHTS_URL, default_path
from ganlab.dataset import open_dataset
from ganlab.io import save_npz

if TYPE_CHECKING:
    from ganlab.params import EvaluateParams

POOL3 = 3  # pytorch-fid's block index of the 2048-d pool3 features


@functools.cache
def _pytorch_fid():
    """pytorch_fid.inception, imported on first use: it imports torchvision, whose import costs
    seconds a stage pays even when it only hashes the weights file (fid_weights runs at every
    `dvc repro`)."""
    from pytorch_fid import inception

    return inception


class FIDUnavailable(GanlabError):
    """The Inception weights could not be loaded; str(e) is the one-line reason."""


def _one_line(exc: BaseException) -> str:
    """The first non-empty line of an exception's message, prefixed by its type."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


@contextlib.contextmanager
def _staged_hub_dir(weights: Path) -> Iterator[None]:
    """Point torch.hub at a temporary dir whose checkpoints/ holds ``weights`` under FID_WEIGHTS_NAME.

    pytorch-fid only loads through torch.hub.load_state_dict_from_url, which
    uses a cached file of the right name instead of downloading.
    """
    with tempfile.TemporaryDirectory(prefix="ganlab-fid-hub-") as hub:
        staged = Path(hub, "checkpoints", FID_WEIGHTS_NAME)
        staged.parent.mkdir()
        try:
            staged.symlink_to(weights.resolve())
        except OSError:  # no symlinks on this filesystem
            shutil.copyfile(weights, staged)
        # torch.hub.set_dir cannot restore "not set" (which means: follow
        # $TORCH_HOME), so save and restore the module variable it sets.
        previous = torch.hub._hub_dir
        torch.hub.set_dir(hub)
        try:
            yield
        finally:
            torch.hub._hub_dir = previous


@contextlib.contextmanager
def _tensors_only() -> Iterator[None]:
    """Make pytorch-fid load its weights with ``weights_only=True``.

    pytorch-fid calls torch.hub's loader with its default ``weights_only=False``, which unpickles
    anything: a hostile ``evaluate.fid_weights`` file or a poisoned torch hub cache would run code
    (a pickle whose __reduce__ runs a shell command did). Its loader is a module-level name, so it
    is swapped for the same loader restricted to tensors and plain containers, which the real
    weights file is.
    """
    inception = _pytorch_fid()
    original = inception.load_state_dict_from_url
    inception.load_state_dict_from_url = functools.partial(torch.hub.load_state_dict_from_url, weights_only=True)
    try:
        yield
    finally:
        inception.load_state_dict_from_url = original


def load_inception(weights: str | Path | None, device: torch.device) -> torch.nn.Module:
    """pytorch-fid's FID InceptionV3 (pool3, 2048-d) on ``device``, in eval mode.

    ``weights=None`` uses pytorch-fid's own loader: the file already in
    ``$TORCH_HOME/hub/checkpoints/FID_WEIGHTS_NAME``, else a download.
    ``weights=<path>`` loads that local copy of the FID weights file instead.
    Either file is loaded as tensors only (no code runs, whatever it holds). Any failure raises
    FIDUnavailable with a one-line reason.
    """
    if weights is None:
        source = f"{FID_WEIGHTS_URL} (cached as {default_path()})"
        staging = contextlib.nullcontext()
    else:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise FIDUnavailable(f"FID Inception weights file not found: {path}")
        source = str(path)
        staging = _staged_hub_dir(path)
    try:
        with staging, _tensors_only():
            model = _pytorch_fid().InceptionV3([POOL3], use_fid_inception=True)
    except Exception as exc:  # network, file and state-dict errors all mean "no FID"
        raise FIDUnavailable(f"cannot load the FID Inception weights from {source}: {_one_line(exc)}") from exc
    return model.to(device).eval()


def _to_tensor(batch: np.ndarray) -> torch.Tensor:
    """uint8 NHWC -> float NCHW in [0, 1], bit for bit as torchvision's ToTensor does on a PNG."""
    if batch.dtype != np.uint8 or batch.ndim != 4 or batch.shape[-1] != 3:
        raise GanlabError(f"FID expects uint8 RGB batches of shape (N, H, W, 3), got {batch.dtype} {batch.shape}")
    # ToTensor makes CHW contiguous before converting, then divides by 255 in
    # float32; contiguity matters too, since the conv kernels chosen (and so the
    # last bits of the result) depend on the memory layout.
    return torch.from_numpy(batch).permute(0, 3, 1, 2).contiguous().to(torch.float32).div(255)


def inception_activations(
    model: torch.nn.Module,
    images: Iterable[np.ndarray],
    device: torch.device,
    total: int | None = None,
    progress: bool = True,
) -> np.ndarray:
    """(N, 2048) float64 pool3 activations of uint8 NHWC RGB batches (any size or resolution).

    Matches ``python -m pytorch_fid`` run over the same images saved as PNG,
    given the same batches. ``total`` (number of images) sizes the progress bar.
    """
    chunks = []
    with torch.no_grad(), tqdm(total=total, unit="img", desc="inception", disable=not progress) as bar:
        for batch in images:
            x = _to_tensor(np.asarray(batch)).to(device)
            pool3 = model(x)[0]  # (B, 2048, 1, 1)
            chunks.append(pool3.squeeze(3).squeeze(2).cpu().numpy().astype(np.float64))
            bar.update(len(x))
    return np.concatenate(chunks) if chunks else np.empty((0, 2048))


class RunningStatistics:
    """Mean and covariance of activations fed in batches, in memory independent of their number.

    `statistics` needs every activation at once (CelebA's 202,599 real images: 3.3 GB of float64
    plus np.cov's centred copy); this keeps a sum and a sum of outer products in float64 instead.
    The sums are taken around the first batch's mean, so the covariance does not lose precision
    to a large mean. It agrees with `statistics` to about 1e-12 relative, not bit for bit.
    """

    def __init__(self) -> None:
        self.n, self._shift, self._sum, self._outer = 0, None, None, None

    def update(self, acts: np.ndarray) -> None:
        """Add (B, D) activations."""
        acts = np.asarray(acts, dtype=np.float64)
        if self._shift is None:
            self._shift = acts.mean(0)
            self._sum, self._outer = np.zeros_like(self._shift), np.zeros((acts.shape[1], acts.shape[1]))
        x = acts - self._shift
        self.n += len(x)
        self._sum += x.sum(0)
        self._outer += x.T @ x

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean (D,) and covariance (D, D), as `statistics` would give for all activations."""
        if self.n < 2:
            raise GanlabError(f"FID statistics need at least 2 images, got {self.n}")
        m = self._sum / self.n  # the mean, relative to the shift
        return self._shift + m, (self._outer - self.n * np.outer(m, m)) / (self.n - 1)


def running_statistics(model: torch.nn.Module, images: Iterable[np.ndarray], device: torch.device, total: int | None = None, progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of the pool3 activations of uint8 NHWC batches, one batch at a time."""
    stats = RunningStatistics()
    with tqdm(total=total, unit="img", desc="inception", disable=not progress) as bar:
        for batch in images:
            stats.update(inception_activations(model, [batch], device, progress=False))
            bar.update(len(batch))
    return stats.result()


def statistics(acts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (rows are samples) of activations, as pytorch-fid computes them."""
    if acts.ndim != 2 or len(acts) < 2:
        raise GanlabError(f"FID statistics need at least 2 images, got activations of shape {acts.shape}")
    return np.mean(acts, axis=0), np.cov(acts, rowvar=False)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2): pytorch-fid's calculate_frechet_distance.

    Needs at least 2 dimensions: with scipy 1.16-1.17, sqrtm of a 1x1 matrix
    ignores ``disp=False`` and pytorch-fid fails to unpack its result.
    """
    with warnings.catch_warnings():
        # pytorch-fid passes sqrtm's `disp`, deprecated since scipy 1.16: nothing we can act on.
        warnings.filterwarnings("ignore", message="The `disp` argument is deprecated", category=DeprecationWarning)
        from pytorch_fid.fid_score import calculate_frechet_distance

        return float(calculate_frechet_distance(mu1, sigma1, mu2, sigma2))


def fid_of_activations(acts: np.ndarray, mu_r: np.ndarray, sigma_r: np.ndarray) -> float:
    """FID of activations `acts` (one row per generated image) against the real statistics.

    With fewer images than dimensions (n < 2048 for Inception) their covariance is A^T A of the
    centred rows A / sqrt(n - 1), and the trace of sqrtm(sigma_r @ sigma) is the sum of the square
    roots of the eigenvalues of the n x n matrix A sigma_r A^T, which has the same nonzero
    eigenvalues. That is pytorch-fid's number (to about 1e-7 relative: tested against its CLI)
    in milliseconds, where its 2048 x 2048 sqrtm took about 18 s of one CPU core. Otherwise
    pytorch-fid's own computation (frechet_distance).
    """
    mu, sigma = statistics(acts)
    n, d = acts.shape
    if n >= d:
        return frechet_distance(mu, sigma, mu_r, sigma_r)
    a = (acts.astype(np.float64) - mu) / np.sqrt(n - 1)
    m = a @ sigma_r @ a.T
    eigenvalues = np.linalg.eigvalsh((m + m.T) / 2)  # symmetric PSD: real and >= 0 but for rounding
    tr_covmean = np.sqrt(np.clip(eigenvalues, 0, None)).sum()
    diff = mu - mu_r
    return float(diff @ diff + np.trace(sigma) + np.trace(sigma_r) - 2 * tr_covmean)


def save_stats(path: str | Path, mu: np.ndarray, sigma: np.ndarray, info: dict) -> None:
    """Write mu, sigma and ``info`` (as a JSON string) to an .npz file, atomically.

    ``info`` says what the statistics describe (which set, how many images,
    which weights). The file is complete or absent, never half written.
    """
    save_npz(path, mu=mu, sigma=sigma, info=np.array(json.dumps(info)))


def load_stats(path: str | Path) -> tuple[np.ndarray, np.ndarray, dict]:
    """mu, sigma and info from a file written by save_stats (or pytorch-fid's --save-stats: info is {})."""
    try:
        with np.load(path, allow_pickle=False) as f:
            info = json.loads(str(f["info"])) if "info" in f else {}
            return f["mu"], f["sigma"], info
    except (OSError, ValueError, KeyError) as exc:
        raise GanlabError(f"cannot read FID statistics {path}: {_one_line(exc)}") from exc


def write_random_weights(path: str | Path, seed: int = 0) -> None:
    """Save a randomly initialised state dict with exactly the keys and shapes of the FID Inception.

    For offline tests and smoke runs only: FID numbers computed with it mean
    nothing against published ones.
    """
    # The building half of pytorch-fid's fid_inception_v3(), whose other half
    # would download the real weights. Building runs PyTorch's default init,
    # which draws from the global RNG: fork it so callers' seeding is untouched.
    pf = _pytorch_fid()
    with torch.random.fork_rng(devices=[]):
        net = pf._inception_v3(num_classes=1008, aux_logits=False, weights=None)
        net.Mixed_5b = pf.FIDInceptionA(192, pool_features=32)
        net.Mixed_5c = pf.FIDInceptionA(256, pool_features=64)
        net.Mixed_5d = pf.FIDInceptionA(288, pool_features=64)
        net.Mixed_6b = pf.FIDInceptionC(768, channels_7x7=128)
        net.Mixed_6c = pf.FIDInceptionC(768, channels_7x7=160)
        net.Mixed_6d = pf.FIDInceptionC(768, channels_7x7=160)
        net.Mixed_6e = pf.FIDInceptionC(768, channels_7x7=192)
        net.Mixed_7b = pf.FIDInceptionE_1(1280)
        net.Mixed_7c = pf.FIDInceptionE_2(2048)

    # He init keeps activations O(1) through the ~90 conv+BN(identity)+ReLU
    # layers; PyTorch's default conv init would shrink them towards zero and
    # make every FID tiny. Batch norms keep their identity defaults.
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu", generator=gen)
            elif isinstance(module, torch.nn.Linear):
                torch.nn.init.normal_(module.weight, std=module.in_features**-0.5, generator=gen)
                torch.nn.init.zeros_(module.bias)
    torch.save(net.state_dict(), path)


def _batches(rows, n: int, size: int):
    """The first n images of `rows` (a dataset's Rows), read `size` at a time."""
    for i in range(0, n, size):
        yield rows[i : min(i + size, n)]


def real_stats(data_path: str | Path, out_path: str | Path, p: EvaluateParams, progress: bool = True) -> dict:
    """Inception statistics of the prepared real images, computed once per dataset and cached.

    Where the Inception weights cannot be loaded, the file records why, and every evaluation that
    uses it reports FID as unavailable instead of failing.
    """
    from ganlab.generator import pick_device

    device = pick_device()
    with open_dataset(data_path) as data:
        n = min(len(data), p.fid_real_samples) if p.fid_real_samples else len(data)
        info = {"dataset": str(data_path), "images": int(n), "resolution": int(data.rows.shape[1]), "weights": p.fid_weights or "pytorch-fid default"}
        try:
            model = load_inception(p.fid_weights, device)
        except FIDUnavailable as e:
            print(f"warning: FID unavailable: {e}", file=sys.stderr)
            save_stats(out_path, np.zeros(0), np.zeros((0, 0)), {**info, "available": False, "reason": str(e)})
            return {**info, "available": False}
        # one batch in memory at a time: the statistics are accumulated, not the activations
        mu, sigma = running_statistics(model, _batches(data.rows, n, p.batch_size), device, total=n, progress=progress)
    save_stats(out_path, mu, sigma, {**info, "available": True})
    return {**info, "available": True}
