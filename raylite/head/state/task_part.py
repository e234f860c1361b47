"""What a part of the task table may use of the rest of it, for the type checker.

TaskTable (raylite/head/state/tasks.py) is one class written in several
modules: SchedulingPass (scheduling_pass.py) and TaskFailures
(task_failures.py) are parts of it, each in a module of its own. Each part
derives from TaskTablePart, which declares the table's attributes and the
methods the parts call of one another; at run time it is an empty class.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from raylite.head.state.actors import ActorDirectory
    from raylite.head.state.model import ObjectInfo, TaskRecord
    from raylite.head.state.nodes import NodeTable
    from raylite.head.state.objects import ObjectDirectory
    from raylite.head.state.placement import PlacementGroups
    from raylite.head.state.recovery import Recovery
    from raylite.head.state.sink import Sink
    from raylite.head.state.streams import Streams


class TaskTablePart:
    if TYPE_CHECKING:  # the task table's own (tasks.py: TaskTable.__init__)
        sink: Sink
        nodes: NodeTable
        objects: ObjectDirectory
        tasks: dict[bytes, TaskRecord]
        lineage: dict[bytes, TaskRecord]
        dep_waiters: dict[bytes, list[tuple[bytes, int]]]
        actors: ActorDirectory
        recovery: Recovery
        placement: PlacementGroups
        streams: Streams
        _queues: dict[tuple, deque[bytes]]
        _capacities: tuple[dict, dict]
        _warned_infeasible: set[tuple]
        _spread_cursor: int

        def finish(
            self, task: TaskRecord, results: list[ObjectInfo], cause: str, error: str = "", deliver: bool = True
        ) -> None: ...

        def wait_for_deps(self, task: TaskRecord, why: str = "") -> None: ...

        def release_pins(self, task: TaskRecord) -> None: ...
