"""Why is a get waiting: the head's state read back as reasons, one line per cause.

Theory of operation
-------------------
`explain(state, ids, now)` takes object ids (or task or actor ids: whatever a
user has at hand) and returns an `Explanation`: lines (`Reason`) that say what
each is waiting for, following a chain of dependencies down to the task at
its bottom (the root cause: the one running, queued, infeasible or waiting for
its actor), and counts of the root causes over all the ids asked about.

It only reads the state: no clock (the servicer passes `now`), no I/O, so each
cause is unit-tested from a HeadState built by events (tests/unit/test_explain.py).
Two callers: a client whose get or wait has waited past
config.WAIT_EXPLAIN_S asks through GetStateView (view "explain"), and
`raylite explain`, raylite.util.state.explain() and the dashboard's
/api/explain ask the same on demand.

Bounds, so that the answer stays short and cheap whatever is asked: a chain is
followed at most MAX_DEPTH tasks deep, at most MAX_ARGS missing arguments of
a task are followed (MAX_LINES in all per id), and only the first MAX_DETAILED
ids get lines; every other id is counted by its root cause, following one
argument per task (memoized per task, and queue positions computed once per
scheduling class, so explaining 10,000 refs stays linear).

Transfers: the worker daemons report pulls that take long (NodeBatch field
`pulls`, raylite/worker/state/pull_progress.py says why reports rather than
asking on demand); HeadState keeps the latest per object (`transfers`,
dropped when the pull ends or its node dies), and explain reads them.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from raylite import labels
from raylite import resources as res
from raylite.head.state import scheduler
from raylite.head.state.model import ACTOR_CREATION, ACTOR_METHOD, ActorRecord, TaskRecord
from raylite.head.state.scheduling_pass import class_key
from raylite.head.state.states import ActorState, TaskState
from raylite.ids import task_of

if TYPE_CHECKING:
    from raylite.head.state.head_state import HeadState

MAX_DEPTH = 8
MAX_ARGS = 3
MAX_DETAILED = 5
MAX_LINES = 40  # argument lines per detailed id (a tree of waiting tasks could have 3**8)

# Kinds of reasons (the root cause of an id is the kind of the last line of its chain).
RUNNING = "running"
QUEUED = "queued"  # waits for resources that are busy now
INFEASIBLE = "infeasible"  # no node could ever run it
WAITING_ARG = "waiting_for_argument"
ACTOR = "actor"  # waits for its actor (pending, restarting, recovering)
ACTOR_DEAD = "actor_dead"
PLACEMENT_GROUP = "placement_group"
TRANSFER = "transfer"
AVAILABLE = "available"  # the object exists: the reader has it or is about to
UNKNOWN = "unknown"
RECOVERING = "head_recovering"


@dataclass(slots=True, frozen=True)
class Transfer:
    """A pull in progress, as its node last reported it."""

    node_id: bytes  # the node pulling the object
    received: int
    total: int
    started: float  # the time the pull began (the head's clock)


@dataclass(slots=True, frozen=True)
class Reason:
    kind: str
    text: str
    depth: int = 0  # 0: about an id asked for; n: n steps down its chain of arguments
    subject: str = ""  # hex id of the object, task or actor the line is about


@dataclass(slots=True)
class Explanation:
    reasons: list[Reason] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # root cause kind -> ids
    total: int = 0

    def lines(self) -> list[str]:
        """Indented lines for a terminal; a summary line first when not every id got lines."""
        out = []
        if self.total > MAX_DETAILED:
            parts = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in sorted(self.counts.items()))
            out.append(f"{self.total} objects by root cause: {parts}; the first {MAX_DETAILED}:")
        out.extend("  " * r.depth + r.text for r in self.reasons)
        return out

    def as_dict(self) -> dict:
        return {
            "reasons": [{"kind": r.kind, "text": r.text, "depth": r.depth, "subject": r.subject} for r in self.reasons],
            "counts": self.counts,
            "total": self.total,
        }


def explain(
    state: HeadState,
    ids: Iterable[bytes],
    now: float,
    transfers: Mapping[bytes, Transfer] | None = None,
    parked: Iterable[TaskRecord] = (),
) -> Explanation:
    """Reasons why each of `ids` (object, task or actor ids) is not done, at time `now`.
    `parked`: the asking client's tasks it holds back until its own tasks' outputs arrive
    (task leases), which the head does not know: explained as tasks WAITING for those."""
    walker = _Walker(state, now, state.transfers if transfers is None else transfers)
    extra = {t.task_id: t for t in parked}
    if extra or state.leases.running:
        # leased tasks their node reported running, and the asker's parked ones, as if in the table
        walker.tasks = ChainMap(state.tasks, state.leases.running, extra)
    out = Explanation()
    for some_id in dict.fromkeys(ids):
        out.total += 1
        # ids past the detailed ones are only counted: their chains are followed one argument wide
        walker.width, walker.budget = (MAX_ARGS, MAX_LINES) if out.total <= MAX_DETAILED else (1, MAX_DEPTH + 2)
        lines = walker.id_lines(some_id)
        kind = lines[-1].kind if lines else AVAILABLE
        out.counts[kind] = out.counts.get(kind, 0) + 1
        if out.total <= MAX_DETAILED:
            out.reasons.extend(lines)
    return out


def hex_short(some_id: bytes | None) -> str:
    return some_id.hex()[:12] if some_id else "?"


class _Walker:
    def __init__(self, state: HeadState, now: float, transfers: Mapping[bytes, Transfer]) -> None:
        self.state = state
        self.now = now
        self.transfers = transfers
        self._memo: dict[bytes, list[Reason]] = {}  # task id -> its lines at depth 0
        self._queues: dict[tuple, dict[bytes, int]] = {}  # scheduling class -> queue positions
        self.width = MAX_ARGS  # missing arguments followed per task
        self.budget = MAX_LINES  # argument lines left for the id being explained
        self.tasks: Mapping[bytes, TaskRecord] = state.tasks

    def id_lines(self, some_id: bytes) -> list[Reason]:
        state = self.state
        if some_id in state.actors:
            return [self._actor_line(state.actors[some_id], 0)]
        if len(some_id) > 16 and some_id in state.objects:
            return [self._existing(some_id)]
        task_id = task_of(some_id) if len(some_id) > 16 else some_id
        task = self.tasks.get(task_id)
        if task is None and task_id in state.actors:
            return [self._actor_line(state.actors[task_id], 0)]
        if task is None and task_id in state.running_calls:
            call = state.running_calls[task_id]
            return [Reason(RUNNING, f"actor call {call.name} is {self._direct(call)}", 0, task_id.hex())]
        if task is None:
            return [self._unknown(some_id, task_id)]
        return self._task_lines(task, 0, ())

    def _existing(self, oid: bytes) -> Reason:
        info = self.state.objects[oid]
        pull = self.transfers.get(oid)
        subject = oid.hex()
        if pull is not None and pull.received < pull.total:
            return Reason(
                TRANSFER,
                f"object {hex_short(oid)} on node {hex_short(info.node_id)} is being transferred to node "
                f"{hex_short(pull.node_id)}, {mib(pull.received)} of {mib(pull.total)} MiB "
                f"for {self.now - pull.started:.0f} s",
                0,
                subject,
            )
        where = f"on node {hex_short(info.node_id)}" if info.node_id is not None else "inline"
        what = "an error" if info.is_error else f"{info.size:,} bytes"
        return Reason(AVAILABLE, f"object {hex_short(oid)} exists ({what}, {where}): it is being read", 0, subject)

    def _unknown(self, some_id: bytes, task_id: bytes) -> Reason:
        if task_id in self.state.lineage:
            text = (
                f"object {hex_short(some_id)} of task {self.state.lineage[task_id].name}, which finished: "
                "the object is not in the directory (freed, or lost and not rebuilt)"
            )
        else:
            text = (
                f"{hex_short(some_id)} is not known to the head: freed, made by a process that exited, "
                "or not yet submitted"
            )
        return Reason(UNKNOWN, text, 0, some_id.hex())

    # ---- tasks ------------------------------------------------------------------------------

    def _task_lines(self, task: TaskRecord, depth: int, chain: tuple[bytes, ...]) -> list[Reason]:
        """The task's own line, then those of the arguments it waits for (its chain, one deeper)."""
        if depth == 0 and task.task_id in self._memo:
            return self._memo[task.task_id]
        lines = [self._task_line(task, depth)]
        if task.state is TaskState.WAITING:
            lines.extend(self._argument_lines(task, depth + 1, (*chain, task.task_id)))
        elif task.state is TaskState.WAITING_FOR_ACTOR:
            lines.extend(self._actor_chain(task, depth + 1, chain))
        if depth == 0:
            self._memo[task.task_id] = lines
        return lines

    def _task_line(self, task: TaskRecord, depth: int) -> Reason:
        kind, status = self.status(task)
        return Reason(kind, f"{_what(task)} {task.name} is {status}", depth, task.task_id.hex())

    def status(self, task: TaskRecord) -> tuple[str, str]:
        """(kind, phrase) of where a task is: "running on node N for 41 s", "queued: ..."."""
        state = task.state
        if state is TaskState.RUNNING:
            return self._running(task)
        if state is TaskState.READY:
            return self._queued(task)
        if state is TaskState.WAITING:
            deps = len(task.deps)
            return WAITING_ARG, f"waiting for {task.missing} of its {deps} argument{'s' * (deps != 1)}"
        if state is TaskState.WAITING_FOR_ACTOR:
            actor = self.state.actors.get(task.actor_id)
            if actor is None:
                return UNKNOWN, f"waiting for actor {hex_short(task.actor_id)}, which the head does not know"
            kind, phrase = self._actor_status(actor)
            return kind, f"waiting for actor {_actor_name(actor)}, which is {phrase}"
        return UNKNOWN, f"{state.value.lower()}"

    def _running(self, task: TaskRecord) -> tuple[str, str]:
        since = self._since(task, TaskState.RUNNING)
        text = f"running on node {hex_short(task.node_id)}{since}"
        if task.blocked:
            text += " (blocked in get or wait: its CPU is lent out)"
        if task.kind == ACTOR_METHOD:
            actor = self.state.actors.get(task.actor_id)
            if actor is not None and actor.ready is None and actor.state is ActorState.PLACED:
                kind, phrase = self._actor_status(actor)
                return kind, f"sent to actor {_actor_name(actor)}, which is {phrase}"
            ahead = len(actor.inflight) - 1 if actor is not None else 0
            if ahead > 0:
                text += f" ({ahead} other call{'s' * (ahead != 1)} of the actor in flight)"
        return RUNNING, text

    def _direct(self, call: TaskRecord) -> str:
        """A direct call its caller reported unanswered (direct_calls.py: RunningCalls)."""
        actor = self.state.actors.get(call.actor_id)
        name = _actor_name(actor) if actor is not None else hex_short(call.actor_id)
        return f"running on actor {name} (direct call){self._since(call, TaskState.RUNNING).replace(' for', ', for')}"

    def _queued(self, task: TaskRecord) -> tuple[str, str]:
        state = self.state
        since = self._since(task, TaskState.READY)
        if state.recovering:
            return RECOVERING, f"queued{since}: the head restarted and waits for its nodes to rejoin"
        request = task.placement if task.kind == ACTOR_CREATION else task.resources
        shown = dict(sorted(request.items()))
        strategy = task.strategy
        if strategy.kind == "PLACEMENT_GROUP":
            group = state.placement_groups.get(strategy.placement_group_id)
            where = f"{group.state.value}" if group is not None else "unknown"
            return PLACEMENT_GROUP, (
                f"queued{since}: waits for room in placement group {hex_short(strategy.placement_group_id)} "
                f"({where}) for {shown}"
            )
        alive = [n for n in state.nodes.values() if n.alive]
        if not any(res.fits(request, n.total) for n in alive):
            return INFEASIBLE, f"queued{since}: no node has {shown} (infeasible)"
        hard = strategy.hard_labels
        if hard and not scheduler.feasible_anywhere(request, alive, strategy):
            return (
                INFEASIBLE,
                f"queued{since}: no node with {shown} has the labels {labels.describe(hard)} (infeasible)",
            )
        ahead = self._queue_position(task)
        behind = f"; {ahead} task{'s' * (ahead != 1)} ahead of it" if ahead else ""
        if strategy.kind == "NODE_AFFINITY":
            return QUEUED, f"queued{since}: waits for {shown} on node {hex_short(strategy.node_id)}{behind}"
        return QUEUED, f"queued{since}: {_busy(request, alive)}{behind}"

    def _argument_lines(self, task: TaskRecord, depth: int, chain: tuple[bytes, ...]) -> list[Reason]:
        if depth > MAX_DEPTH:
            return [Reason(WAITING_ARG, f"(chain longer than {MAX_DEPTH} tasks: not followed)", depth)]
        objects = self.state.objects
        missing = [d for d in task.deps if d not in objects]
        lines: list[Reason] = []
        followed = missing[: self.width]
        for dep in followed:
            if self.budget <= 0:
                break
            self.budget -= 1
            lines.extend(self._dependency(dep, depth, chain))
        rest = len(missing) - len(followed)
        if rest > 0 and lines and self.width > 1:
            lines.append(Reason(lines[-1].kind, f"... and {rest} more argument{'s' * (rest != 1)}", depth))
        return lines

    def _dependency(self, dep: bytes, depth: int, chain: tuple[bytes, ...]) -> list[Reason]:
        producer = self.tasks.get(task_of(dep))
        direct = self.state.running_calls.get(task_of(dep)) if producer is None else None
        if direct is not None:
            text = f"waiting for argument {hex_short(dep)}, produced by actor call {direct.name}, which is "
            return [Reason(RUNNING, text + self._direct(direct), depth, dep.hex())]
        if producer is None or producer.task_id in chain:
            why = "which the head does not know (a put not arrived yet, or freed)"
            return [Reason(UNKNOWN, f"waiting for argument {hex_short(dep)}, {why}", depth, dep.hex())]
        kind, status = self.status(producer)
        text = (
            f"waiting for argument {hex_short(dep)}, produced by {_what(producer)} {producer.name}, which is {status}"
        )
        lines = [Reason(kind, text, depth, dep.hex())]
        if producer.state is TaskState.WAITING:
            lines.extend(self._argument_lines(producer, depth + 1, (*chain, producer.task_id)))
        elif producer.state is TaskState.WAITING_FOR_ACTOR:
            lines.extend(self._actor_chain(producer, depth + 1, chain))
        return lines

    def _actor_chain(self, call: TaskRecord, depth: int, chain: tuple[bytes, ...]) -> list[Reason]:
        """Below a call waiting for a pending actor: why the actor's creation has not run."""
        actor = self.state.actors.get(call.actor_id)
        creation = self.tasks.get(call.actor_id)
        if actor is None or creation is None or creation.task_id in chain or depth > MAX_DEPTH:
            return []
        if creation.state is TaskState.WAITING:
            return self._argument_lines(creation, depth, (*chain, creation.task_id))
        return []

    # ---- actors -----------------------------------------------------------------------------

    def _actor_line(self, actor: ActorRecord, depth: int) -> Reason:
        kind, phrase = self._actor_status(actor)
        return Reason(kind, f"actor {_actor_name(actor)} is {phrase}", depth, actor.actor_id.hex())

    def _actor_status(self, actor: ActorRecord) -> tuple[str, str]:
        state = actor.state
        creation = self.tasks.get(actor.actor_id)
        if state is ActorState.DEAD:
            return ACTOR_DEAD, f"dead: {actor.death}"
        if state is ActorState.RECOVERING:
            return RECOVERING, "recovering after a head restart (waiting for its node to rejoin)"
        restarting = actor.restarts > 0 and (state is ActorState.RESTARTING or actor.ready is None)
        head = f"restarting ({_restarts(actor)})" if restarting else "pending"
        if state is ActorState.PLACED and actor.ready is not None:
            return RUNNING, f"alive on node {hex_short(actor.node_id)}"
        if creation is None:
            return ACTOR, head
        kind, status = self.status(creation)
        if creation.state is TaskState.RUNNING:
            return ACTOR, f"{head}: its constructor is {status}"
        return (ACTOR if kind == RUNNING else kind), f"{head}: its creation is {status}"

    # ---- helpers ----------------------------------------------------------------------------

    def _queue_position(self, task: TaskRecord) -> int:
        # one pass per scheduling class, however many of its tasks are explained
        key = class_key(task)
        positions = self._queues.get(key)
        if positions is None:
            positions = self._queues[key] = self.state.queue_positions(task)
        return positions.get(task.task_id, 0)

    def _since(self, task: TaskRecord, state: TaskState) -> str:
        story = task.story
        if not story:
            return ""
        for i in range(len(story) - 4, -1, -4):  # flat (time, state, event, cause) entries, newest last
            if story[i + 1] == state.value:
                return f" for {max(0.0, self.now - story[i]):.0f} s"
        return ""


def _what(task: TaskRecord) -> str:
    if task.kind == ACTOR_METHOD:
        return "actor call"
    if task.kind == ACTOR_CREATION:
        return "actor creation"
    return "task"


def _actor_name(actor: ActorRecord) -> str:
    # (the creation's name is the class's qualified name + ".__init__": its last part reads best)
    cls = actor.creation.name.removesuffix(".__init__").rsplit(".", 1)[-1] if actor.creation is not None else ""
    named = f" {actor.name!r}" if actor.name else ""
    return f"{cls or 'actor'}{named} ({hex_short(actor.actor_id)})"


def _restarts(actor: ActorRecord) -> str:
    limit = actor.creation.max_restarts if actor.creation is not None else 0
    return f"{actor.restarts} of {'unlimited' if limit < 0 else limit}"


def _busy(request: Mapping[str, float], alive: list) -> str:
    """Which of the requested resources are taken on every node that could hold the request."""
    short = []
    for name, amount in sorted(request.items()):
        if amount <= 0:
            continue
        total = sum(n.total.get(name, 0.0) for n in alive)
        free = sum(n.available.get(name, 0.0) for n in alive)
        if not any(n.available.get(name, 0.0) >= amount for n in alive):
            used = total - free
            short.append(
                f"all {_num(total)} {name} are busy"
                if used >= total
                else f"{_num(used)} of {_num(total)} {name} are busy"
            )
    if not short:
        return f"waits for its turn to be placed ({dict(sorted(request.items()))} fits now)"
    return f"no node has {dict(sorted(request.items()))} free ({', '.join(short)})"


def _num(x: float) -> str:
    return f"{x:g}"


def mib(n: int) -> str:
    return f"{n / 2**20:,.0f}"
