"""Files the project loads are loaded as data: a hostile pickle runs nothing, wherever it sits."""

from __future__ import annotations

import os

import pytest
import torch

from ganlab import fid


class _Payload:
    """Unpickling this runs a shell command that leaves a marker file (what an attacker's would do)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _hostile(path, marker):
    torch.save({"Conv2d_1a_3x3.conv.weight": _Payload(marker)}, path)
    return path


def test_a_hostile_fid_weights_file_runs_nothing(tmp_path, record_fault):
    marker = tmp_path / "ran"
    with pytest.raises(fid.FIDUnavailable, match="weights"):
        fid.load_inception(_hostile(tmp_path / "weights.pth", marker), torch.device("cpu"))
    assert not marker.exists()
    record_fault("hostile pickle as evaluate.fid_weights", 1, int(not marker.exists()))


def test_a_poisoned_torch_hub_cache_runs_nothing(tmp_path, monkeypatch, record_fault):
    """fid_weights: null loads from torch hub's cache, which anything on the machine may have written."""
    marker = tmp_path / "ran"
    hub = tmp_path / "hub"
    (hub / "checkpoints").mkdir(parents=True)
    _hostile(hub / "checkpoints" / fid.FID_WEIGHTS_NAME, marker)
    monkeypatch.setattr(torch.hub, "_hub_dir", str(hub))
    with pytest.raises(fid.FIDUnavailable):
        fid.load_inception(None, torch.device("cpu"))
    assert not marker.exists()
    record_fault("hostile pickle in torch hub's cache", 1, int(not marker.exists()))


def test_real_weights_still_load(fid_weights):
    """The restriction costs nothing: a state dict of tensors (the real file's form) loads."""
    assert fid.load_inception(fid_weights, torch.device("cpu")) is not None
