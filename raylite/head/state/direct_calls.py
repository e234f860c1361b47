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
  (ActorDirectory._restart), or fails with ActorUnavailableError when it has
  none (a call whose actor is dead by then fails with ActorDiedError).

- `CallsRunning`, for calls still unanswered a record window
  (config.CALL_RECORD_DELAY_S) after the caller sent them: `RunningCalls`
  keeps them as RUNNING on their actor's node, for the state API and explain,
  until the call's record (or its resubmission through the head, when its
  channel broke, or its caller's disconnection) removes the entry. A call
  answered within the window is never reported, so fast calls cost the head
  nothing more; the entries are only a view (no resources, no scheduling).

Pure: events in, the task history and the object directory changed.
"""

from __future__ import annotations

from collections.abc import Mapping

from raylite.head.state.history import TaskHistory
from raylite.head.state.model import ActorRecord, CallRecorded, CallsRunning, TaskRecord
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


_SENT = "a direct call, sent to its actor; not answered yet"


class RunningCalls:
    """Direct calls their callers reported still unanswered: listed RUNNING until they end."""

    def __init__(self) -> None:
        self.calls: dict[bytes, TaskRecord] = {}  # call id -> its entry (state RUNNING)
        self._by_client: dict[bytes, set[bytes]] = {}

    def reported(self, ev: CallsRunning, actors: Mapping[bytes, ActorRecord], event: str) -> None:
        mine = self._by_client.setdefault(ev.client_id, set())
        for task, sent in ev.calls:
            actor = actors.get(task.actor_id)
            task.node_id = actor.node_id if actor is not None else None
            task.state = TaskState.RUNNING
            task.spec = b""  # only a view: never dispatched
            task.story = (sent, TaskState.RUNNING._value_, event, _SENT)
            self.calls[task.task_id] = task
            mine.add(task.task_id)

    def ended(self, call_id: bytes) -> None:
        """Its record arrived, or it was resent through the head (which then lists it itself)."""
        task = self.calls.pop(call_id, None)
        if task is not None:
            mine = self._by_client.get(task.client_id)
            if mine is not None:
                mine.discard(call_id)
                if not mine:
                    del self._by_client[task.client_id]

    def client_gone(self, client_id: bytes) -> None:
        """Its caller's stream ended: a caller that comes back reports what is still unanswered."""
        for call_id in self._by_client.pop(client_id, ()):
            self.calls.pop(call_id, None)

    def validate(self) -> None:
        indexed = {call_id for ids in self._by_client.values() for call_id in ids}
        assert indexed == set(self.calls), "running direct calls and their per-caller index differ"
        for call_id, task in self.calls.items():
            assert task.task_id == call_id and task.state is TaskState.RUNNING
            assert call_id in self._by_client.get(task.client_id, ()), "a running direct call under another caller"
