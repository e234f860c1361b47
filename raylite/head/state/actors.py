"""The actor directory: where each actor lives, its calls, its deaths and restarts.

Theory of operation
-------------------
An actor is made by its creation task (its id is the actor's id), which the
task table schedules like any task with the actor's `placement` as the
request. Once placed (PENDING -> PLACED), the actor holds `resources` on its
node until it dies; its constructor's result (`ready`) stands for its
handles: when the last ref to it goes, a non-detached actor is killed.

Method calls skip the scheduler's queues: they go to the actor's node in
submission order the moment the actor is placed (queued in `pending`, in
WAITING_FOR_ACTOR, before that), and the actor's executor resolves arguments
that are not ready yet. That keeps calls from one caller in order without the
head tracking per-caller sequence numbers. Calls sent to the node are
`inflight` until they finish.

Death: an actor dies when it is killed (raylite.kill, its driver leaving, its
handles going), when its constructor raises, or when its process or node
dies. A death with restarts left (`restarts_left`, -1 for ever) while placed
is a restart instead: the constructor runs again on a node with room once
its arguments exist (RESTARTING), and calls in flight with retries left
(`max_task_retries`) wait for it in their original order; the others fail
with ActorUnavailableError (Ray 2.60's: the actor lives on, the call may
have run).
A restart whose creation fails before it is placed (an error argument, an
impossible affinity) is a death. A dead actor's calls fail with
ActorDiedError naming the cause, and so do calls made later.

Names are unique per namespace (`named_actors`, keyed by (namespace, name)),
among actors not DEAD: a creation naming a taken name is refused (the actor is
DEAD at once, its calls fail saying why; clients check first and raise
ActorAlreadyExistsError, so only a race between two creators gets here).

Ownership (as Ray's): the client that submitted an actor's creation is its
owner (`owner`). A non-detached actor dies when its owner goes: the driver
leaving (driver_left, by job), or the process of the task or actor that
created it exiting (owner_left, decided at the end of the step, since a
client replacing its own stream disconnects and connects in one step). A
detached actor outlives both.

An actor that ends itself on purpose (exit_actor(), `__ray_terminate__`: an
intentional ExecutorDied) is DEAD for good, whatever its restarts left.

Every durable change is announced as ActorChanged, which the servicer saves,
so that a restarted head can carry on (raylite/head/state/recovery.py).
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from typing import TYPE_CHECKING

from raylite.failures import Failure, actor_death_failure
from raylite.head.state import direct_calls
from raylite.head.state.cancel import cancelled_info
from raylite.head.state.model import (
    ACTOR_CREATION,
    ActorChanged,
    ActorKillRequested,
    ActorRecord,
    Dispatch,
    ExecutorDied,
    KillActor,
    ObjectInfo,
    TaskFinished,
    TaskRecord,
)
from raylite.head.state.nodes import NodeTable
from raylite.head.state.objects import ObjectDirectory
from raylite.head.state.sink import Sink
from raylite.head.state.states import ActorState, TaskState, last_state
from raylite.ids import object_id, task_of

if TYPE_CHECKING:
    from raylite.head.state.tasks import TaskTable

PENDING, PLACED, RESTARTING = ActorState.PENDING, ActorState.PLACED, ActorState.RESTARTING
RECOVERING, DEAD = ActorState.RECOVERING, ActorState.DEAD


class ActorDirectory:
    def __init__(self, sink: Sink, nodes: NodeTable, objects: ObjectDirectory) -> None:
        self.sink = sink
        self.nodes = nodes
        self.objects = objects
        self.actors: dict[bytes, ActorRecord] = {}
        self.named_actors: dict[tuple[str, str], bytes] = {}  # (namespace, name) -> live actor
        self.leaving_owners: dict[bytes, None] = {}  # clients that disconnected during this step
        self.tasks: TaskTable  # wired by HeadState

    # ---- creation and placement ---------------------------------------------------------

    def created(self, task: TaskRecord) -> bool:
        """Its creation task was submitted: the actor exists, PENDING until placed.

        False when its name is taken: the actor is DEAD at once and its creation finished.
        """
        actor = ActorRecord(
            task.task_id,
            task.job_id,
            task.actor_name,
            task.detached,
            task.actor_meta,
            creation=task,
            restarts_left=task.max_restarts,
            max_task_retries=task.max_task_retries,
            namespace=task.actor_namespace,
            owner=task.client_id,
        )
        self.sink.enter(actor, PENDING, "its creation task was submitted")
        self.actors[task.task_id] = actor
        self.sink.effects.append(ActorChanged(task.task_id))
        if not task.actor_name:
            return True
        key = (task.actor_namespace, task.actor_name)
        if key not in self.named_actors:
            self.named_actors[key] = task.task_id
            return True
        why = (
            f"its name {task.actor_name!r} was already taken in namespace {task.actor_namespace!r} "
            "by another live actor when it was created"
        )
        self.died(actor, why)
        self.tasks.finish(task, [_actor_died_info(task, why)], "its actor's name was taken")
        return False

    def placed(self, task: TaskRecord, node_id: bytes) -> None:
        """The scheduler placed its creation task on a node (and took its resources there)."""
        actor = self.actors[task.actor_id]
        if task.attempt <= actor.seen_attempt:
            task.attempt = actor.seen_attempt + 1
        self.sink.transition(actor, PLACED, "its creation task was placed")
        actor.node_id = node_id
        actor.held = dict(task.resources)
        actor.inflight[task.task_id] = task
        effects = self.sink.effects
        effects.append(Dispatch(node_id, task, self.objects.args_of(task)))
        effects.append(ActorChanged(actor.actor_id))
        self._send_pending(actor)

    def _send_pending(self, actor: ActorRecord) -> None:
        pending, actor.pending = actor.pending, []
        for call in pending:
            self.route_call(call)

    def route_call(self, task: TaskRecord) -> None:
        """A method call goes to its actor's node, waits for the actor to be placed, or fails."""
        actor = self.actors.get(task.actor_id)
        if task.state is TaskState.NEW:
            task.retries_left = actor.max_task_retries if actor is not None else 0
            life = direct_calls.sent_life(task)
            if (
                life is not None
                and actor is not None
                and actor.state is not DEAD
                and direct_calls.interrupted(actor, life)
            ):
                # resent by its caller: the life it was sent to ended with the call in flight
                if task.retries_left == 0:
                    message = (
                        f"{actor.last_death}; the actor restarted, but this call is not retried (max_task_retries=0)"
                    )
                    self.tasks.finish(task, [_actor_unavailable_info(task, message)] * task.num_returns, message)
                    return
                if task.retries_left > 0:
                    task.retries_left -= 1
        if actor is None or actor.state is DEAD:
            why = actor.death if actor is not None else "it does not exist in this cluster"
            self.tasks.finish(task, [_actor_died_info(task, why)] * task.num_returns, "its actor is dead")
            return
        if actor.state is not PLACED:
            if task.state is not TaskState.WAITING_FOR_ACTOR:
                self.sink.transition(task, TaskState.WAITING_FOR_ACTOR, "its actor is not placed yet")
            actor.pending.append(task)
            return
        self.sink.transition(task, TaskState.RUNNING, "sent to its actor")
        task.node_id = actor.node_id
        actor.inflight[task.task_id] = task
        self.sink.effects.append(Dispatch(actor.node_id, task, self.objects.args_of(task)))  # type: ignore[arg-type]

    def drop_pending(self, call: TaskRecord) -> None:
        """A call waiting for its actor to be placed was cancelled: it will not be sent."""
        actor = self.actors.get(call.actor_id)
        if actor is not None and call in actor.pending:
            actor.pending.remove(call)

    def constructor_returned(self, task: TaskRecord, ev: TaskFinished) -> None:
        actor = self.actors[task.actor_id]
        if any(r.is_error for r in ev.results):
            why = f"its constructor raised {ev.error_summary}" if ev.error_summary else "its constructor raised"
            self.died(actor, why, keep_creation=True)
        elif ev.results:
            actor.ready = _renamed(ev.results[0], object_id(task.task_id, 0))
            actor.call_address = ev.call_address
            self.sink.effects.append(ActorChanged(actor.actor_id))

    @staticmethod
    def death_info(creation: TaskRecord, why: str) -> ObjectInfo:
        """The ActorDiedError an actor's creation returns (its ready object) once it is dead."""
        return _renamed(_actor_died_info(creation, why), object_id(creation.task_id, 0))

    def task_finished(self, task: TaskRecord) -> None:
        """Its creation or one of its calls finished (or failed before it ran)."""
        actor = self.actors.get(task.actor_id)
        if actor is None:
            return
        actor.inflight.pop(task.task_id, None)
        if task.kind == ACTOR_CREATION and (actor.state is PENDING or actor.state is RESTARTING):
            # failed before it was placed (again): an error argument, an impossible affinity,
            # a placement group that is gone
            self.died(actor, "its creation task failed before it was placed")

    # ---- deaths ---------------------------------------------------------------------------

    def kill_requested(self, ev: ActorKillRequested) -> None:
        actor = self.actors.get(ev.actor_id)
        if actor is not None and actor.state is not DEAD:
            self.kill(actor, ev.reason, restartable=not ev.no_restart)

    def kill(self, actor: ActorRecord, why: str, restartable: bool = False) -> None:
        if actor.node_id is not None:
            self.sink.effects.append(KillActor(actor.node_id, actor.actor_id))
        self.died(actor, why, restartable=restartable)

    def process_died(self, ev: ExecutorDied) -> None:
        actor = self.actors.get(ev.actor_id)
        if actor is None:
            return
        creation = actor.creation
        if creation is not None and ev.attempt and ev.attempt != creation.attempt:
            return  # an earlier incarnation's process; the actor has moved on
        if actor.state is PLACED and actor.node_id != ev.node_id:
            return
        if actor.state is PENDING or actor.state is RESTARTING or actor.state is RECOVERING:
            # No life of it runs now (a recovering one's node reports it when it rejoins):
            # the death is of one it left, reported late.
            return
        if actor.state is DEAD:
            self._fail_calls(actor)
        elif ev.intentional:
            self.died(actor, ev.reason or "it exited on purpose")
        else:
            self.died(actor, f"its process died ({ev.reason})", restartable=True)

    def node_lost(self, node_id: bytes, why: str) -> None:
        for actor in self.actors.values():
            if actor.node_id == node_id and actor.state is not DEAD and actor.state is not RESTARTING:
                self.died(actor, f"its node {node_id.hex()[:12]} died ({why})", restartable=True)

    def driver_left(self, job_id: bytes) -> None:
        for actor in list(self.actors.values()):
            if actor.job_id == job_id and not actor.detached and actor.state is not DEAD:
                self.kill(actor, "its driver exited")

    def owner_left(self, client_id: bytes) -> None:
        """A client disconnected: at the end of the step, the actors it owns die unless it is back."""
        self.leaving_owners[client_id] = None

    def drop_orphans(self, connected: Container[bytes]) -> None:
        """End of step: non-detached actors whose owner left in it, and is not connected now, die."""
        leaving, self.leaving_owners = self.leaving_owners, {}
        gone = {c for c in leaving if c not in connected}
        if not gone:
            return
        for actor in list(self.actors.values()):
            if actor.owner in gone and not actor.detached and actor.state is not DEAD:
                self.kill(actor, "its owner (the process that created it) exited")

    def handle_freed(self, oid: bytes) -> None:
        """An object of an actor's creation was freed: its result stands for its handles; the last one went."""
        actor = self.actors.get(task_of(oid))
        if actor is not None and oid == object_id(actor.actor_id, 0):
            if not actor.detached and actor.state is not DEAD:
                self.kill(actor, "all its handles went out of scope")

    def died(self, actor: ActorRecord, why: str, keep_creation: bool = False, restartable: bool = False) -> None:
        if restartable and actor.state is PLACED and actor.restarts_left != 0 and actor.creation is not None:
            self._restart(actor, why)
            return
        was_pending = actor.state is PENDING or actor.state is RESTARTING
        self.sink.transition(actor, DEAD, why)
        actor.death = why
        actor.call_address = ""
        self.sink.effects.append(ActorChanged(actor.actor_id))
        tasks = self.tasks
        creation = tasks.tasks.get(actor.actor_id)
        if was_pending and creation is not None and creation.state in (TaskState.WAITING, TaskState.READY):
            # never placed: its creation must not run later
            tasks.finish(creation, [_actor_died_info(creation, why)], "its actor died before it was placed")
        key = (actor.namespace, actor.name)
        if actor.name and self.named_actors.get(key) == actor.actor_id:
            del self.named_actors[key]
        if actor.creation is not None and actor.creation.task_id not in tasks.tasks:
            tasks.release_pins(actor.creation)  # finished earlier; nothing will run it again
        self.nodes.give_back(actor.node_id, actor.held)
        actor.held = {}
        if keep_creation:
            # the creation task's own error is its result; only fail the calls
            creation = actor.inflight.pop(actor.actor_id, None)
            self._fail_calls(actor)
            if creation is not None:
                actor.inflight[actor.actor_id] = creation
            return
        self._fail_calls(actor)

    def _restart(self, actor: ActorRecord, why: str) -> None:
        """Runs the constructor again on a node with room; calls with retries left wait for it."""
        self.nodes.give_back(actor.node_id, actor.held)
        actor.held = {}
        actor.node_id = None
        self.sink.transition(actor, RESTARTING, why)
        actor.ready = None
        actor.call_address = ""
        actor.last_death = why
        self.sink.effects.append(ActorChanged(actor.actor_id))
        actor.restarts += 1
        if actor.restarts_left > 0:
            actor.restarts_left -= 1
        creation = actor.creation
        assert creation is not None
        calls = [c for c in actor.inflight.values() if c.task_id != creation.task_id] + actor.pending
        actor.inflight = {}
        actor.pending = []
        tasks = self.tasks
        for call in calls:
            if call.cancel:
                message = f"{call.name} was cancelled while it ran, and then {why}; a cancelled call is not retried"
                tasks.finish(call, [cancelled_info(call, message)] * call.num_returns, f"cancelled: {why}")
            elif call.retries_left != 0:
                if call.retries_left > 0:
                    call.retries_left -= 1  # (a call still pending pays for the restart too)
                if call.state is TaskState.RUNNING:
                    self.sink.transition(call, TaskState.WAITING_FOR_ACTOR, "its actor is restarting")
                    call.node_id = None
                actor.pending.append(call)
            elif call.task_id in tasks.tasks:
                message = f"{why}; the actor is restarting, but this call is not retried (max_task_retries=0)"
                tasks.finish(call, [_actor_unavailable_info(call, message)] * call.num_returns, message)
        creation.node_id = None
        creation.blocked = False
        tasks.tasks[creation.task_id] = creation
        # Its arguments may be missing: lost since it ran, or never reported to a
        # restarted head (which knows only what nodes and clients tell it).
        tasks.wait_for_deps(creation, f"its actor restarts: {why}")

    def _fail_calls(self, actor: ActorRecord) -> None:
        calls = list(actor.inflight.values()) + actor.pending
        actor.inflight = {}
        actor.pending = []
        tasks = self.tasks
        for call in calls:
            if call.task_id not in tasks.tasks:
                continue
            if call.cancel:
                message = f"{call.name} was cancelled while it ran, and then its actor died: {actor.death}"
                tasks.finish(call, [cancelled_info(call, message)] * call.num_returns, "cancelled; its actor is dead")
            else:
                tasks.finish(call, [_actor_died_info(call, actor.death)] * call.num_returns, "its actor is dead")

    # ---- after a head restart ------------------------------------------------------------------

    def restore(self, actor: ActorRecord) -> None:
        """A saved actor comes back into a restarted head (raylite/head/state/recovery.py)."""
        saved = ActorState(actor.state)
        self.sink.enter(actor, saved, "restored after the head restarted")
        self.actors[actor.actor_id] = actor
        if actor.name:
            self.named_actors[(actor.namespace, actor.name)] = actor.actor_id
        if saved is PLACED:
            self.sink.transition(actor, RECOVERING, "the head restarted; waiting for its node")

    def node_rejoined(self, node_id: bytes, live: dict[bytes, int], call_ports: Mapping[bytes, str]) -> None:
        """A node rejoined the restarted head: its recovering actors live on, or died meanwhile.

        `live` (actor id -> attempt) is what the node still runs; what is left in it
        once the known actors are matched is killed. `call_ports`: the call ports of those
        that have one (not saved: the head re-adopts them, and callers keep calling direct).
        """
        for actor in [a for a in self.actors.values() if a.state is RECOVERING and a.node_id == node_id]:
            attempt = live.pop(actor.actor_id, None)
            if attempt is None:
                self._lost_while_recovering(actor, "its process was gone when its node rejoined the restarted head")
                continue
            creation = actor.creation
            assert creation is not None
            self.sink.transition(actor, PLACED, "its node rejoined with its process alive")
            creation.attempt = attempt
            actor.call_address = call_ports.get(actor.actor_id, "")
            actor.held = dict(creation.resources)
            self.nodes.take(node_id, actor.held)
            self.sink.effects.append(ActorChanged(actor.actor_id))
            self._send_pending(actor)  # calls resubmitted before the node was back
        for actor_id, attempt in live.items():  # processes of actors this head does not know (or that moved on)
            known = self.actors.get(actor_id)
            if known is not None and attempt > known.seen_attempt:
                # Its numbering may have started afresh (a head that forgot it dead): the
                # death of this process, should it crash before the kill lands, must not
                # pass for that of a life placed later.
                known.seen_attempt = attempt
            self.sink.effects.append(KillActor(node_id, actor_id))

    def _lost_while_recovering(self, actor: ActorRecord, why: str) -> None:
        """Its process is gone: restart it as if it had died placed, or it is dead."""
        if actor.restarts_left != 0 and actor.creation is not None:
            self._restart(actor, why)
        else:
            self.died(actor, why)

    def recovery_ended(self, drivers: set[bytes], clients: Container[bytes]) -> None:
        """Actors whose node did not rejoin are gone; so are those of drivers, and of owners,
        that did not come back."""
        for actor in [a for a in self.actors.values() if a.state is RECOVERING]:
            self._lost_while_recovering(actor, "its node did not rejoin after the head restarted")
        for actor in list(self.actors.values()):
            if actor.detached or actor.state is DEAD:
                continue
            if actor.job_id not in drivers:
                self.kill(actor, "its driver did not reconnect after the head restarted")
            elif actor.owner and actor.owner not in clients:
                self.kill(actor, "its owner (the process that created it) did not reconnect after the head restarted")

    # ---- invariants ------------------------------------------------------------------------

    def validate(self) -> None:
        for actor in self.actors.values():
            state = actor.state
            assert actor.story is None or last_state(actor.story) == state, f"actor {actor.actor_id.hex()}: story"
            if state is DEAD:
                assert not actor.held and not actor.pending and not actor.inflight, f"dead {actor.actor_id.hex()}"
            if state is PLACED:
                assert self.nodes.alive(actor.node_id), f"actor {actor.actor_id.hex()} placed on a dead node"
            elif state is PENDING or state is RESTARTING:
                # else nothing would ever place it, or tell its callers it is dead
                creation = self.tasks.tasks.get(actor.actor_id)
                assert creation is not None and creation.state in (TaskState.WAITING, TaskState.READY), (
                    f"actor {actor.actor_id.hex()} is {state} with its creation {creation and creation.state}"
                )
            else:
                assert not actor.inflight or state is DEAD, f"actor {actor.actor_id.hex()} ({state}) has calls out"
            for call in actor.pending:
                assert call.state is TaskState.WAITING_FOR_ACTOR, f"pending call {call.name} is {call.state}"
            for call in actor.inflight.values():
                assert call.state is TaskState.RUNNING, f"call {call.name} in flight is {call.state}"
        for key, actor_id in self.named_actors.items():
            actor = self.actors[actor_id]
            assert actor.state is not DEAD, f"named actor {key} is dead"
            assert (actor.namespace, actor.name) == key, f"actor {actor_id.hex()} is named {key} in the directory"


def _renamed(info: ObjectInfo, oid: bytes) -> ObjectInfo:
    return ObjectInfo(oid, info.value, info.node_id, info.size, info.is_error, info.failure, info.contained)


def _actor_unavailable_info(task: TaskRecord, why: str) -> ObjectInfo:
    """The error of a call in flight when its actor's life ended and the actor restarts: Ray 2.60's
    ActorUnavailableError (the actor lives on; the call may or may not have run), not ActorDiedError."""
    failure = Failure("ActorUnavailableError", f"the actor of call {task.name} ({task.actor_id.hex()[:12]}): {why}")
    return ObjectInfo(b"", is_error=True, failure=failure)


def _actor_died_info(task: TaskRecord, why: str) -> ObjectInfo:
    failure = actor_death_failure(
        why, Failure("ActorDiedError", f"the actor of call {task.name} ({task.actor_id.hex()[:12]}) is dead: {why}")
    )
    return ObjectInfo(b"", is_error=True, failure=failure)
