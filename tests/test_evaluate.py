"""Snapshot choice and the pick of the best snapshot (the end-to-end run is in test_pipeline)."""

from pathlib import Path

import pytest

from ganlab.errors import GanlabError
from conftest import TINY_META, tiny_generator, write_model_folder
from ganlab.evaluate import pick, snapshots_to_score


@pytest.fixture
def model_dir(tmp_path) -> Path:
    (tmp_path / "snapshots").mkdir()
    for step in (3, 6, 9, 12, 14):
        (tmp_path / "snapshots" / f"step_{step:06d}.pt").write_bytes(b"")
    return tmp_path


@pytest.mark.parametrize("every, steps", [(1, [3, 6, 9, 12, 14]), (2, [6, 12, 14]), (3, [9, 14]), (5, [14]), (9, [14]), (0, [14])])
def test_every_kth_snapshot_and_always_the_last(model_dir, every, steps):
    assert [snap.step for snap in snapshots_to_score(model_dir, every)] == steps


def test_no_snapshots_is_one_line_error(tmp_path):
    with pytest.raises(GanlabError, match="no training snapshots"):
        snapshots_to_score(tmp_path, 1)


CURVE = [
    {"step": 500, "fid": 40.0, "face_rate": 0.9},
    {"step": 1000, "fid": 30.0, "face_rate": 0.8},
    {"step": 1500, "fid": 35.0, "face_rate": 0.95},
]


def test_pick_by_lowest_fid():
    row, by, why = pick(CURVE, "best")
    assert (row["step"], by) == (1000, "fid") and "30.0" in why


def test_pick_by_face_rate_without_fid():
    curve = [{**row, "fid": None} for row in CURVE]
    row, by, _ = pick(curve, "best")
    assert (row["step"], by) == (1500, "face_rate")


def test_ties_go_to_the_later_snapshot():
    curve = [{"step": s, "fid": None, "face_rate": 1.0} for s in (500, 1000, 1500)]
    assert pick(curve, "best")[0]["step"] == 1500
    curve = [{"step": s, "fid": 7.0, "face_rate": 0.5} for s in (500, 1000)]
    assert pick(curve, "best")[0]["step"] == 1000


def test_select_last():
    row, by, _ = pick(CURVE, "last")
    assert (row["step"], by) == (1500, "last")


def test_snapshots_below_full_resolution_are_not_picked():
    curve = [{**CURVE[0], "fid": 1.0, "grown": False}, *CURVE[1:]]
    assert pick(curve, "best")[0]["step"] == 1000


def test_completeness_is_the_variants_call():
    """Whether a snapshot is at full resolution is the variant's to say (evaluate has no
    model-specific code): a progressive G is complete only when grown and faded in."""
    from ganlab.models import REGISTRY
    from ganlab.models.progressive.params import ProgressiveParams

    variant = REGISTRY["progressive"](ProgressiveParams(width=8, nz=16, start_resolution=8))
    G, _ = variant.build(16)
    assert not variant.complete(G)  # built at its start, 8 px
    G.set_stage(16, 0.5)
    assert not variant.complete(G)
    G.set_stage(16, 1.0)
    assert variant.complete(G)
    dcgan = REGISTRY["dcgan"](REGISTRY["dcgan"].Params(width=8, nz=16))
    assert dcgan.complete(dcgan.build(16)[0])


@pytest.fixture
def rooms(mlflow_store):
    """A tiny untrained DCGAN with two snapshots and 30 random 16 px 'rooms' (not faces), no FID."""
    import numpy as np

    from ganlab import fid
    from ganlab.dataset import save_dataset

    tmp_path = mlflow_store
    G = tiny_generator()
    write_model_folder(tmp_path / "model", G, TINY_META, snapshots=(2, 4))
    rng = np.random.default_rng(0)
    save_dataset(tmp_path / "rooms.npz", rng.integers(0, 256, (30, 16, 16, 3), dtype=np.uint8))
    fid.save_stats(tmp_path / "stats.npz", np.zeros(0), np.zeros((0, 0)), {"dataset": "rooms.npz", "images": 30, "resolution": 16, "weights": "none", "available": False, "reason": "offline"})
    return tmp_path, G


def _evaluate_rooms(tmp_path, p):
    import json

    from ganlab.evaluate import evaluate

    m = evaluate(tmp_path / "model", tmp_path / "rooms.npz", tmp_path / "stats.npz", tmp_path / "best", tmp_path / "evaluate.json",
                 tmp_path / "curve.csv", p, progress=False, info_path=tmp_path / "info.json", faces=(False, "data.source is lsun_bedroom"))
    return m, json.loads((tmp_path / "evaluate.json").read_text()), json.loads((tmp_path / "info.json").read_text())


def test_evaluate_data_that_are_not_faces(rooms):
    """LSUN bedrooms and the like: no face rate (null, with the reason), the offline metrics in the
    untrained random CNN's features, the real floor beside them, the snapshot picked by fd."""
    from ganlab.params import EvaluateParams

    tmp_path, _ = rooms
    m, ev, info = _evaluate_rooms(tmp_path, EvaluateParams(fid_samples=4, face_samples=4, feature_samples=12, batch_size=8))
    assert ev["face_rate"] is None and ev["face_rate_real"] is None and "lsun_bedroom" in info["face_rate_unavailable"]
    assert {"fd_random_cnn", "recall_random_cnn", "fd_random_cnn_real", "precision_random_cnn_real"} <= set(ev)
    assert not any(k.endswith("_onet") for k in ev) and "NOT FID" in info["distribution_protocol"]
    assert "12 generated images (latents of evaluate.report_seed) vs 12 real ones" in info["distribution_protocol"]  # feature_samples: 12 of 30 in each half
    assert info["selected_by"] == "fd_random_cnn" and m["selected_step"] == 4  # equal weights: the tie goes to the later one
    curve = (tmp_path / "curve.csv").read_text().splitlines()
    assert curve[0] == "step,fid,face_rate,fd_random_cnn,precision_random_cnn,recall_random_cnn,grown" and len(curve) == 3
    assert curve[1].split(",")[1:3] == ["", ""]  # no FID, no face rate
    # an untrained generator is far from the data; one real half is near the other
    assert ev["fd_random_cnn"] > ev["fd_random_cnn_real"] and ev["recall_random_cnn"] < ev["recall_random_cnn_real"]


def test_reported_numbers_come_from_samples_the_pick_did_not_see(rooms):
    """The snapshot is picked on the selection set (latents of evaluate.seed, the even real rows)
    and reported on the report set (latents of evaluate.report_seed, the odd real rows): both
    computed here by hand; the selection set's values are kept apart, in the info file."""
    import numpy as np

    from ganlab import features
    from ganlab.dataset import open_dataset
    from ganlab.generator import generate, latents
    from ganlab.params import EvaluateParams

    tmp_path, G = rooms
    p = EvaluateParams(fid_samples=4, face_samples=4, feature_samples=12, batch_size=8, seed=5, report_seed=50)
    _, ev, info = _evaluate_rooms(tmp_path, p)
    extract = features.feature_extractor("random_cnn", "cpu")
    with open_dataset(tmp_path / "rooms.npz") as data:
        rows = np.asarray(data.rows[:24])
    even, odd = extract(rows[0::2]), extract(rows[1::2])

    def by_hand(real, seed):
        return features.distribution_metrics(real, features.features_of(extract, generate(G.eval(), latents(12, 8, seed + 3), 8)), "random_cnn", 3)

    reported, selected = by_hand(odd, p.report_seed), by_hand(even, p.seed)
    assert {k: ev[k] for k in reported} == reported
    assert {k: info["selection"][k] for k in selected} == selected
    assert reported["fd_random_cnn"] != selected["fd_random_cnn"]  # other samples, other numbers
    assert ev["fd_random_cnn_real"] == features.distribution_metrics(odd, even, "random_cnn", 3)["fd_random_cnn"]
    assert not any(k.startswith("selection") for k in ev)  # not a dvc exp show column: it is no measurement


def test_report_seed_too_close_to_the_selection_seed_is_refused():
    from ganlab.errors import ParamsError
    from ganlab.params import EvaluateParams

    with pytest.raises(ParamsError, match="evaluate.report_seed must differ from evaluate.seed"):
        EvaluateParams(seed=10, report_seed=12)
