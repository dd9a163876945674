"""Which FID Inception weights file is there, by digest: what the `fid_weights` stage records.

The stage runs at every `dvc repro` (it is always_changed), so this module imports neither torch
nor pytorch-fid unless it must: with a weights path given it only hashes a file.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from urllib.parse import urlparse

# pytorch-fid's weights URL (pytorch_fid.inception.FID_WEIGHTS_URL; tests/test_fid.py checks the
# copy) and the name its loader looks for in <torch hub dir>/checkpoints/.
FID_WEIGHTS_URL = "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth"
FID_WEIGHTS_NAME = os.path.basename(urlparse(FID_WEIGHTS_URL).path)

def default_path() -> Path:
    """Where pytorch-fid's loader looks for the weights: torch.hub.get_dir()/checkpoints/FID_WEIGHTS_NAME.

    torch.hub's rule, without importing torch (seconds, at every `dvc repro`): $TORCH_HOME, else
    $XDG_CACHE_HOME/torch, else ~/.cache/torch; then hub/ (tests/test_fid.py compares the two).
    """
    home = os.getenv("TORCH_HOME", os.path.join(os.getenv("XDG_CACHE_HOME", "~/.cache"), "torch"))
    return Path(os.path.expanduser(home), "hub", "checkpoints", FID_WEIGHTS_NAME)


def weights_record(weights: str | Path | None) -> dict:
    """Which Inception weights file real_stats would load, and its SHA-256 (None while absent).

    The `fid_weights` stage writes this at every `dvc repro` (it is always_changed) and real_stats
    depends on it: real_stats reruns exactly when the weights appear, change or go. Without it,
    statistics made offline ("FID unavailable") would stay cached after the weights arrive.
    """
    path = Path(weights).expanduser() if weights else default_path()
    record = {"weights": str(weights) if weights else "pytorch-fid default", "sha256": None}
    if path.is_file():
        h = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        record["sha256"] = h.hexdigest()
    return record
