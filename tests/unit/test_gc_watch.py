"""raylite/gc_watch.py: the freeze policy that bounds the head's full collections, and the watch that applies it."""

from __future__ import annotations

import gc
import logging

from raylite.gc_watch import LOG_PREFIX, FreezePolicy, GcWatch


def test_a_slow_full_collection_freezes_and_half_of_the_frozen_freed_unfreezes() -> None:
    policy = FreezePolicy(budget_s=0.05)
    assert policy.after_full(0.01, frozen=0) == ""  # fast, nothing frozen by the policy
    assert policy.after_full(0.05, frozen=0) == "freeze"
    policy.done("freeze", 1000)
    assert policy.peak == 1000
    assert policy.after_full(0.01, frozen=900) == ""  # most of what was frozen is still alive
    assert policy.after_full(0.2, frozen=900) == "freeze"  # slow again: freeze the new survivors too
    policy.done("freeze", 1600)
    assert policy.after_full(0.01, frozen=801) == ""
    assert policy.after_full(0.01, frozen=799) == "unfreeze"  # half gone: let a collection see the rest
    policy.done("unfreeze", 0)
    assert policy.peak == 0 and policy.after_full(0.01, frozen=0) == ""


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
