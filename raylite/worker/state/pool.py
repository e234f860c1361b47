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
if the pool is at its size: it may have been the one started for them. A
task takes the executor that went idle last (Ray's order): after such a
burst the few executors in use stay warm and the rest stay idle, until they
retire (below).

Executors past the pool's size (started for tasks blocked in `get`) do not
stay for the daemon's life: while the pool is past its size the shell sends an
`IdleTick` every config.IDLE_TICK_S, and an executor idle for a whole tick is
retired (`Retire`), longest idle first, until the pool is back at its size
(Ray's worker pool likewise ends idle workers above its soft limit after
about a second). Tasks take the executor that went idle last, so the ones
retired are the ones nothing used.

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

Runtime environments. Every executor runs in one environment for its whole
life, named by a key (the canonical JSON of the task's runtime_env, "" for
none; raylite/runtime_env/spec.py), and only tasks and actors of that
environment go to it: idle executors, waiting tasks and executors starting
for them are matched by key. The pool is prestarted and refilled in the
default environment. A task of another environment that finds no idle
executor of its own starts one (`Spawn` carries the key and the opaque
setup the shell needs); when that takes the pool past its size, an idle
executor of another environment is retired (`Retire`: it finishes what it
sent and exits), so the pool's size holds as environments come and go.
Max calls (Ray's max_calls, `TaskAssigned.max_calls`). An executor counts the
calls of each function it finished; one that finished a function's max_calls
is retired instead of becoming idle (`Retire`: it flushes what its client still
holds, the last result included, and exits), and the pool starts another in
its place, as for any executor that leaves the pool. Its exit is not warned
about and reports no death of its own; one that delivered its last result on
its client's stream (DONE) reports that task, as every such exit does, and the
head ignores the report for a task it has the result of.
An executor sets its environment up before its hello; when that fails
(`ExecutorSetupFailed`) the tasks waiting for its environment, or the actor
whose creation waits in its backlog, fail with the error (`FailSetup`)
instead of waiting for an executor that cannot come.
Cancels (`CancelRequested`, from the head's CancelTask). A normal task still
waiting for an executor leaves the queue and is answered TaskCancelledError
here (`AnswerCancelled`); one an executor runs is interrupted there
(`Interrupt`, on the executor's control socket), or with force its executor
is killed, and its death is reported as any death is (the head knows it
cancelled the task and does not retry it). An actor call goes to the
actor's executor, which alone knows whether the call waits, runs or is
done. A cancel of anything else (finished, its executor already dead) is
dropped: what the head hears of that task is already on its way.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from raylite.worker.state.pool_messages import (  # re-exported: pool.X names every message
    ActorCallAssigned as ActorCallAssigned,
)
from raylite.worker.state.pool_messages import (
    ActorCreationAssigned as ActorCreationAssigned,
)
from raylite.worker.state.pool_messages import (
    ActorKillRequested as ActorKillRequested,
)
from raylite.worker.state.pool_messages import (
    AnswerCancelled as AnswerCancelled,
)
from raylite.worker.state.pool_messages import (
    BounceActorCall as BounceActorCall,
)
from raylite.worker.state.pool_messages import (
    CallPortOpened as CallPortOpened,
)
from raylite.worker.state.pool_messages import (
    CancelRequested as CancelRequested,
)
from raylite.worker.state.pool_messages import (
    DoneReported as DoneReported,
)
from raylite.worker.state.pool_messages import (
    Event as Event,
)
from raylite.worker.state.pool_messages import (
    ExecutorExited as ExecutorExited,
)
from raylite.worker.state.pool_messages import (
    ExecutorSaidHello as ExecutorSaidHello,
)
from raylite.worker.state.pool_messages import (
    ExecutorSetupFailed as ExecutorSetupFailed,
)
from raylite.worker.state.pool_messages import (
    ExecutorStarted as ExecutorStarted,
)
from raylite.worker.state.pool_messages import (
    ExitAnnounced as ExitAnnounced,
)
from raylite.worker.state.pool_messages import (
    FailSetup as FailSetup,
)
from raylite.worker.state.pool_messages import (
    ForwardResult as ForwardResult,
)
from raylite.worker.state.pool_messages import (
    IdleTick as IdleTick,
)
from raylite.worker.state.pool_messages import (
    Instruction as Instruction,
)
from raylite.worker.state.pool_messages import (
    Interrupt as Interrupt,
)
from raylite.worker.state.pool_messages import (
    Kill as Kill,
)
from raylite.worker.state.pool_messages import (
    PoolStarted as PoolStarted,
)
from raylite.worker.state.pool_messages import (
    PoolStopping as PoolStopping,
)
from raylite.worker.state.pool_messages import (
    ReleaseReservations as ReleaseReservations,
)
from raylite.worker.state.pool_messages import (
    ReportDeath as ReportDeath,
)
from raylite.worker.state.pool_messages import (
    ResultReported as ResultReported,
)
from raylite.worker.state.pool_messages import (
    Retire as Retire,
)
from raylite.worker.state.pool_messages import (
    Send as Send,
)
from raylite.worker.state.pool_messages import (
    Spawn as Spawn,
)
from raylite.worker.state.pool_messages import (
    TaskAssigned as TaskAssigned,
)
from raylite.worker.state.pool_messages import (
    Warn as Warn,
)


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
    env: str = ""  # the runtime environment it runs in
    retired: bool = False  # asked to exit: no longer counted in the pool
    setup_failed: bool = False  # its environment could not be set up: it exits without running anything
    cancelled: bool = False  # killed by a forced cancel of its task (said in the death's reason)
    exit_reason: str = ""  # its actor announced that it ends on purpose, and why
    call_address: str = ""  # its actor's call port (direct calls), for a restarted head
    # the last task it reported DONE: if it dies before its client's stream
    # delivered that result, the head must hear of the death
    last_done: tuple[bytes, int] | None = None
    functions: set[bytes] = field(default_factory=set)  # function ids it has been sent
    idle_ticks: int = 0  # IdleTicks since it last became idle
    function_id: bytes = b""  # of the normal task it runs now
    max_calls: int = 0  # ... and that function's max_calls (0: no limit)
    calls: dict[bytes, int] = field(default_factory=dict)  # function id -> its calls finished, when limited
    backlog: list[Send] = field(default_factory=list)  # frames held until its hello


class PoolState:
    def __init__(self, size: int) -> None:
        self.size = size  # pooled executors kept at least
        self.executors: dict[int, Executor] = {}
        self.idle: deque[Executor] = deque()
        self.waiting: deque[TaskAssigned] = deque()  # normal tasks with no executor yet
        self.setups: dict[str, Any] = {}  # environment key -> how its executors are set up
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

    def call_ports(self) -> dict[bytes, str]:
        """Actor id -> its call port, of the actors here that opened one."""
        return {actor_id: ex.call_address for actor_id, ex in self.actors.items() if ex.call_address}

    def pooled(self) -> int:
        return sum(1 for e in self.executors.values() if not e.actor_id and not e.retired)

    def starting(self, env: str | None = None) -> int:
        """Pooled executors (of environment env, or of all) that have not said hello and still may."""
        return sum(
            1
            for e in self.executors.values()
            if not e.ready and not e.actor_id and not e.setup_failed and (env is None or e.env == env)
        )

    def waiting_for(self, env: str) -> int:
        return sum(1 for t in self.waiting if t.env == env)

    # ---- events ----------------------------------------------------------------

    def _pool_started(self, event: PoolStarted, out: list[Instruction]) -> None:
        self.started = True
        for _ in range(self.size):
            self._spawn_pooled(out)

    def _task_assigned(self, event: TaskAssigned, out: list[Instruction]) -> None:
        self._learn(event.function_id, event.function)
        self._learn_setup(event.env, event.setup)
        ex = self._take_idle(event.env)
        if ex is not None:
            self._give(ex, event, out)
            return
        self.waiting.append(event)
        if self.waiting_for(event.env) > self.starting(event.env):
            self._spawn_pooled(out, event.env)
            self._make_room(event.env, out)

    def _actor_creation_assigned(self, event: ActorCreationAssigned, out: list[Instruction]) -> None:
        self._learn(event.function_id, event.function)
        self._learn_setup(event.env, event.setup)
        ex = self._take_idle(event.env) or self._spawn(out, event.env)
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
            self._became_idle(ex, out)

    def _executor_setup_failed(self, event: ExecutorSetupFailed, out: list[Instruction]) -> None:
        ex = self.executors[event.executor]
        ex.setup_failed = True
        if ex.actor_id and ex.killed:
            ex.backlog.clear()  # killed at the head's request before it started: the head knows
            return
        if ex.actor_id:
            # its creation waits in its backlog (calls may wait behind it): the creation fails,
            # the calls bounce to the head, which hears of the actor's end from the creation
            ex.killed = True
            if self.actors.get(ex.actor_id) is ex:
                del self.actors[ex.actor_id]
            for i, send in enumerate(ex.backlog):
                out.append(
                    FailSetup(send.payload, event.message, actor=True) if i == 0 else BounceActorCall(send.payload)
                )
            ex.backlog.clear()
            return
        # every task waiting for this environment would meet the same error
        failed = [t for t in self.waiting if t.env == ex.env]
        if failed:
            self.waiting = deque(t for t in self.waiting if t.env != ex.env)
            out.extend(FailSetup(t.payload, event.message, actor=False) for t in failed)

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
        if ex.max_calls:
            calls = ex.calls[ex.function_id] = ex.calls.get(ex.function_id, 0) + 1
            if calls >= ex.max_calls:
                self._retire_spent(ex, out)
                return
        self._became_idle(ex, out)

    def _retire_spent(self, ex: Executor, out: list[Instruction]) -> None:
        """An executor that ran its function's max_calls leaves the pool; another takes its place."""
        ex.retired = True
        out.append(Retire(ex.id))
        if self.waiting_for(ex.env) > self.starting(ex.env):
            self._spawn_pooled(out, ex.env)
        if self.pooled() < self.size:
            self._spawn_pooled(out, "")

    def _executor_exited(self, event: ExecutorExited, out: list[Instruction]) -> None:
        ex = self.executors.pop(event.executor)
        if ex in self.idle:
            self.idle.remove(ex)
        if ex.actor_id and self.actors.get(ex.actor_id) is ex:
            del self.actors[ex.actor_id]
        if self.closing:
            return
        out.append(ReleaseReservations(ex.pid))
        reason = event.reason
        if ex.cancelled:
            reason = f"{reason}, by cancel(force=True)"
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
        elif not ex.actor_id and not ex.task_id and not ex.retired and not ex.setup_failed:
            out.append(Warn(f"idle executor pid {ex.pid} exited: {reason}"))
        # tasks waiting for an executor need one starting each: the one that died
        # may have been started for them (before it said hello)
        for env in dict.fromkeys(t.env for t in self.waiting):
            if self.waiting_for(env) > self.starting(env):
                self._spawn_pooled(out, env)
        if self.pooled() < self.size:
            self._spawn_pooled(out, "")

    def _call_port_opened(self, event: CallPortOpened, out: list[Instruction]) -> None:
        ex = self.executors.get(event.executor)
        if ex is not None and ex.actor_id:
            ex.call_address = event.address

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

    def _cancel_requested(self, event: CancelRequested, out: list[Instruction]) -> None:
        if event.actor_id:
            ex = self.actors.get(event.actor_id)
            if ex is not None:
                out.append(Interrupt(ex.id, event.task_id))  # (before its hello: read after it)
            return
        for task in self.waiting:
            if task.task_id == event.task_id:
                self.waiting.remove(task)
                out.append(AnswerCancelled(task.payload))
                return
        for ex in self.executors.values():
            if ex.task_id == event.task_id:
                if event.force:
                    if not ex.cancelled:
                        ex.cancelled = True
                        out.append(Kill(ex.id))
                else:
                    out.append(Interrupt(ex.id, event.task_id))
                return

    def _pool_stopping(self, event: PoolStopping, out: list[Instruction]) -> None:
        self.closing = True
        out.extend(Kill(ex.id) for ex in self.executors.values() if ex.pid)  # the others die as they start

    # ---- helpers ---------------------------------------------------------------

    def _idle_tick(self, event: IdleTick, out: list[Instruction]) -> None:
        """Executors idle for a whole tick go, longest idle first, while the pool is past its size."""
        for ex in self.idle:
            ex.idle_ticks += 1
        excess = self.pooled() - self.size
        for ex in list(self.idle):  # (oldest idle first: _take_idle takes from the other end)
            if excess <= 0:
                break
            if ex.idle_ticks >= 2:
                self._retire_idle(ex, out)
                excess -= 1

    def over_size(self) -> bool:
        """More pooled executors than its size: the shell sends IdleTicks until it is not."""
        return self.pooled() > self.size and not self.closing

    def _learn(self, function_id: bytes, function: bytes) -> None:
        if function:
            self.functions[function_id] = function

    def _learn_setup(self, env: str, setup: Any) -> None:
        if env and setup is not None:
            self.setups[env] = setup

    def _spawn(self, out: list[Instruction], env: str = "") -> Executor:
        ex = Executor(self._next_id, env=env)
        self._next_id += 1
        self.executors[ex.id] = ex
        out.append(Spawn(ex.id, env, self.setups.get(env) if env else None))
        return ex

    def _spawn_pooled(self, out: list[Instruction], env: str = "") -> None:
        self._spawn(out, env)

    def _take_idle(self, env: str) -> Executor | None:
        """The idle executor of the environment that went idle last, taken out of the idle queue.

        Last in, first out, as Ray's worker pool: after a burst grew the pool (tasks blocked in
        get), later tasks keep to the executors just used, which hold their functions' code and
        imports; the oldest first would cycle every task through all of them, each paying those
        costs again (docs/performance.md, "Ordinary programs against Ray")."""
        for ex in reversed(self.idle):
            if ex.env == env:
                self.idle.remove(ex)
                return ex
        return None

    def _make_room(self, env: str, out: list[Instruction]) -> None:
        """Past its size, the pool retires an idle executor of another environment."""
        if self.pooled() <= self.size:
            return
        for ex in self.idle:
            if ex.env != env:
                self._retire_idle(ex, out)
                return

    def _retire_idle(self, ex: Executor, out: list[Instruction]) -> None:
        self.idle.remove(ex)
        ex.retired = True
        out.append(Retire(ex.id))

    def _became_idle(self, ex: Executor, out: list[Instruction]) -> None:
        ex.idle_ticks = 0
        for i, task in enumerate(self.waiting):
            if task.env == ex.env:
                del self.waiting[i]
                self._give(ex, task, out)
                return
        self.idle.append(ex)

    def _give(self, ex: Executor, task: TaskAssigned, out: list[Instruction]) -> None:
        ex.payload = task.payload
        ex.task_id = task.task_id
        ex.attempt = task.attempt
        ex.function_id = task.function_id
        ex.max_calls = task.max_calls
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
        idle_envs = {ex.env for ex in self.idle}
        assert not any(t.env in idle_envs for t in self.waiting), "tasks wait while executors of theirs are idle"
        for ex in self.idle:
            assert not ex.retired and not ex.setup_failed, f"idle executor {ex.id} is retired or failed"
            spent = ex.max_calls and ex.calls.get(ex.function_id, 0) >= ex.max_calls
            assert not spent, f"idle executor {ex.id} ran its function's max_calls and was not retired"
        for actor_id, ex in self.actors.items():
            assert self.executors.get(ex.id) is ex, f"actor {actor_id.hex()}'s executor is not in the pool"
            assert ex.actor_id == actor_id and not ex.killed, f"actor {actor_id.hex()}'s executor hosts another"
        if self.started and not self.closing:
            assert self.pooled() >= self.size, f"{self.pooled()} pooled executors, fewer than {self.size}"
            # every waiting task has an executor of its environment starting for it: none waits
            # behind a blocked one for ever
            for env in {t.env for t in self.waiting}:
                waiting, starting = self.waiting_for(env), self.starting(env)
                assert waiting <= starting, f"{waiting} tasks of env {env!r} wait, {starting} starting"


_HANDLERS: dict[type, Callable[[PoolState, Any, list[Instruction]], None]] = {
    PoolStarted: PoolState._pool_started,
    TaskAssigned: PoolState._task_assigned,
    ActorCreationAssigned: PoolState._actor_creation_assigned,
    ActorCallAssigned: PoolState._actor_call_assigned,
    ExecutorStarted: PoolState._executor_started,
    ExecutorSaidHello: PoolState._executor_said_hello,
    ExecutorSetupFailed: PoolState._executor_setup_failed,
    ResultReported: PoolState._result_reported,
    DoneReported: PoolState._done_reported,
    ExecutorExited: PoolState._executor_exited,
    ExitAnnounced: PoolState._exit_announced,
    CallPortOpened: PoolState._call_port_opened,
    ActorKillRequested: PoolState._actor_kill_requested,
    CancelRequested: PoolState._cancel_requested,
    PoolStopping: PoolState._pool_stopping,
    IdleTick: PoolState._idle_tick,
}
