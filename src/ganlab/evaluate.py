"""The evaluate stage: FID and face rate over training snapshots, and the pick of the best one.

Łukaszyk and Wrona tracked FID by hand across checkpoints and the others chose theirs by eye or by critic
loss; here every k-th snapshot is scored, the curve becomes a DVC plot and an MLflow metric
history, and the best snapshot becomes the model folder every later output is made from.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ganlab import fid, tracking
from ganlab.dataset import open_dataset
from ganlab.errors import GanlabError
from ganlab.faces import face_rate, load_mtcnn
from ganlab.folder import RUN_ARTIFACT, ModelFolder, Snapshot, load_generator
from ganlab.generator import generate, latents, pick_device
from ganlab.io import atomic_dir, write_csv, write_split
from ganlab.params import EvaluateParams

# evaluate.json, a DVC metric: what experiments are compared by (the rest goes to evaluate_info.json)
COMPARED = ("fid", "face_rate", "face_rate_real", "selected_step", "class_accuracy_generated", "class_accuracy_chance", "class_accuracy_real")


def snapshots_to_score(model_dir: str | Path, every: int) -> list[Snapshot]:
    """Every `every`-th training snapshot, always ending with the last one."""
    found = ModelFolder(model_dir).snapshots()
    if not found:
        raise GanlabError(f"no training snapshots in {Path(model_dir) / 'snapshots'}: train the model again")
    chosen = found[every - 1 :: every] if every else []
    if found[-1] not in chosen:
        chosen.append(found[-1])
    return chosen


def pick(curve: list[dict], select: str) -> tuple[dict, str, str]:
    """The row of `curve` behind every output, the metric it was picked by, and why.

    Lowest FID where FID is known, else highest face rate; ties go to the later snapshot, which
    has seen more data. Rows marked "grown": False (a progressive generator still below the
    data's resolution) are scored for the curve but not picked: their images are upsampled.
    """
    last = curve[-1]
    if select == "last":
        return last, "last", f"the last snapshot (step {last['step']}), as evaluate.select asks"
    rows = [row for row in curve if row.get("grown", True)] or [last]
    if all(row["fid"] is not None for row in rows):
        best = min(reversed(rows), key=lambda row: row["fid"])
        return best, "fid", f"lowest FID ({best['fid']}) of {len(rows)} snapshots at full resolution"
    best = max(reversed(rows), key=lambda row: row["face_rate"])
    return best, "face_rate", f"highest face rate ({best['face_rate']}) of {len(rows)} snapshots at full resolution; FID unavailable"


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
) -> dict:
    """Score the snapshots of the model in model_dir, write the picked one to out_dir.

    out_dir becomes a model folder (model.json with a "selected" record, generator.pt) that
    render and the `ganlab` command load. Metrics are those of the picked snapshot; the curve
    (step, fid, face_rate) goes to curve_path and to the model's MLflow run as metric history.
    Conditional models also get Razzaq's conditionality accuracy when a classifier is given.
    metrics_path gets what experiments are compared by (COMPARED); info_path how they were
    measured (the FID protocol, sample counts, how the snapshot was picked).
    """
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    device = pick_device()
    G, meta = load_generator(model_dir, device)
    mu_r, sigma_r, info = fid.load_stats(stats_path)
    inception = fid.load_inception(p.fid_weights, device) if info.get("available") else None
    if inception is None:
        print(f"warning: FID not computed: {info.get('reason', 'unknown')}", file=sys.stderr)
    mtcnn = load_mtcnn(device)
    z_fid = latents(p.fid_samples, meta["nz"], p.seed)
    z_face = latents(p.face_samples, meta["nz"], p.seed + 1)
    labels = _cycled_labels(meta, max(p.fid_samples, p.face_samples))

    curve = []
    todo = snapshots_to_score(model_dir, p.every)
    for snap in tqdm(todo, desc="evaluate", unit="snapshot", disable=not progress):
        G.load_state_dict(torch.load(snap.path, map_location=device, weights_only=True))
        row: dict = {"step": snap.step, "fid": None, "grown": snap.complete}
        if inception is not None:
            y = labels[: p.fid_samples] if labels is not None else None
            acts = fid.inception_activations(inception, generate(G, z_fid, p.batch_size, y), device, total=p.fid_samples, progress=False)
            row["fid"] = round(fid.frechet_distance(*fid.statistics(acts), mu_r, sigma_r), 4)
        y = labels[: p.face_samples] if labels is not None else None
        fake = np.concatenate(list(generate(G, z_face, p.batch_size, y)))
        row["face_rate"] = round(face_rate(mtcnn, fake, p.face_threshold), 4)
        curve.append(row)

    best, by, why = pick(curve, p.select)
    metrics: dict = {"fid": best["fid"]}
    if best["fid"] is None:
        metrics["fid_unavailable"] = info.get("reason", "unknown")
    metrics["fid_protocol"] = f"{p.fid_samples} generated vs {info['images']} real images of {info['dataset']} at {info['resolution']} px, Inception weights: {info['weights']}"
    metrics["face_rate"] = best["face_rate"]
    metrics["face_samples"] = p.face_samples
    with open_dataset(data_path) as data:
        real = data.rows[: p.face_samples]  # only the images scored, not the whole set
    metrics["face_rate_real"] = round(face_rate(mtcnn, real, p.face_threshold), 4)
    metrics.update(selected_step=best["step"], selected_by=by, snapshots_scored=len(curve), last_step=curve[-1]["step"])

    selected = {"step": best["step"], "by": by, "why": why, "from": str(model_dir)}
    best_snap = next(snap for snap in todo if snap.step == best["step"])
    if meta.get("num_classes") and classifier_dir is not None:
        from ganlab.classifier import conditional_accuracy, load_classifier

        G.load_state_dict(torch.load(best_snap.path, map_location=device, weights_only=True))
        metrics.update(conditional_accuracy(G, meta, load_classifier(Path(classifier_dir), "categories"), p.class_samples, p.seed + 2, p.batch_size))

    with atomic_dir(out_dir) as tmp:
        ModelFolder(tmp).write_selected({**meta, "selected": selected}, best_snap)
    write_csv(curve_path, [{**row, "grown": int(row["grown"])} for row in curve], ["step", "fid", "face_rate", "grown"])

    write_split(metrics, COMPARED, metrics_path, info_path)  # before tracking: a store that is down costs no metric

    with tracking.Run(f"evaluate {meta['model']}", meta.get("mlflow_run_id"), meta["model"]) as run:
        for row in curve:  # the curve as metric history: MLflow's UI draws it against the step
            run.log_metrics({f"curve_{k}": row[k] for k in ("fid", "face_rate") if row[k] is not None}, step=row["step"])
        run.log_metrics({k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)})
        run.set_tag("selected", why)
        run.log_artifacts(out_dir, RUN_ARTIFACT)  # `ganlab ... --run ID` loads the model from here
    return metrics


def _cycled_labels(meta: dict, n: int) -> torch.Tensor | None:
    """Conditional models: labels 0, 1, ..., k-1, 0, 1, ... so every category is scored alike."""
    k = meta.get("num_classes") or 0
    return torch.arange(n) % k if k else None
