"""Which objects a node's store holds, and what to do when it is full.

Theory of operation
-------------------
Every object written into the node's shared memory is first admitted here
with `reserve(object_id, size, primary)`. If the bytes in shared memory would
exceed the capacity, the index frees room in least-recently-used order:

- a secondary copy (pulled from another node) is evicted: its file is deleted
  and the head is told the copy is gone; the primary elsewhere remains;
- a primary copy (made on this node by a task or a put) is spilled: moved to
  local disk, from where `restore` brings it back when someone reads it.

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
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

SHM, DISK = "shm", "disk"


@dataclass(slots=True)
class Entry:
    size: int
    primary: bool
    where: str = SHM
    pinned: bool = True
    lease: float | None = None  # when an unwritten reservation for another process lapses


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

    def reserve(
        self, object_id: bytes, size: int, primary: bool, lease: float | None = None
    ) -> list[Evict | Spill] | None:
        """Admits an object into shared memory; returns what must leave first (None: wait).

        lease: the time after which the reservation lapses unless written (see expire).
        """
        entry = self.entries.get(object_id)
        if entry is not None and entry.where == SHM:
            self.entries.move_to_end(object_id)
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
            self.entries[object_id] = Entry(size, primary, lease=lease)
        else:  # restoring a spilled primary
            entry.where = SHM
            entry.pinned = True
            entry.lease = None
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
        if size is not None and size != entry.size and entry.where == SHM:
            self.used += size - entry.size
            entry.size = size

    def expire(self, now: float) -> list[bytes]:
        """Forgets the reservations whose lease ended unwritten; returns their ids."""
        lapsed = [oid for oid, e in self.entries.items() if e.pinned and e.lease is not None and e.lease <= now]
        for oid in lapsed:
            self.abandon(oid)
        return lapsed

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
