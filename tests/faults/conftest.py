"""The fault-injection suite: every test records the faults it tried, and the run ends with a table.

`record_fault(name, tried, survived, identical)`: `tried` faults injected, `survived` of them
after which the stage (or its rerun) ended without a traceback and with every output written,
`identical` of them whose result equals the fault-free run's (None where there is no result to
compare, e.g. a params error). The table is printed at the end of `pytest` and copied into the
README by hand from a real run. Under `pytest -n` (make test) each worker hands its rows to the
controller, which prints them (tests/conftest.py).
"""

from __future__ import annotations

import os

import pytest
from conftest import FAULTS


@pytest.fixture(scope="session", autouse=True)
def one_thread_in_every_stage():
    """Every DVC run here trains with one thread, the uninterrupted reference as much as the runs
    killed and resumed: results are compared bit for bit, and torch's float sums (so the weights)
    differ with the thread count. Session scope: set before any module's reference run."""
    before = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"
    yield
    if before is None:
        del os.environ["OMP_NUM_THREADS"]
    else:
        os.environ["OMP_NUM_THREADS"] = before


@pytest.fixture
def record_fault(request):
    rows = request.config.stash[FAULTS]  # printed by tests/conftest.py's terminal summary

    def record(fault: str, tried: int, survived: int, identical: int | None = None) -> None:
        rows.append((fault, tried, survived, identical))

    return record
