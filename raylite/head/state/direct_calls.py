"""What the head keeps of direct actor calls (docs/design-direct-calls.md, part (a)).

Theory of operation
-------------------
A direct call goes from its caller to the actor's executor without the head.
The head still owns the truth about actors (where each lives, which life it
is in, why it died) and the task history, so it learns of direct calls in two
ways, both from the caller, on the caller's own ClientStream:

- `CallRecorded`, once a call was answered: the call enters the task history
  as FINISHED (or FAILED) with the times it ran, and its results that are in
  a store or hold refs are published like a put (the caller holds them, its
  held refs came earlier on the same stream; the refs inside are pinned
  before the caller releases anything, later on that stream). Plain inline
  results never reach the head: only the caller needs them.
- a call whose channel broke is resent through the head, naming the life of
  the actor it was sent to (`TaskSpec.direct_incarnation`, 1 + the creation's
  attempt). `interrupted()` says whether that life ended since: such a call
  spends one of its `max_task_retries` as a call in flight at a restart does
  (ActorDirectory._restart), or fails with ActorDiedError when it has none.

Pure: events in, the task history and the object directory changed.
"""

from __future__ import annotations

from raylite.head.state.history import TaskHistory
from raylite.head.state.model import ActorRecord, CallRecorded, TaskRecord
from raylite.head.state.objects import ObjectDirectory
from raylite.head.state.states import ActorState, TaskState

_CAUSE = "a direct call, answered to its caller"


def record(ev: CallRecorded, history: TaskHistory, objects: ObjectDirectory, event: str) -> None:
    """Enters an answered direct call into the history and publishes its kept results."""
    task = ev.task
    task.node_id = ev.node_id or None
    task.state = TaskState.FINISHED
    task.story = (
        ev.started,
        TaskState.RUNNING._value_,
        event,
        "a direct call, run by its actor",
        ev.finished,
        TaskState.FINISHED._value_,
        event,
        _CAUSE,
    )
    for info in ev.results:
        objects.add(info, owner=None)
    history.add(task, ev.results, ev.error if ev.failed else "")


def sent_life(task: TaskRecord) -> int | None:
    """The life (creation attempt) of the actor a resent direct call was sent to; None if it was not."""
    if not task.direct_incarnation:
        return None
    return task.direct_incarnation - 1


def interrupted(actor: ActorRecord, life: int) -> bool:
    """Whether the life of the actor a direct call was sent to has ended since."""
    if actor.state is ActorState.RESTARTING:
        return True
    creation = actor.creation
    return creation is not None and creation.attempt != life


def location(actor: ActorRecord) -> tuple[str, int, str, str]:
    """(state, incarnation, call address, death) as a locating caller is told them."""
    creation = actor.creation
    attempt = creation.attempt if creation is not None else 0
    address = actor.call_address if actor.state is ActorState.PLACED and actor.ready is not None else ""
    return actor.state._value_, attempt, address, actor.death
