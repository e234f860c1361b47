"""Cancellation: what `raylite.cancel(ref, force=, recursive=)` does in the head.

Theory of operation
-------------------
A client's cancel() arrives as CancelRequested naming an object; the task
that returns it (`task_of`) is the one to stop. What happens depends on
where that task is in its life (raylite/head/state/states.py):

- Not in the table: it finished (cancelling a finished task does nothing,
  to its children too), or the id names a put (nothing to stop, as in Ray),
  or nothing this cluster knows of: the client is told (CancelRefused) and
  raises Ray's TypeError. A restarted head that still waits for its clients
  refuses nothing: the object may be one they have not re-announced yet.
- WAITING or READY (a normal task), WAITING_FOR_ACTOR (a call whose actor is
  not placed): it never runs. It finishes at once with TaskCancelledError.
- RUNNING: it is marked (`TaskRecord.cancel`), the request is noted in its
  story, and its node is told (CancelTask). The node answers as for any
  task: the error of the interrupted task, TaskCancelledError for one that
  had not started there, the value of one that finished first, or (force)
  the death of its executor. A marked task is never retried: a death (of its
  executor or its node) finishes it with TaskCancelledError, and a
  retryable error finishes it with that error. A second cancel sends
  nothing more, unless it forces where the first one did not.
- An actor's creation task is never cancelled: an actor is ended with kill().

`force` applies to normal tasks: an actor call's process holds the actor's
state, so a forced cancel of a call is refused (Ray's ValueError) and the
cancels that reach calls through a recursive one are never forced.

Recursive cancels follow `parent_id`, the task (or actor call) that
submitted a task, which the submitting executor puts in the spec.
`children` indexes the tasks in the table by their parent while the parent
is in the table too; a recursive cancel walks down from the task it names
and cancels each descendant the same way. A child that arrives after its
parent was cancelled recursively (the parent submitted it as it was being
stopped: its submissions reach the head before its result) is cancelled as
it arrives, from NEW. A direct actor call is never in the table: its recursive
cancel comes from its caller, maybe before the call's own submissions (from
the actor's process, on another stream), so the last CANCELLED_DIRECT_KEPT such
calls are remembered and a child of one is cancelled as it arrives. A task that
leaves the table leaves its parent's entry, and its own entry goes with it.

Nothing here is on the hot path but two lookups: `child_submitted` for a
task that has a parent, and `task_left` when a task with a parent or
children finishes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from raylite.failures import Failure
from raylite.head.state.model import (
    ACTOR_CREATION,
    ACTOR_METHOD,
    NORMAL,
    CancelRefused,
    CancelRequested,
    CancelTask,
    ObjectInfo,
    TaskRecord,
)
from raylite.head.state.objects import ObjectDirectory
from raylite.head.state.sink import Sink
from raylite.head.state.states import TaskState
from raylite.ids import task_of

if TYPE_CHECKING:
    from raylite.head.state.actors import ActorDirectory
    from raylite.head.state.tasks import TaskTable

# TaskRecord.cancel bits
CANCELLED = 1  # a cancel reached it while it ran: it is never retried
FORCED = 2  # its executor was (or is being) killed
RECURSIVE = 4  # its children are cancelled too, those submitted later included

_QUEUED = (TaskState.WAITING, TaskState.READY)

# How many recursively cancelled direct calls the head remembers for children still on their way.
CANCELLED_DIRECT_KEPT = 4096


class Cancellation:
    def __init__(self, sink: Sink, objects: ObjectDirectory) -> None:
        self.sink = sink
        self.objects = objects
        self.children: dict[bytes, set[bytes]] = {}  # task in the table -> its children in the table
        # direct actor calls (never in the table) cancelled recursively, oldest first: a child a call
        # submitted may reach the head after its caller's cancel did (another process's stream)
        self.cancelled_direct: dict[bytes, None] = {}
        # wired by HeadState
        self.tasks: TaskTable
        self.actors: ActorDirectory

    # ---- requests --------------------------------------------------------------------------

    def requested(self, ev: CancelRequested) -> None:
        task_id = task_of(ev.object_id)
        task = self.tasks.tasks.get(task_id)
        if task is None:
            if ev.recursive and ev.direct_call:
                self._remember_cancelled_direct(task_id)
                if self._cancel_children_of_unknown(task_id):
                    return
            if not self._known(ev.object_id, task_id):
                self.sink.effects.append(CancelRefused(ev.client_id, ev.object_id))
            return
        if ev.force and task.kind == ACTOR_METHOD:
            self.sink.effects.append(CancelRefused(ev.client_id, ev.object_id, actor_call=True))
            return
        self.cancel(task, ev.force, ev.recursive)

    def _cancel_children_of_unknown(self, parent_id: bytes) -> bool:
        """A recursive cancel of a task the head never had (a direct actor call, which its caller
        cancels itself): the tasks it submitted are found by a walk of the table, as `children`
        indexes only parents in the table. A cancel is rare; the walk is not on any hot path."""
        kids = [t for t in self.tasks.tasks.values() if t.parent_id == parent_id]
        for child in kids:
            self.cancel(child, False, True)
        return bool(kids)

    def _remember_cancelled_direct(self, call_id: bytes) -> None:
        self.cancelled_direct[call_id] = None
        if len(self.cancelled_direct) > CANCELLED_DIRECT_KEPT:
            del self.cancelled_direct[next(iter(self.cancelled_direct))]

    def _known(self, oid: bytes, task_id: bytes) -> bool:
        objects = self.objects
        return (
            oid in objects.objects
            or task_id in self.tasks.lineage
            or task_id in self.actors.actors
            or objects.holding_frees  # a restarted head whose clients may not be back yet
        )

    def cancel(self, task: TaskRecord, force: bool, recursive: bool) -> None:
        """Cancels the task and, if recursive, every task it submitted that is still in the table."""
        stack = [(task, f"{task.name} was cancelled")]
        table = self.tasks.tasks
        seen: set[bytes] = set()  # (a peer may name parents in a cycle; no correct one does)
        while stack:
            task, why = stack.pop()
            if task.task_id in seen:
                continue
            seen.add(task.task_id)
            # (taken first: a task that finishes leaves the index)
            kids = list(self.children.get(task.task_id, ())) if recursive else []
            self._cancel_one(task, force and task.kind == NORMAL, recursive, why)
            for child_id in kids:
                child = table.get(child_id)
                if child is not None:
                    stack.append((child, f"{child.name} was cancelled with its parent task {task.name}"))

    def _cancel_one(self, task: TaskRecord, force: bool, recursive: bool, why: str) -> None:
        kind, state = task.kind, task.state
        if kind == ACTOR_CREATION:
            return
        if state is TaskState.RUNNING:
            bits = CANCELLED | (FORCED if force else 0) | (RECURSIVE if recursive else 0)
            if task.cancel & bits == bits:
                return  # nothing new: a second cancel
            tell_node = not task.cancel or (force and not task.cancel & FORCED)
            task.cancel |= bits
            if tell_node:
                self.sink.note(task, "cancel requested: its executor is killed" if force else "cancel requested")
                actor_id = task.actor_id if kind == ACTOR_METHOD else b""
                self.sink.effects.append(CancelTask(task.node_id, task.task_id, actor_id, force))  # type: ignore[arg-type]
            return
        if state is TaskState.WAITING_FOR_ACTOR:
            self.actors.drop_pending(task)
        elif state not in _QUEUED:
            return
        self.tasks.finish(task, [cancelled_info(task, f"{why} before it ran")] * task.num_returns, why)

    # ---- the index of children ------------------------------------------------------------------

    def child_submitted(self, task: TaskRecord) -> bool:
        """A task with a parent entered the table (NEW); True if it was cancelled with its parent."""
        parent = self.tasks.tasks.get(task.parent_id)
        if parent is None:  # a direct call cancelled recursively, or a parent that finished (nothing reaches it)
            by = "an actor call that was cancelled" if task.parent_id in self.cancelled_direct else ""
        else:
            by = f"task {parent.name} after that task was cancelled" if parent.cancel & RECURSIVE else ""
        if by and task.kind != ACTOR_CREATION:
            why = f"{task.name} was submitted by {by} (recursive)"
            self.tasks.finish(task, [cancelled_info(task, why)] * task.num_returns, "its parent was cancelled")
            return True
        if parent is None:
            return False
        kids = self.children.get(task.parent_id)
        if kids is None:
            self.children[task.parent_id] = {task.task_id}
        else:
            kids.add(task.task_id)
        return False

    def task_left(self, task: TaskRecord) -> None:
        """The task left the table (it finished): it leaves its parent's entry, and its own goes."""
        children = self.children
        if task.parent_id:
            siblings = children.get(task.parent_id)
            if siblings is not None:
                siblings.discard(task.task_id)
                if not siblings:
                    del children[task.parent_id]
        if children:
            children.pop(task.task_id, None)

    # ---- invariants ----------------------------------------------------------------------------

    def validate(self) -> None:
        table = self.tasks.tasks
        for parent_id, kids in self.children.items():
            assert parent_id in table, f"children of task {parent_id.hex()} kept after it left the table"
            assert kids, f"an empty entry of children for {parent_id.hex()}"
            for child_id in kids:
                child = table.get(child_id)
                assert child is not None, f"child {child_id.hex()} of {parent_id.hex()} left the table"
                assert child.parent_id == parent_id, f"child {child_id.hex()} filed under another parent"
        for task in table.values():
            if task.cancel:
                assert task.state is TaskState.RUNNING, f"{task.name} is marked cancelled but {task.state}"


def cancelled_info(task: TaskRecord, why: str) -> ObjectInfo:
    """The error a cancelled task's returns hold: TaskCancelledError (the client fills in its task id)."""
    return ObjectInfo(b"", is_error=True, failure=Failure("TaskCancelledError", why))
