"""The submitter's side of task leases: which task goes on which lease, and when a lease goes back.

Theory of operation
-------------------
A lease (raylite/head/state/leases.py) lets this client send tasks of one
scheduling class straight to one node's daemon. This module decides, per
class and per task, without I/O or clock; the client's loop feeds it events
and carries out the instructions it returns, in order.

Per class::

    NONE --first runnable task--> REQUESTED --grant--> HELD --idle / revoked--> RETURNING --> NONE

Per task::

    QUEUED --> SENT(lease) --> ANSWERED
                   \\--> BOUNCED --> through the head (ViaHead), one retry spent

- The first task of a class with no lease goes through the head (`ViaHead`)
  while the lease is requested, so no task waits on a grant that may not come;
  later ones queue here until the grant (`SendTask`) or until `grant_ticks`
  ticks passed without one (then through the head, and the request stays).
- A held lease has at most `2 x slots` tasks SENT: the daemon keeps that many
  queued so that an executor never idles for a round trip between two tasks,
  and no more, so a revoked or broken lease strands few.
- An answer frees a place: the next queued task of the class is sent. An
  answer marked retryable (a retry_exceptions error, or the executor died)
  with retries left is queued again at the front, one retry spent: the
  submitter owns the retries of its leased tasks.
- Bounced (the daemon did not run it) or stranded by a broken stream (the
  node or the connection died: the daemon may have run it, and rerunning is
  Ray's "at least once" for a task with retries left): it goes through the
  head, one retry spent, or fails (`FailTask`) with none left.
- Revoked: nothing more is sent on it; queued tasks go through the head;
  when its last SENT task is answered it is returned (`ReturnLease`).
- Idle: a held lease with nothing queued or SENT for `idle_ticks` ticks is
  returned. Ticks come from the client's loop only while a lease is held.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import Enum


class ClassState(str, Enum):
    NONE = "NONE"
    REQUESTED = "REQUESTED"
    HELD = "HELD"
    RETURNING = "RETURNING"


# ---- instructions --------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class RequestLease:
    lease_id: bytes
    class_key: bytes
    slots: int


@dataclass(slots=True, frozen=True)
class SendTask:
    lease_id: bytes
    task_id: bytes
    attempt: int


@dataclass(slots=True, frozen=True)
class ViaHead:
    """Submit the task to the head as a task without a lease is."""

    task_id: bytes


@dataclass(slots=True, frozen=True)
class ReturnLease:
    lease_id: bytes
    why: str


@dataclass(slots=True, frozen=True)
class FailTask:
    """No retries left after its lease broke: it finishes with this error in the client."""

    task_id: bytes
    why: str


Instruction = RequestLease | SendTask | ViaHead | ReturnLease | FailTask


@dataclass(slots=True)
class _Task:
    task_id: bytes
    class_key: bytes
    retries_left: int  # -1: forever
    attempt: int = 1
    lease_id: bytes = b""  # while SENT


@dataclass(slots=True)
class _Class:
    key: bytes
    state: ClassState = ClassState.NONE
    lease_id: bytes = b""
    slots: int = 0
    queued: deque[bytes] = field(default_factory=deque)
    sent: dict[bytes, None] = field(default_factory=dict)  # task ids in order
    idle: int = 0  # ticks held with nothing queued or sent
    waited: int = 0  # ticks requested with tasks queued


class LeaseBook:
    def __init__(
        self, client_id: bytes, slots_wanted: int = 2, idle_ticks: int = 20, grant_ticks: int = 2, depth: int = 2
    ) -> None:
        self.depth = depth  # tasks SENT per slot at most (the daemon holds as many)
        self.client_id = client_id
        self.slots_wanted = slots_wanted
        self.idle_ticks = idle_ticks
        self.grant_ticks = grant_ticks
        self.classes: dict[bytes, _Class] = {}
        self.tasks: dict[bytes, _Task] = {}
        self.by_lease: dict[bytes, bytes] = {}  # lease id -> class key
        self._counter = 0

    # ---- events ----------------------------------------------------------------

    def submitted(self, task_id: bytes, class_key: bytes, max_retries: int) -> list[Instruction]:
        """A runnable task of a class that may go on a lease."""
        cls = self.classes.setdefault(class_key, _Class(class_key))
        if cls.state in (ClassState.NONE, ClassState.RETURNING):
            out: list[Instruction] = [ViaHead(task_id)]
            if cls.state is ClassState.NONE:
                out.insert(0, self._request(cls))
            return out
        self.tasks[task_id] = _Task(task_id, class_key, max_retries)
        cls.queued.append(task_id)
        return self._pump(cls)

    def granted(self, lease_id: bytes, slots: int) -> list[Instruction]:
        class_key = self.by_lease.get(lease_id)
        cls = self.classes.get(class_key) if class_key is not None else None
        if cls is None or cls.lease_id != lease_id or cls.state is not ClassState.REQUESTED:
            return [ReturnLease(lease_id, "not wanted any more")] if class_key is None else []
        cls.state = ClassState.HELD
        cls.slots = max(1, slots)
        cls.idle = 0
        return self._pump(cls)

    def answered(self, task_id: bytes, retryable: bool) -> list[Instruction]:
        """The daemon answered a SENT task on its lease (retryable: it may run again)."""
        task = self.tasks.get(task_id)
        if task is None or not task.lease_id:
            return []
        cls = self.classes[task.class_key]
        cls.sent.pop(task_id, None)
        task.lease_id = b""
        out: list[Instruction] = []
        if retryable and task.retries_left != 0:
            task.retries_left -= task.retries_left > 0
            task.attempt += 1
            cls.queued.appendleft(task_id)
        else:
            del self.tasks[task_id]
        if cls.state is ClassState.HELD:
            return out + self._pump(cls)
        return out + self._maybe_return(cls)

    def bounced(self, task_ids: list[bytes], why: str) -> list[Instruction]:
        """Tasks the daemon did not run, or that a broken stream stranded: through the head."""
        out: list[Instruction] = []
        for task_id in task_ids:
            task = self.tasks.get(task_id)
            if task is None or not task.lease_id:
                continue
            cls = self.classes[task.class_key]
            cls.sent.pop(task_id, None)
            del self.tasks[task_id]
            if task.retries_left == 0:
                out.append(FailTask(task_id, why))
            else:
                out.append(ViaHead(task_id))
        return out

    def broken(self, lease_id: bytes, why: str) -> list[Instruction]:
        """The lease's stream broke (node died, connection lost, lease refused)."""
        class_key = self.by_lease.pop(lease_id, None)
        cls = self.classes.get(class_key) if class_key is not None else None
        if cls is None or cls.lease_id != lease_id:
            return []
        out = self.bounced(list(cls.sent), why)
        out += self._drain_queue(cls)
        cls.state, cls.lease_id, cls.slots = ClassState.NONE, b"", 0
        out.append(ReturnLease(lease_id, why))
        return out

    def revoked(self, lease_id: bytes) -> list[Instruction]:
        class_key = self.by_lease.get(lease_id)
        cls = self.classes.get(class_key) if class_key is not None else None
        if cls is None or cls.lease_id != lease_id or cls.state not in (ClassState.HELD, ClassState.REQUESTED):
            return []
        cls.state = ClassState.RETURNING
        return self._drain_queue(cls) + self._maybe_return(cls)

    def tick(self) -> list[Instruction]:
        out: list[Instruction] = []
        for cls in self.classes.values():
            if cls.state is ClassState.HELD and not cls.queued and not cls.sent:
                cls.idle += 1
                if cls.idle >= self.idle_ticks:
                    cls.state = ClassState.RETURNING
                    out += self._maybe_return(cls, "idle")
            elif cls.state is ClassState.REQUESTED and cls.queued:
                cls.waited += 1
                if cls.waited >= self.grant_ticks:
                    out += self._drain_queue(cls)
        return out

    def forget(self, task_id: bytes) -> None:
        """A QUEUED task leaves the book (cancelled before it was sent)."""
        task = self.tasks.pop(task_id, None)
        if task is not None and not task.lease_id:
            cls = self.classes[task.class_key]
            if task_id in cls.queued:
                cls.queued.remove(task_id)

    # ---- readers ---------------------------------------------------------------

    def holding(self) -> bool:
        """Whether ticks are needed (a lease is held or asked for)."""
        return any(c.state is not ClassState.NONE for c in self.classes.values())

    def held(self) -> list[tuple[bytes, bytes]]:
        """(class key, lease id) of every held lease (a restarted head hears of them again)."""
        return [(c.key, c.lease_id) for c in self.classes.values() if c.state is ClassState.HELD]

    def in_flight(self, lease_id: bytes) -> list[bytes]:
        class_key = self.by_lease.get(lease_id)
        cls = self.classes.get(class_key) if class_key is not None else None
        return list(cls.sent) if cls is not None and cls.lease_id == lease_id else []

    # ---- helpers ---------------------------------------------------------------

    def _request(self, cls: _Class) -> RequestLease:
        self._counter += 1
        cls.lease_id = self.client_id + self._counter.to_bytes(4, "big")
        cls.state = ClassState.REQUESTED
        cls.waited = 0
        self.by_lease[cls.lease_id] = cls.key
        return RequestLease(cls.lease_id, cls.key, self.slots_wanted)

    def _pump(self, cls: _Class) -> list[Instruction]:
        if cls.state is not ClassState.HELD:
            return []
        out: list[Instruction] = []
        bound = self.depth * cls.slots
        while cls.queued and len(cls.sent) < bound:
            task = self.tasks[cls.queued.popleft()]
            task.lease_id = cls.lease_id
            cls.sent[task.task_id] = None
            out.append(SendTask(cls.lease_id, task.task_id, task.attempt))
        if cls.queued or cls.sent:
            cls.idle = 0
        return out

    def _drain_queue(self, cls: _Class) -> list[Instruction]:
        out: list[Instruction] = [ViaHead(t) for t in cls.queued]
        for task_id in cls.queued:
            self.tasks.pop(task_id, None)
        cls.queued.clear()
        cls.waited = 0
        return out

    def _maybe_return(self, cls: _Class, why: str = "revoked") -> list[Instruction]:
        if cls.state is not ClassState.RETURNING or cls.sent:
            return []
        lease_id = cls.lease_id
        self.by_lease.pop(lease_id, None)
        cls.state, cls.lease_id, cls.slots, cls.idle = ClassState.NONE, b"", 0, 0
        return [ReturnLease(lease_id, why)] if lease_id else []

    # ---- invariants ------------------------------------------------------------

    def validate(self) -> None:
        for cls in self.classes.values():
            if cls.state is ClassState.NONE:
                assert not cls.sent and not cls.queued and not cls.lease_id, f"class {cls.key!r} idle with work"
            if cls.state is ClassState.HELD:
                bound = self.depth * cls.slots
                assert len(cls.sent) <= bound, f"class {cls.key!r}: {len(cls.sent)} sent > {bound}"
            for task_id in cls.sent:
                assert self.tasks[task_id].lease_id == cls.lease_id, "a sent task names another lease"
            for task_id in cls.queued:
                assert not self.tasks[task_id].lease_id, "a queued task is also sent"
        counted = sum(len(c.sent) + len(c.queued) for c in self.classes.values())
        assert counted == len(self.tasks), f"{len(self.tasks)} tasks kept, {counted} queued or sent"
