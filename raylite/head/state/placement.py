"""Placement groups: bundles of resources reserved together, and the tasks and actors in them.

Theory of operation
-------------------
A client creates a group (PlacementGroupCreated): a list of bundles (each a
resource request) and a strategy (raylite/head/state/placement_policy.py).
The group is PENDING until every bundle fits at once; then, in one
scheduling pass, each bundle is reserved on its node: the node's free pool
gives up the bundle's resources and the node gains the group's own resources
(raylite/placement_resources.py names them), and the group is CREATED. The
groups are tried at the start of every scheduling pass, before the tasks, in
the order they were created; a group that does not fit waits for the next
pass (a node joining, a task finishing, another group removed) without
holding up the groups behind it. A group that no node could ever hold (a
bundle larger than any node, more STRICT_SPREAD bundles than nodes) waits
the same way, and its creator is warned once, as for an infeasible task.

A task or actor in a group (the PLACEMENT_GROUP strategy, a bundle index or
-1 for any bundle) asks for the group's resources instead of the node's
(`bind`, when it is submitted): the ordinary task queues and scheduler then
place it on a node holding its bundle, taking from the bundle and never from
the node's free pool, and give back to the bundle when it ends. While the
group is not CREATED its tasks simply find no room and wait.

Removal (remove_placement_group, or the end of the job of a group that is not
detached): the group's actors are killed (ActorDiedError); its tasks that have
not started fail with TaskPlacementGroupRemoved, and so does any task that
names the group later; its running tasks cannot be stopped here (the head
has no way to kill one task's process), so they finish on the node's own
resources, which they take over from the bundle (the node may be
overcommitted until they end). Then the bundles go back to their nodes'
free pools, and the group's resources leave the nodes. The record stays,
REMOVED.

A node that dies takes the bundles it held with it: the group is
RESCHEDULING, its tasks there are retried or fail as on any dead node (and
wait, if retried, for their bundle), and the lost bundles alone are placed
again, where the strategy allows given the bundles that survived; the group
is then CREATED again.

A restarted head does not know the groups of its predecessor (they are not
saved): their tasks fail with TaskPlacementGroupRemoved.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from raylite import placement_resources as pr
from raylite import resources as res
from raylite.failures import Failure
from raylite.head.state import placement_policy
from raylite.head.state.model import ACTOR_CREATION, NORMAL, ObjectInfo, TaskRecord, Warn
from raylite.head.state.nodes import NodeTable
from raylite.head.state.placement_model import (
    PlacementGroupCreated,
    PlacementGroupRecord,
    PlacementGroupRemoveRequested,
    PlacementGroupState,
    move,
)
from raylite.head.state.sink import Sink
from raylite.head.state.states import ActorState, TaskState

if TYPE_CHECKING:
    from raylite.head.state.actors import ActorDirectory
    from raylite.head.state.tasks import TaskTable

PENDING, CREATED = PlacementGroupState.PENDING, PlacementGroupState.CREATED
RESCHEDULING, REMOVED = PlacementGroupState.RESCHEDULING, PlacementGroupState.REMOVED
PLACEMENT_GROUP = "PLACEMENT_GROUP"  # the strategy kind of tasks in a group


class PlacementGroups:
    def __init__(self, sink: Sink, nodes: NodeTable) -> None:
        self.sink = sink
        self.nodes = nodes
        self.groups: dict[bytes, PlacementGroupRecord] = {}
        self.named: dict[str, bytes] = {}  # names of groups not removed
        self._waiting: dict[bytes, None] = {}  # PENDING and RESCHEDULING groups, in creation order
        self._warned: set[bytes] = set()
        # wired by HeadState
        self.tasks: TaskTable
        self.actors: ActorDirectory

    # ---- creation and placement -------------------------------------------------------

    def created(self, ev: PlacementGroupCreated) -> None:
        group = ev.group
        if group.pg_id in self.groups:
            return  # a replay
        group.state = PENDING
        group.story = (self.sink.now, PENDING.value, self.sink.event, "created")
        group.nodes = [None] * len(group.bundles)
        self.groups[group.pg_id] = group
        if group.name and group.name not in self.named:  # (the first of two racing creators keeps it)
            self.named[group.name] = group.pg_id
        self._waiting[group.pg_id] = None
        self.sink.needs_pass = True

    def schedule_pass(self) -> None:
        """Reserves the bundles of the groups that wait, each group whole or not at all."""
        if not self._waiting:
            return
        nodes = list(self.nodes.nodes.values())
        for pg_id in list(self._waiting):
            group = self.groups[pg_id]
            todo = [i for i, node in enumerate(group.nodes) if node is None]
            fixed = {i: node for i, node in enumerate(group.nodes) if node is not None}
            where = placement_policy.place(group.bundles, todo, group.strategy, nodes, fixed, group.bundle_labels)
            if where is None:
                self._warn_if_infeasible(group, nodes)
                continue
            group.attempts += 1
            for index, node_id in sorted(where.items()):
                self._reserve(group, index, node_id)
            del self._waiting[pg_id]
            cause = "every bundle was reserved" if group.state is PENDING else "its lost bundles were reserved again"
            move(group, CREATED, self.sink.now, self.sink.event, cause)

    def _reserve(self, group: PlacementGroupRecord, index: int, node_id: bytes) -> None:
        bundle = group.bundles[index]
        self.nodes.take(node_id, bundle)
        self.nodes.grow(node_id, pr.bundle_resources(bundle, index, group.hex))
        group.nodes[index] = node_id

    def _warn_if_infeasible(self, group: PlacementGroupRecord, nodes: list) -> None:
        if group.pg_id in self._warned or placement_policy.feasible(
            group.bundles, group.strategy, nodes, group.bundle_labels
        ):
            return
        self._warned.add(group.pg_id)
        alive = sum(1 for n in nodes if n.alive)
        self.sink.effects.append(
            Warn(
                group.client_id,
                f"placement group {group.name or group.hex} ({group.strategy} of bundles {group.bundles}) cannot "
                f"be placed on the {alive} live node(s) of the cluster even when they are idle; it stays "
                "PENDING until nodes that fit it join. Make the bundles smaller or add such nodes.",
            )
        )

    def nodes_changed(self) -> None:
        """A node joined: a group that could never be placed is worth a warning again."""
        self._warned.clear()

    # ---- tasks and actors in a group ---------------------------------------------------

    def bind(self, task: TaskRecord) -> None:
        """A task submitted into a group asks for the group's resources instead of the node's."""
        strategy = task.strategy
        pg_hex, index = strategy.placement_group_id.hex(), strategy.bundle_index
        task.resources = pr.translate(task.resources, pg_hex, index)
        if task.kind == ACTOR_CREATION:
            task.placement = pr.translate(task.placement, pg_hex, index)

    def usable(self, pg_id: bytes) -> bool:
        """Tasks may still run in the group (it exists and was not removed)."""
        group = self.groups.get(pg_id)
        return group is not None and group.state is not REMOVED

    def removed_error(self, task: TaskRecord) -> ObjectInfo:
        pg_id = task.strategy.placement_group_id
        group = self.groups.get(pg_id)
        what = "was removed" if group is not None else "does not exist in this cluster (or the head restarted)"
        failure = Failure(
            "TaskPlacementGroupRemoved",
            f"task {task.name} ({task.task_id.hex()}) cannot run: its placement group {pg_id.hex()} {what}",
        )
        return ObjectInfo(b"", is_error=True, failure=failure)

    # ---- removal -------------------------------------------------------------------------

    def remove_requested(self, ev: PlacementGroupRemoveRequested) -> None:
        group = self.groups.get(ev.pg_id)
        if group is not None and group.state is not REMOVED:
            self.remove(group, "removed by remove_placement_group()")

    def jobs_gone(self, job_ids: list[bytes]) -> None:
        """The drivers of these jobs left: their groups that are not detached go."""
        gone = set(job_ids)
        for group in list(self.groups.values()):
            if group.job_id in gone and not group.detached and group.state is not REMOVED:
                self.remove(group, "its driver exited")

    def remove(self, group: PlacementGroupRecord, why: str) -> None:
        pg_id, where = group.pg_id, f"its placement group {group.hex} was removed ({why})"
        for actor in list(self.actors.actors.values()):
            creation = actor.creation
            if (
                creation is not None
                and actor.state is not ActorState.DEAD
                and creation.strategy.placement_group_id == pg_id
            ):
                self.actors.kill(actor, where)
        tasks = self.tasks
        for task in [t for t in tasks.tasks.values() if t.strategy.placement_group_id == pg_id]:
            if task.kind != NORMAL or task.task_id not in tasks.tasks:
                continue
            if task.state is TaskState.RUNNING:
                self._unbind_running(task, group)
            else:
                tasks.finish(task, [self.removed_error(task)] * task.num_returns, where)
        for index, node_id in enumerate(group.nodes):
            if node_id is not None:
                self.nodes.shrink(node_id, pr.bundle_resources(group.bundles[index], index, group.hex))
                self.nodes.give_back(node_id, group.bundles[index])
                group.nodes[index] = None
        self._waiting.pop(pg_id, None)
        if self.named.get(group.name) == pg_id:
            del self.named[group.name]
        move(group, REMOVED, self.sink.now, self.sink.event, why)

    def _unbind_running(self, task: TaskRecord, group: PlacementGroupRecord) -> None:
        """A running task of a removed group goes on with the node's own resources."""
        own = pr.untranslate(task.resources, group.hex)
        if not task.blocked and task.node_id is not None:
            self.nodes.give_back(task.node_id, task.resources)
            self.nodes.take(task.node_id, own)
        task.resources = own

    # ---- nodes that die ------------------------------------------------------------------

    def node_lost(self, node_id: bytes) -> None:
        """The bundles on a dead node are gone with it: their groups reserve them again elsewhere."""
        for group in self.groups.values():
            if group.state is REMOVED or node_id not in group.nodes:
                continue
            group.nodes = [None if n == node_id else n for n in group.nodes]
            if group.state is CREATED:
                move(group, RESCHEDULING, self.sink.now, self.sink.event, f"node {node_id.hex()[:12]} died")
            self._waiting[group.pg_id] = None
            self.sink.needs_pass = True

    # ---- queries and invariants ------------------------------------------------------------

    def reserved_on(self, node_id: bytes) -> dict[str, float]:
        """The node's own resources its bundles hold (for HeadState's recount)."""
        out: dict[str, float] = {}
        for group in self.groups.values():
            for index, where in enumerate(group.nodes):
                if where == node_id:
                    res.add(out, group.bundles[index])
        return out

    def validate(self) -> None:
        for pg_id, group in self.groups.items():
            placed = [n for n in group.nodes if n is not None]
            state = group.state
            assert group.story and group.story[-3] == state.value, f"group {group.hex}: story {group.story}"
            for node_id in placed:
                assert self.nodes.alive(node_id), f"group {group.hex} holds a bundle on dead node {node_id.hex()}"
            if state is CREATED:
                assert len(placed) == len(group.bundles), f"group {group.hex} is CREATED with bundles unplaced"
            elif state is PENDING or state is REMOVED:
                assert not placed, f"group {group.hex} is {state} but holds bundles on {placed}"
            else:
                assert len(placed) < len(group.bundles), f"group {group.hex} is RESCHEDULING with every bundle placed"
            assert (pg_id in self._waiting) == (state in (PENDING, RESCHEDULING)), f"group {group.hex} ({state})"
        for name, pg_id in self.named.items():
            assert self.groups[pg_id].name == name and self.groups[pg_id].state is not REMOVED
