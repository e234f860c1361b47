"""Head recovery: a restarted head rebuilds its tables from what survived it.

Theory of operation
-------------------
The head saves little (raylite/head/storage.py): exported functions, the
actor directory (every ActorChanged) and the nodes alive. Tasks and objects
are not saved: clients resubmit their unfinished tasks and re-announce their
refs as they reconnect, and nodes report what they still run, host and store.

HeadRestarted brings the saved actors and nodes. An actor saved as PLACED is
RECOVERING until its node rejoins (NodeAdded with what the node still runs,
hosts and stores) and says whether its process lives; one saved while PENDING
or RESTARTING is placed afresh. Two holds keep the restart safe:

- scheduling waits until every saved node is back (`awaiting_nodes`): a node
  not back yet may still run a task a client resubmits, which must not run
  twice; what a rejoining node reports running is adopted (RUNNING) instead.
- freeing waits for RecoveryEnded (ObjectDirectory.holding_frees): a client
  that has not reconnected yet still holds its refs. A node reports, with
  each object it stores, the refs pickled inside it (`contained`), so an
  object referenced only from inside another one is pinned like before.

A result a node reports for a task nobody has resubmitted yet is kept
(`early_results`) and given to the resubmission; a resubmitted task whose
outputs a node still stores is answered from them (`done_before`).

RecoveryEnded is the end of the grace period: whoever is not back is gone.
Actors still RECOVERING lost their node (restart or death), non-detached
actors of drivers that did not reconnect are killed, kept results are
dropped, and every object is judged for freeing.
"""

from __future__ import annotations

from collections.abc import Container
from typing import TYPE_CHECKING

from raylite.head.state.model import (
    ACTOR_CREATION,
    NORMAL,
    Deliver,
    HeadRestarted,
    NodeAdded,
    TaskFinished,
    TaskRecord,
)
from raylite.head.state.nodes import NodeTable
from raylite.head.state.objects import ObjectDirectory
from raylite.head.state.sink import Sink
from raylite.head.state.states import ActorState, TaskState
from raylite.ids import object_id

if TYPE_CHECKING:
    from raylite.head.state.actors import ActorDirectory
    from raylite.head.state.tasks import TaskTable


_FIRST_OUTPUT = object_id(b"", 0)  # (what makes a task's first output id from its id)


class Recovery:
    def __init__(self, sink: Sink, nodes: NodeTable, objects: ObjectDirectory) -> None:
        self.sink = sink
        self.nodes = nodes
        self.objects = objects
        self.awaited_nodes: set[bytes] | None = None  # saved nodes not back yet (None: not recovering)
        self.early_results: dict[bytes, TaskFinished] = {}  # for tasks not resubmitted yet (TaskTable pops)
        # wired by HeadState
        self.tasks: TaskTable
        self.actors: ActorDirectory

    def awaiting_nodes(self) -> bool:
        return bool(self.awaited_nodes)

    def restarted(self, ev: HeadRestarted) -> None:
        self.awaited_nodes = set(ev.nodes)
        self.objects.holding_frees = True
        tasks, sink = self.tasks, self.sink
        for actor in ev.actors:
            self.actors.restore(actor)
            creation = actor.creation
            assert creation is not None
            sink.enter(creation, TaskState.NEW, "restored with its actor")
            tasks.pin_arguments(creation)
            if actor.ready is not None:
                self.objects.objects[actor.ready.object_id] = actor.ready  # stands for its handles
            if actor.state is ActorState.RECOVERING:
                sink.transition(creation, TaskState.FINISHED, "its actor was placed before the head restarted")
            elif actor.state is ActorState.PENDING or actor.state is ActorState.RESTARTING:
                # not placed when the head died: place it once the nodes are back
                actor.node_id = None
                tasks.tasks[creation.task_id] = creation
                tasks.wait_for_deps(creation)

    def node_added(self, ev: NodeAdded) -> None:
        """What a node rejoining a restarted head reports (nothing, for a new node)."""
        self.objects.node_reported(ev.node_id, ev.objects, ev.copies)
        for task in ev.running:
            self._adopt_running(task, ev.node_id)
        self.actors.node_rejoined(ev.node_id, dict(ev.live_actors), ev.call_ports)
        if self.awaited_nodes is not None:
            self.awaited_nodes.discard(ev.node_id)

    def _adopt_running(self, task: TaskRecord, node_id: bytes) -> None:
        """A task a rejoining node still runs: it finishes there rather than running twice."""
        tasks = self.tasks
        if task.task_id in tasks.lineage:
            # It was run again while its node was away (past RecoveryEnded) and finished:
            # this run is a duplicate, as is one RUNNING elsewhere below; its report is ignored.
            return
        known = tasks.tasks.get(task.task_id)
        if known is not None:
            if known.state is TaskState.RUNNING:
                return
            known.attempt = task.attempt  # resubmitted by its client before the node rejoined
            task = known
        else:
            self.sink.enter(task, TaskState.NEW, "reported running by its rejoining node")
            task.retries_left = task.max_retries
            tasks.tasks[task.task_id] = task
            tasks.pin_arguments(task)
        # (a known task leaves its queue or its dependency wait lazily)
        self.sink.transition(task, TaskState.RUNNING, "its rejoining node still runs it")
        task.node_id = node_id
        self.nodes.take(node_id, task.resources)

    def keep_early_result(self, ev: TaskFinished) -> bool:
        """A result for a task this head does not know: keep it while clients may still resubmit."""
        if not self.objects.holding_frees or ev.retryable:
            return False
        self.early_results[ev.task_id] = ev
        return True

    def done_before(self, task: TaskRecord) -> bool:
        """True for a resubmitted task whose work survived a head restart (its results go to it)."""
        objects = self.objects
        if task.kind == ACTOR_CREATION and task.actor_id in self.actors.actors:
            actor = self.actors.actors[task.actor_id]
            ready = actor.ready
            if ready is None and actor.state is ActorState.DEAD:
                # its death (freed while its owner was away): what waits for the actor fails, not hangs
                ready = self.actors.death_info(task, actor.death)
            if ready is not None and ready.object_id in objects.objects:
                self.sink.effects.append(Deliver(task.client_id, objects.objects[ready.object_id]))
            elif ready is not None:
                objects.add(ready, owner=task.client_id)
            return True
        known = objects.objects
        if task.kind != NORMAL or task.task_id + _FIRST_OUTPUT not in known:
            return False  # (the first output is enough to tell almost every new task)
        outputs = [known.get(object_id(task.task_id, i)) for i in range(task.num_returns)]
        if not all(outputs):
            return False
        for info in outputs:
            self.sink.effects.append(Deliver(task.client_id, info))  # type: ignore[arg-type]
        return True

    def ended(self, drivers: set[bytes], clients: Container[bytes]) -> None:
        self.awaited_nodes = None
        self.objects.holding_frees = False
        self.early_results.clear()  # their clients did not come back
        self.sink.needs_pass = True
        self.actors.recovery_ended(drivers, clients)
        self.objects.recheck_all()
