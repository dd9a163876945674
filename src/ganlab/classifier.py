"""A small CNN that reads attributes or category labels off face images.

Trained on the real prepared images (shrunk to `classify.resolution`), it serves two purposes:
the evaluate stage asks it whether a conditional generator draws the category it was given
(Razzaq's conditionality accuracy), and the render stage asks it which generated faces smile,
are male, ..., to find the latent groups of the vector arithmetic (ganlab.arithmetic).

Two kinds share one network: "attributes" (multi-label: one sigmoid output per attribute name)
and "categories" (multi-class: a softmax over the category labels of prepare.categories).
A trained classifier is a folder entry `<kind>.pt` (state_dict) beside `<kind>.json` (its meta).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Literal, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from ganlab.dataset import Dataset, open_dataset
from ganlab.errors import GanlabError
from ganlab.generator import generate, latents, pick_device
from ganlab.io import atomic_dir, atomic_path, write_json
from ganlab.params import ClassifyParams

Kind = Literal["attributes", "categories"]
KINDS: tuple[str, ...] = ("attributes", "categories")


class Classifier(nn.Module):
    """Conv 3x3, then three stride-2 convs doubling the width, global average pool, linear.

    Takes (B, 3, resolution, resolution) images in [-1, 1] and returns (B, len(names)) logits.
    `predict` does the shrinking and scaling itself, from uint8 images of any size.
    """

    def __init__(self, kind: Kind, names: Sequence[str], resolution: int, width: int):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"classifier kind must be one of {KINDS}, got {kind!r}")
        self.kind, self.names, self.resolution, self.width = kind, list(names), int(resolution), int(width)
        self.report: dict | None = None  # held-out accuracy on real images, set by train_classifier and load_classifier
        ch = width
        layers: list[nn.Module] = [nn.Conv2d(3, ch, 3, 1, 1, bias=False), nn.BatchNorm2d(ch), nn.ReLU(True)]  # (B, w, r, r)
        for _ in range(3):  # each: (B, ch, s, s) -> (B, 2ch, s/2, s/2)
            layers += [nn.Conv2d(ch, 2 * ch, 3, 2, 1, bias=False), nn.BatchNorm2d(2 * ch), nn.ReLU(True)]
            ch *= 2
        # average pooling, not a flatten: the head does not depend on the resolution
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(ch, len(self.names))]  # (B, K) logits
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def meta(self) -> dict:
        """What `load` needs to rebuild the network (saved as JSON beside the weights)."""
        return {"kind": self.kind, "names": self.names, "resolution": self.resolution, "width": self.width}

    @torch.no_grad()
    def predict(self, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """uint8 (N, H, W, 3) images -> float32 (N, K) probabilities, `batch_size` images at a time.

        attributes: the probability of each attribute being present (sigmoid, columns independent);
        categories: the probability of each category (softmax, rows sum to 1).
        """
        was_training = self.training
        self.eval()
        device = next(self.parameters()).device
        out = []
        for i in range(0, len(images), batch_size):
            out.append(self._probabilities(shrink(images[i : i + batch_size], self.resolution).to(device)))
        self.train(was_training)
        return torch.cat(out).numpy() if out else np.zeros((0, len(self.names)), np.float32)

    def _probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 (b, 3, r, r) shrunk images -> float32 (b, K) probabilities on the CPU."""
        logits = self(_scale(x))  # (b, K)
        return (torch.sigmoid(logits) if self.kind == "attributes" else torch.softmax(logits, 1)).float().cpu()

    @torch.no_grad()
    def predict_shrunk(self, x: torch.Tensor, batch_size: int = 256) -> np.ndarray:
        """`predict` for images already shrunk to the classifier's size (uint8 (N, 3, r, r))."""
        was_training = self.training
        self.eval()
        device = next(self.parameters()).device
        out = [self._probabilities(x[i : i + batch_size].to(device)) for i in range(0, len(x), batch_size)]
        self.train(was_training)
        return torch.cat(out).numpy() if out else np.zeros((0, len(self.names)), np.float32)


def shrink(images: np.ndarray, resolution: int) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> uint8 (N, 3, r, r), antialiased.

    Kept as uint8 so that a whole data set fits in memory, and used both for training and for
    prediction so that the classifier sees generated images exactly as it saw the real ones.
    Non-square images are squeezed to a square: the same squeeze at training and prediction.
    """
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()  # (N, 3, H, W)
    if x.shape[-2:] != (resolution, resolution):
        x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", antialias=True, align_corners=False)
    return x.round().clamp(0, 255).to(torch.uint8)


def _scale(x: torch.Tensor) -> torch.Tensor:
    """uint8 (B, 3, r, r) -> float in [-1, 1], the range the generators produce."""
    return x.float().div(127.5).sub(1)


def _shrink_all(images: np.ndarray, resolution: int, chunk: int = 1024) -> torch.Tensor:
    # in chunks: the float copy of a full-size CelebA set would not fit in memory at once
    return torch.cat([shrink(images[i : i + chunk], resolution) for i in range(0, len(images), chunk)])


def train_classifier(
    images: np.ndarray,
    targets: np.ndarray,
    kind: Kind,
    names: Sequence[str],
    p: ClassifyParams,
    progress: bool = True,
    device: torch.device | str | None = None,
) -> tuple[Classifier, dict]:
    """Train a classifier on uint8 (N, H, W, 3) images (an array, or a dataset's `rows`: read in
    chunks and kept shrunk, so the full-size set is never in memory); return it (in eval mode) and its report.

    `targets`: for "attributes" (N, A) with 1 where an attribute is present (CelebA's -1/1 or
    0/1), for "categories" (N,) integer labels in [0, len(names)). A share `p.holdout` of the
    images, drawn with `p.seed`, is kept out of training; the report gives the accuracy on it
    overall and per name, next to the chance level (see `_report`). The same seed gives the
    same weights (on the same device).
    """
    n = len(images)
    if kind == "attributes":
        y = torch.from_numpy(np.asarray(targets) == 1).float()  # (N, A) in {0, 1}
    else:
        y = torch.from_numpy(np.asarray(targets, dtype=np.int64))  # (N,)
        if len(y) and (y.min() < 0 or y.max() >= len(names)):
            raise GanlabError(f"category labels must lie in [0, {len(names)}), got {int(y.min())}..{int(y.max())}")
    n_hold = round(n * p.holdout)
    if n_hold < 1 or n - n_hold < 2:
        raise GanlabError(f"{n} images are too few to train a {kind} classifier with classify.holdout={p.holdout}")
    device = torch.device(device) if device is not None else pick_device()
    gen = torch.Generator().manual_seed(p.seed)  # split, order and flips: independent of torch's global RNG
    perm = torch.randperm(n, generator=gen)
    hold, train = perm[:n_hold], perm[n_hold:]
    x = _shrink_all(images, p.resolution)  # (N, 3, r, r) uint8

    with torch.random.fork_rng(devices=[]):  # seed the initial weights without touching the caller's RNG
        torch.manual_seed(p.seed)
        model = Classifier(kind, names, p.resolution, p.width)
    model = model.to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=p.lr)
    loss_fn = nn.BCEWithLogitsLoss() if kind == "attributes" else nn.CrossEntropyLoss()

    steps_per_epoch = -(-len(train) // p.batch_size)
    bar = tqdm(total=p.epochs * steps_per_epoch, desc=f"classify {kind}", unit="step", disable=not progress)
    losses: list[float] = []
    for _ in range(p.epochs):
        order = train[torch.randperm(len(train), generator=gen)]
        for idx in order.split(p.batch_size):
            if len(idx) < 2:  # batch norm cannot normalise a lone image at the smallest feature map
                continue
            flip = torch.rand(len(idx), generator=gen) < 0.5
            xb = x[idx]
            # faces are left-right symmetric, so a mirrored face keeps its labels: free extra data
            xb = torch.where(flip.view(-1, 1, 1, 1), xb.flip(-1), xb)
            loss = loss_fn(model(_scale(xb.to(device))), y[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close()
    model.eval()

    # the held-out images as already shrunk: indexing the full-size set would copy a fifth of it
    probs = model.predict_shrunk(x[hold])  # (M, K)
    report = _report(kind, list(names), probs, y[hold].numpy(), y[train].numpy())
    report.update(images_train=len(train), images_holdout=n_hold, final_loss=round(float(np.mean(losses[-steps_per_epoch:])), 4) if losses else None)
    model.report = report
    return model, report


def _report(kind: str, names: list[str], probs: np.ndarray, truth: np.ndarray, train_truth: np.ndarray) -> dict:
    """Held-out accuracy next to the chance level.

    Chance is the majority-class rate: the held-out accuracy of always answering the class most
    common in the training share (per attribute for attributes), the score to beat with no
    information from the picture. A reader sees the classifier's margin over it.
    """
    r = lambda v: round(float(v), 4)  # noqa: E731
    if kind == "attributes":
        pred = probs > 0.5  # (M, A)
        present = truth > 0.5
        majority = train_truth.mean(0) >= 0.5  # (A,) the answer of the majority-class baseline
        acc = (pred == present).mean(0)
        chance = (present == majority).mean(0)
        per = {name: {"accuracy": r(acc[k]), "chance": r(chance[k])} for k, name in enumerate(names)}
        return {"kind": kind, "accuracy": r(acc.mean()), "chance": r(chance.mean()), "per_name": per}
    pred = probs.argmax(1)  # (M,)
    majority = np.bincount(train_truth, minlength=len(names)).argmax()
    per = {}
    for k, name in enumerate(names):
        mine = truth == k
        # per category: the share of its held-out images recognised as it (recall), and its share
        per[name] = {"accuracy": r((pred[mine] == k).mean()) if mine.any() else None, "share": r(mine.mean()), "images": int(mine.sum())}
    return {"kind": kind, "accuracy": r((pred == truth).mean()), "chance": r((truth == majority).mean()), "per_name": per}


def save_classifier(clf: Classifier, folder: str | Path, report: dict | None = None) -> tuple[Path, Path]:
    """Write folder/<kind>.pt (the state_dict) and folder/<kind>.json (meta and report: `clf.report`
    unless given), atomically."""
    folder = Path(folder)
    weights, meta = folder / f"{clf.kind}.pt", folder / f"{clf.kind}.json"
    with atomic_path(weights) as tmp:
        torch.save({k: v.cpu() for k, v in clf.state_dict().items()}, tmp)
    write_json(meta, {**clf.meta(), "report": report if report is not None else clf.report})
    return weights, meta


def exists(folder: str | Path, kind: Kind) -> bool:
    """Whether folder holds a trained classifier of `kind`."""
    return (Path(folder) / f"{kind}.json").exists() and (Path(folder) / f"{kind}.pt").exists()


def load_classifier(folder: str | Path, kind: Kind, device: torch.device | str = "cpu") -> Classifier:
    """Rebuild the `kind` classifier saved in folder, in eval mode, with its held-out report as `.report`."""
    folder = Path(folder)
    if not exists(folder, kind):
        need = "attributes" if kind == "attributes" else "category labels (prepare.categories)"
        raise GanlabError(f"no {kind} classifier in {folder} (the classify stage trains one on data with {need})")
    meta = json.loads((folder / f"{kind}.json").read_text())
    clf = Classifier(meta["kind"], meta["names"], meta["resolution"], meta["width"])
    clf.load_state_dict(torch.load(folder / f"{kind}.pt", map_location=device, weights_only=True))
    clf.report = meta.get("report")
    return clf.to(device).eval()


def conditional_accuracy(G: nn.Module, meta: dict, clf: Classifier, samples: int, seed: int, batch_size: int = 64) -> dict:
    """Razzaq's conditionality check: does G draw the category it is asked for?

    `samples` images per category are generated (latents from `seed`, each label in turn) and
    read by the category classifier `clf`; the accuracy of a category is the share of its images
    classified as it. Returns flat keys for evaluate.json: class_accuracy_generated (overall),
    class_accuracy_per_category, class_accuracy_chance (1 / categories: an uninformed reader of
    balanced images), class_accuracy_real (the classifier's own held-out accuracy on real images,
    which bounds what it can see in generated ones; None if unknown) and class_samples.
    """
    k = int(meta.get("num_classes", 0))
    if k < 1:
        raise GanlabError(f"{meta.get('model', 'this model')} is not conditional: there are no categories to check")
    if clf.kind != "categories" or len(clf.names) != k:
        raise GanlabError(f"the {clf.kind} classifier knows {len(clf.names)} names, the model {k} categories")
    z = latents(samples * k, meta["nz"], seed)  # (k * samples, nz)
    labels = torch.arange(k).repeat_interleave(samples)  # (k * samples,): samples of label 0, then of label 1, ...
    images = np.concatenate(list(generate(G, z, batch_size, labels)))
    hit = clf.predict(images).argmax(1) == labels.numpy()  # (k * samples,)
    return {
        "class_accuracy_generated": round(float(hit.mean()), 4),
        "class_accuracy_per_category": {name: round(float(hit[labels.numpy() == i].mean()), 4) for i, name in enumerate(clf.names)},
        "class_accuracy_chance": round(1 / k, 4),
        "class_accuracy_real": (clf.report or {}).get("accuracy"),
        "class_samples": samples,
    }


def classify(data_path: str | Path, out_dir: str | Path, metrics_path: str | Path, p: ClassifyParams, progress: bool = True) -> dict:
    """The classify stage: train the attribute classifier (data with attributes) and the category
    classifier (data with prepare.categories labels) on the prepared images.

    Writes out_dir/attributes.{pt,json} and out_dir/categories.{pt,json} (the folder is swapped in
    whole) and the held-out reports to metrics_path. A data set with neither (a folder of
    unlabelled images) gives an empty folder and a warning: there is nothing to learn.
    """
    with open_dataset(data_path) as data:
        return _classify(data, data_path, out_dir, metrics_path, p, progress)


def _classify(data: Dataset, data_path, out_dir, metrics_path, p: ClassifyParams, progress: bool) -> dict:
    device = pick_device()
    jobs = []
    names = [str(s) for s in data.get("attribute_names", [])]
    if names:
        jobs.append(("attributes", data["attributes"], names))
    if "labels" in data:
        jobs.append(("categories", data["labels"], [str(s) for s in data["category_names"]]))
    metrics: dict = {kind: None for kind in KINDS}
    with atomic_dir(out_dir) as tmp:
        if not jobs:
            print(f"warning: {data_path} holds neither attributes nor category labels: no classifier trained", file=sys.stderr)
        for kind, targets, labels in jobs:
            clf, report = train_classifier(data.rows, targets, kind, labels, p, progress, device)
            save_classifier(clf, tmp)
            metrics[kind] = report
    write_json(metrics_path, metrics)
    return metrics
