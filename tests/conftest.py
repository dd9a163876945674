"""Shared fixtures."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def fid_weights(tmp_path_factory) -> Path:
    """A randomly initialised FID Inception state dict.

    The real weights cannot be downloaded here (no network), so tests that need Inception run
    pytorch-fid's real network with these random weights: numbers are self-consistent, not
    comparable with published FIDs.
    """
    from ganlab.fid import write_random_weights

    path = tmp_path_factory.mktemp("fid") / "random_fid_inception.pth"
    write_random_weights(path, seed=0)
    return path
