"""Latent vector arithmetic (Radford et al. 2015, Razzaq) and attribute directions.

"Smiling woman - neutral woman + neutral man = smiling man": the mean latent vector of each
group of generated faces stands for what the group shares, so adding and subtracting means
moves a face along the differences. Groups are found, not chosen by hand: `arithmetic_samples`
generated images are read by the attribute classifier (ganlab.classifier) and each group is an
attribute expression (`Smiling and not Male`, the grammar of prepare.where) over its
predictions, keeping the `group_size` faces it is most confident about.

Conditional models (meta["num_classes"] > 0) take the category as an input beside z, so a
category is not a place in z-space: the latent vector only carries what varies within a
category. Expressions may name categories beside attributes (names from the category
classifier); each sample z is drawn with a label (every category in turn), and only samples the
category classifier reads as the label they were drawn with take part, so a group's faces show
their category. A sample's categories are its label (one-hot). The arithmetic is done on z; the
label of the result follows the same arithmetic on the groups' label shares (see
`result_label`), e.g. (smiling, female) - (neutral, female) + (neutral, male) keeps the male
label of the third group.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import imageio.v3 as iio
import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from ganlab import classifier
from ganlab.data.select import evaluate
from ganlab.errors import GanlabError
from ganlab.generator import generate, latents
from ganlab.images import upscale, write_gif
from ganlab.io import atomic_path
from ganlab.params import RenderParams

SWEEP_BASES = 4  # base faces side by side in a direction sweep
SHOWN = 8  # faces per figure row at most: a group's surest members, or the result's variations
PAD, GAP, BAND = 4, 16, 16  # figure layout in pixels: between cells, before the mean column, text band above a row
_KEYWORDS = {"and", "or", "not"}


class NoGroup(GanlabError):
    """No generated face is read as a group's expression: a weak model's figure cannot be made."""


def arithmetic(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """mean(a) - mean(b) + mean(c) of three groups of latent vectors (k, nz) each -> (nz,)."""
    return a.mean(0) - b.mean(0) + c.mean(0)


def direction(with_: torch.Tensor, without: torch.Tensor) -> torch.Tensor:
    """mean(with_) - mean(without) of latent vectors (k, nz) with and without an attribute -> (nz,).

    Averaging over many faces cancels everything the two groups do not differ in."""
    return with_.mean(0) - without.mean(0)


@dataclass(frozen=True)
class Samples:
    """Generated faces and what the classifiers read in them."""

    z: torch.Tensor  # (N, nz) latent vectors
    labels: torch.Tensor | None  # (N,) labels they were drawn with (conditional models), else None
    images: np.ndarray  # (N, H, W, 3) uint8
    present: np.ndarray  # (N, C) int8: 1 where column `names[c]` is read as present
    certainty: np.ndarray  # (N, C) the classifier's probability of the value in `present`
    names: list[str]  # column names: attributes, then categories (conditional models)
    categories: list[str]  # category names, label i is categories[i]; empty for unconditional models
    usable: np.ndarray  # (N,) bool: conditional models: the image is read as its label; else all True


@dataclass(frozen=True)
class Group:
    """Samples satisfying an expression, most confident first."""

    expression: str
    index: np.ndarray  # (k,) rows of the Samples
    z: torch.Tensor  # (k, nz)
    labels: torch.Tensor | None  # (k,)
    images: np.ndarray  # (k, H, W, 3)
    confidence: np.ndarray  # (k,)
    matches: int  # samples that satisfied the expression, before keeping the most confident


def _images(G: torch.nn.Module, z: torch.Tensor, labels: torch.Tensor | None) -> np.ndarray:
    return np.concatenate(list(generate(G, z, 64, labels)))  # (N, H, W, 3) uint8


def read_samples(G: torch.nn.Module, meta: dict, clf_dir: str | Path, n: int, seed: int) -> Samples:
    """Generate n faces from latents(n, seed) and read them with the classifiers in clf_dir.

    Conditional models: sample i is drawn with label i % categories, and the category classifier
    must be there; the attribute classifier is optional for them (expressions may then name only
    categories). Unconditional models need the attribute classifier.
    """
    k = int(meta.get("num_classes", 0))
    z = latents(n, meta["nz"], seed)  # (N, nz)
    labels = torch.arange(n) % k if k else None  # (N,): every category equally often
    images = _images(G, z, labels)
    attributes, categories, names = _read(images, clf_dir, k, next(G.parameters()).device)
    present, certainty = [], []
    if attributes is not None:
        present.append((attributes > 0.5).astype(np.int8))
        certainty.append(np.maximum(attributes, 1 - attributes))  # the probability of the value read
    usable = np.ones(n, dtype=bool)
    if k:
        onehot = np.eye(k, dtype=np.int8)[labels.numpy()]  # (N, K)
        # only faces that visibly obey their label: a group's mean then shows its category
        usable = categories.argmax(1) == labels.numpy()
        present.append(onehot)
        certainty.append(np.where(onehot == 1, categories, 1 - categories))
    present, certainty = np.concatenate(present, 1), np.concatenate(certainty, 1).astype(np.float32)
    return Samples(z, labels, images, present, certainty, names, names[len(names) - k :] if k else [], usable)


def _read(images: np.ndarray, clf_dir: str | Path, k: int, device) -> tuple[np.ndarray | None, np.ndarray | None, list[str]]:
    """The classifiers' probabilities for uint8 images: attributes (N, A) (None for a conditional
    model without an attribute classifier), categories (N, K) (None for k = 0), and the column
    names, attributes then categories."""
    attributes = categories = None
    names: list[str] = []
    if not k or classifier.exists(clf_dir, "attributes"):
        clf = classifier.load_classifier(clf_dir, "attributes", device)
        attributes = clf.predict(images)  # (N, A)
        names += clf.names
    if k:
        clf = classifier.load_classifier(clf_dir, "categories", device)
        if len(clf.names) != k:
            raise GanlabError(f"the category classifier in {clf_dir} knows {len(clf.names)} categories, the model {k}")
        categories = clf.predict(images)  # (N, K)
        names += clf.names
    return attributes, categories, names


def _names_in(expression: str) -> list[str]:
    """The attribute and category names an expression uses, sorted."""
    return sorted({t for t in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", expression) if t not in _KEYWORDS})


def find_group(samples: Samples, expression: str, size: int | None, where: str) -> Group:
    """The `size` samples (None: all) satisfying `expression` that the classifier is surest of.

    A member's confidence is the certainty of the least certain column the expression names:
    the minimum, over those attributes or categories, of the probability of the value read
    (p where present, 1 - p where absent). A face kept for "Smiling and not Male" is one read
    surely as smiling and surely as not male, so the group's mean carries both. Errors name
    `where` (the params key and expression): an unknown name, or no sample satisfying it.
    """
    match = evaluate(expression, samples.present, samples.names, where) & samples.usable  # (N,)
    if not match.any():
        usable = int(samples.usable.sum())
        raise NoGroup(
            f"{where}: none of the {usable} usable generated images is read as {expression!r}"
            " (raise render.arithmetic_samples, train longer, or pick another expression)"
        )
    columns = [samples.names.index(t) for t in _names_in(expression)]
    confidence = samples.certainty[:, columns].min(1)  # (N,)
    rows = np.flatnonzero(match)
    rows = rows[np.argsort(-confidence[rows], kind="stable")][:size]  # stable: ties keep sample order
    labels = samples.labels[rows] if samples.labels is not None else None
    return Group(expression, rows, samples.z[rows], labels, samples.images[rows], confidence[rows], int(match.sum()))


def result_label(a: Group, b: Group, c: Group, num_classes: int) -> int:
    """The label to draw a - b + c with (conditional models).

    The same arithmetic on the groups' label shares: a and b of one category cancel, leaving c's;
    c in b's category moves to a's. Where that leaves a tie (c in a third category) c's own
    category wins: the analogy is applied to c.
    """
    share = lambda g: np.bincount(g.labels.numpy(), minlength=num_classes) / len(g.labels)  # noqa: E731
    score = share(a) - share(b) + share(c)  # (K,)
    best = np.flatnonzero(np.isclose(score, score.max()))
    return int(best[np.argmax(share(c)[best])])


def on_shell(v: torch.Tensor) -> torch.Tensor:
    """Latent vectors (..., nz) rescaled to length sqrt(nz), where standard normal samples lie.

    A mean of k samples is about 1/sqrt(k) as long as a sample, and G never saw inputs that
    short: measured on a DCGAN, a - b + c drawn as is read as a smiling man with P(Smiling) 0.41,
    P(Male) 0.13; on the shell 0.76 and 0.54. Means and results are drawn on the shell.
    """
    return v * (v.shape[-1] ** 0.5) / v.norm(dim=-1, keepdim=True).clamp_min(1e-8)


def _majority(g: Group) -> torch.Tensor | None:
    return None if g.labels is None else torch.bincount(g.labels).argmax().view(1)  # (1,)


@dataclass(frozen=True)
class Reading:
    """What the attribute (and category) classifier reads in the result images of a - b + c."""

    target: dict[str, bool]  # column -> the value a - b + c should show (present or absent)
    shares: dict[str, float]  # column -> share of the result images read with the target value
    hit: float | None  # share read with the target value in every column; None: no target
    images: int  # result images read: the result and its variations

    @property
    def expression(self) -> str:
        """The target as an expression, e.g. "Smiling and Male"."""
        return " and ".join(name if on else f"not {name}" for name, on in self.target.items())

    @property
    def missed(self) -> bool:
        """Fewer than half of the result images show the target: the arithmetic did not work."""
        return self.hit is not None and self.hit < 0.5

    def caption(self) -> str:
        if self.hit is None:
            return "nothing to read: the groups give the result no attribute value"
        per = ", ".join(f"{name} {share:.0%}" for name, share in self.shares.items())
        verdict = "MISSED: only " if self.missed else ""
        return f"{verdict}{round(self.hit * self.images)} of {self.images} read as {self.expression} ({per})"

    def metrics(self) -> dict:
        return {"target": self.expression, "hit": self.hit, "shares": self.shares, "images": self.images, "missed": self.missed}


def target(samples: Samples, groups: Sequence[Group], label: int | None = None) -> dict[str, bool]:
    """The value each attribute named in the groups' expressions should take in a - b + c.

    The arithmetic on the groups' shares of it: share(a) - share(b) + share(c), present above
    0.5, absent below, no target at exactly 0.5. (smiling, female) - (neutral, female) +
    (neutral, male) gives Smiling 1 - 0 + 0 and Male 0 - 0 + 1; a - a + c gives c's values.
    Category names (conditional models) take the label the result is drawn with (result_label).
    """
    a, b, c = groups
    out: dict[str, bool] = {}
    for name in sorted({n for g in groups for n in _names_in(g.expression)}):
        if name in samples.categories:
            out[name] = label is not None and samples.categories[label] == name
            continue
        col = samples.names.index(name)
        share = lambda g: float(samples.present[g.index, col].mean())  # noqa: E731
        t = share(a) - share(b) + share(c)
        if not np.isclose(t, 0.5):
            out[name] = bool(t > 0.5)
    return out


def read_result(images: np.ndarray, samples: Samples, groups: Sequence[Group], clf_dir: str | Path, label: int | None = None, device="cpu") -> Reading:
    """Read the result images of a - b + c with the classifiers that found the groups; compare
    with `target`."""
    want = target(samples, groups, label)
    if not want:
        return Reading({}, {}, None, len(images))
    attributes, categories, names = _read(images, clf_dir, len(samples.categories), device)
    seen = []
    if attributes is not None:
        seen.append(attributes > 0.5)
    if categories is not None:
        seen.append(np.eye(categories.shape[1], dtype=bool)[categories.argmax(1)])  # the category read
    seen = np.concatenate(seen, 1)  # (n, C) in the columns of `names`
    match = seen[:, [names.index(n) for n in want]] == np.array(list(want.values()))  # (n, T)
    shares = {n: round(float(match[:, i].mean()), 4) for i, n in enumerate(want)}
    return Reading(want, shares, round(float(match.all(1).mean()), 4), len(images))


def arithmetic_figure(
    G: torch.nn.Module,
    groups: Sequence[Group],
    categories: Sequence[str] = (),
    factor: int = 2,
    seed: int = 0,
    noise: float = 0.5,
    read: Callable[[np.ndarray, int | None], Reading] | None = None,
) -> tuple[np.ndarray, torch.Tensor, Reading | None]:
    """Radford et al.'s figure for groups (a, b, c): one row per group, its surest members (at
    most SHOWN; the mean is over all of them) then (after a gap) the face of its mean latent
    vector (on the shell, see on_shell), and a last row with the face of a - b + c in the mean
    column and as many variations of it beside it as a row shows: the result plus
    uniform noise of +-`noise` per dimension, put back on the shell (Radford et al. added
    +-0.25 to z drawn from U(-1, 1), whose spread is 0.58; z here is standard normal).

    `read(images, label)` reads the result images (the result first, then the variations) and
    its caption goes onto the last row: what they are read as, and whether that missed.
    Returns the figure, uint8 (H, W, 3) with each face enlarged `factor` times, the result
    vector (nz,) and the reading (None without `read`). Conditional groups (`categories`: the
    model's category names) draw their mean face with their most common label and the result
    with `result_label`.
    """

    a, b, c = groups
    result = arithmetic(a.z, b.z, c.z)  # (nz,)
    size = min(SHOWN, max(len(g.index) for g in groups))  # faces per row
    conditional = a.labels is not None
    label = torch.tensor([result_label(a, b, c, len(categories))]) if conditional else None
    jitter = (torch.rand(size, result.numel(), generator=torch.Generator().manual_seed(seed)) * 2 - 1) * noise  # (size, nz)
    rows = []
    for sign, g in zip(("a: ", "- b: ", "+ c: "), groups):
        mean = _images(G, on_shell(g.z.mean(0, keepdim=True)), _majority(g))[0]
        rows.append((f"{sign}{g.expression}  ({g.matches} found, mean of {len(g.index)})", list(g.images[:size]), mean))
    drawn = on_shell(result)
    variations = _images(G, on_shell(drawn + jitter), label.repeat(size) if conditional else None)
    face = _images(G, drawn[None], label)[0]
    reading = read(np.concatenate([face[None], variations]), int(label) if conditional else None) if read is not None else None
    text = "= a - b + c" + (f", drawn as {categories[int(label)]}" if conditional else "") + (f": {reading.caption()}" if reading else "")
    rows.append((text, list(variations), face))

    h, w = (s * factor for s in a.images.shape[1:3])
    width = size * (w + PAD) + GAP + w
    canvas = Image.new("RGB", (width, len(rows) * (BAND + h + PAD)), "white")
    draw = ImageDraw.Draw(canvas)
    for r, (text, faces, mean) in enumerate(rows):
        y = r * (BAND + h + PAD)
        draw.text((2, y + 2), text, fill="black", font=ImageFont.load_default())
        for i, face in enumerate(faces):
            canvas.paste(Image.fromarray(upscale(face[None], factor)[0]), (i * (w + PAD), y + BAND))
        canvas.paste(Image.fromarray(upscale(mean[None], factor)[0]), (width - w, y + BAND))
    return np.asarray(canvas), result, reading


def direction_sweep(G: torch.nn.Module, d: torch.Tensor, bases: torch.Tensor, labels: torch.Tensor | None, frames: int, reach: float) -> np.ndarray:
    """Frames of base + t * d for t from -reach to +reach, the bases (B, nz) side by side.

    Returns uint8 (frames, H, B * W, 3); conditional models draw each base with its label."""
    out = []
    for t in torch.linspace(-reach, reach, frames):
        faces = _images(G, bases + t * d, labels)  # (B, H, W, 3)
        out.append(np.concatenate(list(faces), axis=1))  # (H, B * W, 3)
    return np.stack(out)


def _slug(expression: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "_", expression).strip("_")


def render_arithmetic(
    G: torch.nn.Module,
    meta: dict,
    clf_dir: str | Path,
    p: RenderParams,
    out_dir: str | Path,
    on_missing: Callable[[str, NoGroup], None] | None = None,
    on_read: Callable[[Reading], None] | None = None,
) -> dict[str, Path]:
    """Write arithmetic.png (render.arithmetic, a - b + c) and direction_<attr>.gif for each of
    render.directions into out_dir, using the classifiers in clf_dir; return name -> path.

    Nothing is generated when both lists are empty (e.g. for data without attributes).
    A figure whose group no generated face belongs to (a weak model) raises NoGroup; given
    `on_missing`, it is called with the figure's file name and the error instead, and the other
    figures are made. `on_read` is given the classifier's reading of the result images (see
    Reading), which is also the figure's caption.
    A direction is mean(z with it) - mean(z without it) over every usable sample, not just
    group_size: the more faces, the more the other attributes cancel out.
    """

    out_dir = Path(out_dir)
    written: dict[str, Path] = {}
    if not p.arithmetic and not p.directions:
        return written
    out_dir.mkdir(parents=True, exist_ok=True)
    samples = read_samples(G, meta, clf_dir, p.arithmetic_samples, p.seed)
    if p.arithmetic:
        try:
            groups = [find_group(samples, e, p.group_size, f"render.arithmetic[{i}] {e!r}") for i, e in enumerate(p.arithmetic)]
        except NoGroup as e:
            if on_missing is None:
                raise
            on_missing("arithmetic.png", e)
        else:
            device = next(G.parameters()).device
            read = lambda images, label: read_result(images, samples, groups, clf_dir, label, device)  # noqa: E731
            figure, _, reading = arithmetic_figure(G, groups, samples.categories, p.upscale, p.seed, p.arithmetic_noise, read)
            if on_read is not None:
                on_read(reading)
            written["arithmetic.png"] = out_dir / "arithmetic.png"
            with atomic_path(written["arithmetic.png"]) as tmp:
                iio.imwrite(tmp, figure, extension=".png")
    rows = np.flatnonzero(samples.usable)[:SWEEP_BASES]
    bases = samples.z[rows]  # (B, nz)
    labels = samples.labels[rows] if samples.labels is not None else None
    for name in p.directions:
        where, key = f"render.directions {name!r}", f"direction_{_slug(name)}.gif"
        try:
            d = direction(find_group(samples, name, None, where).z, find_group(samples, f"not ({name})", None, where).z)
        except NoGroup as e:
            if on_missing is None:
                raise
            on_missing(key, e)
            continue
        frames = direction_sweep(G, d, bases, labels, p.sweep_frames, p.sweep_range)
        written[key] = out_dir / key
        write_gif(written[key], upscale(frames, p.upscale), p.fps)
    return written
