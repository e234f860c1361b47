"""The head's garbage-collection pauses: what bounds them, and a watch that reports them.

Theory of operation. CPython frees most objects by reference counting; its cyclic collector
exists for reference cycles. A full (generation 2) collection walks every container object the
collector tracks, and it runs each time the objects that survived into generation 2 have grown
by a quarter since the last one. The head keeps a record per queued task for as long as the
task waits, so with a deep queue a full collection walks every queued task's objects while the
event loop stands still: about a second at 1M queued tasks when each task held three tracked
containers (docs/performance.md, "Scale"). What bounds the pause:

- few tracked containers per task: the head keeps a task's spec as serialized bytes (a parsed
  protobuf message is a tracked object, and kept its whole batch's arena alive), an object held
  by one client names it as bytes (a set only from a second holder on), and a story is a flat
  tuple of plain values, which the collector stops tracking once it survived a collection.
  What is left per queued task is its `TaskRecord`.
- `freeze_startup()`: once the head is serving (modules imported, servicer, gRPC server and
  dashboard built, saved state recovered), everything alive moves to the permanent generation,
  which no collection walks.
- `FreezePolicy`: that is still a record per queued task, and a full collection of 1M of them
  takes half a second. So after a full collection that took at least the budget
  (`config.GC_PAUSE_BUDGET_S`), everything that survived it is frozen too; the next full
  collections walk only what was made since, and the collector's own rule (a quarter more
  survivors than at the last one) now counts from that smaller set, so a full collection stays
  near the budget however deep the queue. Frozen objects are still freed by reference counting
  when dropped (a task record is, when its task ends); what freezing gives up is finding
  reference cycles among them. To reclaim those, once half of what was frozen has been freed
  (the queue turned over or drained) the policy unfreezes everything, so that the next full
  collection looks at all of it again (one longer pause, then the freezing starts anew). A
  garbage cycle among frozen objects therefore lives at most until then.

`GcWatch` times every collection through `gc.callbacks` (two clock reads per collection) and
logs each full one that took at least `config.GC_PAUSE_LOG_S` (`RAYLITE_GC_PAUSE_LOG_S`),
so a pause of the head shows in its log with its length; scripts/bench_scale_live.py reads
those lines to report the longest pause.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

LOG_PREFIX = "full garbage collection"


@dataclass
class FreezePolicy:
    """After each full collection: freeze its survivors if it took the budget or more; unfreeze
    everything once fewer than half of the objects frozen at the peak are left. Pure: it is told
    how long a collection took and asks how many objects are frozen (`frozen()`: counting walks
    the frozen list, ~7 ms per million objects, so it is asked at most once per collection and
    not at all while the policy froze nothing), and answers what to do."""

    budget_s: float
    peak: int = 0  # objects frozen after the last freeze (0: none frozen by the policy)

    def after_full(self, took_s: float, frozen: Callable[[], int]) -> str:
        if took_s >= self.budget_s:
            return "freeze"
        if self.peak and frozen() < self.peak // 2:
            return "unfreeze"
        return ""

    def done(self, action: str, frozen: Callable[[], int]) -> None:
        if action == "freeze":
            self.peak = frozen()
        elif action == "unfreeze":
            self.peak = 0


@dataclass(eq=False)
class GcWatch:
    log_at_s: float
    log: logging.Logger
    policy: FreezePolicy | None = None
    count: list[int] = field(default_factory=lambda: [0, 0, 0])
    total_s: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    max_s: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    _started: float = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        took = time.perf_counter() - self._started
        gen = info["generation"]
        self.count[gen] += 1
        self.total_s[gen] += took
        self.max_s[gen] = max(self.max_s[gen], took)
        if gen != 2:
            return
        if took >= self.log_at_s:
            self.log.info("%s: %.3f s, %d objects collected", LOG_PREFIX, took, info["collected"])
        if self.policy is not None:
            action = self.policy.after_full(took, gc.get_freeze_count)
            if action == "freeze":
                gc.freeze()
            elif action == "unfreeze":
                gc.unfreeze()
            self.policy.done(action, gc.get_freeze_count)

    def install(self) -> GcWatch:
        gc.callbacks.append(self)
        return self

    def remove(self) -> None:
        if self in gc.callbacks:
            gc.callbacks.remove(self)


def freeze_startup() -> int:
    """Moves everything alive now to the permanent generation; returns how many objects that is."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
