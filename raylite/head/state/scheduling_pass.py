"""The scheduling pass of the task table: READY tasks placed on nodes, queue by queue.

Each scheduling class has a FIFO queue of READY task ids. A class is what Ray
calls one: the resources asked for, the strategy and, for a normal task, the
function and the depth (how many tasks up its submitter is from a driver)
(`class_key`). The pass takes queue heads and asks
raylite/head/state/scheduler.py for a node (the policy: locality, SPREAD,
affinity, placement group bundles). A queue whose head fits nowhere right now
waits for the next pass (a node joins, resources come back); one that can
never fit is warned about once per client. The pass waits while a restarted
head awaits nodes that may still run tasks.

Which queue goes first: the one whose head became READY first, except that a
class already running as many tasks as the whole cluster could run of it at
once (its capacity, blocked tasks counted) goes after every class below its
capacity. This is Ray's cap per scheduling class, without its back-off timer (the
head has no timer: a capped class is placed as soon as no other class can use
the room). It is what keeps tasks that block in `get` on their children from
starving those children: 300 queued parents each waiting on one child on 2
CPUs would otherwise lend their CPU, one after the other, to the next parent
in line, and each parent would need an executor of its own before any child
could run. The depth does the same for a recursive function (a tree of tasks
that each get their children): each level is a class of its own, capped on
its own, so a deeper level goes first and the tree runs nearly depth first,
with a few executors rather than one per inner task.

SchedulingPass is a part of raylite.head.state.tasks.TaskTable, kept in its own
module; the names it uses of the rest of the table are declared in task_part.py.
"""

from __future__ import annotations

import heapq
import math
from collections import deque

from raylite import labels
from raylite import resources as res
from raylite.failures import ACTOR_UNSCHEDULABLE, Failure
from raylite.head.state import scheduler
from raylite.head.state.model import ACTOR_CREATION, Dispatch, NodeRecord, ObjectInfo, TaskRecord, Warn
from raylite.head.state.states import ActorState, TaskState
from raylite.head.state.task_part import TaskTablePart

READY, RUNNING = TaskState.READY, TaskState.RUNNING


def class_key(task: TaskRecord) -> tuple:
    """The task's scheduling class: the queue it waits in."""
    if task.kind == ACTOR_CREATION:
        return (res.request_key(task.placement), task.strategy, b"")
    return (res.request_key(task.resources), task.strategy, task.function_id, task.depth)


def capacity(request_key: tuple[tuple[str, float], ...], totals: dict[str, float]) -> float:
    """How many tasks asking for `request_key` the cluster's whole resources could run at once."""
    most = math.inf
    for name, amount in request_key:
        if amount > 0:
            most = min(most, math.floor(totals.get(name, 0.0) / amount + res.EPS))
    return most


class SchedulingPass(TaskTablePart):
    def schedule_pass(self) -> None:
        if self.recovery.awaiting_nodes():
            self.sink.needs_pass = True  # placing now could run twice what a missing node still runs
            return
        nodes = list(self.nodes.nodes.values())
        queues = self._queues
        if len(queues) == 1:  # the usual case: one class, nothing to order
            key, queue = next(iter(queues.items()))
            while (head := self._queue_head(queue)) is not None and self._try_place(head, nodes, key):
                queue.popleft()
        else:
            self._place_in_order(nodes)
        # An empty queue goes (make_ready makes it again): a class used once, as each placement
        # group or node affinity makes, would otherwise be walked by every later pass, and kept.
        for key in [k for k, q in queues.items() if self._queue_head(q) is None]:
            del queues[key]

    def _place_in_order(self, nodes: list[NodeRecord]) -> None:
        queues = self._queues
        heap = []
        for key, queue in queues.items():
            head = self._queue_head(queue)
            if head is not None:
                heap.append((self._capped(key), head.ready_seq, key))
        heapq.heapify(heap)
        # (a failed placement may ready another task: into a queue the heap holds, it is seen)
        while heap:
            key = heapq.heappop(heap)[2]
            queue = queues[key]
            if not self._try_place(self.tasks[queue[0]], nodes, key):
                continue  # its head fits nowhere now: the class waits for the next pass
            queue.popleft()
            head = self._queue_head(queue)
            if head is not None:
                heapq.heappush(heap, (self._capped(key), head.ready_seq, key))

    def _queue_head(self, queue: deque[bytes]) -> TaskRecord | None:
        """The first READY task of a queue, dropping the ids before it that are no longer READY."""
        tasks = self.tasks
        while queue:
            task = tasks.get(queue[0])
            if task is not None and task.state is READY:
                return task
            queue.popleft()
        return None

    def _capped(self, key: tuple) -> bool:
        running = self.sink.running_by_class.get(key)
        if running is None:
            return False
        totals = self.nodes.totals()
        if totals is not self._capacities[0]:  # the nodes changed: capacities are made again
            self._capacities = (totals, {})
        most = self._capacities[1].get(key[0])
        if most is None:
            most = self._capacities[1][key[0]] = capacity(key[0], totals)
        return running >= most

    def _try_place(self, task: TaskRecord, nodes: list[NodeRecord], key: tuple) -> bool:
        request = task.placement if task.kind == ACTOR_CREATION else task.resources
        strategy = task.strategy
        if strategy.kind == "NODE_AFFINITY" and not strategy.soft:
            target = self.nodes.nodes.get(strategy.node_id)
            if target is None or not target.alive or not res.fits(request, target.total):
                self._fail_unschedulable(task, strategy.node_id)
                return True
        elif strategy.kind == "PLACEMENT_GROUP" and not self.placement.usable(strategy.placement_group_id):
            self.finish(task, [self.placement.removed_error(task)] * task.num_returns, "its group was removed")
            return True
        locality = self._locality(task) if task.deps else {}
        # the default policy without locality is the least loaded node: the node table keeps them in order
        plain = strategy.kind == "DEFAULT" and not locality and not strategy.hard_labels and not strategy.soft_labels
        quick = self.nodes.least_loaded(request) if plain else False
        if quick is False:
            node_id = scheduler.pick_node(request, strategy, nodes, locality, self._spread_cursor)
        else:
            node_id = quick
        if node_id is None:
            # (a task in a placement group waits for its group, which placement.py warns about)
            infeasible = strategy.kind != "PLACEMENT_GROUP" and not scheduler.feasible_anywhere(
                request, nodes, strategy
            )
            if infeasible and key not in self._warned_infeasible:
                self._warned_infeasible.add(key)
                self.sink.effects.append(Warn(task.client_id, _infeasible_message(task, request, nodes)))
            return False
        if strategy.kind == "SPREAD":
            self._spread_cursor = next(i for i, n in enumerate(nodes) if n.node_id == node_id)
        self.nodes.take(node_id, task.resources)
        self.sink.transition(task, RUNNING, "placed on a node")
        if task.kind != ACTOR_CREATION:  # (an actor holds its resources for its life: no cap)
            task.running_class = key
            counts = self.sink.running_by_class
            counts[key] = counts.get(key, 0) + 1
        task.node_id = node_id
        task.attempt += 1
        if task.kind == ACTOR_CREATION:
            self.actors.placed(task, node_id)
        else:
            self.sink.effects.append(Dispatch(node_id, task, self.objects.args_of(task)))
        return True

    def _fail_unschedulable(self, task: TaskRecord, node_id: bytes) -> None:
        actor = self.actors.actors.get(task.actor_id) if task.kind == ACTOR_CREATION else None
        if actor is not None and actor.state is ActorState.PENDING:
            # never placed, it never will be: its creation and calls fail with ActorUnschedulableError, as
            # Ray's. (One whose restart can no longer be placed dies with ActorDiedError: actors.py.)
            self.actors.died(
                actor,
                f"{ACTOR_UNSCHEDULABLE}{task.name} requires node {node_id.hex()[:12]} (hard node affinity), "
                "which is not alive or can never fit it; use soft=True to allow other nodes",
            )
            if task.task_id not in self.tasks:
                return
        failure = Failure(
            "TaskUnschedulableError",
            f"task {task.name} requires node {node_id.hex()[:12]} (hard node affinity), which is "
            "not alive or can never fit it; use soft=True to allow other nodes",
        )
        error = ObjectInfo(b"", is_error=True, failure=failure)
        self.finish(task, [error] * task.num_returns, "its hard affinity names a node that cannot run it")

    def _locality(self, task: TaskRecord) -> dict[bytes, int]:
        out: dict[bytes, int] = {}
        objects, copies = self.objects.objects, self.objects.copies
        for dep in task.deps:
            info = objects.get(dep)
            if info is not None and info.node_id is not None:
                out[info.node_id] = out.get(info.node_id, 0) + info.size
                for node_id in copies.get(dep, ()):
                    out[node_id] = out.get(node_id, 0) + info.size
        return out

    def queue_positions(self, task: TaskRecord) -> dict[bytes, int]:
        """For the queue of `task`'s scheduling class: each READY task id -> how many READY tasks
        are ahead of it. One pass over that queue (explanations cache it per class)."""
        queue = self._queues.get(class_key(task), ())
        tasks = self.tasks
        out: dict[bytes, int] = {}
        for task_id in queue:
            other = tasks.get(task_id)
            if other is not None and other.state is READY:
                out[task_id] = len(out)
        return out

    def nodes_changed(self) -> None:
        """A node joined: infeasible requests are worth a warning again if still infeasible."""
        self._warned_infeasible.clear()


def _infeasible_message(task: TaskRecord, request: dict[str, float], nodes: list[NodeRecord]) -> str:
    # of each node, only what the request names: the rest (memory, node:<ip>) is noise here
    request = dict(sorted(request.items()))  # (a map off the wire has no fixed order)
    alive = [n for n in nodes if n.alive]
    totals = [{name: n.total.get(name, 0.0) for name in request} for n in alive[:_NODES_SHOWN]]
    more = f" and {len(alive) - _NODES_SHOWN} more" if len(alive) > _NODES_SHOWN else ""
    # (worded as raylite/head/state/explain.py words the same cause, so that the warning at
    # submission and a later explanation of a waiting get read alike)
    what = "actor creation" if task.kind == ACTOR_CREATION else "task"
    hard = task.strategy.hard_labels
    if hard and scheduler.feasible_anywhere(request, alive):  # the resources exist: the labels do not
        shown = [n.labels for n in alive[:_NODES_SHOWN]]
        return (
            f"{what} {task.name} is queued: no node has the labels it asks for ({labels.describe(hard)}) "
            f"(infeasible); live nodes have labels {shown}{more}. It stays queued until such a node joins: "
            "start one with `raylite start --labels`, or change its label conditions."
        )
    return (
        f"{what} {task.name} is queued: no node has {request} (infeasible); no node in the cluster "
        f"can ever provide it (live nodes have {totals}{more}). It stays queued until a node that "
        "fits joins: add such a node, or lower its num_cpus/num_gpus/resources."
    )


_NODES_SHOWN = 8
