"""The fault-injection suite: every test records the faults it tried, and the run ends with a table.

`record_fault(name, tried, survived, identical)`: `tried` faults injected, `survived` of them
after which the stage (or its rerun) ended without a traceback and with every output written,
`identical` of them whose result equals the fault-free run's (None where there is no result to
compare, e.g. a params error). The table is printed at the end of `pytest` and copied into the
README by hand from a real run.
"""

from __future__ import annotations

import pytest

RESULTS: list[tuple[str, int, int, int | None]] = []


@pytest.fixture
def record_fault():
    def record(fault: str, tried: int, survived: int, identical: int | None = None) -> None:
        RESULTS.append((fault, tried, survived, identical))

    return record


def pytest_terminal_summary(terminalreporter) -> None:
    if not RESULTS:
        return
    write = terminalreporter.write_line
    terminalreporter.section("fault injection")
    width = max(len(r[0]) for r in RESULTS)
    write(f"{'fault':<{width}}  tried  survived  identical")
    for fault, tried, survived, identical in RESULTS:
        same = "-" if identical is None else str(identical)
        write(f"{fault:<{width}}  {tried:>5}  {survived:>8}  {same:>9}")
