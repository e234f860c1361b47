"""The head's state: one facade over the task table, object directory, actors and recovery.

Theory of operation
-------------------
`HeadState.handle(*events, now=...)` is the only way the head's state changes:
the servicer (raylite/head/service.py) decodes a peer's message into events,
hands them over with its clock's time, and carries out the effects returned.
Nothing here reads a clock or does I/O.

The state is split by concern into components, each owning its tables and
documented in its own module:

- NodeTable (nodes.py): the nodes and their free resources.
- ObjectDirectory (objects.py): what objects exist and where, who holds or
  needs them (reference counts), and when they are freed.
- TaskTable (tasks.py): tasks from submission to results, the scheduling
  queues and pass (scheduling_pass.py, policies in scheduler.py), retries
  and lineage (task_failures.py).
- ActorDirectory (actors.py): actors, their calls, deaths and restarts.
- Recovery (recovery.py): what a restarted head does until it is whole again.
- Cancellation (cancel.py): raylite.cancel(), and which task submitted which.
- PlacementGroups (placement.py): bundles reserved together, and their tasks.

Components rather than mixins: each is a plain class with its own tables and
its own unit tests, and it reaches the others only through the references
HeadState wires at construction (`tasks.actors = actors`, ...), so who calls
whom can be read from the calls themselves. They share one Sink (sink.py):
the effects of a step, its time, the event being handled, and the
`needs_pass` flag. The concerns are entangled by nature (a finished task
publishes objects, an object that exists wakes tasks, a freed handle kills
an actor, a dead actor fails tasks), so the wiring is explicit rather than
hidden behind events between components: a step stays one synchronous
sequence of calls, as fast as the single class it replaced.

HeadState itself routes each event to the components and runs the end of
the step: the scheduling pass (if anything made room or readied a task),
then the free pass (objects nothing holds or needs), and the scheduling pass
again if freeing made room (an actor killed because its last handle went),
until neither has anything left to do. It answers the
read-only queries the servicer and the tests use (`nodes`, `tasks`,
`objects`, `actors`, `named_actors`, `copies`, ... and `story()`), and
`validate()` checks every component's invariants plus those that span them
(resource accounting, pins); tests call it after every step.

States are explicit: tasks and actors move only through Sink.transition,
checked against the tables in states.py, and each keeps a short story of its
moves (`story()`), which a dashboard or a "why is my get waiting" answer reads.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from raylite import resources as res
from raylite.head.state import direct_calls
from raylite.head.state.actors import ActorDirectory
from raylite.head.state.cancel import Cancellation
from raylite.head.state.explain import Transfer
from raylite.head.state.history import DEFAULT_LIMIT as DEFAULT_HISTORY
from raylite.head.state.history import TaskHistory
from raylite.head.state.leases import (
    LeaseDrained,
    LeasedTasksEnded,
    LeasedTaskStarted,
    LeaseEffect,
    LeaseRequested,
    LeaseReturned,
    LeaseSlotBlocked,
    LeasesServed,
    LeaseTable,
    TaskRecorded,
)
from raylite.head.state.model import (
    ACTOR_CREATION,
    ACTOR_METHOD,
    ActorKillRequested,
    ActorRecord,
    CallRecorded,
    CallsRunning,
    CancelRequested,
    ClientConnected,
    ClientDisconnected,
    Effect,
    Event,
    ExecutorDied,
    GeneratorConsumed,
    GeneratorItemReported,
    HeadRestarted,
    NodeAdded,
    NodeRecord,
    NodeRemoved,
    ObjectCopiesChanged,
    ObjectInfo,
    ObjectsPut,
    ObjectsSubscribed,
    PullsReported,
    RecoveryEnded,
    RefsChanged,
    StreamReceivedReported,
    TaskBlockChanged,
    TaskFinished,
    TaskRecord,
    TaskSubmitted,
)
from raylite.head.state.nodes import NodeTable
from raylite.head.state.objects import ObjectDirectory
from raylite.head.state.placement import PLACEMENT_GROUP, PlacementGroups
from raylite.head.state.placement_model import (
    PlacementGroupCreated,
    PlacementGroupRecord,
    PlacementGroupRemoveRequested,
)
from raylite.head.state.recovery import Recovery
from raylite.head.state.sink import Sink
from raylite.head.state.states import ActorState, StoryEntry, TaskState, entries
from raylite.head.state.streams import Streams
from raylite.head.state.tasks import TaskTable
from raylite.ids import task_of


class HeadState:
    def __init__(self, task_history: int = DEFAULT_HISTORY) -> None:
        """`task_history`: how many finished tasks to remember (history.py)."""
        self._sink = sink = Sink()
        self.clients: dict[bytes, tuple[bytes, bool]] = {}  # client -> (job, is_driver)
        # object id -> the latest report of a long pull of it (explain.py reads them)
        self.transfers: dict[bytes, Transfer] = {}
        self._nodes = NodeTable(sink)
        self._objects = ObjectDirectory(sink, self._nodes, self.clients)
        self._tasks = TaskTable(sink, self._nodes, self._objects)
        self._actors = ActorDirectory(sink, self._nodes, self._objects)
        self._recovery = Recovery(sink, self._nodes, self._objects)
        self._tasks.history = TaskHistory(task_history)
        self._cancels = Cancellation(sink, self._objects)
        self._placement = placement = PlacementGroups(sink, self._nodes)
        placement.tasks, placement.actors = self._tasks, self._actors
        self._tasks.placement = placement
        self._streams = Streams(sink, self._objects)
        self._leases = LeaseTable(self._nodes)
        self._running_calls = direct_calls.RunningCalls()  # direct calls in flight (state API only)
        self._streams.tasks = self._tasks
        self._tasks.streams = self._streams
        self._objects.streams = self._streams
        self._objects.tasks = self._tasks
        self._objects.dep_waiters = self._tasks.dep_waiters
        self._objects.on_freed = self._on_freed
        self._tasks.actors = self._actors
        self._tasks.recovery = self._recovery
        self._actors.tasks = self._tasks
        self._recovery.tasks = self._tasks
        self._recovery.actors = self._actors
        self._tasks.cancels = self._cancels
        self._cancels.tasks = self._tasks
        self._cancels.actors = self._actors
        tasks, objects, actors, recovery = self._tasks, self._objects, self._actors, self._recovery
        self._handlers: dict[type, Callable[[Any], None]] = {
            NodeAdded: self._on_node_added,
            NodeRemoved: self._on_node_removed,
            ClientConnected: self._on_client_connected,
            ClientDisconnected: self._on_client_disconnected,
            TaskSubmitted: self._on_task_submitted,
            ObjectsPut: self._on_objects_put,
            ObjectsSubscribed: objects.on_subscribed,
            TaskFinished: tasks.task_finished,
            ExecutorDied: tasks.executor_died,
            TaskBlockChanged: tasks.block_changed,
            ActorKillRequested: actors.kill_requested,
            HeadRestarted: recovery.restarted,
            RecoveryEnded: self._on_recovery_ended,
            ObjectCopiesChanged: self._on_copies_changed,
            RefsChanged: objects.on_refs_changed,
            CancelRequested: self._cancels.requested,
            PlacementGroupCreated: placement.created,
            PlacementGroupRemoveRequested: placement.remove_requested,
            GeneratorItemReported: self._streams.item_reported,
            GeneratorConsumed: self._streams.consumed,
            StreamReceivedReported: self._streams.caller_received,
            PullsReported: self._on_pulls_reported,
            LeaseRequested: self._on_lease_requested,
            LeaseReturned: lambda ev: self._leases.returned(ev.client_id, ev.lease_id, sink.now, ev.why),
            LeaseDrained: lambda ev: self._leases.drained(ev.node_id, ev.lease_id, sink.now),
            LeasesServed: self._on_leases_served,
            LeaseSlotBlocked: lambda ev: self._leases.slot_blocked(ev.lease_id, ev.blocked),
            TaskRecorded: self._on_task_recorded,
            LeasedTaskStarted: self._on_leased_task_started,
            LeasedTasksEnded: lambda ev: self._leases.tasks_ended(ev.task_ids),
            CallRecorded: self._on_call_recorded,
            CallsRunning: lambda ev: self._running_calls.reported(ev, self._actors.actors, sink.event),
        }

    # ---- entry point -------------------------------------------------------------------

    def handle(self, *events: Event, now: float | None = None) -> list[Effect]:
        """Applies events in order, at time `now` (unchanged if None), and returns the effects to carry out."""
        sink = self._sink
        if now is not None:
            sink.now = now
        handlers = self._handlers
        for event in events:
            kind = type(event)
            sink.event = kind.__name__
            handlers[kind](event)
        sink.event = "end of step"
        if self._tasks.leaving_jobs:
            drivers = self._driver_jobs()
            gone = [job for job in self._tasks.leaving_jobs if job not in drivers]
            self._tasks.drop_left_jobs(drivers)
            self._placement.jobs_gone(gone)
        if self._actors.leaving_owners:
            self._actors.drop_orphans(self.clients)
        while True:
            if sink.needs_pass:
                sink.needs_pass = False
                if not self._recovery.awaiting_nodes():
                    self._placement.schedule_pass()  # groups first: they wait for room as a whole
                self._tasks.schedule_pass()  # (which defers itself while saved nodes are missing)
            self._objects.free_pass()
            leases = self._leases
            if leases.leases and not self._recovery.awaiting_nodes():
                leases.grant_pass(sink.now)  # after the tasks queued at the head: leases get what is left
                leases.revoke_pass(sink.now, self._tasks.waiting_classes(sink.now, leases.fairness_s))
            # Freeing can make room (an actor killed because its last handle went): use it
            # now, not whenever some later event happens to come.
            if not sink.needs_pass or self._recovery.awaiting_nodes():
                return sink.take()

    # ---- events that span components ----------------------------------------------------------

    def _on_lease_requested(self, ev: LeaseRequested) -> None:
        self._leases.request(
            ev.client_id, ev.lease_id, ev.class_key, ev.resources, ev.slots, self._sink.now, ev.job_id, ev.runtime_env
        )

    def _on_task_recorded(self, ev: TaskRecorded) -> None:
        if self._leases.running:
            self._leases.tasks_ended([ev.task.task_id])
        self._tasks.recorded(ev.task, ev.results, ev.node_id, ev.attempt, ev.error)

    def _on_leased_task_started(self, ev: LeasedTaskStarted) -> None:
        if ev.task.task_id not in self._tasks.tasks:  # (one that went through the head meanwhile is listed there)
            self._leases.task_started(ev.node_id, ev.lease_id, ev.task, ev.started)

    def _on_leases_served(self, ev: LeasesServed) -> None:
        for lease in ev.leases:
            self._leases.adopt(ev.node_id, lease, self._sink.now)

    def lease_effects(self) -> list[LeaseEffect]:
        """What the lease table decided in the steps so far (grants, revocations, stops), in order."""
        return self._leases.take_effects()

    @property
    def leases(self) -> LeaseTable:
        return self._leases

    def _on_node_added(self, ev: NodeAdded) -> None:
        self._nodes.add(ev.node_id, ev.resources, ev.info, ev.labels)
        self._tasks.nodes_changed()
        self._placement.nodes_changed()
        self._recovery.node_added(ev)

    def _on_node_removed(self, ev: NodeRemoved) -> None:
        if not self._nodes.remove(ev.node_id):
            return
        where = ev.node_id.hex()[:12]
        self._placement.node_lost(ev.node_id)
        self._tasks.node_lost(ev.node_id, f"node {where} died ({ev.reason})")
        self._actors.node_lost(ev.node_id, ev.reason)
        self._leases.node_lost(ev.node_id, self._sink.now)
        for oid in [oid for oid, pull in self.transfers.items() if pull.node_id == ev.node_id]:
            del self.transfers[oid]
        lost = self._objects.node_lost(ev.node_id)
        self._tasks.objects_lost(lost, f"its only copy was on node {where}, which died ({ev.reason})")

    def _on_pulls_reported(self, ev: PullsReported) -> None:
        if not self._nodes.alive(ev.node_id):
            return
        transfers, now = self.transfers, self._sink.now
        for oid, received, total, elapsed, done in ev.pulls:
            if done:
                transfers.pop(oid, None)
            else:
                transfers[oid] = Transfer(ev.node_id, received, total, now - elapsed)

    def _on_copies_changed(self, ev: ObjectCopiesChanged) -> None:
        if not self._nodes.alive(ev.node_id):
            return
        lost = self._objects.copies_changed(ev)
        self._tasks.objects_lost(
            lost, f"its last copy was evicted from node {ev.node_id.hex()[:12]} as the node of its primary died"
        )

    def _on_task_submitted(self, ev: TaskSubmitted) -> None:
        if self._running_calls.calls:
            self._running_calls.ended(ev.task.task_id)  # a direct call resent through the head
        if ev.task.strategy.kind == PLACEMENT_GROUP:
            self._placement.bind(ev.task)
        self._tasks.submit(ev.task)

    def _on_call_recorded(self, ev: CallRecorded) -> None:
        if self._running_calls.calls:
            self._running_calls.ended(ev.task.task_id)
        direct_calls.record(ev, self._tasks.history, self._objects, self._sink.event)

    def _on_objects_put(self, ev: ObjectsPut) -> None:
        for info in ev.objects:
            self._objects.add(info, owner=None)

    def _on_client_connected(self, ev: ClientConnected) -> None:
        self.clients[ev.client_id] = (ev.job_id, ev.is_driver)
        if ev.is_driver:
            self._tasks.driver_back(ev.job_id)

    def _on_client_disconnected(self, ev: ClientDisconnected) -> None:
        job_id, is_driver = self.clients.pop(ev.client_id, (b"", False))
        self._objects.client_gone(ev.client_id)
        self._running_calls.client_gone(ev.client_id)
        self._leases.client_left(ev.client_id, self._sink.now)
        self._actors.owner_left(ev.client_id)  # (at the end of the step: it may be a reconnection)
        if is_driver:
            self._actors.driver_left(job_id)
            self._tasks.driver_left(job_id)  # (at the end of the step: it may be a reconnection)

    def _on_recovery_ended(self, ev: RecoveryEnded) -> None:
        drivers = self._driver_jobs()
        self._recovery.ended(drivers, self.clients)
        self._streams.early.clear()  # (their tasks' callers did not come back)
        self._tasks.drop_jobs_without_driver(drivers)

    def _driver_jobs(self) -> set[bytes]:
        return {job for job, is_driver in self.clients.values() if is_driver}

    def _on_freed(self, oid: bytes) -> None:
        maker_id = task_of(oid)
        if maker_id in self._actors.actors:
            self._actors.handle_freed(oid)  # (an actor's creation makes no lineage)
        elif maker_id in self._tasks.lineage:
            self._tasks.output_freed(oid)

    # ---- queries (read only) -------------------------------------------------------------------

    @property
    def nodes(self) -> dict[bytes, NodeRecord]:
        return self._nodes.nodes

    @property
    def tasks(self) -> dict[bytes, TaskRecord]:
        return self._tasks.tasks

    @property
    def lineage(self) -> dict[bytes, TaskRecord]:
        return self._tasks.lineage

    @property
    def objects(self) -> dict[bytes, ObjectInfo]:
        return self._objects.objects

    @property
    def copies(self) -> dict[bytes, set[bytes]]:
        return self._objects.copies

    @property
    def holders(self) -> dict[bytes, bytes | set[bytes]]:
        """Object -> its holder's id, or a set of two or more (read with holders_of())."""
        return self._objects.holders

    def holders_of(self, oid: bytes) -> Collection[bytes]:
        return self._objects.holders_of(oid)

    @property
    def client_refs(self) -> dict[bytes, set[bytes]]:
        return self._objects.client_refs

    @property
    def pins(self) -> dict[bytes, int]:
        return self._objects.pins

    @property
    def finished_tasks(self) -> TaskHistory:
        """The last tasks that finished, oldest first (bounded; history.py)."""
        return self._tasks.history

    @property
    def running_calls(self) -> dict[bytes, TaskRecord]:
        """Direct actor calls in flight that their callers reported (direct_calls.py: RunningCalls)."""
        return self._running_calls.calls

    @property
    def actors(self) -> dict[bytes, ActorRecord]:
        return self._actors.actors

    @property
    def named_actors(self) -> dict[tuple[str, str], bytes]:
        """(namespace, name) -> the live actor of that name."""
        return self._actors.named_actors

    @property
    def placement_groups(self) -> dict[bytes, PlacementGroupRecord]:
        return self._placement.groups

    @property
    def named_placement_groups(self) -> dict[str, bytes]:
        return self._placement.named

    @property
    def recovering(self) -> bool:
        """A restarted head that still waits for saved nodes (no scheduling until they are back)."""
        return self._recovery.awaiting_nodes()

    def queue_positions(self, task: TaskRecord) -> dict[bytes, int]:
        """READY task id -> how many READY tasks are ahead of it, in the queue of `task`'s class."""
        return self._tasks.queue_positions(task)

    def story(self, some_id: bytes) -> list[StoryEntry]:
        """The last moves of an actor (an actor id) or else of a task, oldest first; [] if unknown.

        A task's story is kept while the head keeps the task: in the table, in
        lineage, or as an actor's creation (task_story() for that one).
        """
        actor = self.actors.get(some_id)
        if actor is not None:
            return entries(actor.story)
        return self.task_story(some_id)

    def task_story(self, task_id: bytes) -> list[StoryEntry]:
        task = self.tasks.get(task_id) or self.lineage.get(task_id)
        if task is None and task_id in self.actors:
            task = self.actors[task_id].creation
        return entries(task.story) if task is not None else []

    def validate(self) -> None:
        """Checks invariants; tests call it after every step."""
        self._validate_resources()
        self._tasks.validate()
        self._leases.validate()
        self._actors.validate()
        self._cancels.validate()
        self._placement.validate()
        self._running_calls.validate()
        pinned = [t for t in self.tasks.values() if t.pinned]
        pinned += [
            a.creation
            for a in self.actors.values()
            if a.creation is not None and a.creation.pinned and a.creation.task_id not in self.tasks
        ]
        pinned += [t for t in self.lineage.values() if t.pinned]
        self._objects.validate(pinned, self._streams.pinned())
        self._streams.validate()
        for task in self.tasks.values():
            if task.state is TaskState.RUNNING:
                assert self.nodes[task.node_id].alive, f"{task.name} runs on a dead node"  # type: ignore[index]

    def _validate_resources(self) -> None:
        for node in self.nodes.values():
            if not node.alive:
                continue
            used: dict[str, float] = {}
            for task in self.tasks.values():
                if task.node_id == node.node_id and task.state is TaskState.RUNNING and not task.blocked:
                    if task.kind not in (ACTOR_CREATION, ACTOR_METHOD):
                        res.add(used, task.resources)
            for actor in self.actors.values():
                if actor.node_id == node.node_id and actor.state is not ActorState.DEAD:
                    res.add(used, actor.held)
            res.add(used, self._placement.reserved_on(node.node_id))
            res.add(used, self._leases.held_on(node.node_id))
            for name, total in node.total.items():
                expect = total - used.get(name, 0.0)
                got = node.available.get(name, 0.0)
                assert abs(expect - got) < 1e-6, f"node {node.node_id.hex()} {name}: {got} != {expect}"
