"""Which objects a node's store holds, and what to do when it is full.

Theory of operation
-------------------
Every object written into the node's shared memory is first admitted here
with `reserve(object_id, size, primary)`. If the bytes in shared memory would
exceed the capacity, the index frees room in least-recently-used order:

- a secondary copy (pulled from another node) is evicted: its file is deleted
  and the head is told the copy is gone; the primary elsewhere remains;
- a primary copy (made on this node by a task or a put) is spilled: moved to
  local disk, from where the store brings it back when someone reads it
  (raylite/worker/object_store.py: NodeStore.ensure_local).

Objects being written or restored are pinned until `written` is called, so
two concurrent reservations never evict each other's half-written bytes.
A reservation made for another process (the Reserve RPC) holds a lease: if
its bytes have not appeared when the lease ends (the writer died, or never
meant to write), `expire` forgets it, so a lost writer cannot pin the store's
room forever. `written` takes the size the file really has, so a writer that
reserved less than it wrote is accounted for what it wrote.
`reserve` returns the actions to carry out before writing, or None when only
pinned objects stand in the way (the caller waits for a `written` and asks
again); it never performs I/O itself. An object larger than the whole store
cannot be admitted.

Writers in other processes. Another process does not tell the store when its
file is in place: the shell looks for the files of `unwritten_leases()` before
each admission and reports what it found to `settle`, which marks those
written (with the size found) and lets lapsed leases go. A reservation that
names its writer's pid ends at once when that process dies (`writer_died`),
unless its file is in place after all: room held for a dead writer would
otherwise stay pinned until its lease ends, and a store full of those makes
every later write wait.

Moves. Spills and restores copy a file between shared memory and disk while
the daemon goes on; `move_started`/`move_ended` bracket each one. An object
being moved is neither probed nor given up for a dead writer (its file is in
flux, and the move owns it). The actions of one reservation are carried out
one after the other, so by the time one runs its object may have been freed,
or freed and written again: `due` says whether it still applies.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection, Mapping
from dataclasses import dataclass

SHM, DISK = "shm", "disk"


@dataclass(slots=True)
class Entry:
    size: int
    primary: bool
    where: str = SHM
    pinned: bool = True
    lease: float | None = None  # when an unwritten reservation for another process lapses
    writer: int = 0  # the pid of the process writing it, when known; only while pinned


@dataclass(slots=True, frozen=True)
class Evict:
    """Delete the secondary copy's file; tell the head the copy is gone."""

    object_id: bytes


@dataclass(slots=True, frozen=True)
class Spill:
    """Move the primary copy from shared memory to disk."""

    object_id: bytes


class StoreFull(Exception):
    """Raised by reserve when the object cannot fit even in an empty store."""


class StoreIndex:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.used = 0  # bytes in shared memory, reserved or written
        self.entries: OrderedDict[bytes, Entry] = OrderedDict()  # least recently used first
        self.moving: set[bytes] = set()  # objects whose file a spill or restore is moving now

    def reserve(
        self, object_id: bytes, size: int, primary: bool, lease: float | None = None, writer: int = 0
    ) -> list[Evict | Spill] | None:
        """Admits an object into shared memory; returns what must leave first (None: wait).

        lease: the time after which the reservation lapses unless written (see expire).
        writer: the pid of the process that will write it, if known (see writer_died).
        """
        entry = self.entries.get(object_id)
        if entry is not None and entry.where == SHM:
            self.entries.move_to_end(object_id)
            if writer and entry.pinned:
                entry.writer = writer  # the latest writer's death is the one that matters
            return []
        if entry is not None:
            size = entry.size  # restoring a spilled primary: it has the size it was written with
        if size > self.capacity:
            raise StoreFull(
                f"object of {size} bytes is larger than the node's object store ({self.capacity} bytes), so it "
                "can never be stored there: give the node a larger store (`raylite start --object-store-memory "
                "BYTES`, or `ray.init(object_store_memory=BYTES)` for a local cluster), or split the value into "
                "smaller objects"
            )
        actions = self._make_room(size)
        if actions is None:
            return None
        if entry is None:
            self.entries[object_id] = Entry(size, primary, lease=lease, writer=writer)
        else:  # restoring a spilled primary
            entry.where = SHM
            entry.pinned = True
            entry.lease = None
            entry.writer = writer
            self.entries.move_to_end(object_id)
        self.used += size
        return actions

    def _make_room(self, size: int) -> list[Evict | Spill] | None:
        actions: list[Evict | Spill] = []
        if self.used + size <= self.capacity:
            return actions
        movable = sum(e.size for e in self.entries.values() if e.where == SHM and not e.pinned)
        if self.used - movable + size > self.capacity:
            return None
        for oid, entry in list(self.entries.items()):
            if self.used + size <= self.capacity:
                break
            if entry.where != SHM or entry.pinned:
                continue
            self.used -= entry.size
            if entry.primary:
                entry.where = DISK
                actions.append(Spill(oid))
            else:
                del self.entries[oid]
                actions.append(Evict(oid))
        return actions

    def written(self, object_id: bytes, size: int | None = None) -> None:
        """The object's bytes are in place: it may be evicted or spilled from now on.

        size: how many bytes the writer really wrote, when it may differ from its reservation.
        """
        entry = self.entries.get(object_id)
        if entry is None:
            return
        entry.pinned = False
        entry.lease = None
        entry.writer = 0
        if size is not None and size != entry.size and entry.where == SHM:
            self.used += size - entry.size
            entry.size = size

    def expire(self, now: float) -> list[bytes]:
        """Forgets the reservations whose lease ended unwritten; returns their ids."""
        lapsed = [oid for oid, e in self.entries.items() if e.pinned and e.lease is not None and e.lease <= now]
        for oid in lapsed:
            self.abandon(oid)
        return lapsed

    def unwritten_leases(self) -> list[bytes]:
        """Reservations for other processes still unwritten: the shell looks for their files."""
        return [oid for oid, e in self.entries.items() if e.pinned and e.lease is not None and oid not in self.moving]

    def settle(self, now: float, found: Mapping[bytes, int]) -> list[bytes]:
        """Files of unwritten_leases() found in place (id -> size) are written; lapsed leases end.

        Returns the ids whose lease lapsed unwritten.
        """
        for oid, size in found.items():
            self.written(oid, size)  # the size the writer really wrote
        return self.expire(now)

    def writes_of(self, pid: int) -> list[bytes]:
        """What process pid reserved and has not been seen to write: the shell looks for those files."""
        return [oid for oid, e in self.entries.items() if e.writer == pid and e.pinned and oid not in self.moving]

    def writer_died(self, pid: int, on_disk: Collection[bytes]) -> list[bytes]:
        """Process pid died: what it reserved and did not write (its file is not on_disk) will
        never come, and its room is free again. Returns those ids (their half-written files go)."""
        abandoned = []
        for oid, entry in list(self.entries.items()):
            if entry.writer != pid:
                continue
            entry.writer = 0
            if not entry.pinned or oid in self.moving or oid in on_disk:
                continue  # written after all, or a move owns the file now
            self.abandon(oid)
            abandoned.append(oid)
        return abandoned

    def move_started(self, object_id: bytes) -> None:
        self.moving.add(object_id)

    def move_ended(self, object_id: bytes) -> None:
        self.moving.discard(object_id)

    def due(self, action: Evict | Spill) -> bool:
        """Whether an action decided earlier still applies now that its turn came."""
        entry = self.entries.get(action.object_id)
        if isinstance(action, Evict):
            return entry is None  # else the copy was pulled again since the decision: keep it
        return entry is not None and entry.where == DISK  # else freed (and maybe written again)

    def next_lapse(self) -> float | None:
        """When the next lease ends, if any reservation holds one."""
        leases = [e.lease for e in self.entries.values() if e.pinned and e.lease is not None]
        return min(leases) if leases else None

    def promote(self, object_id: bytes) -> None:
        """A secondary copy became the object's only one: spill it from now on, never evict it."""
        entry = self.entries.get(object_id)
        if entry is not None:
            entry.primary = True

    def touched(self, object_id: bytes) -> None:
        if object_id in self.entries:
            self.entries.move_to_end(object_id)

    def where(self, object_id: bytes) -> str | None:
        entry = self.entries.get(object_id)
        return entry.where if entry is not None else None

    def abandon(self, object_id: bytes) -> None:
        """Forgets an object: its write failed, or nothing references it any more."""
        entry = self.entries.pop(object_id, None)
        if entry is not None and entry.where == SHM:
            self.used -= entry.size

    def validate(self) -> None:
        in_shm = sum(e.size for e in self.entries.values() if e.where == SHM)
        assert in_shm == self.used, f"used {self.used} != {in_shm} bytes of objects in shared memory"
        for oid, e in self.entries.items():
            assert e.where in (SHM, DISK), oid
            assert e.primary or e.where == SHM, f"secondary copy {oid.hex()} was spilled"
            assert e.lease is None or e.pinned, f"written object {oid.hex()} still holds a lease"
            assert not e.writer or e.pinned, f"written object {oid.hex()} still names a writer"
            assert not e.pinned or e.where == SHM, f"object {oid.hex()} on disk is pinned"
