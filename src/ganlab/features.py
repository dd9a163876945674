"""Offline distribution metrics: the Fréchet distance, precision and recall of generated images
against real ones, in the features of a network that ships with the install.

FID needs Inception weights that are downloaded; where they cannot be had, the face rate alone
judged the models, and it cannot see mode collapse (a generator that draws one good face scores
1.0). These metrics compare the generated *set* with the real one:

- `fd_<space>`: the Fréchet distance between Gaussians fitted to the two sets' features (FID's
  formula, `fid.frechet_distance`), NOT FID: another network, so not comparable with published
  numbers, nor between spaces.
- `precision_<space>` and `recall_<space>` (Kynkäänniemi et al. 2019): the share of generated
  samples inside the real manifold, and of real samples inside the generated manifold, each
  manifold the union of balls reaching every sample's k-th nearest neighbour in its own set. A
  collapsed generator keeps precision and loses recall.

Spaces (`SPACES`):

- "onet" (face data): facenet-pytorch's MTCNN output network, its last hidden layer (256-d,
  after the PReLU), on the whole image resized to ONet's 48x48 input, normalised as MTCNN does.
  Picked over the classify stage's network because its weights are fixed (they ship with
  facenet-pytorch): the same number means the same thing in every experiment, whatever the data
  set, the labels or `classify.*` say, and it needs no attributes (a folder of faces has none).
  The classifier's features were measured once beside it (README, "Offline distribution
  metrics"): both separate a collapsed generator from real data.
- "random_cnn" (data that is not faces, e.g. LSUN bedrooms): the classify stage's architecture
  with weights drawn from a fixed seed and never trained, its 256-d pooled features. Random
  convolutional features are a usable embedding where no trained network fits the data (Naeem
  et al. 2020); nothing is downloaded or trained, and the seed fixes the network everywhere.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ganlab import fid
from ganlab.classifier import Classifier, shrink

SPACES = ("onet", "random_cnn")
DESCRIPTION = {
    "onet": "facenet-pytorch MTCNN ONet, last hidden layer (256-d), image resized to 48x48",
    "random_cnn": "the classify network's architecture with random weights (seed 0, untrained), pooled 256-d features of the image at 64x64",
}
_RANDOM_SEED, _RANDOM_RESOLUTION, _RANDOM_WIDTH = 0, 64, 32

Features = Callable[[np.ndarray], np.ndarray]  # uint8 (B, H, W, 3) -> float64 (B, D)


@torch.no_grad()
def onet_features(onet: torch.nn.Module, images: np.ndarray) -> np.ndarray:
    """uint8 (B, H, W, 3) -> float64 (B, 256): ONet's last hidden layer, its input built as
    MTCNN builds it (area resize to 48x48, (x - 127.5) / 128)."""
    device = next(onet.parameters()).device
    x = torch.from_numpy(np.ascontiguousarray(images)).to(device).permute(0, 3, 1, 2).float()  # (B, 3, H, W)
    x = (F.interpolate(x, size=(48, 48), mode="area") - 127.5) * 0.0078125  # (B, 3, 48, 48)
    for name in ("conv1", "prelu1", "pool1", "conv2", "prelu2", "pool2", "conv3", "prelu3", "pool3", "conv4", "prelu4"):
        x = getattr(onet, name)(x)  # (B, 128, 3, 3) after prelu4
    x = x.permute(0, 3, 2, 1).contiguous()  # ONet's own order: its dense layer was converted from Caffe
    return onet.prelu5(onet.dense5(x.flatten(1))).double().cpu().numpy()  # (B, 256)


def random_cnn(device: torch.device | str = "cpu") -> torch.nn.Module:
    """The untrained feature network of the "random_cnn" space: the same weights on every machine."""
    with torch.random.fork_rng(devices=[]):  # building runs PyTorch's default init: the caller's RNG is not consumed
        net = Classifier("attributes", ["none"], _RANDOM_RESOLUTION, _RANDOM_WIDTH)
    gen = torch.Generator().manual_seed(_RANDOM_SEED)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.Conv2d):
                # He init keeps the activations O(1) through the ReLUs (PyTorch's default shrinks
                # them about threefold per layer), so the Fréchet distance is not vanishingly small
                torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu", generator=gen)
    return net.net[:-1].to(device).eval()  # without the linear head: (B, 256) pooled features


@torch.no_grad()
def random_cnn_features(net: torch.nn.Module, images: np.ndarray) -> np.ndarray:
    """uint8 (B, H, W, 3) -> float64 (B, 256), the image shrunk as the classifier shrinks it."""
    device = next(net.parameters()).device
    x = shrink(images, _RANDOM_RESOLUTION).to(device).float().div(127.5).sub(1)  # (B, 3, 64, 64) in [-1, 1]
    return net(x).double().cpu().numpy()


def feature_extractor(space: str, device: torch.device | str = "cpu", mtcnn=None) -> Features:
    """The function mapping uint8 images to the features of `space` (see SPACES); "onet" reuses
    the ONet of a loaded MTCNN when given one."""
    if space == "onet":
        if mtcnn is None:
            from ganlab.faces import load_mtcnn

            mtcnn = load_mtcnn(device)
        return lambda images: onet_features(mtcnn.onet, images)
    if space == "random_cnn":
        net = random_cnn(device)
        return lambda images: random_cnn_features(net, images)
    raise ValueError(f"unknown feature space {space!r} (known: {', '.join(SPACES)})")


def features_of(extract: Features, batches) -> np.ndarray:
    """(N, D) features of uint8 image batches (an iterable, e.g. `generator.generate`)."""
    return np.concatenate([extract(np.asarray(b)) for b in batches])


def features_of_array(extract: Features, images: np.ndarray, batch_size: int) -> np.ndarray:
    """(N, D) features of a uint8 (N, H, W, 3) array, `batch_size` images at a time."""
    return features_of(extract, (images[i : i + batch_size] for i in range(0, len(images), batch_size)))


def _distances(a: np.ndarray, b: np.ndarray, chunk: int = 256) -> np.ndarray:
    """(len(a), len(b)) Euclidean distances, computed from differences (not from the
    |a|^2 + |b|^2 - 2ab expansion): identical points are exactly 0 apart, which a fully
    collapsed generator's ball radius of 0 relies on."""
    ta, tb = torch.from_numpy(np.asarray(a, np.float64)), torch.from_numpy(np.asarray(b, np.float64))
    rows = [torch.cdist(ta[i : i + chunk], tb, compute_mode="donot_use_mm_for_euclid_dist") for i in range(0, len(ta), chunk)]
    return torch.cat(rows).numpy()


def knn_radii(x: np.ndarray, k: int) -> np.ndarray:
    """(N,) distance of each row of x to its k-th nearest other row."""
    if not 1 <= k < len(x):
        raise ValueError(f"k-nearest-neighbour radii need 1 <= k < {len(x)} samples, got k={k}")
    d = _distances(x, x)
    # column 0 of the sorted row is the point itself (distance 0); duplicates count as neighbours
    return np.partition(d, k, axis=1)[:, k]


def coverage_share(points: np.ndarray, centres: np.ndarray, radii: np.ndarray) -> float:
    """Share of `points` inside at least one ball (centre, radius), boundary included."""
    return float((_distances(points, centres) <= radii[None, :]).any(1).mean())


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> tuple[float, float]:
    """Kynkäänniemi et al.'s improved precision and recall of `fake` against `real` features."""
    precision = coverage_share(fake, real, knn_radii(real, k))
    recall = coverage_share(real, fake, knn_radii(fake, k))
    return precision, recall


def distribution_metrics(real: np.ndarray, fake: np.ndarray, space: str, k: int = 3) -> dict:
    """{fd_<space>, precision_<space>, recall_<space>} of fake against real (N, D) features; the
    distance to 4 significant digits (its scale is the space's own), the shares to 4 decimals."""
    precision, recall = precision_recall(real, fake, k)
    fd = fid.frechet_distance(*fid.statistics(fake), *fid.statistics(real))
    return {f"fd_{space}": float(f"{fd:.4g}"), f"precision_{space}": round(precision, 4), f"recall_{space}": round(recall, 4)}


def metric_names(space: str) -> tuple[str, str, str]:
    """The keys `distribution_metrics` returns for `space`, in its order."""
    return (f"fd_{space}", f"precision_{space}", f"recall_{space}")
