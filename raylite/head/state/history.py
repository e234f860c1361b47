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
    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self._ring: deque[tuple[Any, ...]] = deque(maxlen=max(0, limit))

    def add(self, task: TaskRecord, results: list[ObjectInfo], error: str) -> None:
        failed = bool(results) and results[0].is_error
        if failed and not error:
            failure = results[0].failure
            error = f"{failure.kind}: {failure.message}" if failure is not None else "failed"
        # a plain tuple here, made a FinishedTask only when read: this runs for every task
        t = task
        self._ring.append(
            (t.task_id, t.job_id, t.name, t.kind, t.actor_id, t.node_id, t.attempt, t.resources, t.story, failed, error)
        )

    def __iter__(self) -> Iterator[FinishedTask]:
        make = FinishedTask._make
        return (make(raw) for raw in self._ring)

    def __len__(self) -> int:
        return len(self._ring)

    @property
    def limit(self) -> Any:
        return self._ring.maxlen
