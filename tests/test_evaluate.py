"""Snapshot choice and the pick of the best snapshot (the end-to-end run is in test_pipeline)."""

from pathlib import Path

import pytest

from ganlab.errors import GanlabError
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
    from ganlab.models.progressive import ProgressiveParams

    variant = REGISTRY["progressive"](ProgressiveParams(width=8, nz=16, start_resolution=8))
    G, _ = variant.build(16)
    assert not variant.complete(G)  # built at its start, 8 px
    G.set_stage(16, 0.5)
    assert not variant.complete(G)
    G.set_stage(16, 1.0)
    assert variant.complete(G)
    dcgan = REGISTRY["dcgan"](REGISTRY["dcgan"].Params(width=8, nz=16))
    assert dcgan.complete(dcgan.build(16)[0])
