"""The states of tasks and actors in the head, their legal moves, and their stories.

Theory of operation
-------------------
A task or an actor is always in one state of its enum, and it changes state
only through `Sink.transition` (raylite/head/state/sink.py), which looks the
move up in the tables below and raises IllegalTransition for a move that is
not in them: in the head an illegal move is a bug, never an input to ignore
(bad input is refused at the edge, in raylite/head/validate.py). The tables
are data so that a reader, a test and a diagram (`python -m
raylite.head.state.diagrams`) all see the same machine.

Tasks::

    NEW -> WAITING -> READY -> RUNNING -> FINISHED
                 \\________________________/^
    actor calls: NEW -> WAITING_FOR_ACTOR -> RUNNING -> FINISHED

- NEW: a record decoded from a peer, not yet in the head's table.
- WAITING: some argument does not exist yet (`missing` counts them).
- READY: every argument exists; queued in its scheduling class for a node.
- WAITING_FOR_ACTOR: a method call whose actor is not placed yet (pending,
  restarting, or recovering after a head restart); calls skip the queues.
- RUNNING: on a node: dispatched there, or adopted from a node that still
  ran it when it rejoined a restarted head.
- FINISHED: its results are published and it left the table. The record
  lives on only in lineage (run again if a stored output is lost: FINISHED ->
  WAITING/READY) or as an actor's creation (run again when the actor
  restarts: FINISHED -> READY). A task that never ran finishes from the
  state it is in (an error argument, an impossible placement, a dead actor,
  a driver that left), so there is no "mark it RUNNING first" anywhere.

Actors::

    PENDING -> PLACED -> (RESTARTING -> PLACED)* -> DEAD

- PENDING: its creation task waits for arguments or a node.
- PLACED: its creation was dispatched to a node; it holds its resources there.
- RESTARTING: its process died with restarts left; the creation runs again.
- RECOVERING: after a head restart, saved as PLACED; waiting for its node to
  rejoin and say whether its process lives.
- DEAD: for good; calls fail with ActorDiedError. An actor record is kept
  after death (its death reason answers later calls).

Stories: every record keeps the last STORY_LENGTH moves as (time, state,
event, cause): the time the servicer gave the step, the state entered, the
name of the event being handled (or the end-of-step pass that decided it) and
a short reason. They are read through HeadState.story(); a dashboard and a
"why is my get waiting" explanation are their readers. Causes on the hot path
are constant strings, so keeping a story costs one flat tuple per move (sink.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any, NamedTuple

STORY_LENGTH = 16


class TaskState(str, Enum):
    """A task's state. A str, so that `task.state == "READY"` reads as before."""

    NEW = "NEW"
    WAITING = "WAITING"
    READY = "READY"
    WAITING_FOR_ACTOR = "WAITING_FOR_ACTOR"
    RUNNING = "RUNNING"
    FINISHED = "FINISHED"

    def __str__(self) -> str:
        return self.value


class ActorState(str, Enum):
    PENDING = "PENDING"
    PLACED = "PLACED"
    RESTARTING = "RESTARTING"
    RECOVERING = "RECOVERING"
    DEAD = "DEAD"

    def __str__(self) -> str:
        return self.value


T, A = TaskState, ActorState

# from-state -> {to-state: what makes that move}; the texts are for readers and diagrams.
TASK_TRANSITIONS: dict[TaskState, dict[TaskState, str]] = {
    T.NEW: {
        T.WAITING: "submitted; an argument does not exist yet",
        T.READY: "submitted; every argument exists",
        T.WAITING_FOR_ACTOR: "a call to an actor not placed yet",
        T.RUNNING: "a call sent to its placed actor, or adopted from a rejoining node",
        T.FINISHED: (
            "failed at once (an error argument, a dead actor, its driver gone), finished while the head "
            "was down, or the creation of an actor restored as placed"
        ),
    },
    T.WAITING: {
        T.READY: "its last missing argument exists",
        T.RUNNING: "adopted: its rejoining node still runs it",
        T.FINISHED: "an argument failed, its actor died, or its driver left",
    },
    T.READY: {
        T.RUNNING: "placed on a node (or adopted from a rejoining node)",
        T.FINISHED: "no node can ever run it, its actor died, or its driver left",
    },
    T.WAITING_FOR_ACTOR: {
        T.RUNNING: "its actor was placed (or found alive after a head restart)",
        T.FINISHED: "its actor died",
    },
    T.RUNNING: {
        T.READY: "retried: its process or node died, or a retryable error",
        T.WAITING_FOR_ACTOR: "its actor is restarting and the call is retried",
        T.FINISHED: "its results arrived, or it failed",
    },
    T.FINISHED: {
        T.WAITING: "rerun from lineage to remake a lost output; an argument is being remade",
        T.READY: "rerun from lineage, or an actor's constructor run again for a restart",
    },
}

ACTOR_TRANSITIONS: dict[ActorState, dict[ActorState, str]] = {
    A.PENDING: {
        A.PLACED: "its creation task was placed on a node",
        A.DEAD: "killed, its driver left, or its creation failed before placement",
    },
    A.PLACED: {
        A.RESTARTING: "its process or node died with restarts left",
        A.RECOVERING: "the head restarted (saved as placed)",
        A.DEAD: "killed, constructor raised, handles gone, or died with no restarts left",
    },
    A.RESTARTING: {
        A.PLACED: "its creation task was placed again",
        A.DEAD: "killed, or its driver left",
    },
    A.RECOVERING: {
        A.PLACED: "its node rejoined with its process alive",
        A.RESTARTING: "its node rejoined without it, or never rejoined; restarts left",
        A.DEAD: "gone after the restart with no restarts left, killed, or its driver never came back",
    },
    A.DEAD: {},
}

INITIAL_TASK_STATE = T.NEW
INITIAL_ACTOR_STATE = A.PENDING

# Both tables in one lookup: the two enums share no value, so their members never collide.
LEGAL: dict[Any, frozenset[Any]] = {
    **{s: frozenset(to) for s, to in TASK_TRANSITIONS.items()},
    **{s: frozenset(to) for s, to in ACTOR_TRANSITIONS.items()},
}


class StoryEntry(NamedTuple):
    at: float  # the time of the step (HeadState.handle's `now`)
    state: TaskState | ActorState  # the state entered
    event: str  # the event being handled, or the end-of-step pass that decided the move
    cause: str


_BY_NAME: dict[str, TaskState | ActorState] = {s.value: s for s in (*TaskState, *ActorState)}


def entries(story: tuple[Any, ...] | None) -> list[StoryEntry]:
    """A record's story as StoryEntry tuples, oldest first (it is kept flat; see sink.py)."""
    if not story:
        return []
    return [StoryEntry(story[i], _BY_NAME[story[i + 1]], story[i + 2], story[i + 3]) for i in range(0, len(story), 4)]


def last_state(story: tuple[Any, ...]) -> str:
    """The name of the state a story ends in."""
    return story[-3]


class IllegalTransition(AssertionError):
    """A move the tables do not allow: a bug in the head, never a peer's fault."""

    def __init__(self, what: str, record_id: bytes, old: Any, new: Any, event: str, cause: str) -> None:
        self.record_id = record_id
        self.old, self.new = old, new
        super().__init__(
            f"illegal transition of {what} {record_id.hex()}: {old} -> {new} "
            f"(while handling {event}: {cause}); legal from {old}: {sorted(str(s) for s in LEGAL.get(old, ()))}"
        )


def task_transitions() -> Mapping[TaskState, Mapping[TaskState, str]]:
    """The task table: from-state -> {to-state: what makes the move}. For diagrams and tests."""
    return TASK_TRANSITIONS


def actor_transitions() -> Mapping[ActorState, Mapping[ActorState, str]]:
    """The actor table: from-state -> {to-state: what makes the move}."""
    return ACTOR_TRANSITIONS
