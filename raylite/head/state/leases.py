"""Task leases in the head: which client may run tasks of which class on which node's slots.

Theory of operation
-------------------
A lease (docs/design-direct-calls.md, section (b)) is the right of one client
to run tasks of one scheduling class on `slots` worker slots of one node,
sending them straight to that node's daemon. The head grants it as it would
place that many tasks of the class: the same `NodeTable.least_loaded()`, and a
granted lease holds `slots x resources` in `NodeTable` exactly as running
tasks hold theirs, so a lease shows in the node's usage and `raylite status`,
and other work sees those slots as taken.

States, in LEASE_TRANSITIONS (a move not in the table raises
IllegalLeaseTransition: in the head that is a bug, never input)::

    REQUESTED -> GRANTED -> RETURNING -> ENDED
                    \\-> REVOKED -> RETURNING
    GRANTED, REVOKED, RETURNING -> ENDED   (the node died, or drained it)
    REQUESTED -> ENDED                     (returned or its client left before a grant)

- REQUESTED: queued, in arrival order; `grant_pass()` (called by HeadState at
  the end of a step, as the scheduling pass) grants what fits.
- GRANTED: it holds its resources; the client sends tasks to the node.
- REVOKED: the head wants the slots back because another class waited longer
  than `fairness_s` (`revoke_pass()`); its client stops sending, waits for the
  answers of what it sent, and returns it.
- RETURNING: its client returned it (idle, revoked, or the client left);
  the node still may run tasks of it, so the resources stay held until the
  node says it drained the lease (`drained()`), which is the only moment the
  head knows no executor runs a task of it any more.
- ENDED: forgotten; its resources are given back (a dead node's are not:
  there is nothing to give back to).

Differences from the design's sketch: a returned or orphaned lease passes
through RETURNING until its node reports it drained (the design ended it at
once on the client's word; the node may still run a task of it then), and a
revoked lease ends through RETURNING too, for the same reason.

Pure: no clock (`now` is an argument), no sockets; the servicer carries out the
effects: `LeaseGranted` to the client and the node, `LeaseRevoked` to the
client, `LeaseStopped` to the node (refuse new tasks on it, drain, report).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum

from raylite import resources as res
from raylite.head.state.model import ObjectInfo, TaskRecord
from raylite.head.state.nodes import NodeTable
from raylite.head.state.states import TaskState


class LeaseState(str, Enum):
    REQUESTED = "REQUESTED"
    GRANTED = "GRANTED"
    REVOKED = "REVOKED"
    RETURNING = "RETURNING"
    ENDED = "ENDED"

    def __str__(self) -> str:
        return self.value


L = LeaseState

LEASE_TRANSITIONS: dict[LeaseState, dict[LeaseState, str]] = {
    L.REQUESTED: {
        L.GRANTED: "a node has room for at least one slot of its class",
        L.ENDED: "returned, or its client left, before it was granted",
    },
    L.GRANTED: {
        L.REVOKED: "another class waited longer than the fairness bound",
        L.RETURNING: "its client returned it (idle) or left",
        L.ENDED: "its node died, or drained it",
    },
    L.REVOKED: {
        L.RETURNING: "its client stopped sending and returned it, or left",
        L.ENDED: "its node died, or drained it",
    },
    L.RETURNING: {
        L.ENDED: "its node drained it, or died",
    },
    L.ENDED: {},
}

HOLDING = frozenset({L.GRANTED, L.REVOKED, L.RETURNING})


class IllegalLeaseTransition(AssertionError):
    """A move LEASE_TRANSITIONS does not allow: a bug in the head."""


@dataclass(slots=True)
class Lease:
    lease_id: bytes
    client_id: bytes
    class_key: bytes
    resources: dict[str, float]  # per slot
    slots: int  # asked, then granted
    job_id: bytes = b""
    runtime_env: str = ""
    state: LeaseState = L.REQUESTED
    node_id: bytes | None = None
    lent: int = 0  # slots lent out while tasks of it block in get (as a blocked task's CPU is)
    requested_at: float = 0.0
    granted_at: float = 0.0
    story: list[tuple[float, str, str]] = field(default_factory=list)  # (time, state, cause)

    def held(self) -> dict[str, float]:
        """What it holds on its node while GRANTED, REVOKED or RETURNING."""
        return {name: amount * (self.slots - self.lent) for name, amount in self.resources.items()}


# ---- effects (commands for the servicer) -------------------------------------


@dataclass(slots=True)
class LeaseGranted:
    """Tell the node (before the client connects) and the client."""

    lease: Lease


@dataclass(slots=True)
class LeaseRevoked:
    """Tell the client to stop sending on the lease and return it."""

    client_id: bytes
    lease_id: bytes
    why: str


@dataclass(slots=True)
class LeaseStopped:
    """Tell the node to refuse new tasks on the lease, finish the rest, and report it drained."""

    node_id: bytes
    lease_id: bytes
    why: str


@dataclass(slots=True)
class LeaseSlotLent:
    """Tell the node that one slot of the lease is lent (a task of it blocked) or taken back."""

    node_id: bytes
    lease_id: bytes
    blocked: bool


LeaseEffect = LeaseGranted | LeaseRevoked | LeaseStopped | LeaseSlotLent


# ---- events (facts from peers, applied by HeadState) ---------------------------------


@dataclass(slots=True)
class LeaseRequested:
    client_id: bytes
    lease_id: bytes
    class_key: bytes
    resources: dict[str, float]
    slots: int
    job_id: bytes = b""
    runtime_env: str = ""


@dataclass(slots=True)
class LeaseReturned:
    client_id: bytes
    lease_id: bytes
    why: str = "returned"


@dataclass(slots=True)
class LeaseDrained:
    node_id: bytes
    lease_id: bytes


@dataclass(slots=True)
class LeasesServed:
    """A node rejoining a restarted head still serves these leases."""

    node_id: bytes
    leases: list[Lease]


@dataclass(slots=True)
class TaskRecorded:
    """A client's record of a task it ran on a lease and got the answer of (TaskTable.recorded)."""

    task: TaskRecord
    results: list[ObjectInfo]
    node_id: bytes
    attempt: int
    error: str = ""


@dataclass(slots=True)
class LeasedTaskStarted:
    """A node reports a leased task still running a window after it started (its spec, no payload)."""

    node_id: bytes
    lease_id: bytes
    task: TaskRecord
    started: float  # the node's wall clock


@dataclass(slots=True)
class LeasedTasksEnded:
    """Leased tasks the node reported running have ended (answered, or lost with their executor)."""

    node_id: bytes
    task_ids: list[bytes]


@dataclass(slots=True)
class LeaseSlotBlocked:
    lease_id: bytes
    blocked: bool


class LeaseTable:
    def __init__(self, nodes: NodeTable, fairness_s: float = 1.0) -> None:
        self.nodes = nodes
        self.fairness_s = fairness_s
        self.leases: dict[bytes, Lease] = {}  # every lease not ENDED, requests first come first
        self.effects: list[LeaseEffect] = []
        # Leased tasks their node reported running (longer than a report window), RUNNING and
        # holding nothing of their own, until the node says they ended, the submitter's record
        # comes, or their lease ends: read by the state API and explain, never scheduled.
        self.running: dict[bytes, TaskRecord] = {}
        self._running_lease: dict[bytes, bytes] = {}  # task id -> its lease

    def take_effects(self) -> list[LeaseEffect]:
        out, self.effects = self.effects, []
        return out

    # ---- events ----------------------------------------------------------------

    def request(
        self,
        client_id: bytes,
        lease_id: bytes,
        class_key: bytes,
        resources: Mapping[str, float],
        slots: int,
        now: float,
        job_id: bytes = b"",
        runtime_env: str = "",
    ) -> None:
        """A client asks for a lease; a repeated request (same id) is ignored."""
        if lease_id in self.leases:
            return
        lease = Lease(lease_id, client_id, class_key, dict(resources), max(1, slots), job_id, runtime_env)
        lease.requested_at = now
        lease.story.append((now, L.REQUESTED.value, "requested"))
        self.leases[lease_id] = lease

    def grant_pass(self, now: float) -> None:
        """Grants every queued request some node has room for (at least one slot)."""
        for lease in [le for le in self.leases.values() if le.state is L.REQUESTED]:
            node_id = self._pick(lease.resources)
            if node_id is None:
                continue
            available = self.nodes.nodes[node_id].available
            lease.slots = max(1, min(lease.slots, _fits_times(lease.resources, available)))
            lease.node_id = node_id
            lease.granted_at = now
            self.nodes.take(node_id, lease.held())
            self._move(lease, L.GRANTED, now, f"granted {lease.slots} slots on {node_id.hex()[:8]}")
            self.effects.append(LeaseGranted(lease))

    def returned(self, client_id: bytes, lease_id: bytes, now: float, why: str = "returned") -> None:
        """Its client returned it (only its own client may; others and unknown ids are ignored)."""
        lease = self.leases.get(lease_id)
        if lease is None or lease.client_id != client_id:
            return
        self._release(lease, now, why)

    def client_left(self, client_id: bytes, now: float) -> None:
        for lease in [le for le in self.leases.values() if le.client_id == client_id]:
            self._release(lease, now, "its client left")

    def drained(self, node_id: bytes, lease_id: bytes, now: float) -> None:
        """The node serves the lease no more and runs nothing of it: its slots are free."""
        lease = self.leases.get(lease_id)
        if lease is None or lease.node_id != node_id or lease.state not in HOLDING:
            return
        self._end(lease, now, "its node drained it")

    def node_lost(self, node_id: bytes, now: float) -> None:
        for lease in [le for le in self.leases.values() if le.node_id == node_id]:
            self._end(lease, now, "its node died")

    def adopt(self, node_id: bytes, lease: Lease, now: float) -> bool:
        """A rejoining node still serves `lease` (after a head restart): it holds its slots again.
        False if the id is known already (adopted, or granted by this head)."""
        if lease.lease_id in self.leases or not self.nodes.alive(node_id):
            return False
        lease.node_id = node_id
        lease.state = L.GRANTED
        lease.granted_at = now
        lease.story.append((now, L.GRANTED.value, "adopted from its rejoining node"))
        self.leases[lease.lease_id] = lease
        self.nodes.take(node_id, lease.held())
        return True

    def task_started(self, node_id: bytes, lease_id: bytes, task: TaskRecord, started: float) -> None:
        """A node reports a task of a lease it serves as running (others' reports are ignored)."""
        if not self.serves(lease_id, node_id) or task.task_id in self.running:
            return
        task.state = TaskState.RUNNING
        task.node_id = node_id
        task.resources = {}  # its lease holds them
        task.story = (started, TaskState.RUNNING.value, "LeasedTaskStarted", f"running on lease {lease_id.hex()[:8]}")
        self.running[task.task_id] = task
        self._running_lease[task.task_id] = lease_id

    def tasks_ended(self, task_ids: Iterable[bytes]) -> None:
        """Leased tasks left `running`: answered (the node's or the submitter's word) or lost."""
        for task_id in task_ids:
            if self.running.pop(task_id, None) is not None:
                del self._running_lease[task_id]

    def slot_blocked(self, lease_id: bytes, blocked: bool) -> None:
        """A task of the lease blocked in get (one slot is lent to other work) or resumed (it is
        taken back, overcommitting if it must: as TaskBlockChanged does for a task)."""
        lease = self.leases.get(lease_id)
        if lease is None or lease.state not in HOLDING:
            return
        one = dict(lease.resources)
        assert lease.node_id is not None
        if blocked and lease.lent < lease.slots:
            lease.lent += 1
            self.nodes.give_back(lease.node_id, one)
        elif not blocked and lease.lent > 0:
            lease.lent -= 1
            self.nodes.take(lease.node_id, one)
        else:
            return
        # the node may run one more waiting task of the lease meanwhile: a task of the lease that
        # the blocked one waits for must not wait behind it (the lent slot may be used twice, by
        # the head and the lease, as a resumed task overcommits its node)
        self.effects.append(LeaseSlotLent(lease.node_id, lease_id, blocked))

    def revoke_pass(self, now: float, waiting_classes: Iterable[bytes] = ()) -> None:
        """Fairness: a class whose lease request (or, named in waiting_classes, whose tasks)
        waited longer than fairness_s makes the head revoke the oldest granted lease of
        another class, one per waiting class and pass."""
        starving = [
            le.class_key
            for le in self.leases.values()
            if le.state is L.REQUESTED and now - le.requested_at >= self.fairness_s
        ]
        starving += list(waiting_classes)
        for class_key in dict.fromkeys(starving):
            others = [le for le in self.leases.values() if le.state is L.GRANTED and le.class_key != class_key]
            if not others:
                continue
            oldest = min(others, key=lambda le: le.granted_at)
            self._move(oldest, L.REVOKED, now, "revoked: another class waits for slots")
            self.effects.append(LeaseRevoked(oldest.client_id, oldest.lease_id, "another class waits for slots"))

    # ---- readers ---------------------------------------------------------------

    def held_on(self, node_id: bytes) -> dict[str, float]:
        used: dict[str, float] = {}
        for lease in self.leases.values():
            if lease.node_id == node_id and lease.state in HOLDING:
                res.add(used, lease.held())
        return used

    def of_client(self, client_id: bytes) -> list[Lease]:
        return [le for le in self.leases.values() if le.client_id == client_id]

    def serves(self, lease_id: bytes, node_id: bytes) -> bool:
        """Whether a record from node_id naming lease_id is believable."""
        lease = self.leases.get(lease_id)
        return lease is not None and lease.node_id == node_id

    # ---- helpers ---------------------------------------------------------------

    def _pick(self, request: Mapping[str, float]) -> bytes | None:
        found = self.nodes.least_loaded(request)
        if found is not False:
            return found
        for node in self.nodes.nodes.values():
            if node.alive and res.fits(request, node.available):
                return node.node_id
        return None

    def _release(self, lease: Lease, now: float, why: str) -> None:
        if lease.state is L.REQUESTED:
            self._end(lease, now, why)
        elif lease.state in (L.GRANTED, L.REVOKED):
            self._move(lease, L.RETURNING, now, why)
            assert lease.node_id is not None
            self.effects.append(LeaseStopped(lease.node_id, lease.lease_id, why))

    def _end(self, lease: Lease, now: float, why: str) -> None:
        if lease.state in HOLDING:
            self.nodes.give_back(lease.node_id, lease.held())
        self._move(lease, L.ENDED, now, why)
        del self.leases[lease.lease_id]
        if self.running:  # its tasks run no more (drained) or are lost with their node
            self.tasks_ended([t for t, le in self._running_lease.items() if le == lease.lease_id])

    def _move(self, lease: Lease, new: LeaseState, now: float, why: str) -> None:
        if new not in LEASE_TRANSITIONS[lease.state]:
            raise IllegalLeaseTransition(
                f"illegal transition of lease {lease.lease_id.hex()}: {lease.state} -> {new} ({why})"
            )
        lease.state = new
        lease.story.append((now, new.value, why))
        del lease.story[:-16]

    # ---- invariants ------------------------------------------------------------

    def validate(self) -> None:
        assert self.running.keys() == self._running_lease.keys(), "running leased tasks without their lease"
        for task_id, lease_id in self._running_lease.items():
            assert lease_id in self.leases, f"leased task {task_id.hex()} runs on ended lease {lease_id.hex()}"
        for lease_id, lease in self.leases.items():
            assert 0 <= lease.lent <= lease.slots, f"lease {lease_id.hex()} lent {lease.lent} of {lease.slots}"
            assert lease.lease_id == lease_id, f"lease {lease.lease_id.hex()} filed as {lease_id.hex()}"
            assert lease.state is not L.ENDED, f"ended lease {lease_id.hex()} still kept"
            assert lease.slots >= 1, f"lease {lease_id.hex()} has {lease.slots} slots"
            if lease.state in HOLDING:
                assert lease.node_id is not None, f"lease {lease_id.hex()} holds slots on no node"
            else:
                assert lease.node_id is None, f"requested lease {lease_id.hex()} has a node"


def _fits_times(per_slot: Mapping[str, float], available: Mapping[str, float]) -> int:
    """How many times per_slot fits in available (a large number when it asks for nothing)."""
    times = 1 << 16
    for name, amount in per_slot.items():
        if amount > res.EPS:
            times = min(times, int((available.get(name, 0.0) + res.EPS) // amount))
    return times
