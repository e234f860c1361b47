"""Records, events and effects of the head's state machine.

Events are facts that happened (past tense); effects are commands for the
I/O layer. Fields named `value` and `spec` are opaque to the state: the
servicer stores wire messages there and the state passes them through.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from raylite.failures import Failure
from raylite.head.state.placement_model import PlacementGroupCreated, PlacementGroupRemoveRequested
from raylite.head.state.states import ActorState, TaskState
from raylite.labels import Match

# A record's last moves, oldest first, flat: time, name of the state entered, event handled,
# cause, time, ... (states.entries() reads it as StoryEntry tuples; sink.py says why it is flat).
Story = tuple[Any, ...]

NORMAL, ACTOR_CREATION, ACTOR_METHOD = 0, 1, 2
NOT_GENERATOR, STREAMING, DYNAMIC = 0, 1, 2  # TaskRecord.generator (common.proto's GeneratorKind)


@dataclass(slots=True, frozen=True)
class Strategy:
    kind: str = "DEFAULT"  # DEFAULT, SPREAD, NODE_AFFINITY, NODE_LABEL or PLACEMENT_GROUP
    node_id: bytes = b""
    soft: bool = False
    placement_group_id: bytes = b""  # PLACEMENT_GROUP (raylite/head/state/placement.py)
    bundle_index: int = -1  # PLACEMENT_GROUP: -1 for any bundle
    # node labels (raylite/labels.py): only nodes matching every hard one; those matching soft first
    hard_labels: tuple[Match, ...] = ()
    soft_labels: tuple[Match, ...] = ()


DEFAULT_STRATEGY = Strategy()


@dataclass(slots=True)
class ObjectInfo:
    """An object that exists: its value inline, or where it is stored."""

    object_id: bytes
    value: Any = None  # opaque wire value (inline data or location)
    node_id: bytes | None = None  # node whose store holds it; None when inline
    size: int = 0
    is_error: bool = False
    failure: Failure | None = None  # set for errors made by the head
    contained: tuple[bytes, ...] = ()  # refs pickled inside the value: alive while it is


@dataclass(slots=True)
class TaskRecord:
    task_id: bytes
    job_id: bytes
    client_id: bytes  # the submitter, which is pushed the results
    name: str
    kind: int = NORMAL
    resources: dict[str, float] = field(default_factory=dict)
    deps: tuple[bytes, ...] = ()
    num_returns: int = 1
    max_retries: int = 0
    actor_id: bytes = b""
    strategy: Strategy = DEFAULT_STRATEGY
    placement: dict[str, float] = field(default_factory=dict)  # ACTOR_CREATION
    actor_name: str = ""
    actor_namespace: str = ""  # ACTOR_CREATION: where actor_name is registered
    detached: bool = False
    actor_meta: bytes = b""
    function_id: bytes = b""
    max_restarts: int = 0  # ACTOR_CREATION
    max_task_retries: int = 0  # ACTOR_CREATION: for the actor's calls
    borrowed: tuple[bytes, ...] = ()  # refs nested in the arguments
    parent_id: bytes = b""  # the task that submitted it (b"": a driver); recursive cancels follow it
    spec: bytes = b""  # the serialized wire spec, passed to the node as is
    direct_incarnation: int = 0  # a resent direct call: 1 + the actor life it was sent to (direct_calls.py)
    generator: int = NOT_GENERATOR  # STREAMING or DYNAMIC: it yields items (raylite/head/state/streams.py)
    # Scheduling state, owned by the head's components (raylite/head/state/states.py has the moves).
    state: TaskState = TaskState.NEW
    node_id: bytes | None = None
    missing: int = 0
    wait: int = 0  # its latest wait for arguments (TaskTable.dep_waiters entries of older waits are stale)
    retries_left: int = 0
    blocked: bool = False
    attempt: int = 0  # dispatches so far; deaths of older attempts are stale
    pinned: bool = False  # its deps and borrowed refs are counted in HeadState.pins
    cancel: int = 0  # CANCELLED | FORCED | RECURSIVE bits once a cancel reached it running (cancel.py)
    items: int = 0  # a generator's items published so far: objects task_id + 1 .. task_id + items
    story: Story | None = None  # made when it enters the head
    depth: int = 0  # 0: a driver's task; 1 + its parent's for a task submitted by a task
    ready_seq: int = 0  # when it last became READY, in the head's count: the pass serves the oldest first
    running_class: tuple | None = None  # its scheduling class while the pass's placement counts it


@dataclass(slots=True)
class NodeRecord:
    node_id: bytes
    total: dict[str, float]
    available: dict[str, float]
    info: Any = None
    alive: bool = True
    labels: dict[str, str] = field(default_factory=dict)  # with ray.io/node-id (raylite/labels.py)


@dataclass(slots=True)
class ActorRecord:
    actor_id: bytes
    job_id: bytes
    name: str
    detached: bool
    meta: bytes
    # PENDING -> PLACED -> (RESTARTING -> PLACED)* -> DEAD; after a head restart a
    # saved PLACED actor is RECOVERING until its node reports it alive (PLACED) or not
    state: ActorState = ActorState.PENDING
    node_id: bytes | None = None
    creation: TaskRecord | None = None
    restarts_left: int = 0  # -1: forever
    restarts: int = 0
    max_task_retries: int = 0
    held: dict[str, float] = field(default_factory=dict)
    pending: list[TaskRecord] = field(default_factory=list)  # calls before placement
    inflight: dict[bytes, TaskRecord] = field(default_factory=dict)
    death: str = ""
    ready: ObjectInfo | None = None  # its constructor's result, once it returned
    # the latest life of it a rejoining node still ran (and was told to kill): lives
    # placed later are numbered past it, so that its death report is told apart
    seen_attempt: int = 0
    story: Story | None = None
    namespace: str = ""  # where its name is registered (names are unique per namespace)
    # The client that created it (its owner): a non-detached actor dies with it, as in Ray.
    owner: bytes = b""
    # Direct calls: its executor's call port while it is placed and its constructor returned
    # ("" otherwise), and why its latest life ended (quoted to calls that life cut short).
    call_address: str = ""
    last_death: str = ""


# ---- events ---------------------------------------------------------------


@dataclass(slots=True)
class NodeAdded:
    node_id: bytes
    resources: dict[str, float]
    info: Any = None
    # A node rejoining after a head restart: what it still runs and holds.
    running: list[TaskRecord] = field(default_factory=list)  # normal tasks, with their attempt
    live_actors: list[tuple[bytes, int]] = field(default_factory=list)  # (actor id, attempt)
    call_ports: dict[bytes, str] = field(default_factory=dict)  # actor id -> its call port (direct calls)
    labels: dict[str, str] = field(default_factory=dict)  # what it was started with (raylite/labels.py)
    objects: list[ObjectInfo] = field(default_factory=list)  # primary copies in its store
    copies: list[bytes] = field(default_factory=list)  # secondary copies in its store


@dataclass(slots=True)
class HeadRestarted:
    """The head came back from a crash with what it had saved.

    Until RecoveryEnded, nothing is freed (clients have not re-announced their
    refs yet), and nothing is scheduled until every saved node has rejoined.
    """

    actors: list[ActorRecord]
    nodes: list[bytes]  # nodes alive at the crash


@dataclass(slots=True)
class RecoveryEnded:
    """The grace period after a head restart is over: whoever is not back is gone."""


@dataclass(slots=True)
class NodeRemoved:
    node_id: bytes
    reason: str


@dataclass(slots=True)
class ClientConnected:
    client_id: bytes
    job_id: bytes
    is_driver: bool


@dataclass(slots=True)
class ClientDisconnected:
    client_id: bytes


@dataclass(slots=True)
class TaskSubmitted:
    task: TaskRecord


@dataclass(slots=True)
class ObjectsPut:
    objects: list[ObjectInfo]


@dataclass(slots=True)
class ObjectsSubscribed:
    client_id: bytes
    object_ids: list[bytes]


@dataclass(slots=True)
class CallRecorded:
    """A caller's direct actor call was answered (raylite/head/state/direct_calls.py)."""

    task: TaskRecord  # from the call's spec (payload dropped)
    results: list[ObjectInfo]  # only those in a store or holding refs
    error: str
    failed: bool
    node_id: bytes
    started: float
    finished: float


@dataclass(slots=True)
class CallsRunning:
    """A caller's direct actor calls still unanswered a record window after it sent them
    (raylite/head/state/direct_calls.py: RunningCalls)."""

    client_id: bytes
    calls: list[tuple[TaskRecord, float]]  # (the call, payload dropped; when the caller sent it)


@dataclass(slots=True)
class TaskFinished:
    node_id: bytes
    task_id: bytes
    results: list[ObjectInfo]
    error_summary: str = ""
    retryable: bool = False  # the error matches the task's retry_exceptions
    call_address: str = ""  # an actor creation's: its executor's call port (direct calls), "" for none


@dataclass(slots=True)
class ExecutorDied:
    node_id: bytes
    task_id: bytes
    actor_id: bytes
    reason: str
    attempt: int = 0  # 0: unknown (matches any attempt)
    intentional: bool = False  # an actor's process ended itself on purpose: never restarted


@dataclass(slots=True)
class ObjectCopiesChanged:
    """A node pulled secondary copies of objects, or evicted some."""

    node_id: bytes
    added: list[bytes]
    removed: list[bytes]


@dataclass(slots=True)
class TaskBlockChanged:
    task_id: bytes
    blocked: bool


@dataclass(slots=True)
class ActorKillRequested:
    actor_id: bytes
    reason: str = "killed by raylite.kill()"
    no_restart: bool = True


@dataclass(slots=True)
class CancelRequested:
    """A client called cancel() on a ref: the task returning object_id is to stop (raylite/head/state/cancel.py)."""

    client_id: bytes
    object_id: bytes
    force: bool = False
    recursive: bool = True
    direct_call: bool = False  # a call its caller made direct: the head never had it, only its children


@dataclass(slots=True)
class RefsChanged:
    """A client started (held=True) or stopped holding ObjectRefs, in this order."""

    client_id: bytes
    changes: list[tuple[bytes, bool]]


@dataclass(slots=True)
class GeneratorItemReported:
    """A generator task yielded item `index` (object task_id + index + 1), reported by client_id."""

    node_id: bytes
    client_id: bytes  # the executor's client stream that reported it
    task_id: bytes
    index: int
    info: ObjectInfo


@dataclass(slots=True)
class GeneratorConsumed:
    """The caller of a STREAMING generator task has taken `consumed` items out of it."""

    client_id: bytes
    task_id: bytes
    consumed: int


@dataclass(slots=True)
class StreamReceivedReported:
    """A caller reconnecting said which items of a STREAMING task it has: those below `arrived`
    but for `missing` (raylite/head/state/streams.py)."""

    client_id: bytes
    task_id: bytes
    arrived: int
    missing: frozenset[int]


@dataclass(slots=True)
class PullsReported:
    """A node said how far its long pulls got; only explanations read it (explain.py)."""

    node_id: bytes
    pulls: list[tuple[bytes, int, int, float, bool]]  # (object id, received, total, elapsed s, done)


# ---- effects --------------------------------------------------------------


@dataclass(slots=True)
class Dispatch:
    node_id: bytes
    task: TaskRecord
    args: list[ObjectInfo]


@dataclass(slots=True)
class Deliver:
    client_id: bytes
    obj: ObjectInfo


@dataclass(slots=True)
class KillActor:
    node_id: bytes
    actor_id: bytes


@dataclass(slots=True)
class FreeObject:
    """Nothing references the object any more: delete it from the node's store."""

    node_id: bytes
    object_id: bytes


@dataclass(slots=True)
class PromoteObject:
    """The node's secondary copy is now the object's primary (the primary's node died):
    keep it as the node keeps what it made (spill it when full, never evict it)."""

    node_id: bytes
    object_id: bytes


@dataclass(slots=True)
class ActorChanged:
    """An actor's durable state changed: save it (or forget it, once it is DEAD)."""

    actor_id: bytes


@dataclass(slots=True)
class CancelTask:
    """Stop a task (or actor call, naming its actor) the node was given; force: kill its executor."""

    node_id: bytes
    task_id: bytes
    actor_id: bytes = b""
    force: bool = False


@dataclass(slots=True)
class CancelRefused:
    """Tell a client its cancel() named nothing the cluster knows, or forced an actor call."""

    client_id: bytes
    object_id: bytes
    actor_call: bool = False


@dataclass(slots=True)
class GeneratorProgressed:
    """Tell the executor (client_id) running a STREAMING generator how far its caller got
    (backpressure); NO_LIMIT once the caller dropped the generator."""

    client_id: bytes
    task_id: bytes
    consumed: int


NO_LIMIT = 2**32 - 1  # GeneratorProgressed.consumed of a generator nobody consumes any more


@dataclass(slots=True)
class Warn:
    client_id: bytes
    message: str


Event = (
    NodeAdded
    | NodeRemoved
    | CallRecorded
    | CallsRunning
    | ClientConnected
    | ClientDisconnected
    | TaskSubmitted
    | ObjectsPut
    | ObjectsSubscribed
    | TaskFinished
    | ExecutorDied
    | TaskBlockChanged
    | ActorKillRequested
    | ObjectCopiesChanged
    | RefsChanged
    | CancelRequested
    | HeadRestarted
    | RecoveryEnded
    | PlacementGroupCreated
    | PlacementGroupRemoveRequested
    | GeneratorItemReported
    | GeneratorConsumed
    | StreamReceivedReported
    | PullsReported
)
Effect = (
    Dispatch
    | Deliver
    | KillActor
    | Warn
    | FreeObject
    | ActorChanged
    | PromoteObject
    | CancelTask
    | CancelRefused
    | GeneratorProgressed
)
