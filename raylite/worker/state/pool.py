"""Which executor process runs what: the worker daemon's executor pool, without processes.

Theory of operation
-------------------
User code runs in executor processes, never in the daemon. Normal tasks go
to pooled executors, one task at a time; an actor gets an executor of its own
for its whole life. This module decides which executor to start, which one a
task goes to, which to kill and what to tell the head when one dies; the I/O
shell (raylite/worker/executor_pool.py) spawns the processes, speaks the
frames of raylite/worker/protocol.py and feeds what happens back here as
events. `handle(*events)` returns the instructions to carry out, in order.

Executors are named by small integers chosen here (`Spawn(executor)`), since
a process has no pid until the shell has started it (`ExecutorStarted`).

Pooled executors. `size` of them are started with the pool (one per CPU) and
the pool never has fewer: one that dies or becomes an actor's is replaced.
A pooled executor is *starting* until it says hello, then *idle* or running
one task. A task that finds no idle executor waits, and the pool starts
another executor whenever more tasks wait than executors are starting, so
the pool grows past `size` on demand: a task blocked in `get` keeps its
executor while its CPU goes to another task, and the nested task it waits
for must get an executor of its own or the two wait for each other forever.
For the same reason an executor that dies is replaced when tasks wait, even
if the pool is at its size: it may have been the one started for them.

Actor executors. An actor's creation takes an idle pooled executor (a warm
process starts the actor sooner) or starts a new one, and the pool is then
refilled to `size`. Calls go straight to the actor's executor; a call for an
actor with no executor here bounces (`BounceActorCall`): the head learns of
the death separately and decides about the call. An actor killed at the
head's request is not reported dead: the head asked and knows.

Deaths. An executor that exits while running a task makes the head hear of
it (`ReportDeath`, with the attempt, so the head ignores a stale one). One
that reported DONE (it delivered the result on its own client's stream) and
then dies also reports that task: the stream may not have carried the
result out before the process died, and the head ignores the report if it
did. Every executor's exit also gives back the store room it reserved and
never wrote (`ReleaseReservations`). After `PoolStopping` exits are only
bookkeeping. An executor killed (its actor at the head's request, or all at
`PoolStopping`) before its process exists is killed as soon as it starts:
the process would otherwise live on, unknown to the head, for as long as
the daemon.

Frames for an executor that has not said hello yet wait in its backlog and
go out, in order, with the hello. Each executor is sent a function's code
once; after that the code is stripped from the tasks it is sent.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# ---- events (facts, past tense) ----------------------------------------------


@dataclass(slots=True)
class PoolStarted:
    """The daemon is up: prestart the pooled executors."""


@dataclass(slots=True)
class TaskAssigned:
    """The head gave this node a normal task."""

    task_id: bytes
    attempt: int
    function_id: bytes
    function: bytes  # the function's code, when the head sent it along (else b"")
    payload: Any  # the assignment, opaque here: sent to an executor, listed by running()


@dataclass(slots=True)
class ActorCreationAssigned:
    actor_id: bytes
    attempt: int  # the actor's incarnation
    function_id: bytes
    function: bytes
    payload: Any


@dataclass(slots=True)
class ActorCallAssigned:
    actor_id: bytes
    function_id: bytes
    function: bytes
    payload: Any


@dataclass(slots=True)
class ExecutorStarted:
    """The executor's process exists."""

    executor: int
    pid: int


@dataclass(slots=True)
class ExecutorSaidHello:
    """The executor is ready for frames."""

    executor: int


@dataclass(slots=True)
class ResultReported:
    """The executor finished a task and handed its result to the daemon."""

    executor: int
    result: Any  # opaque, forwarded to the head


@dataclass(slots=True)
class DoneReported:
    """The executor finished a task and sent the result on its own client's stream."""

    executor: int


@dataclass(slots=True)
class ExitAnnounced:
    """The actor the executor hosts ends on purpose (exit_actor(), __ray_terminate__); its process exits next."""

    executor: int
    reason: str


@dataclass(slots=True)
class ExecutorExited:
    executor: int
    reason: str  # how it ended ("pid 12 was killed by SIGKILL"), for the head's error message


@dataclass(slots=True)
class ActorKillRequested:
    actor_id: bytes


@dataclass(slots=True)
class PoolStopping:
    """The daemon is stopping: every executor goes, and nobody needs to hear of it."""


Event = (
    PoolStarted
    | TaskAssigned
    | ActorCreationAssigned
    | ActorCallAssigned
    | ExecutorStarted
    | ExecutorSaidHello
    | ResultReported
    | DoneReported
    | ExecutorExited
    | ExitAnnounced
    | ActorKillRequested
    | PoolStopping
)


# ---- instructions (commands for the shell) -------------------------------------------


@dataclass(slots=True)
class Spawn:
    """Start an executor process, to be known as `executor`."""

    executor: int


@dataclass(slots=True)
class Send:
    """Send a task to an executor that said hello.

    function: the code the message must carry (the executor has not been sent
    it); None: it must carry none (the executor has it, or it never came).
    """

    executor: int
    payload: Any
    function: bytes | None


@dataclass(slots=True)
class Kill:
    executor: int


@dataclass(slots=True)
class ForwardResult:
    result: Any


@dataclass(slots=True)
class BounceActorCall:
    """Answer the call with a retryable ActorDiedError: its actor has no executor here."""

    payload: Any


@dataclass(slots=True)
class ReportDeath:
    """Tell the head an executor died running this task (task_id) or hosting this actor (actor_id)."""

    task_id: bytes
    actor_id: bytes
    attempt: int
    reason: str
    intentional: bool = False  # the actor ended itself on purpose: the head must not restart it


@dataclass(slots=True)
class ReleaseReservations:
    """The process `pid` is gone: the store room it reserved and never wrote is free again."""

    pid: int


@dataclass(slots=True)
class Warn:
    message: str


Instruction = Spawn | Send | Kill | ForwardResult | BounceActorCall | ReportDeath | ReleaseReservations | Warn


# ---- state ---------------------------------------------------------------------


@dataclass(slots=True, eq=False)
class Executor:
    """One executor process, as the pool sees it."""

    id: int
    pid: int = 0  # 0 until started
    ready: bool = False  # said hello
    task_id: bytes = b""  # the normal task it runs now
    payload: Any = None  # ... and its assignment
    actor_id: bytes = b""  # the actor it hosts, if any (then it never runs normal tasks)
    attempt: int = 0  # of that task, or of the actor's creation
    killed: bool = False  # by request: its death needs no report
    exit_reason: str = ""  # its actor announced that it ends on purpose, and why
    # the last task it reported DONE: if it dies before its client's stream
    # delivered that result, the head must hear of the death
    last_done: tuple[bytes, int] | None = None
    functions: set[bytes] = field(default_factory=set)  # function ids it has been sent
    backlog: list[Send] = field(default_factory=list)  # frames held until its hello


class PoolState:
    def __init__(self, size: int) -> None:
        self.size = size  # pooled executors kept at least
        self.executors: dict[int, Executor] = {}
        self.idle: deque[Executor] = deque()
        self.starting = 0  # pooled executors that have not said hello
        self.waiting: deque[TaskAssigned] = deque()  # normal tasks with no executor yet
        self.actors: dict[bytes, Executor] = {}
        self.functions: dict[bytes, bytes] = {}  # function id -> code, as the head sent it once
        self.started = False
        self.closing = False
        self._next_id = 1

    def handle(self, *events: Event) -> list[Instruction]:
        out: list[Instruction] = []
        for event in events:
            _HANDLERS[type(event)](self, event, out)
        return out

    # ---- readers -------------------------------------------------------------

    def running(self) -> list[Any]:
        """Normal tasks given to this node and not finished: running or waiting for an executor."""
        started = [e.payload for e in self.executors.values() if e.payload is not None]
        return started + [t.payload for t in self.waiting]

    def live_actors(self) -> list[tuple[bytes, int]]:
        """(actor id, incarnation) of every actor with an executor here."""
        return [(actor_id, ex.attempt) for actor_id, ex in self.actors.items()]

    def pooled(self) -> int:
        return sum(1 for e in self.executors.values() if not e.actor_id)

    # ---- events ----------------------------------------------------------------

    def _pool_started(self, event: PoolStarted, out: list[Instruction]) -> None:
        self.started = True
        for _ in range(self.size):
            self._spawn_pooled(out)

    def _task_assigned(self, event: TaskAssigned, out: list[Instruction]) -> None:
        self._learn(event.function_id, event.function)
        if self.idle:
            self._give(self.idle.popleft(), event, out)
            return
        self.waiting.append(event)
        if len(self.waiting) > self.starting:
            self._spawn_pooled(out)

    def _actor_creation_assigned(self, event: ActorCreationAssigned, out: list[Instruction]) -> None:
        self._learn(event.function_id, event.function)
        ex = self.idle.popleft() if self.idle else self._spawn(out)
        ex.actor_id = event.actor_id
        ex.attempt = event.attempt
        # an older incarnation's executor may still be here; its death then finds another in its place
        self.actors[event.actor_id] = ex
        self._send(ex, event.function_id, event.payload, out)
        if self.pooled() < self.size:
            self._spawn_pooled(out)

    def _actor_call_assigned(self, event: ActorCallAssigned, out: list[Instruction]) -> None:
        self._learn(event.function_id, event.function)
        ex = self.actors.get(event.actor_id)
        if ex is None:
            out.append(BounceActorCall(event.payload))
            return
        self._send(ex, event.function_id, event.payload, out)

    def _executor_started(self, event: ExecutorStarted, out: list[Instruction]) -> None:
        ex = self.executors[event.executor]
        ex.pid = event.pid
        if ex.killed or self.closing:
            # killed before its process existed: the Kill found nothing to signal
            out.append(Kill(ex.id))

    def _executor_said_hello(self, event: ExecutorSaidHello, out: list[Instruction]) -> None:
        ex = self.executors[event.executor]
        ex.ready = True
        out.extend(ex.backlog)
        ex.backlog.clear()
        if not ex.actor_id:
            self.starting -= 1
            self._became_idle(ex, out)

    def _result_reported(self, event: ResultReported, out: list[Instruction]) -> None:
        self._finished(self.executors[event.executor], done=False, out=out)
        out.append(ForwardResult(event.result))

    def _done_reported(self, event: DoneReported, out: list[Instruction]) -> None:
        self._finished(self.executors[event.executor], done=True, out=out)

    def _finished(self, ex: Executor, done: bool, out: list[Instruction]) -> None:
        if ex.actor_id:
            return  # an actor's executor runs its calls; it is never idle
        if done:
            ex.last_done = (ex.task_id, ex.attempt)
        ex.task_id = b""
        ex.payload = None
        self._became_idle(ex, out)

    def _executor_exited(self, event: ExecutorExited, out: list[Instruction]) -> None:
        ex = self.executors.pop(event.executor)
        if ex in self.idle:
            self.idle.remove(ex)
        if not ex.ready and not ex.actor_id:
            self.starting -= 1
        if ex.actor_id and self.actors.get(ex.actor_id) is ex:
            del self.actors[ex.actor_id]
        if self.closing:
            return
        out.append(ReleaseReservations(ex.pid))
        reason = event.reason
        if ex.actor_id:
            if not ex.killed:
                if ex.exit_reason:
                    out.append(ReportDeath(b"", ex.actor_id, ex.attempt, ex.exit_reason, intentional=True))
                else:
                    out.append(ReportDeath(b"", ex.actor_id, ex.attempt, reason))
        elif ex.task_id:
            out.append(ReportDeath(ex.task_id, b"", ex.attempt, reason))
        if ex.last_done is not None and not ex.actor_id:
            task_id, attempt = ex.last_done
            out.append(ReportDeath(task_id, b"", attempt, reason))
        elif not ex.actor_id and not ex.task_id:
            out.append(Warn(f"idle executor pid {ex.pid} exited: {reason}"))
        # tasks waiting for an executor need one starting each: the one that died
        # may have been started for them (before it said hello)
        if self.pooled() < self.size or len(self.waiting) > self.starting:
            self._spawn_pooled(out)

    def _exit_announced(self, event: ExitAnnounced, out: list[Instruction]) -> None:
        ex = self.executors.get(event.executor)
        if ex is not None and ex.actor_id:
            ex.exit_reason = event.reason or "it exited on purpose"

    def _actor_kill_requested(self, event: ActorKillRequested, out: list[Instruction]) -> None:
        ex = self.actors.pop(event.actor_id, None)
        if ex is not None:
            ex.killed = True  # the head asked for it and already knows
            if ex.pid:
                out.append(Kill(ex.id))  # else when its process starts

    def _pool_stopping(self, event: PoolStopping, out: list[Instruction]) -> None:
        self.closing = True
        out.extend(Kill(ex.id) for ex in self.executors.values() if ex.pid)  # the others die as they start

    # ---- helpers ---------------------------------------------------------------

    def _learn(self, function_id: bytes, function: bytes) -> None:
        if function:
            self.functions[function_id] = function

    def _spawn(self, out: list[Instruction]) -> Executor:
        ex = Executor(self._next_id)
        self._next_id += 1
        self.executors[ex.id] = ex
        out.append(Spawn(ex.id))
        return ex

    def _spawn_pooled(self, out: list[Instruction]) -> None:
        self.starting += 1
        self._spawn(out)

    def _became_idle(self, ex: Executor, out: list[Instruction]) -> None:
        if self.waiting:
            self._give(ex, self.waiting.popleft(), out)
        else:
            self.idle.append(ex)

    def _give(self, ex: Executor, task: TaskAssigned, out: list[Instruction]) -> None:
        ex.payload = task.payload
        ex.task_id = task.task_id
        ex.attempt = task.attempt
        self._send(ex, task.function_id, task.payload, out)

    def _send(self, ex: Executor, function_id: bytes, payload: Any, out: list[Instruction]) -> None:
        function = None
        if function_id and function_id not in ex.functions:
            function = self.functions.get(function_id)
            # marked sent even when the code is not here: the executor then asks the head for it
            ex.functions.add(function_id)
        send = Send(ex.id, payload, function)
        if ex.ready:
            out.append(send)
        else:
            ex.backlog.append(send)

    # ---- invariants ------------------------------------------------------------

    def validate(self) -> None:
        for ex_id, ex in self.executors.items():
            assert ex.id == ex_id, f"executor {ex.id} filed as {ex_id}"
            assert not ex.backlog or not ex.ready, f"executor {ex_id} is ready with frames held back"
            assert (ex.payload is None) == (ex.task_id == b""), f"executor {ex_id}: task id without assignment"
            if ex.task_id:
                assert not ex.actor_id and ex.ready, f"executor {ex_id} runs a task but is an actor's or not ready"
        idle_ids = [ex.id for ex in self.idle]
        assert len(set(idle_ids)) == len(idle_ids), f"an executor is idle twice: {idle_ids}"
        for ex in self.idle:
            assert self.executors.get(ex.id) is ex, f"idle executor {ex.id} is not in the pool"
            assert ex.ready and not ex.actor_id and not ex.task_id, f"idle executor {ex.id} is busy or not ready"
        assert not (self.idle and self.waiting), "tasks wait while executors are idle"
        unready = sum(1 for ex in self.executors.values() if not ex.ready and not ex.actor_id)
        assert self.starting == unready, f"starting {self.starting} != {unready} pooled executors without hello"
        for actor_id, ex in self.actors.items():
            assert self.executors.get(ex.id) is ex, f"actor {actor_id.hex()}'s executor is not in the pool"
            assert ex.actor_id == actor_id and not ex.killed, f"actor {actor_id.hex()}'s executor hosts another"
        if self.started and not self.closing:
            assert self.pooled() >= self.size, f"{self.pooled()} pooled executors, fewer than {self.size}"
            # every waiting task has an executor starting for it: none waits behind a blocked one for ever
            assert len(self.waiting) <= self.starting, f"{len(self.waiting)} tasks wait, {self.starting} starting"


_HANDLERS: dict[type, Callable[[PoolState, Any, list[Instruction]], None]] = {
    PoolStarted: PoolState._pool_started,
    TaskAssigned: PoolState._task_assigned,
    ActorCreationAssigned: PoolState._actor_creation_assigned,
    ActorCallAssigned: PoolState._actor_call_assigned,
    ExecutorStarted: PoolState._executor_started,
    ExecutorSaidHello: PoolState._executor_said_hello,
    ResultReported: PoolState._result_reported,
    DoneReported: PoolState._done_reported,
    ExecutorExited: PoolState._executor_exited,
    ExitAnnounced: PoolState._exit_announced,
    ActorKillRequested: PoolState._actor_kill_requested,
    PoolStopping: PoolState._pool_stopping,
}
