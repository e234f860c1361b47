"""What the head's components share during a step: the effects, the time, the moves.

Theory of operation
-------------------
HeadState.handle() is one step: it feeds events to the components
(raylite/head/state/head_state.py explains the split) and returns the effects
they produced. The components do not call back into the facade to emit; they
append to the one `Sink` they were given, so effects leave in the order they
were decided, whichever component decided them. The sink also carries the
step's `now` (time is an input: the servicer passes its clock, tests pass
numbers) and the name of the event being handled, which is what every story
entry records as its cause, and `needs_pass`, which any component sets when it
makes room on a node or readies a task.

`transition` is the only place a task or actor changes state: it checks the
move against the tables in raylite/head/state/states.py and appends to the
record's story, and it counts a task the scheduling pass placed out of its
class's `running_by_class` when it leaves RUNNING, however it leaves. `note`
appends an entry that changes no state. `enter` starts a record's story when
it comes into the head from outside (a submission, a rejoining node's report,
the saved actors of a restarted head): what a peer or the storage says its
state was is not trusted, the head decides where it starts.
"""

from __future__ import annotations

from typing import Any

from raylite.head.state.model import ActorRecord, Effect, TaskRecord
from raylite.head.state.states import LEGAL, STORY_LENGTH, IllegalTransition, TaskState

_NOWHERE: frozenset[Any] = frozenset()
_RUNNING = TaskState.RUNNING
_STORY_ITEMS = 4 * STORY_LENGTH


class Sink:
    __slots__ = ("effects", "now", "event", "needs_pass", "running_by_class")

    def __init__(self) -> None:
        self.effects: list[Effect] = []
        self.now = 0.0
        self.event = ""  # the event being handled, for the stories
        self.needs_pass = False
        # scheduling class -> its tasks the pass placed that are still RUNNING (blocked ones
        # too): the pass counts up, `transition` counts down, so no way out of RUNNING is missed
        self.running_by_class: dict[tuple, int] = {}

    def take(self) -> list[Effect]:
        effects, self.effects = self.effects, []
        return effects

    def enter(self, record: TaskRecord | ActorRecord, state: Any, cause: str) -> None:
        """A record comes into the head in `state`; its story starts here."""
        record.state = state
        record.story = (self.now, state._value_, self.event, cause)

    def transition(self, record: TaskRecord | ActorRecord, new: Any, cause: str) -> None:
        """Moves a record to `new`, or raises IllegalTransition: in the head an illegal move is a bug."""
        old = record.state
        if new not in LEGAL.get(old, _NOWHERE):
            raise _illegal(record, old, new, self.event, cause)
        record.state = new
        if old is _RUNNING and type(record) is TaskRecord and record.running_class is not None:
            self._left_running(record, record.running_class)
        # One flat tuple of plain values (time, state's name, event, cause, time, ...), made
        # anew at each move, rather than a deque of entries: a tuple holding only floats and
        # strings is untracked by the garbage collector once it survives a collection, while a
        # deque or list per task (and enum members inside) would be walked by every full
        # collection for as long as the head keeps the task. Most tasks make three moves.
        story = record.story or ()
        if len(story) >= _STORY_ITEMS:
            story = story[4:]
        record.story = story + (self.now, new._value_, self.event, cause)

    def _left_running(self, task: TaskRecord, key: tuple) -> None:
        task.running_class = None
        left = self.running_by_class[key] - 1
        if left:
            self.running_by_class[key] = left
        else:
            del self.running_by_class[key]

    def note(self, record: TaskRecord | ActorRecord, cause: str) -> None:
        """Records in a record's story something that happened to it without a move (a cancel
        requested while it runs): an entry naming the state it stays in."""
        story = record.story or ()
        if len(story) >= _STORY_ITEMS:
            story = story[4:]
        record.story = story + (self.now, record.state._value_, self.event, cause)


def _illegal(record: TaskRecord | ActorRecord, old: Any, new: Any, event: str, cause: str) -> IllegalTransition:
    if isinstance(record, TaskRecord):
        return IllegalTransition(f"task {record.name}", record.task_id, old, new, event, cause)
    return IllegalTransition(f"actor {record.name}".rstrip(), record.actor_id, old, new, event, cause)
