"""The head's state: task table, object directory, actor directory, node table.

Theory of operation
-------------------
A task enters as TaskSubmitted. The state counts its dependencies that do not
exist yet (`missing`); each missing object remembers the tasks waiting on it.
When the count reaches zero the task is READY and joins the queue of its
scheduling class (its resource request and strategy). After every batch of
events, one scheduling pass walks each class queue from the front and places
tasks until a placement fails: tasks of a class are interchangeable, so the
first failure means the rest would fail too. Placement subtracts the task's
resources from the node and emits Dispatch; TaskFinished gives them back.

Actor creation tasks are scheduled like any task, with `placement` as the
request; the actor then holds `resources` until it dies. Method calls skip
the queues: they go to the actor's node in submission order the moment the
actor is placed (queued in `pending` before that), and the actor's executor
resolves arguments that are not ready yet. That keeps calls from one caller
in order without the head tracking per-caller sequence numbers.

Objects are immutable once they exist. An object's value is opaque here: an
inline value or a store location. The submitter of a task is pushed its
results (it almost always asks for them); anyone else subscribes.

A task blocked in `get` gives its resources back to the node (TaskBlockChanged)
and takes them again when it resumes, possibly overcommitting the node
briefly: this is what keeps nested tasks from deadlocking a full cluster.

Reference counting: an object lives while a client holds an ObjectRef to it
(`holders`, from RefsChanged: each process reports only its first ref and
its last), or something in the cluster still needs it (`pins`): a queued or
running task that takes it as an argument or has it nested in its arguments,
a live object that has it pickled inside, a live actor whose constructor took
it. The moment neither holds, the object is dropped and FreeObject tells each
node with a copy to delete it. A driver's disconnection drops all it held.

Head restart: the servicer feeds HeadRestarted with the actors it saved (it
saves each ActorChanged). Saved live actors are RECOVERING until their node
rejoins (NodeAdded with what the node still runs, hosts and stores) and says
whether their process lives. Scheduling waits until every saved node is back;
freeing waits for RecoveryEnded, since clients re-announce their refs and
resubmit their unfinished tasks only as they reconnect.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from raylite import resources as res
from raylite.head.state import scheduler
from raylite.head.state.model import (
    ACTOR_CREATION,
    ACTOR_METHOD,
    NORMAL,
    ActorChanged,
    ActorKillRequested,
    ActorRecord,
    ClientConnected,
    ClientDisconnected,
    Deliver,
    Dispatch,
    Effect,
    Event,
    ExecutorDied,
    Failure,
    FreeObject,
    HeadRestarted,
    KillActor,
    NodeAdded,
    NodeRecord,
    NodeRemoved,
    ObjectCopiesChanged,
    ObjectInfo,
    ObjectsPut,
    ObjectsSubscribed,
    PromoteObject,
    RecoveryEnded,
    RefsChanged,
    TaskBlockChanged,
    TaskFinished,
    TaskRecord,
    TaskSubmitted,
    Warn,
)
from raylite.ids import object_id, task_of


class HeadState:
    def __init__(self) -> None:
        self.nodes: dict[bytes, NodeRecord] = {}
        self.tasks: dict[bytes, TaskRecord] = {}
        self.objects: dict[bytes, ObjectInfo] = {}
        self.copies: dict[bytes, set[bytes]] = {}  # object -> nodes with a secondary copy
        self.holders: dict[bytes, set[bytes]] = {}  # object -> clients holding an ObjectRef to it
        self.client_refs: dict[bytes, set[bytes]] = {}  # client -> objects it holds
        self.pins: dict[bytes, int] = {}  # object -> tasks, objects and actors that need it
        # finished tasks whose outputs live in a node store: rerun if the node dies
        self.lineage: dict[bytes, TaskRecord] = {}
        self.actors: dict[bytes, ActorRecord] = {}
        self.named_actors: dict[str, bytes] = {}
        self.clients: dict[bytes, tuple[bytes, bool]] = {}  # client -> (job, is_driver)
        # object id -> tasks waiting for it / clients waiting for it
        self._dep_waiters: dict[bytes, list[bytes]] = {}
        self._subscribers: dict[bytes, set[bytes]] = {}
        # scheduling class -> READY task ids, in submission order
        self._queues: dict[tuple, deque[bytes]] = {}
        self._warned_infeasible: set[tuple] = set()
        self._spread_cursor = 0
        self._effects: list[Effect] = []
        self._needs_pass = False
        self._free_candidates: dict[bytes, None] = {}  # checked once the whole batch is applied
        # after a head restart: saved nodes not back yet (None: not recovering)
        self._awaited_nodes: set[bytes] | None = None
        self._holding_frees = False  # until RecoveryEnded
        # results nodes report for tasks their clients have not resubmitted yet
        self._early_results: dict[bytes, TaskFinished] = {}

    # ---- entry point -------------------------------------------------------

    def handle(self, *events: Event) -> list[Effect]:
        """Applies events in order and returns the effects to carry out."""
        for event in events:
            handler = _HANDLERS[type(event)]
            handler(self, event)
        if self._needs_pass:
            self._needs_pass = False
            self._schedule_pass()
        while self._free_candidates:
            oid = next(iter(self._free_candidates))
            del self._free_candidates[oid]
            self._free_if_unreferenced(oid)
        effects, self._effects = self._effects, []
        return effects

    # ---- nodes and clients --------------------------------------------------

    def _on_node_added(self, ev: NodeAdded) -> None:
        node = NodeRecord(ev.node_id, dict(ev.resources), dict(ev.resources), ev.info)
        self.nodes[ev.node_id] = node
        self._warned_infeasible.clear()
        self._needs_pass = True
        for info in ev.objects:
            if info.object_id in self.objects:
                self._add_copy(info.object_id, ev.node_id)
            else:
                self._object_ready(info, owner=None)
        for oid in ev.copies:
            self._add_copy(oid, ev.node_id)
        for task in ev.running:
            self._adopt_running(task, node)
        alive = dict(ev.live_actors)
        for actor in [a for a in self.actors.values() if a.state == "RECOVERING" and a.node_id == ev.node_id]:
            attempt = alive.pop(actor.actor_id, None)
            actor.state = "PLACED"
            if attempt is None:
                self._actor_died(
                    actor, "its process was gone when its node rejoined the restarted head", restartable=True
                )
                continue
            assert actor.creation is not None
            actor.creation.attempt = attempt
            actor.held = dict(actor.creation.resources)
            res.subtract(node.available, actor.held)
            self._effects.append(ActorChanged(actor.actor_id))
            pending, actor.pending = actor.pending, []
            for call_ in pending:  # calls resubmitted before the node was back
                self._route_actor_call(call_)
        for actor_id in alive:  # processes of actors this head does not know (or that moved on)
            self._effects.append(KillActor(ev.node_id, actor_id))
        if self._awaited_nodes is not None:
            self._awaited_nodes.discard(ev.node_id)

    def _adopt_running(self, task: TaskRecord, node: NodeRecord) -> None:
        """A task a rejoining node still runs: it finishes there rather than running twice."""
        known = self.tasks.get(task.task_id)
        if known is not None:
            if known.state == "RUNNING":
                return
            known.attempt = task.attempt  # resubmitted by its client before the node rejoined
            task = known
        else:
            task.retries_left = task.max_retries
            self.tasks[task.task_id] = task
            self._pin_arguments(task)
        task.state = "RUNNING"  # leaves its queue or its dependency wait lazily
        task.node_id = node.node_id
        res.subtract(node.available, task.resources)

    def _add_copy(self, oid: bytes, node_id: bytes) -> None:
        info = self.objects.get(oid)
        if info is not None and info.node_id is not None and info.node_id != node_id:
            self.copies.setdefault(oid, set()).add(node_id)

    def _on_head_restarted(self, ev: HeadRestarted) -> None:
        self._awaited_nodes = set(ev.nodes)
        self._holding_frees = True
        for actor in ev.actors:
            self.actors[actor.actor_id] = actor
            if actor.name:
                self.named_actors[actor.name] = actor.actor_id
            creation = actor.creation
            assert creation is not None
            self._pin_arguments(creation)
            if actor.ready is not None:
                self.objects[actor.ready.object_id] = actor.ready  # stands for its handles
            if actor.state == "PLACED":
                actor.state = "RECOVERING"
            elif actor.state in ("PENDING", "RESTARTING"):
                # not placed when the head died: place it once the nodes are back
                actor.node_id = None
                creation.state = "WAITING"
                self.tasks[creation.task_id] = creation
                self._wait_for_deps(creation)

    def _on_recovery_ended(self, ev: RecoveryEnded) -> None:
        self._awaited_nodes = None
        self._holding_frees = False
        self._early_results.clear()  # their clients did not come back
        self._needs_pass = True
        for actor in [a for a in self.actors.values() if a.state == "RECOVERING"]:
            actor.state = "PLACED"
            self._actor_died(actor, "its node did not rejoin after the head restarted", restartable=True)
        drivers = {job for job, is_driver in self.clients.values() if is_driver}
        for actor in list(self.actors.values()):
            if not actor.detached and actor.state != "DEAD" and actor.job_id not in drivers:
                self._kill_actor(actor, "its driver did not reconnect after the head restarted")
        for oid in list(self.objects):
            self._maybe_free(oid)

    def _on_node_removed(self, ev: NodeRemoved) -> None:
        node = self.nodes.get(ev.node_id)
        if node is None or not node.alive:
            return
        node.alive = False
        node.available = {}
        for task in [t for t in self.tasks.values() if t.node_id == ev.node_id and t.state == "RUNNING"]:
            if task.kind == ACTOR_METHOD:
                continue  # failed with its actor below
            self._executor_lost(task, f"node {ev.node_id.hex()[:12]} died ({ev.reason})")
        for actor in self.actors.values():
            if actor.node_id == ev.node_id and actor.state not in ("DEAD", "RESTARTING"):
                self._actor_died(actor, f"its node {ev.node_id.hex()[:12]} died ({ev.reason})", restartable=True)
        for oid, holders in list(self.copies.items()):
            holders.discard(ev.node_id)
            if not holders:
                del self.copies[oid]
        lost = [
            info for info in list(self.objects.values()) if info.node_id == ev.node_id and not self._promote_copy(info)
        ]
        self._objects_lost(lost, f"its only copy was on node {ev.node_id.hex()[:12]}, which died ({ev.reason})")
        self._needs_pass = True

    def _promote_copy(self, info: ObjectInfo) -> bool:
        """Makes a secondary copy the primary of an object whose primary is gone; False if none is left."""
        survivors = self.copies.pop(info.object_id, None)
        if not survivors:
            return False
        new_primary = min(survivors)
        info.node_id = new_primary
        survivors.discard(new_primary)
        if survivors:
            self.copies[info.object_id] = survivors
        # its node must stop treating it as a spare copy it may evict
        self._effects.append(PromoteObject(new_primary, info.object_id))
        return True

    def _objects_lost(self, lost: list[ObjectInfo], where: str) -> None:
        """Rebuilds lost objects from their lineage; the others (puts) become ObjectLostErrors."""
        # Every lost object leaves the directory first, so that rebuilt tasks wait
        # for lost inputs that are themselves being rebuilt.
        for info in lost:
            del self.objects[info.object_id]
            self._unpin(info.contained)
        rebuilding: set[bytes] = set()
        for info in lost:
            maker_id = task_of(info.object_id)
            if maker_id in rebuilding:
                continue  # another output of a task already rerun (rebuilding drops its lineage)
            maker = self.lineage.get(maker_id)
            if maker is not None:
                rebuilding.add(maker_id)
                self._rebuild(maker)
                continue
            self._object_ready(
                ObjectInfo(
                    info.object_id,
                    is_error=True,
                    failure=Failure(
                        "ObjectLostError",
                        f"object {info.object_id.hex()} was lost: {where}, and it was made by put(), "
                        "so it cannot be rebuilt; put it again",
                    ),
                ),
                owner=None,
            )

    def _rebuild(self, task: TaskRecord) -> None:
        """Runs a finished task again to remake its lost outputs (lineage reconstruction)."""
        del self.lineage[task.task_id]
        task.state = "WAITING"
        task.node_id = None
        task.blocked = False
        task.retries_left = task.max_retries
        self.tasks[task.task_id] = task
        self._wait_for_deps(task)

    def _on_client_connected(self, ev: ClientConnected) -> None:
        self.clients[ev.client_id] = (ev.job_id, ev.is_driver)

    def _on_client_disconnected(self, ev: ClientDisconnected) -> None:
        job_id, is_driver = self.clients.pop(ev.client_id, (b"", False))
        for subs in self._subscribers.values():
            subs.discard(ev.client_id)
        for oid in self.client_refs.pop(ev.client_id, ()):
            self._drop_holder(oid, ev.client_id)
        if not is_driver:
            return
        for actor in list(self.actors.values()):
            if actor.job_id == job_id and not actor.detached and actor.state != "DEAD":
                self._kill_actor(actor, "its driver exited")

    # ---- tasks ---------------------------------------------------------------

    def _on_task_submitted(self, ev: TaskSubmitted) -> None:
        task = ev.task
        known = self.tasks.get(task.task_id)
        if known is not None:
            # a resubmission (a client reconnecting to a restarted head): the task may
            # have been adopted from a node, which does not know who submitted it
            known.client_id = task.client_id
            return
        if self._resubmitted_but_done(task) or task.task_id in self.lineage:
            return  # (in lineage: a replay of a finished task kept to remake its outputs)
        task.retries_left = task.max_retries
        self.tasks[task.task_id] = task
        self._pin_arguments(task)
        early = self._early_results.pop(task.task_id, None)
        if early is not None and task.kind == NORMAL:
            self._finish(task, early.results)  # it finished while the head was down
            return
        if task.kind == ACTOR_CREATION:
            self.actors[task.task_id] = ActorRecord(
                task.task_id,
                task.job_id,
                task.actor_name,
                task.detached,
                task.actor_meta,
                creation=task,
                restarts_left=task.max_restarts,
                max_task_retries=task.max_task_retries,
            )
            if task.actor_name:
                self.named_actors[task.actor_name] = task.task_id
            self._effects.append(ActorChanged(task.task_id))
        if task.kind == ACTOR_METHOD:
            actor = self.actors.get(task.actor_id)
            task.retries_left = actor.max_task_retries if actor is not None else 0
            self._route_actor_call(task)
            return
        failed = self._failed_dependency(task)
        if failed is not None:
            self._finish(task, [failed] * task.num_returns)
            return
        self._wait_for_deps(task)

    def _resubmitted_but_done(self, task: TaskRecord) -> bool:
        """True for a resubmitted task whose work survived a head restart."""
        if task.kind == ACTOR_CREATION and task.actor_id in self.actors:
            ready = self.actors[task.actor_id].ready
            if ready is not None and ready.object_id in self.objects:
                self._effects.append(Deliver(task.client_id, self.objects[ready.object_id]))
            elif ready is not None:
                self._object_ready(ready, owner=task.client_id)
            return True
        outputs = [self.objects.get(object_id(task.task_id, i)) for i in range(task.num_returns)]
        if task.kind == NORMAL and all(outputs):
            for info in outputs:
                self._effects.append(Deliver(task.client_id, info))  # type: ignore[arg-type]
            return True
        return False

    def _wait_for_deps(self, task: TaskRecord) -> None:
        """Queues the task once its missing arguments exist (at once if none is missing)."""
        missing = [d for d in task.deps if d not in self.objects]
        task.missing = len(missing)
        for dep in missing:
            self._dep_waiters.setdefault(dep, []).append(task.task_id)
        if not missing:
            self._make_ready(task)

    def _failed_dependency(self, task: TaskRecord) -> ObjectInfo | None:
        for dep in task.deps:
            info = self.objects.get(dep)
            if info is not None and info.is_error:
                return info
        return None

    def _make_ready(self, task: TaskRecord) -> None:
        task.state = "READY"
        request = task.placement if task.kind == ACTOR_CREATION else task.resources
        key = (res.request_key(request), task.strategy)
        self._queues.setdefault(key, deque()).append(task.task_id)
        self._needs_pass = True

    def _schedule_pass(self) -> None:
        if self._awaited_nodes:
            self._needs_pass = True  # placing now could run twice what a missing node still runs
            return
        nodes = list(self.nodes.values())
        for key, queue in self._queues.items():
            while queue:
                task = self.tasks.get(queue[0])
                if task is None or task.state != "READY":
                    queue.popleft()
                    continue
                if not self._try_place(task, nodes, key):
                    break
                queue.popleft()

    def _try_place(self, task: TaskRecord, nodes: list[NodeRecord], key: tuple) -> bool:
        request = task.placement if task.kind == ACTOR_CREATION else task.resources
        strategy = task.strategy
        if strategy.kind == "NODE_AFFINITY" and not strategy.soft:
            target = self.nodes.get(strategy.node_id)
            if target is None or not target.alive or not res.fits(request, target.total):
                self._fail_unschedulable(task, strategy.node_id)
                return True
        locality = self._locality(task) if task.deps else {}
        node_id = scheduler.pick_node(request, strategy, nodes, locality, self._spread_cursor)
        if node_id is None:
            if not scheduler.feasible_anywhere(request, nodes) and key not in self._warned_infeasible:
                self._warned_infeasible.add(key)
                self._effects.append(Warn(task.client_id, _infeasible_message(task, request, nodes)))
            return False
        if strategy.kind == "SPREAD":
            self._spread_cursor = next(i for i, n in enumerate(nodes) if n.node_id == node_id)
        node = self.nodes[node_id]
        res.subtract(node.available, task.resources)
        task.state = "RUNNING"
        task.node_id = node_id
        task.attempt += 1
        if task.kind == ACTOR_CREATION:
            self._place_actor(task, node_id)
        else:
            self._effects.append(Dispatch(node_id, task, self._ready_args(task)))
        return True

    def _fail_unschedulable(self, task: TaskRecord, node_id: bytes) -> None:
        failure = Failure(
            "TaskUnschedulableError",
            f"task {task.name} requires node {node_id.hex()[:12]} (hard node affinity), which is "
            "not alive or can never fit it; use soft=True to allow other nodes",
        )
        task.state = "RUNNING"
        self._finish(task, [ObjectInfo(b"", is_error=True, failure=failure)] * task.num_returns)

    def _locality(self, task: TaskRecord) -> dict[bytes, int]:
        out: dict[bytes, int] = {}
        for dep in task.deps:
            info = self.objects.get(dep)
            if info is not None and info.node_id is not None:
                out[info.node_id] = out.get(info.node_id, 0) + info.size
                for node_id in self.copies.get(dep, ()):
                    out[node_id] = out.get(node_id, 0) + info.size
        return out

    def _ready_args(self, task: TaskRecord) -> list[ObjectInfo]:
        args = []
        for dep in dict.fromkeys(task.deps):
            info = self.objects.get(dep)
            if info is not None:
                args.append(info)
        return args

    def _on_task_finished(self, ev: TaskFinished) -> None:
        task = self.tasks.get(ev.task_id)
        if task is None and self._holding_frees and not ev.retryable:
            self._early_results[ev.task_id] = ev  # finished while the head was down
            return
        if task is None or task.state != "RUNNING" or task.node_id != ev.node_id:
            return  # late report of a task already retried or failed, or from a node it left
        if ev.retryable and task.kind == NORMAL and self._retry(task):
            return
        if ev.retryable and task.kind == ACTOR_METHOD:
            # bounced: the actor's process had died when the call arrived. The
            # death report (ExecutorDied) retries or fails the call; this is no result.
            return
        if task.kind == ACTOR_CREATION:
            actor = self.actors[task.actor_id]
            if any(r.is_error for r in ev.results):
                why = f"its constructor raised {ev.error_summary}" if ev.error_summary else "its constructor raised"
                self._actor_died(actor, why, keep_creation=True)
            elif ev.results:
                actor.ready = _renamed(ev.results[0], object_id(task.task_id, 0))
                self._effects.append(ActorChanged(actor.actor_id))
        self._finish(task, ev.results)

    def _finish(self, task: TaskRecord, results: list[ObjectInfo]) -> None:
        """Removes a task and publishes its results under its return ids."""
        self.tasks.pop(task.task_id, None)
        actor = self.actors.get(task.actor_id) if task.kind == ACTOR_CREATION else None
        if task.kind == NORMAL and any(r.node_id is not None and not r.is_error for r in results):
            # its outputs live on one node: keep the recipe (and its inputs) to remake them
            self.lineage[task.task_id] = task
        elif actor is None or actor.state == "DEAD":
            self._release_pins(task)  # an actor's constructor arguments live as long as it may restart
        if task.state == "RUNNING" and task.kind != ACTOR_CREATION and task.node_id is not None:
            node = self.nodes.get(task.node_id)
            if node is not None and node.alive and not task.blocked:
                res.add(node.available, task.resources)
                self._needs_pass = True
        if task.kind != NORMAL:
            actor = self.actors.get(task.actor_id)
            if actor is not None:
                actor.inflight.pop(task.task_id, None)
                if task.kind == ACTOR_CREATION and actor.state == "PENDING":
                    # failed before it was ever placed (an error argument, an impossible affinity)
                    task.state = "FINISHED"
                    self._actor_died(actor, "its creation task failed before it was placed")
        task.state = "FINISHED"
        for index in range(task.num_returns):
            src = results[index] if index < len(results) else results[-1]
            oid = object_id(task.task_id, index)
            info = src if src.object_id == oid else _renamed(src, oid)
            self._object_ready(info, owner=task.client_id)

    def _on_executor_died(self, ev: ExecutorDied) -> None:
        if ev.actor_id:
            actor = self.actors.get(ev.actor_id)
            creation = actor.creation if actor is not None else None
            if creation is not None and ev.attempt and ev.attempt != creation.attempt:
                return  # an earlier incarnation's process; the actor has moved on
            if actor is not None and actor.state == "PLACED" and actor.node_id != ev.node_id:
                return
            if actor is not None and actor.state != "DEAD":
                self._actor_died(actor, f"its process died ({ev.reason})", restartable=True)
            elif actor is not None:
                self._fail_actor_calls(actor)
            return
        task = self.tasks.get(ev.task_id)
        if task is not None and ev.attempt and ev.attempt != task.attempt:
            return
        if task is not None and task.state == "RUNNING" and task.node_id == ev.node_id:
            self._executor_lost(task, f"its executor process on node {ev.node_id.hex()[:12]} died ({ev.reason})")

    def _executor_lost(self, task: TaskRecord, why: str) -> None:
        """A running normal task lost its process: retry it or fail it."""
        if self._retry(task):
            return
        failure = Failure(
            "WorkerCrashedError",
            f"task {task.name} ({task.task_id.hex()}) failed: {why}; no retries left (max_retries={task.max_retries})",
        )
        self._finish(task, [ObjectInfo(b"", is_error=True, failure=failure)])

    def _retry(self, task: TaskRecord) -> bool:
        """Queues a running normal task again if it has retries left."""
        if task.retries_left == 0:
            return False
        node = self.nodes.get(task.node_id or b"")
        if node is not None and node.alive and not task.blocked:
            res.add(node.available, task.resources)
        if task.retries_left > 0:
            task.retries_left -= 1
        task.node_id = None
        task.blocked = False
        self._make_ready(task)
        return True

    def _on_block_changed(self, ev: TaskBlockChanged) -> None:
        task = self.tasks.get(ev.task_id)
        if task is None or task.state != "RUNNING" or task.blocked == ev.blocked:
            return
        if task.kind == ACTOR_CREATION or task.node_id is None:
            return
        node = self.nodes[task.node_id]
        if not node.alive:
            return
        task.blocked = ev.blocked
        if ev.blocked:
            res.add(node.available, task.resources)
            self._needs_pass = True
        else:
            res.subtract(node.available, task.resources)

    # ---- objects -------------------------------------------------------------

    def _on_objects_put(self, ev: ObjectsPut) -> None:
        for info in ev.objects:
            self._object_ready(info, owner=None)

    def _object_ready(self, info: ObjectInfo, owner: bytes | None) -> None:
        oid = info.object_id
        if oid in self.objects:
            return
        self.objects[oid] = info
        self._pin(info.contained)
        if owner is not None and owner in self.clients:
            self._effects.append(Deliver(owner, info))
        for client in self._subscribers.pop(oid, ()):
            if client != owner:
                self._effects.append(Deliver(client, info))
        for task_id in self._dep_waiters.pop(oid, ()):
            task = self.tasks.get(task_id)
            if task is None or task.state != "WAITING":
                continue
            if info.is_error:
                self._finish(task, [info] * task.num_returns)
                continue
            task.missing -= 1
            if task.missing == 0:
                self._make_ready(task)
        self._maybe_free(oid)

    # ---- reference counting ------------------------------------------------------

    def _on_refs_changed(self, ev: RefsChanged) -> None:
        mine = self.client_refs.setdefault(ev.client_id, set())
        for oid, held in ev.changes:
            if held:
                self.holders.setdefault(oid, set()).add(ev.client_id)
                mine.add(oid)
            else:
                mine.discard(oid)
                self._drop_holder(oid, ev.client_id)

    def _drop_holder(self, oid: bytes, client_id: bytes) -> None:
        holders = self.holders.get(oid)
        if holders is None:
            return
        holders.discard(client_id)
        if not holders:
            del self.holders[oid]
            self._maybe_free(oid)

    def _pin(self, oids: tuple[bytes, ...]) -> None:
        for oid in oids:
            self.pins[oid] = self.pins.get(oid, 0) + 1

    def _unpin(self, oids: tuple[bytes, ...]) -> None:
        for oid in oids:
            n = self.pins.get(oid, 0) - 1
            if n > 0:
                self.pins[oid] = n
            else:
                self.pins.pop(oid, None)
                self._maybe_free(oid)

    def _pin_arguments(self, task: TaskRecord) -> None:
        """The task's arguments (top-level and nested) live while it may run."""
        task.pinned = True
        self._pin(task.deps)
        self._pin(task.borrowed)

    def _release_pins(self, task: TaskRecord) -> None:
        if task.pinned:
            task.pinned = False
            self._unpin(task.deps)
            self._unpin(task.borrowed)

    def _maybe_free(self, oid: bytes) -> None:
        """Marks an object to drop if, once the batch is applied, nothing holds or needs it.

        Deferred so that a batch that puts an object and submits a task taking it
        (or releases a ref and takes another) is judged as a whole.
        """
        self._free_candidates[oid] = None

    def _free_if_unreferenced(self, oid: bytes) -> None:
        if oid in self.holders or oid in self.pins or self._holding_frees:
            return
        info = self.objects.pop(oid, None)
        if info is None:
            return  # not made yet: it is dropped the moment it is, unless someone holds it by then
        nodes = self.copies.pop(oid, set())
        if info.node_id is not None:
            nodes.add(info.node_id)
        for node_id in sorted(nodes):
            node = self.nodes.get(node_id)
            if node is not None and node.alive:
                self._effects.append(FreeObject(node_id, oid))
        self._unpin(info.contained)
        actor = self.actors.get(task_of(oid))
        if actor is not None and oid == object_id(actor.actor_id, 0):
            # an actor's creation result stands for its handles: the last one went
            if not actor.detached and actor.state != "DEAD":
                self._kill_actor(actor, "all its handles went out of scope")
            return
        maker = self.lineage.get(task_of(oid))
        if maker is not None and not any(object_id(maker.task_id, i) in self.objects for i in range(maker.num_returns)):
            del self.lineage[maker.task_id]  # no output left to remake
            self._release_pins(maker)

    def _on_copies_changed(self, ev: ObjectCopiesChanged) -> None:
        node = self.nodes.get(ev.node_id)
        if node is None or not node.alive:
            return
        for oid in ev.added:
            info = self.objects.get(oid)
            if info is not None and info.node_id is not None and info.node_id != ev.node_id:
                self.copies.setdefault(oid, set()).add(ev.node_id)
        gone: list[ObjectInfo] = []
        for oid in ev.removed:
            holders = self.copies.get(oid)
            if holders is not None:
                holders.discard(ev.node_id)
                if not holders:
                    del self.copies[oid]
            info = self.objects.get(oid)
            if info is not None and info.node_id == ev.node_id:
                # the node evicted its copy before it heard that the copy had become the primary
                gone.append(info)
        lost = [info for info in gone if not self._promote_copy(info)]
        self._objects_lost(
            lost, f"its last copy was evicted from node {ev.node_id.hex()[:12]} as the node of its primary died"
        )

    def _on_objects_subscribed(self, ev: ObjectsSubscribed) -> None:
        for oid in ev.object_ids:
            info = self.objects.get(oid)
            if info is not None:
                self._effects.append(Deliver(ev.client_id, info))
            else:
                self._subscribers.setdefault(oid, set()).add(ev.client_id)

    # ---- actors --------------------------------------------------------------

    def _place_actor(self, task: TaskRecord, node_id: bytes) -> None:
        actor = self.actors[task.actor_id]
        assert actor.state in ("PENDING", "RESTARTING"), f"placing actor {actor.actor_id.hex()} in state {actor.state}"
        actor.state = "PLACED"
        actor.node_id = node_id
        actor.held = dict(task.resources)
        actor.inflight[task.task_id] = task
        self._effects.append(Dispatch(node_id, task, self._ready_args(task)))
        self._effects.append(ActorChanged(actor.actor_id))
        pending, actor.pending = actor.pending, []
        for call in pending:
            self._route_actor_call(call)

    def _route_actor_call(self, task: TaskRecord) -> None:
        actor = self.actors.get(task.actor_id)
        if actor is None or actor.state == "DEAD":
            why = actor.death if actor is not None else "it does not exist in this cluster"
            self._finish(task, [_actor_died_info(task, why)] * task.num_returns)
            return
        if actor.state in ("PENDING", "RESTARTING", "RECOVERING"):
            actor.pending.append(task)
            return
        task.state = "RUNNING"
        task.node_id = actor.node_id
        actor.inflight[task.task_id] = task
        self._effects.append(Dispatch(actor.node_id, task, self._ready_args(task)))  # type: ignore[arg-type]

    def _on_actor_kill(self, ev: ActorKillRequested) -> None:
        actor = self.actors.get(ev.actor_id)
        if actor is not None and actor.state != "DEAD":
            self._kill_actor(actor, ev.reason, restartable=not ev.no_restart)

    def _kill_actor(self, actor: ActorRecord, why: str, restartable: bool = False) -> None:
        if actor.node_id is not None:
            self._effects.append(KillActor(actor.node_id, actor.actor_id))
        self._actor_died(actor, why, restartable=restartable)

    def _actor_died(self, actor: ActorRecord, why: str, keep_creation: bool = False, restartable: bool = False) -> None:
        if restartable and actor.restarts_left != 0 and actor.creation is not None and actor.state == "PLACED":
            self._restart_actor(actor, why)
            return
        was_pending = actor.state in ("PENDING", "RESTARTING")
        actor.state = "DEAD"
        actor.death = why
        self._effects.append(ActorChanged(actor.actor_id))
        creation = self.tasks.get(actor.actor_id)
        if was_pending and creation is not None and creation.state in ("WAITING", "READY"):
            # never placed: its creation must not run later
            self._finish(creation, [_actor_died_info(creation, why)])
        if actor.name and self.named_actors.get(actor.name) == actor.actor_id:
            del self.named_actors[actor.name]
        if actor.creation is not None and actor.creation.task_id not in self.tasks:
            self._release_pins(actor.creation)  # finished earlier; nothing will run it again
        node = self.nodes.get(actor.node_id or b"")
        if node is not None and node.alive:
            res.add(node.available, actor.held)
            self._needs_pass = True
        actor.held = {}
        if keep_creation:
            # the creation task's own error is its result; only fail the calls
            creation = actor.inflight.pop(actor.actor_id, None)
            self._fail_actor_calls(actor)
            if creation is not None:
                actor.inflight[actor.actor_id] = creation
            return
        self._fail_actor_calls(actor)

    def _restart_actor(self, actor: ActorRecord, why: str) -> None:
        """Runs the constructor again on a node with room; calls with retries left wait for it."""
        node = self.nodes.get(actor.node_id or b"")
        if node is not None and node.alive:
            res.add(node.available, actor.held)
        actor.held = {}
        actor.node_id = None
        actor.state = "RESTARTING"
        actor.ready = None
        self._effects.append(ActorChanged(actor.actor_id))
        actor.restarts += 1
        if actor.restarts_left > 0:
            actor.restarts_left -= 1
        creation = actor.creation
        assert creation is not None
        calls = [c for c in actor.inflight.values() if c.task_id != creation.task_id] + actor.pending
        actor.inflight = {}
        actor.pending = []
        for call in calls:
            if call.retries_left != 0:
                if call.retries_left > 0:
                    call.retries_left -= 1
                call.state = "WAITING"
                call.node_id = None
                actor.pending.append(call)
            elif call.task_id in self.tasks:
                message = f"{why}; the actor is restarting, but this call is not retried (max_task_retries=0)"
                self._finish(call, [_actor_died_info(call, message)] * call.num_returns)
        creation.node_id = None
        creation.blocked = False
        self.tasks[creation.task_id] = creation
        self._make_ready(creation)

    def _fail_actor_calls(self, actor: ActorRecord) -> None:
        calls = list(actor.inflight.values()) + actor.pending
        actor.inflight = {}
        actor.pending = []
        for call in calls:
            if call.task_id in self.tasks:
                self._finish(call, [_actor_died_info(call, actor.death)] * call.num_returns)

    # ---- queries (read only) ---------------------------------------------------

    def validate(self) -> None:
        """Checks invariants; tests call it after every step."""
        for node in self.nodes.values():
            if not node.alive:
                continue
            used: dict[str, float] = {}
            for task in self.tasks.values():
                if task.node_id == node.node_id and task.state == "RUNNING" and not task.blocked:
                    if task.kind not in (ACTOR_CREATION, ACTOR_METHOD):
                        res.add(used, task.resources)
            for actor in self.actors.values():
                if actor.node_id == node.node_id and actor.state != "DEAD":
                    res.add(used, actor.held)
            for name, total in node.total.items():
                expect = total - used.get(name, 0.0)
                got = node.available.get(name, 0.0)
                assert abs(expect - got) < 1e-6, f"node {node.node_id.hex()} {name}: {got} != {expect}"
        for task in self.tasks.values():
            if task.state == "WAITING":
                missing = sum(1 for d in task.deps if d not in self.objects)
                assert missing == task.missing, f"task {task.name}: missing {task.missing} != {missing}"
        for oid in self._dep_waiters:
            assert oid not in self.objects, f"object {oid.hex()} is ready but still has waiters"
        expected: dict[bytes, int] = {}
        pinned_tasks = [t for t in self.tasks.values() if t.pinned]
        pinned_tasks += [
            a.creation
            for a in self.actors.values()
            if a.creation is not None and a.creation.pinned and a.creation.task_id not in self.tasks
        ]
        pinned_tasks += [t for t in self.lineage.values() if t.pinned]
        for t in pinned_tasks:
            for oid in t.deps + t.borrowed:
                expected[oid] = expected.get(oid, 0) + 1
        for info in self.objects.values():
            for oid in info.contained:
                expected[oid] = expected.get(oid, 0) + 1
        assert expected == self.pins, f"pins {self.pins} != expected {expected}"
        for oid in self.objects:
            assert oid in self.holders or oid in self.pins or self._holding_frees, (
                f"object {oid.hex()} is kept with no reference"
            )


def _renamed(info: ObjectInfo, oid: bytes) -> ObjectInfo:
    return ObjectInfo(oid, info.value, info.node_id, info.size, info.is_error, info.failure, info.contained)


def _actor_died_info(task: TaskRecord, why: str) -> ObjectInfo:
    failure = Failure(
        "ActorDiedError",
        f"the actor of call {task.name} ({task.actor_id.hex()[:12]}) is dead: {why}",
    )
    return ObjectInfo(b"", is_error=True, failure=failure)


def _infeasible_message(task: TaskRecord, request: dict[str, float], nodes: Iterable[NodeRecord]) -> str:
    # of each node, only what the request names: the rest (memory, node:<ip>) is noise here
    request = dict(sorted(request.items()))  # (a map off the wire has no fixed order)
    alive = [n for n in nodes if n.alive]
    totals = [{name: n.total.get(name, 0.0) for name in request} for n in alive[:_NODES_SHOWN]]
    more = f" and {len(alive) - _NODES_SHOWN} more" if len(alive) > _NODES_SHOWN else ""
    return (
        f"task {task.name} requires {request}, which no node in the cluster can ever provide "
        f"(live nodes have {totals}{more}). It stays queued until a node that fits joins; "
        "lower its num_cpus/num_gpus/resources or add such a node."
    )


_NODES_SHOWN = 8


_HANDLERS = {
    NodeAdded: HeadState._on_node_added,
    NodeRemoved: HeadState._on_node_removed,
    ClientConnected: HeadState._on_client_connected,
    ClientDisconnected: HeadState._on_client_disconnected,
    TaskSubmitted: HeadState._on_task_submitted,
    ObjectsPut: HeadState._on_objects_put,
    ObjectsSubscribed: HeadState._on_objects_subscribed,
    TaskFinished: HeadState._on_task_finished,
    ExecutorDied: HeadState._on_executor_died,
    TaskBlockChanged: HeadState._on_block_changed,
    ActorKillRequested: HeadState._on_actor_kill,
    HeadRestarted: HeadState._on_head_restarted,
    RecoveryEnded: HeadState._on_recovery_ended,
    ObjectCopiesChanged: HeadState._on_copies_changed,
    RefsChanged: HeadState._on_refs_changed,
}
