"""Finished tasks, remembered for the state API, the dashboard and the timeline.

Theory of operation
-------------------
A task leaves the task table the moment it finishes (raylite/head/state/tasks.py),
so without this module nothing would be left of it to list. `TaskHistory`
keeps a bounded ring of the last `limit` finished tasks as small, frozen
summaries: never the TaskRecord itself, whose spec may carry large inline
arguments, so the history's memory is bounded by `limit` alone. Its story
(the same flat tuple of floats and strings the record had) says when the task
was submitted, started and finished.

Readers see the history oldest first; a task that finished more than once (a
lineage rerun, a restarted actor's constructor) appears once per finish, and
the views keep its latest.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any, NamedTuple

from raylite.head.state.model import ObjectInfo, Story, TaskRecord

DEFAULT_LIMIT = 10_000


class FinishedTask(NamedTuple):
    """A finished task, as the history keeps it (a tuple: cheap to make on the hot path)."""

    task_id: bytes
    job_id: bytes
    name: str
    kind: int
    actor_id: bytes
    node_id: bytes | None
    attempt: int
    resources: dict[str, float]
    story: Story | None
    failed: bool
    error: str  # "ExcType: message" of its error, "" when it succeeded


class TaskHistory:
    """The last `limit` finished tasks. `add` runs for every task, so it stores a plain
    tuple; readers get FinishedTask records, each made once, at the first read after it
    was added (`_fresh` holds those not read yet)."""

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        limit = max(0, limit)
        self._fresh: deque[tuple[Any, ...]] = deque(maxlen=limit)
        self._made: deque[FinishedTask] = deque(maxlen=limit)
        # tasks that ended since the head started, by name: what /metrics counts
        # (raylite/head/dashboard/prometheus.py); two dicts keyed by the name cost less than one
        # keyed by (name, failed) on this path, which every task takes
        self.finished: dict[str, int] = {}
        self.failed: dict[str, int] = {}

    def add(self, task: TaskRecord, results: list[ObjectInfo], error: str) -> None:
        failed = bool(results) and results[0].is_error
        if failed and not error:
            failure = results[0].failure
            error = f"{failure.kind}: {failure.message}" if failure is not None else "failed"
        t = task
        totals = self.failed if failed else self.finished
        totals[t.name] = totals.get(t.name, 0) + 1
        self._fresh.append(
            (t.task_id, t.job_id, t.name, t.kind, t.actor_id, t.node_id, t.attempt, t.resources, t.story, failed, error)
        )

    def _catch_up(self) -> deque[FinishedTask]:
        fresh = self._fresh
        if fresh:
            make = FinishedTask._make
            self._made.extend(make(raw) for raw in fresh)
            fresh.clear()
        return self._made

    def __iter__(self) -> Iterator[FinishedTask]:
        """Oldest first."""
        return iter(self._catch_up())

    def newest_first(self) -> Iterator[FinishedTask]:
        return reversed(self._catch_up())

    def __len__(self) -> int:
        return min(len(self._made) + len(self._fresh), self._made.maxlen or 0)

    @property
    def limit(self) -> int:
        return self._made.maxlen or 0
