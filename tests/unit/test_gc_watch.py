"""raylite/gc_watch.py: the freeze policy that bounds the head's full collections, and the watch that applies it."""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable

from raylite.gc_watch import LOG_PREFIX, FreezePolicy, GcWatch


def counts(*values: int) -> Callable[[], int]:
    """A frozen-object count that may be asked once per value, no more."""
    left = list(values)
    return lambda: left.pop(0)


def test_a_slow_full_collection_freezes_and_half_of_the_frozen_freed_unfreezes() -> None:
    policy = FreezePolicy(budget_s=0.05)
    assert policy.after_full(0.01, counts()) == ""  # fast, nothing frozen by the policy: not even counted
    assert policy.after_full(0.05, counts()) == "freeze"
    policy.done("freeze", counts(1000))
    assert policy.peak == 1000
    assert policy.after_full(0.01, counts(900)) == ""  # most of what was frozen is still alive
    assert policy.after_full(0.2, counts()) == "freeze"  # slow again: freeze the new survivors too
    policy.done("freeze", counts(1600))
    assert policy.after_full(0.01, counts(801)) == ""
    assert policy.after_full(0.01, counts(799)) == "unfreeze"  # half gone: let a collection see the rest
    policy.done("unfreeze", counts())
    assert policy.peak == 0 and policy.after_full(0.01, counts()) == ""


def test_the_watch_freezes_after_a_slow_collection_unfreezes_later_and_logs_it(caplog) -> None:
    log = logging.getLogger("raylite.test_gc_watch")
    assert gc.get_freeze_count() == 0, "this test needs a process that froze nothing"
    watch = GcWatch(0.0, log, FreezePolicy(budget_s=0.0)).install()  # every full collection is "slow"
    try:
        with caplog.at_level(logging.INFO, logger=log.name):
            gc.collect()
        assert gc.get_freeze_count() > 0 and watch.policy is not None and watch.policy.peak > 0
        assert watch.count[2] == 1 and watch.max_s[2] > 0
        assert any(r.getMessage().startswith(LOG_PREFIX) for r in caplog.records)
        watch.policy.budget_s = 3600.0  # no collection is slow now
        watch.policy.peak = 2 * gc.get_freeze_count() + 2  # as if more than half of the frozen were freed
        gc.collect()
        assert gc.get_freeze_count() == 0 and watch.policy.peak == 0
    finally:
        watch.remove()
        gc.unfreeze()
    assert watch not in gc.callbacks
