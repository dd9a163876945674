"""End to end: a real git + DVC repo in a temp dir, tiny params, `dvc repro` twice."""

import json
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import yaml
from dvcrepo import dvc, dvc_json, env, git, make_repo, mlflow_runs

from ganlab.io import load_dataset

TINY = {
    "data": {"count": 40, "seed": 0},
    "crop": {"batch_size": 20},
    "prepare": {"resolution": 32},
    "train": {"models": ["dcgan"], "sample_every": 3, "checkpoint_every": 3, "log_every": 2, "grid_size": 2},
    "dcgan": {"steps": 6, "batch_size": 8, "width": 8},
    # Inception at 299 px is about 0.2 s an image on one core: 8 generated per snapshot (two
    # scored, then the report's draw) against the real statistics of 16 faces
    "evaluate": {"fid_samples": 8, "fid_real_samples": 16, "face_samples": 6, "batch_size": 8},
    "classify": {"epochs": 1, "width": 8, "resolution": 16},
    "render": {
        "points": 3, "frames_per_transition": 4, "hold_frames": 2, "strip_steps": 5, "upscale": 2, "grid": 2,
        "formats": ["gif", "mp4"], "arithmetic_samples": 64, "group_size": 2, "directions": [],
        # a 6-step generator draws no particular faces: groups that every sample belongs to
        "arithmetic": ["Smiling or not Smiling", "Male or not Male", "Young or not Young"],
    },
}


@pytest.fixture(scope="module")
def repo(tmp_path_factory, fid_weights) -> Path:
    repo = make_repo(tmp_path_factory.mktemp("pipeline"), {**TINY, "evaluate": {**TINY["evaluate"], "fid_weights": str(fid_weights)}})
    dvc(repo, "repro")
    return repo


def test_prepared_npz(repo):
    data = load_dataset(repo / "data/prepared/faces.npz")
    images = data["images"]
    assert images.dtype == np.uint8 and images.ndim == 4 and images.shape[1:] == (32, 32, 3)
    assert 30 <= len(images) <= 40  # most of the 40 synthetic faces are found
    assert data["attributes"].shape == (len(images), len(data["attribute_names"]))
    assert set(np.unique(data["attributes"])) <= {-1, 1}
    assert "Smiling" in data["attribute_names"]


def test_metrics(repo):
    crop = yaml.safe_load((repo / "metrics/crop.json").read_text())
    assert {"images", "faces", "detection_rate", "mean_iou", "images_per_second"} <= set(crop)
    train = yaml.safe_load((repo / "metrics/dcgan/train.json").read_text())
    assert set(train) == {"steps", "train_seconds", "images_per_second"} and train["steps"] == 6  # dvc exp show columns
    info = yaml.safe_load((repo / "metrics/dcgan/train_info.json").read_text())  # diagnostics, not DVC metrics
    assert {"weights_digest", "device", "final_loss_d"} <= set(info)
    ev = yaml.safe_load((repo / "metrics/dcgan/evaluate.json").read_text())
    onet = {"fd_onet", "precision_onet", "recall_onet"}
    assert set(ev) == {"fid", "face_rate", "face_rate_real", "selected_step", *onet, *(f"{k}_real" for k in onet)}
    assert all(0 <= ev[k] <= 1 for k in ("precision_onet", "recall_onet", "precision_onet_real", "recall_onet_real"))
    ev_info = yaml.safe_load((repo / "metrics/dcgan/evaluate_info.json").read_text())
    assert {"fid_protocol", "distribution_protocol", "selected_by", "snapshots_scored"} <= set(ev_info)
    assert "NOT FID" in ev_info["distribution_protocol"] and ev_info["faces"]["faces"] is True
    shown = dvc_json(repo, "metrics", "show")
    files = {f for r in shown.values() for f in r.get("data", {})}
    assert "metrics/dcgan/train.json" in files and not any(f.endswith("_info.json") for f in files)
    assert isinstance(ev["fid"], float) and ev["fid"] > 0  # random Inception weights: a number, not a benchmark
    assert 0 <= ev["face_rate"] <= 1 and 0 <= ev["face_rate_real"] <= 1
    history = (repo / "metrics/dcgan/losses.csv").read_text().splitlines()
    assert history[0].startswith("step,loss_d,loss_g") and len(history) == 1 + 3
    curve = (repo / "metrics/dcgan/curve.csv").read_text().splitlines()
    assert curve[0] == "step,fid,face_rate,fd_onet,precision_onet,recall_onet,grown" and [row.split(",")[0] for row in curve[1:]] == ["3", "6"]
    assert ev["selected_step"] in (3, 6) and ev_info["selected_by"] == "fid" and ev_info["snapshots_scored"] == 2
    fids = {int(row.split(",")[0]): float(row.split(",")[1]) for row in curve[1:]}  # dcgan: every row grown
    # picked on the selection set (the curve); reported on fresh latents: another draw of the same snapshot
    assert ev_info["selection"]["fid"] == min(fids.values()) == fids[ev["selected_step"]]
    assert ev["fid"] != ev_info["selection"]["fid"] and "report_seed" in ev_info["fid_protocol"]
    clf = yaml.safe_load((repo / "metrics/classifier.json").read_text())
    assert "attributes" in clf


def test_outputs(repo):
    model = repo / "data/models/dcgan"
    assert (model / "generator.pt").exists() and (model / "model.json").exists()
    assert sorted(p.name for p in (model / "samples").iterdir()) == ["step_000003.png", "step_000006.png"]
    assert sorted(p.name for p in (model / "snapshots").iterdir()) == ["index.json", "step_000003.pt", "step_000006.pt"]
    assert json.loads((model / "snapshots" / "index.json").read_text()) == {"3": {"complete": True}, "6": {"complete": True}}
    best = repo / "data/best/dcgan"
    selected = yaml.safe_load((best / "model.json").read_text())["selected"]
    step = yaml.safe_load((repo / "metrics/dcgan/evaluate.json").read_text())["selected_step"]
    assert selected["step"] == step and selected["by"] == "fid"
    assert (best / "generator.pt").read_bytes() == (model / "snapshots" / f"step_{step:06d}.pt").read_bytes()
    renders = repo / "data/renders/dcgan"
    for method in ("lerp", "slerp"):
        # GIFs merge repeated frames (the held ones); MP4 keeps every frame
        frames = iio.imread(renders / f"interp_{method}.mp4", index=None)
        assert frames.shape[:3] == (3 * (4 + 2), 64, 64)  # points x (frames_per_transition + hold_frames), upscaled 2x
        assert iio.imread(renders / f"interp_{method}.gif", index=None).shape[1:3] == (64, 64)
    assert iio.imread(renders / "interp_grid.gif", index=None).shape[1:3] >= (128, 128)  # 2 x 2 cells of 64 px
    assert len(iio.imread(renders / "progress.gif", index=None)) == 2  # one frame per sample grid
    assert iio.imread(renders / "arithmetic.png").ndim == 3
    strip = iio.imread(repo / "data/renders/dcgan/strip.png")
    assert strip.shape[:2] == (64, 5 * 64)


def test_mlflow_run(repo):
    client, _, runs = mlflow_runs(repo)
    assert len(runs) == 1
    run = runs[0]
    assert {"loss_d", "loss_g", "fid", "face_rate", "face_rate_real", "fd_onet", "recall_onet_real"} <= set(run.data.metrics)
    assert [m.step for m in client.get_metric_history(run.info.run_id, "loss_d")] == [2, 4, 6]
    assert [m.step for m in client.get_metric_history(run.info.run_id, "curve_fid")] == [3, 6]
    assert [m.step for m in client.get_metric_history(run.info.run_id, "curve_recall_onet")] == [3, 6]
    assert "model/generator.pt" in {a.path for a in client.list_artifacts(run.info.run_id, "model")}
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "render")}
    assert "render/interp_slerp.gif" in artifacts


def test_second_repro_runs_nothing(repo):
    out = dvc(repo, "repro")
    ran = [line for line in out.splitlines() if line.startswith("Running stage")]
    assert ran == ["Running stage 'fid_weights':"], out  # always_changed: it checks for the weights file, nothing after it reruns


def test_preset_runs_as_a_named_experiment(repo):
    """The README's preset command, on the embedded data with a tiny budget."""
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "baseline")  # dvc exp run needs a commit to branch from
    tiny = ["data.source=synthetic", "crop.mode=mtcnn", "prepare.resolution=32", "dcgan.steps=2", "dcgan.batch_size=8", "dcgan.width=8"]
    cmd = [sys.executable, "-m", "ganlab.presets", "lukaszyk-dcgan-lsun64", *(a for t in tiny for a in ("--set", t))]
    # MLflow is test_mlflow_run's: off here, it would cost each of train, evaluate and render 5 s
    r = subprocess.run(cmd, cwd=repo, env=env(GANLAB_TRACKING="off"), capture_output=True, text=True)
    assert r.returncode == 0 and "train dcgan: MLflow tracking off" in r.stdout + r.stderr, r.stdout + r.stderr
    show = dvc(repo, "exp", "show", "--json")
    assert '"lukaszyk-dcgan-lsun64"' in show
    assert yaml.safe_load((repo / "metrics/dcgan/train.json").read_text())["steps"] == 2
