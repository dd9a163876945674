"""The evaluate stage: FID, face rate and the offline distribution metrics over training
snapshots, and the pick of the best one.

Łukaszyk and Wrona tracked FID by hand across checkpoints and the others chose theirs by eye or by critic
loss; here every k-th snapshot is scored, the curve becomes a DVC plot and an MLflow metric
history, and the best snapshot becomes the model folder every later output is made from.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
from tqdm import tqdm

from ganlab import features, fid, tracking
from ganlab.dataset import open_dataset
from ganlab.errors import GanlabError
from ganlab.faces import face_rate, load_mtcnn
from ganlab.folder import RUN_ARTIFACT, ModelFolder, Snapshot, load_generator
from ganlab.generator import generate, latents, pick_device
from ganlab.io import atomic_dir, write_csv, write_split
from ganlab.params import EvaluateParams

# data.source values whose images are not faces: no face rate, and features that know no faces
NOT_FACES = ("lsun_bedroom",)


def data_is_faces(faces: bool | None, source: str) -> tuple[bool, str]:
    """Whether evaluate treats the data as faces, and why: evaluate.faces when set, else data.source."""
    if faces is not None:
        return faces, f"evaluate.faces is {str(faces).lower()}"
    return source not in NOT_FACES, f"data.source is {source} (evaluate.faces: null)"


def snapshots_to_score(model_dir: str | Path, every: int) -> list[Snapshot]:
    """Every `every`-th training snapshot, always ending with the last one."""
    found = ModelFolder(model_dir).snapshots()
    if not found:
        raise GanlabError(f"no training snapshots in {Path(model_dir) / 'snapshots'}: train the model again")
    chosen = found[every - 1 :: every] if every else []
    if found[-1] not in chosen:
        chosen.append(found[-1])
    return chosen


def pick(curve: list[dict], select: str, offline: str | None = None) -> tuple[dict, str, str]:
    """The row of `curve` behind every output, the metric it was picked by, and why.

    Lowest FID where FID is known; else the lowest offline Fréchet distance `offline` (a key
    of the rows, e.g. "fd_onet") when given, since it sees both how the images look and how
    varied they are; else the highest face rate, which sees no mode collapse. Ties go to the
    later snapshot, which has seen more data. Rows marked "grown": False (a progressive
    generator still below the data's resolution) are scored for the curve but not picked:
    their images are upsampled.
    """
    last = curve[-1]
    if select == "last":
        return last, "last", f"the last snapshot (step {last['step']}), as evaluate.select asks"
    rows = [row for row in curve if row.get("grown", True)] or [last]
    if all(row["fid"] is not None for row in rows):
        best = min(reversed(rows), key=lambda row: row["fid"])
        return best, "fid", f"lowest FID ({best['fid']}) of {len(rows)} snapshots at full resolution"
    if offline is not None:
        best = min(reversed(rows), key=lambda row: row[offline])
        return best, offline, (
            f"lowest {offline} ({best[offline]}) of {len(rows)} snapshots at full resolution; FID unavailable, and {offline}"
            " (a Fréchet distance in other features, not FID) sees a collapsed generator that the face rate does not"
        )
    best = max(reversed(rows), key=lambda row: row["face_rate"])
    return best, "face_rate", f"highest face rate ({best['face_rate']}) of {len(rows)} snapshots at full resolution; FID unavailable"


@dataclass
class Scorer:
    """Scores one generator on one set of latent vectors against one set of real features: the
    row of the curve (the selection set) and the report (a fresh set) are made by the same code,
    a loop over METRICS."""

    p: EvaluateParams
    space: str
    extract: Callable
    mtcnn: object | None  # None: not faces, no face rate
    inception: torch.nn.Module | None  # None: no FID
    real_stats: tuple[np.ndarray, np.ndarray]
    labels: torch.Tensor | None
    device: torch.device

    def latents(self, nz: int, seed: int, n: int) -> dict[str, torch.Tensor]:
        """Each metric's latent vectors of one sample set (seed + its own offset; seed + 2 is the
        conditionality accuracy's); n is the size of a real half."""
        return {m.name: latents(m.samples(self.p, n), nz, seed + m.seed_offset) for m in METRICS}

    def __call__(self, G: torch.nn.Module, z: dict[str, torch.Tensor], real: np.ndarray) -> dict:
        """Every metric's columns for G's images of z, against the real features `real`."""
        row = {}
        for m in METRICS:
            y = self.labels[: len(z[m.name])] if self.labels is not None else None
            row.update(m.score(self, generate(G, z[m.name], self.p.batch_size, y), real))
        return row

    def floor(self, data_path: str | Path, real_select: np.ndarray, real_report: np.ndarray) -> dict:
        """What real images score on every metric that has such a floor, as `<column>_real`."""
        out = {}
        for m in METRICS:
            if m.floor is not None:
                out.update({f"{k}_real": v for k, v in m.floor(self, data_path, real_select, real_report).items()})
        return out


# --- the metrics: a new one is a function (and a floor, if real images have one) and an entry ---


def _fid(s: Scorer, images: Iterator[np.ndarray], real: np.ndarray) -> dict:
    """FID against the real statistics of real_stats; None without Inception weights."""
    if s.inception is None:
        return {"fid": None}
    acts = fid.inception_activations(s.inception, images, s.device, total=s.p.fid_samples, progress=False)
    return {"fid": round(fid.fid_of_activations(acts, *s.real_stats), 4)}


def _face_rate(s: Scorer, images: Iterator[np.ndarray], real: np.ndarray) -> dict:
    """MTCNN's face rate at evaluate.face_threshold; None for data that are not faces."""
    if s.mtcnn is None:
        return {"face_rate": None}
    return {"face_rate": round(face_rate(s.mtcnn, np.concatenate(list(images)), s.p.face_threshold), 4)}


def _face_rate_floor(s: Scorer, data_path: str | Path, real_select: np.ndarray, real_report: np.ndarray) -> dict:
    """The face rate of the first face_samples real images (None for data that are not faces)."""
    if s.mtcnn is None:
        return {"face_rate": None}
    with open_dataset(data_path) as data:
        return {"face_rate": round(face_rate(s.mtcnn, data.rows[: s.p.face_samples], s.p.face_threshold), 4)}


def _distribution(s: Scorer, images: Iterator[np.ndarray], real: np.ndarray) -> dict:
    """Fréchet distance, precision and recall in the offline feature space (ganlab.features)."""
    return features.distribution_metrics(real, features.features_of(s.extract, images), s.space, s.p.nearest_k)


def _distribution_floor(s: Scorer, data_path: str | Path, real_select: np.ndarray, real_report: np.ndarray) -> dict:
    """The selection half of the real images against the report half: a perfect generator's numbers."""
    return features.distribution_metrics(real_report, real_select, s.space, s.p.nearest_k)


@dataclass(frozen=True)
class Metric:
    """One entry of METRICS: its columns (in the curve, evaluate.json and the selection record),
    how many images it scores and from which latents, and the functions that score them."""

    name: str
    columns: Callable[[str], tuple[str, ...]]  # of the feature space
    samples: Callable[[EvaluateParams, int], int]  # of the params and the size of a real half
    seed_offset: int  # its latents: evaluate.seed (or report_seed) + this
    score: Callable[[Scorer, Iterator[np.ndarray], np.ndarray], dict]
    floor: Callable[[Scorer, str | Path, np.ndarray, np.ndarray], dict] | None = None


METRICS = (
    Metric("fid", lambda space: ("fid",), lambda p, n: p.fid_samples, 0, _fid),
    Metric("face_rate", lambda space: ("face_rate",), lambda p, n: p.face_samples, 1, _face_rate, _face_rate_floor),
    Metric("distribution", features.metric_names, lambda p, n: n, 3, _distribution, _distribution_floor),
)


def columns(space: str) -> list[str]:
    """Every metric's columns in the feature space `space`, in METRICS' order."""
    return [c for m in METRICS for c in m.columns(space)]


# evaluate.json, a DVC metric: what experiments are compared by (the rest goes to evaluate_info.json):
# every metric's columns in either feature space and, where real images have a floor, its *_real
COMPARED = (
    *dict.fromkeys(c + real for m in METRICS for space in features.SPACES for c in m.columns(space) for real in ("", "_real") if real == "" or m.floor),
    "selected_step", "class_accuracy_generated", "class_accuracy_chance", "class_accuracy_real",
)


def real_halves(data_path: str | Path, p: EvaluateParams, extract: Callable) -> tuple[np.ndarray, np.ndarray]:
    """Features of two disjoint real halves, n images each (n = feature_samples, at most half the
    set): the even rows of the first 2n, which snapshots are chosen against, and the odd rows,
    which the chosen one is reported against. Read a batch at a time, never the whole set."""
    with open_dataset(data_path) as data:
        n = min(p.feature_samples, len(data) // 2)
        if n <= p.nearest_k:
            raise GanlabError(f"{len(data)} real images are too few for evaluate.nearest_k={p.nearest_k}: each real half needs more than {p.nearest_k}")
        select, report = [], []
        for i in range(0, 2 * n, 2 * p.batch_size):  # an even step: every batch starts on an even row
            batch = data.rows[i : min(i + 2 * p.batch_size, 2 * n)]
            select.append(extract(batch[0::2]))
            report.append(extract(batch[1::2]))
    return np.concatenate(select), np.concatenate(report)  # (n, D) each


def evaluate(
    model_dir: str | Path,
    data_path: str | Path,
    stats_path: str | Path,
    out_dir: str | Path,
    metrics_path: str | Path,
    curve_path: str | Path,
    p: EvaluateParams,
    classifier_dir: str | Path | None = None,
    progress: bool = True,
    info_path: str | Path | None = None,
    faces: tuple[bool, str] = (True, "evaluate.faces is true"),
) -> dict:
    """Score the snapshots of the model in model_dir, pick one, report it on fresh samples, and
    write it to out_dir.

    The pick and the report use separate samples, so the best of several noisy draws is not
    reported as if it were a fresh measurement: every snapshot is scored on the *selection set*
    (latents of evaluate.seed; offline metrics against the even real rows); the picked one is
    then scored again on the *report set* (latents of evaluate.report_seed; offline metrics
    against the odd real rows, never used for the pick). metrics_path (COMPARED) holds the report
    set's numbers; info_path holds the selection set's values of the picked snapshot
    (`selection`) and how everything was measured. The curve (the selection set over training)
    goes to curve_path and to the model's MLflow run as metric history.

    out_dir becomes a model folder (model.json with a "selected" record, generator.pt) that
    render and the `ganlab` command load. `faces` (see data_is_faces) decides the face rate
    (None for other data) and the feature space of the offline metrics (ganlab.features: ONet for
    faces, random-CNN features otherwise). Conditional models also get Razzaq's conditionality
    accuracy when a classifier is given.
    """
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    is_faces, faces_why = faces
    device = pick_device()
    G, meta = load_generator(model_dir, device)
    mu_r, sigma_r, info = fid.load_stats(stats_path)
    inception = fid.load_inception(p.fid_weights, device) if info.get("available") else None
    if inception is None:
        print(f"warning: FID not computed: {info.get('reason', 'unknown')}", file=sys.stderr)
    mtcnn = load_mtcnn(device) if is_faces else None
    space = "onet" if is_faces else "random_cnn"
    extract = features.feature_extractor(space, device, mtcnn)
    real_select, real_report = real_halves(data_path, p, extract)
    n = len(real_select)
    score = Scorer(p, space, extract, mtcnn, inception, (mu_r, sigma_r), _cycled_labels(meta, max(p.fid_samples, p.face_samples, n)), device)

    curve, z_select = [], score.latents(meta["nz"], p.seed, n)
    todo = snapshots_to_score(model_dir, p.every)
    for snap in tqdm(todo, desc="evaluate", unit="snapshot", disable=not progress):
        G.load_state_dict(torch.load(snap.path, map_location=device, weights_only=True))
        curve.append({"step": snap.step, **score(G, z_select, real_select), "grown": snap.complete})

    fd_key = features.metric_names(space)[0]
    best, by, why = pick(curve, p.select, offline=fd_key)
    best_snap = next(snap for snap in todo if snap.step == best["step"])
    G.load_state_dict(torch.load(best_snap.path, map_location=device, weights_only=True))
    reported = score(G, score.latents(meta["nz"], p.report_seed, n), real_report)
    metrics = _metrics(reported, best, info, p, is_faces, faces_why, space, n, data_path)
    metrics.update(score.floor(data_path, real_select, real_report))
    metrics.update(selected_step=best["step"], selected_by=by, snapshots_scored=len(curve), last_step=curve[-1]["step"])
    if meta.get("num_classes") and classifier_dir is not None:
        from ganlab.classifier import conditional_accuracy, load_classifier

        metrics.update(conditional_accuracy(G, meta, load_classifier(Path(classifier_dir), "categories"), p.class_samples, p.seed + 2, p.batch_size))

    with atomic_dir(out_dir) as tmp:
        ModelFolder(tmp).write_selected({**meta, "selected": {"step": best["step"], "by": by, "why": why, "from": str(model_dir)}}, best_snap)
    write_csv(curve_path, [{**row, "grown": int(row["grown"])} for row in curve], ["step", *columns(space), "grown"])
    write_split(metrics, COMPARED, metrics_path, info_path)  # before tracking: a store that is down costs no metric
    _log(meta, curve, columns(space), metrics, why, out_dir)
    return metrics


def _metrics(reported: dict, best: dict, info: dict, p: EvaluateParams, is_faces: bool, faces_why: str, space: str, n: int, data_path) -> dict:
    """The report set's numbers with how they were measured, and the selection set's beside them."""
    metrics: dict = {"fid": reported["fid"]}
    if reported["fid"] is None:
        metrics["fid_unavailable"] = info.get("reason", "unknown")
    metrics["fid_protocol"] = (
        f"{p.fid_samples} generated (latents of evaluate.report_seed) vs {info['images']} real images of {info['dataset']} at {info['resolution']} px,"
        f" Inception weights: {info['weights']}"
    )
    metrics["face_rate"] = reported["face_rate"]
    if is_faces:
        metrics["face_samples"] = p.face_samples
    else:
        metrics["face_rate_real"] = None
        metrics["face_rate_unavailable"] = f"not face data: {faces_why}; MTCNN's face rate means nothing for these images"
    metrics.update({k: reported[k] for k in columns(space) if k not in metrics})
    metrics["distribution_protocol"] = (
        f"NOT FID, not comparable with published numbers: Fréchet distance, precision and recall (k={p.nearest_k}) in the features of"
        f" {features.DESCRIPTION[space]}; reported: {n} generated images (latents of evaluate.report_seed) vs {n} real ones (the odd rows of the"
        f" first {2 * n} of {data_path}), none of them used to pick the snapshot; *_real: the even rows against the same odd rows, the floor a"
        " perfect generator reaches"
    )
    metrics["selection"] = {
        "what": "the picked snapshot's numbers on the samples it was picked with (latents of evaluate.seed; the even real rows): biased towards it, not a measurement",
        **{k: best[k] for k in columns(space)},
    }
    metrics["faces"] = {"faces": is_faces, "why": faces_why}
    return metrics


def _log(meta: dict, curve: list[dict], metric_columns: list[str], metrics: dict, why: str, out_dir: Path) -> None:
    """The curve as metric history (MLflow's UI draws it against the step), the report, the picked model."""
    with tracking.Run(f"evaluate {meta['model']}", meta.get("mlflow_run_id"), meta["model"]) as run:
        for row in curve:
            run.log_metrics({f"curve_{k}": row[k] for k in metric_columns if row[k] is not None}, step=row["step"])
        run.log_metrics({k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)})
        run.set_tag("selected", why)
        run.log_artifacts(out_dir, RUN_ARTIFACT)  # `ganlab ... --run ID` loads the model from here


def _cycled_labels(meta: dict, n: int) -> torch.Tensor | None:
    """Conditional models: labels 0, 1, ..., k-1, 0, 1, ... so every category is scored alike."""
    k = meta.get("num_classes") or 0
    return torch.arange(n) % k if k else None
