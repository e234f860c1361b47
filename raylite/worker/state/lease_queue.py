"""The leases a worker daemon serves: who may send on each, how many tasks it holds, when it drained.

Theory of operation
-------------------
The head grants a client a lease on this node (raylite/head/state/leases.py)
and tells the node first (`HeadToNode.leases` -> `announced`), so that when the
client opens `WorkerService.LeaseStream` naming the lease, the daemon knows
whom to serve (`opened`: the lease must be known, not stopped, and the
client the one it was granted to).

Tasks arrive on the stream in submission order. The daemon keeps at most
`2 x slots` of a lease's tasks at once: at most `slots` running (given to the
executor pool, so a lease never runs more tasks at once than the resources
the head set aside for it), the others waiting here in order; each task that
ends starts the next at once (`Finished.start`), so an executor finishing a
task finds the next one here instead of idling for a round trip to the
submitter, and few enough wait that a revoked or broken lease strands little. The submitter keeps to that
bound (raylite/client/state/leases.py); what exceeds it, or arrives on a
lease being stopped, is bounced (the submitter sends it through the head).

A lease ends on this node when the head stops it (returned, revoked and
returned, or its client left: `stopped`) or when its stream closes
(`stream_closed`: the client is gone or moved on). Either way tasks already
here run to the end, and once none is left the lease is `Drained`: the
daemon reports `NodeBatch.leases_drained` and the head frees its slots.
A lease whose stream closed may be opened again by its client (a broken
connection) until the head stops it.

Pure: the shell (raylite/worker/lease_service.py) feeds events and reports
what `handle`-style methods return.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class ServedLease:
    lease_id: bytes
    client_id: bytes
    slots: int
    grant: Any = None
    depth: int = 2  # tasks held per slot (running or waiting here)
    lent: int = 0  # slots the head lent out while tasks of the lease block in get: that many more may run  # the head's LeaseGrant, opaque here: repeated in a resume hello
    stopped: bool = False  # by the head: no new tasks, drain
    open: bool = False  # a client stream serves it now
    held: dict[bytes, None] = field(default_factory=dict)  # task ids here, in arrival order
    running: set[bytes] = field(default_factory=set)  # given to the pool
    waiting: deque[bytes] = field(default_factory=deque)  # here, for a running one to end

    @property
    def bound(self) -> int:
        return self.depth * self.slots


@dataclass(slots=True, frozen=True)
class Admitted:
    run: list[bytes]  # start now
    bounced: list[bytes]  # not taken: the submitter sends them through the head
    queued: list[bytes] = field(default_factory=list)  # taken, waiting here for a slot


@dataclass(slots=True, frozen=True)
class Finished:
    drained: bool  # that was the last task of a stopped lease
    start: list[bytes]  # waiting tasks to start now


class LeaseQueue:
    def __init__(self, depth: int = 2) -> None:
        self.depth = depth
        self.leases: dict[bytes, ServedLease] = {}
        self.ended: set[bytes] = set()  # drained ids: a late open is refused, a late grant ignored

    def announced(self, lease_id: bytes, client_id: bytes, slots: int, grant: Any = None) -> None:
        if lease_id in self.leases or lease_id in self.ended:
            return
        self.leases[lease_id] = ServedLease(lease_id, client_id, max(1, slots), grant, depth=self.depth)

    def opened(self, lease_id: bytes, client_id: bytes) -> str:
        """ "" if the client may send on the lease now, else why not."""
        lease = self.leases.get(lease_id)
        if lease is None:
            return "lease unknown on this node (ended, or never granted here)"
        if lease.client_id != client_id:
            return "lease granted to another client"
        if lease.stopped:
            return "lease stopped by the head"
        if lease.open:
            return "lease already served on another stream"
        lease.open = True
        return ""

    def arrived(self, lease_id: bytes, task_ids: list[bytes]) -> Admitted:
        lease = self.leases.get(lease_id)
        if lease is None or lease.stopped or not lease.open:
            return Admitted([], list(task_ids))
        run: list[bytes] = []
        bounced: list[bytes] = []
        queued: list[bytes] = []
        for task_id in task_ids:
            if task_id in lease.held:
                continue  # sent twice: it runs once
            if len(lease.held) >= lease.bound:
                bounced.append(task_id)
                continue
            lease.held[task_id] = None
            if len(lease.running) < lease.slots + lease.lent:
                lease.running.add(task_id)
                run.append(task_id)
            else:
                lease.waiting.append(task_id)
                queued.append(task_id)
        return Admitted(run, bounced, queued)

    def finished(self, lease_id: bytes, task_id: bytes) -> Finished:
        """A task of the lease ended here (or was withdrawn): the next waiting one starts."""
        lease = self.leases.get(lease_id)
        if lease is None:
            return Finished(False, [])
        lease.held.pop(task_id, None)
        if task_id in lease.running:
            lease.running.discard(task_id)
        elif task_id in lease.waiting:
            lease.waiting.remove(task_id)
        return Finished(self._drained(lease) if not lease.waiting else False, self._start(lease))

    def lend(self, lease_id: bytes, blocked: bool) -> list[bytes]:
        """A task of the lease blocked in get (one more may run) or resumed; the tasks to start."""
        lease = self.leases.get(lease_id)
        if lease is None:
            return []
        lease.lent = lease.lent + 1 if blocked else max(0, lease.lent - 1)
        return self._start(lease)

    def _start(self, lease: ServedLease) -> list[bytes]:
        start: list[bytes] = []
        while lease.waiting and len(lease.running) < lease.slots + lease.lent:
            next_id = lease.waiting.popleft()
            lease.running.add(next_id)
            start.append(next_id)
        return start

    def abandon(self, lease_id: bytes) -> list[bytes]:
        """Its stream ended: the tasks waiting here will not run (their submitter sends them
        through the head); those running end as they end."""
        lease = self.leases.get(lease_id)
        if lease is None:
            return []
        dropped = list(lease.waiting)
        lease.waiting.clear()
        for task_id in dropped:
            lease.held.pop(task_id, None)
        return dropped

    def is_waiting(self, lease_id: bytes, task_id: bytes) -> bool:
        lease = self.leases.get(lease_id)
        return lease is not None and task_id in lease.waiting

    def stopped(self, lease_id: bytes) -> bool:
        """The head ended the lease; True if it is drained already."""
        lease = self.leases.get(lease_id)
        if lease is None:
            return lease_id not in self.ended and self._end_unknown(lease_id)
        lease.stopped = True
        return self._drained(lease)

    def stream_closed(self, lease_id: bytes) -> bool:
        """Its client's stream ended. The lease stays for a reconnect until the head stops it."""
        lease = self.leases.get(lease_id)
        if lease is not None:
            lease.open = False
        return False

    def served(self) -> list[ServedLease]:
        return list(self.leases.values())

    def _end_unknown(self, lease_id: bytes) -> bool:
        self.ended.add(lease_id)
        return True  # nothing of it here: drained

    def _drained(self, lease: ServedLease) -> bool:
        if lease.stopped and not lease.held:
            del self.leases[lease.lease_id]
            self.ended.add(lease.lease_id)
            return True
        return False

    def validate(self) -> None:
        for lease_id, lease in self.leases.items():
            assert lease.lease_id == lease_id and lease_id not in self.ended, f"lease {lease_id.hex()} filed wrong"
            assert len(lease.held) <= lease.bound, f"lease {lease_id.hex()} holds more than 2 x slots"
            assert len(lease.running) <= lease.slots + lease.lent or not lease.waiting, (
                f"lease {lease_id.hex()} runs more than its slots with tasks waiting"
            )
            assert set(lease.held) == lease.running | set(lease.waiting), f"lease {lease_id.hex()}: lost track"
