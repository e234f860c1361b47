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
from dataclasses import dataclass
from typing import Any

from raylite.head.state.model import ObjectInfo, Story, TaskRecord

DEFAULT_LIMIT = 10_000


@dataclass(slots=True, frozen=True)
class FinishedTask:
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
        self._ring: deque[FinishedTask] = deque(maxlen=max(0, limit))

    def add(self, task: TaskRecord, results: list[ObjectInfo], error: str) -> None:
        failed = bool(results) and results[0].is_error
        if failed and not error:
            failure = results[0].failure
            error = f"{failure.kind}: {failure.message}" if failure is not None else "failed"
        self._ring.append(
            FinishedTask(
                task.task_id,
                task.job_id,
                task.name,
                task.kind,
                task.actor_id,
                task.node_id,
                task.attempt,
                task.resources,
                task.story,
                failed,
                error if failed else "",
            )
        )

    def __iter__(self) -> Iterator[FinishedTask]:
        return iter(self._ring)

    def __len__(self) -> int:
        return len(self._ring)

    @property
    def limit(self) -> Any:
        return self._ring.maxlen
