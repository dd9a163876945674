"""The snapshot retention policy: bounded, always the last and the protected, evenly spread, and
never wanting back a snapshot it deleted before."""

import pytest

from ganlab.retention import snapshots_to_delete


def run(total_steps: int, interval: int, keep: int, protect=()) -> list[int]:
    """Simulate a trainer that writes a snapshot every `interval` steps and applies the policy each time."""
    on_disk: list[int] = []
    for step in range(interval, total_steps + 1, interval):
        on_disk.append(step)
        gone = snapshots_to_delete(on_disk, keep, interval, protect)
        assert set(gone) <= set(on_disk)
        on_disk = [s for s in on_disk if s not in gone]
        assert len(on_disk) <= max(keep, 1 + len(protect)) if keep else True
        assert on_disk[-1] == step  # the newest is always kept
    return on_disk


def test_zero_keeps_everything():
    assert snapshots_to_delete([500, 1000, 1500], 0, 500) == []
    assert run(5000, 500, 0) == list(range(500, 5001, 500))


def test_within_budget_deletes_nothing():
    assert snapshots_to_delete([500, 1000, 1500], 3, 500) == []


def test_thins_to_evenly_spaced_multiples_plus_the_last():
    # 9 snapshots, budget 5: stride 2 keeps 1000, 2000, 3000, 4000 and the last, 4500
    assert snapshots_to_delete(range(500, 4501, 500), 5, 500) == [500, 1500, 2500, 3500]


def test_a_long_run_stays_bounded_and_spread():
    # 200 snapshots, budget 6: a stride of 16,000 steps would keep 6 multiples + the last (7),
    # so the stride is 32,000: evenly spaced multiples, then the last
    assert run(100_000, 500, 6) == [32_000, 64_000, 96_000, 100_000]


def test_incremental_equals_one_shot():
    # thinning as the run goes ends where thinning the full list at once would: the policy never
    # needs back a snapshot it deleted earlier
    steps = list(range(250, 20_001, 250))
    once = [s for s in steps if s not in snapshots_to_delete(steps, 7, 250)]
    assert run(20_000, 250, 7) == once


def test_protected_steps_survive():
    assert run(20_000, 500, 4, protect=[1500]) == [1500, 8000, 16_000, 20_000]


def test_rejects_bad_arguments():
    with pytest.raises(ValueError):
        snapshots_to_delete([1], -1, 500)
    with pytest.raises(ValueError):
        snapshots_to_delete([1], 3, 0)
