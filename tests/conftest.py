"""Shared fixtures."""

from pathlib import Path

import pytest
import torch

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


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a test module: on a shared 2-core machine torch's two threads spin
    against other jobs (a training step measured 100x slower than on one thread)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
