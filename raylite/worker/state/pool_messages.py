"""The messages of the executor pool's core (raylite/worker/state/pool.py): the events the
I/O shell (raylite/worker/executor_pool.py) feeds it, and the instructions it returns.

Events are facts, in the past tense; instructions are what the shell does, in order.
Both are imported through pool.py (`pool.TaskAssigned`, `pool.Spawn`), which says
what each means for the pool.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    env: str = ""  # its runtime environment's key ("" the default)
    setup: Any = None  # opaque: what an executor of that environment is started with
    max_calls: int = 0  # the executor that ran this many calls of the function exits (0: never)


@dataclass(slots=True)
class ActorCreationAssigned:
    actor_id: bytes
    attempt: int  # the actor's incarnation
    function_id: bytes
    function: bytes
    payload: Any
    env: str = ""
    setup: Any = None


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
class ExecutorSetupFailed:
    """The executor could not set its runtime environment up; it exits next."""

    executor: int
    message: str


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
class CallPortOpened:
    """The actor the executor hosts opened its call port (direct calls) at `address`."""

    executor: int
    address: str


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
class CancelRequested:
    """The head cancelled a task (or, with actor_id, an actor call) it gave this node."""

    task_id: bytes
    actor_id: bytes = b""
    force: bool = False  # kill the executor that runs it (normal tasks)


@dataclass(slots=True)
class PoolStopping:
    """The daemon is stopping: every executor goes, and nobody needs to hear of it."""


@dataclass(slots=True)
class IdleTick:
    """A tick of the shell's clock (config.IDLE_TICK_S), sent only while the pool is past its size."""


Event = (
    PoolStarted
    | TaskAssigned
    | ActorCreationAssigned
    | ActorCallAssigned
    | ExecutorStarted
    | ExecutorSaidHello
    | ExecutorSetupFailed
    | ResultReported
    | DoneReported
    | ExecutorExited
    | ExitAnnounced
    | CallPortOpened
    | ActorKillRequested
    | CancelRequested
    | PoolStopping
    | IdleTick
)


# ---- instructions (commands for the shell) -------------------------------------------


@dataclass(slots=True)
class Spawn:
    """Start an executor process, to be known as `executor`, in environment `env` (set up from `setup`)."""

    executor: int
    env: str = ""
    setup: Any = None


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
class Retire:
    """Ask an idle executor to exit once it has sent everything (its place goes to another
    environment, or it ran its function's max_calls)."""

    executor: int


@dataclass(slots=True)
class FailSetup:
    """Fail a task (or an actor's creation) with RuntimeEnvSetupError: its environment cannot be set up."""

    payload: Any
    message: str
    actor: bool


@dataclass(slots=True)
class ForwardResult:
    result: Any


@dataclass(slots=True)
class BounceActorCall:
    """Answer the call with a retryable ActorDiedError: its actor has no executor here."""

    payload: Any


@dataclass(slots=True)
class Interrupt:
    """Ask an executor to stop a task or call it was sent (on its control socket)."""

    executor: int
    task_id: bytes


@dataclass(slots=True)
class AnswerCancelled:
    """Answer a task that never reached an executor with TaskCancelledError."""

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


Instruction = (
    Spawn
    | Send
    | Kill
    | Retire
    | FailSetup
    | ForwardResult
    | BounceActorCall
    | ReportDeath
    | ReleaseReservations
    | Warn
    | Interrupt
    | AnswerCancelled
)


# ---- state ---------------------------------------------------------------------
