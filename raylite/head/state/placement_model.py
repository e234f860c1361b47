"""Placement groups in the head: their states and legal moves, their record, their events.

A placement group's life (raylite/head/state/placement.py says who moves it)::

    PENDING -> CREATED -> (RESCHEDULING -> CREATED)* -> REMOVED
        \\______________________________________________/^

- PENDING: created by a client; not every bundle fits the cluster yet.
- CREATED: every bundle is reserved on a node (all at once: never a part).
- RESCHEDULING: a node holding some of its bundles died; those bundles are
  reserved again, elsewhere, as soon as they fit (the others stay put).
- REMOVED: remove_placement_group(), or its job ended (not for a detached
  group); its bundles are given back and its tasks and actors fail. The record
  stays, so that placement_group_table() and later tasks see it was removed.

The table is data, as raylite/head/state/states.py keeps those of tasks and
actors, and `move` refuses a move it does not list: in the head an illegal
move is a bug.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from raylite.head.state.states import IllegalTransition
from raylite.labels import Match


class PlacementGroupState(str, Enum):
    PENDING = "PENDING"
    CREATED = "CREATED"
    RESCHEDULING = "RESCHEDULING"
    REMOVED = "REMOVED"

    def __str__(self) -> str:
        return self.value


P = PlacementGroupState

PLACEMENT_GROUP_TRANSITIONS: dict[PlacementGroupState, dict[PlacementGroupState, str]] = {
    P.PENDING: {
        P.CREATED: "every bundle was reserved",
        P.REMOVED: "removed before it was placed, or its job ended",
    },
    P.CREATED: {
        P.RESCHEDULING: "a node holding some of its bundles died",
        P.REMOVED: "removed, or its job ended",
    },
    P.RESCHEDULING: {
        P.CREATED: "its lost bundles were reserved again",
        P.REMOVED: "removed, or its job ended",
    },
    P.REMOVED: {},
}

STRATEGIES = ("PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD")


@dataclass(slots=True)
class PlacementGroupRecord:
    pg_id: bytes
    name: str
    bundles: list[dict[str, float]]
    strategy: str  # one of STRATEGIES
    job_id: bytes
    client_id: bytes  # its creator, which is warned if it can never be placed
    detached: bool = False
    spec: Any = None  # opaque wire spec, for queries
    state: PlacementGroupState = PlacementGroupState.PENDING
    nodes: list[bytes | None] = field(default_factory=list)  # per bundle: where it is reserved
    attempts: int = 0  # scheduling passes that tried it
    story: tuple[Any, ...] = ()  # (time, state, event, cause), flat as a task's
    bundle_labels: list[tuple[Match, ...]] = field(default_factory=list)  # per bundle, if any: its node's labels

    @property
    def hex(self) -> str:
        return self.pg_id.hex()


@dataclass(slots=True)
class PlacementGroupCreated:
    """A client asked for a placement group."""

    group: PlacementGroupRecord


@dataclass(slots=True)
class PlacementGroupRemoveRequested:
    """A client called remove_placement_group()."""

    pg_id: bytes


def move(group: PlacementGroupRecord, new: PlacementGroupState, now: float, event: str, cause: str) -> None:
    """Moves a group to `new`, or raises IllegalTransition; appends the move to its story."""
    old = group.state
    if new not in PLACEMENT_GROUP_TRANSITIONS[old]:
        raise IllegalTransition(f"placement group {group.name}".rstrip(), group.pg_id, old, new, event, cause)
    group.state = new
    group.story = (group.story + (now, new.value, event, cause))[-4 * 16 :]
