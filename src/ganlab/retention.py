"""Which training snapshots to delete so that a long run keeps a bounded number of them.

A pure policy, no I/O: the trainer lists the snapshot steps on disk after writing one, asks
`snapshots_to_delete`, and removes those files.

The policy keeps the snapshots at multiples of `interval * stride`, plus the last one and any
`protect`ed steps, with the smallest power-of-two stride that fits `keep`. As the run grows the
stride doubles, and the multiples of 2k are a subset of the multiples of k: a snapshot deleted
earlier is never one the policy would want later, and the kept ones stay evenly spread over the
whole run, so evaluate's curve still spans it (coarser, not truncated).

"Best so far" needs a quality measure that only evaluate computes (FID, face rate); the trainer
has none, so it protects nothing by default. A caller that knows a step worth keeping (a
score it logged, the guard's last healthy weights) passes it in `protect`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def snapshots_to_delete(steps: Sequence[int], keep: int, interval: int, protect: Iterable[int] = ()) -> list[int]:
    """The steps of `steps` to delete so that at most max(keep, 1 + len(protect)) remain.

    steps: the steps of the snapshots present (any order). keep: the budget (0: keep all).
    interval: the steps between snapshots (train.checkpoint_every). protect: steps always kept.
    The last step is always kept. Returns the steps to delete, ascending.
    """
    if keep < 0 or interval < 1:
        raise ValueError(f"keep must be >= 0 and interval >= 1, got keep={keep}, interval={interval}")
    present = sorted(set(steps))
    if not keep or not present:
        return []
    last = present[-1]
    always = {last, *(s for s in protect if s in present)}
    stride = 1
    # The stride depends on the last step only (how many multiples a full run has up to it), not
    # on which snapshots survive: deleting as the run goes ends where deleting once at the end would.
    while last // (interval * stride) + sum(s % (interval * stride) != 0 for s in always) > keep and interval * stride <= last:
        stride *= 2
    kept = always | {s for s in present if s % (interval * stride) == 0}
    return [s for s in present if s not in kept]
