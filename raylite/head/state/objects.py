"""The object directory and reference counts: what exists, where, and who needs it.

Theory of operation
-------------------
Objects are immutable once they exist. An object's value is opaque here: an
inline value or a store location (`node_id`, plus secondary `copies` that
nodes pulled). `add` publishes an object: its submitter (`owner`) is pushed
it, since it almost always asks; anyone else subscribed (one-shot); tasks
waiting for it as an argument are woken through `tasks.object_ready`. A
second `add` of an existing id is ignored (a put or result replayed).

An object lives while a client holds an ObjectRef to it (`holders`, from
RefsChanged: each process reports only its first ref and its last), or
something in the cluster still needs it (`pins`): a queued or running task
that takes it as an argument or has it nested in its arguments, a live
object that has it pickled inside (`contained`), a live actor whose
constructor took it, a finished task kept in lineage. The moment neither
holds, the object is a free candidate; candidates are judged once the whole
step is applied (`free_pass`), so that a batch that puts an object and
submits a task taking it, or releases a ref and takes another, is judged as a
whole. A freed object leaves the directory, FreeObject tells each live node
with a copy to delete it, and `on_freed` tells the rest of the head (an
actor's creation result stands for its handles; a lineage entry whose
outputs are all gone is dropped). A driver's disconnection drops all it held.

While a restarted head recovers (`holding_frees`), nothing is freed: clients
re-announce their refs only as they reconnect.

When a node dies, its copies go; an object whose primary was there gets a
surviving copy promoted (PromoteObject: its node must keep it as its own from
now on), or is lost: `node_lost` returns those, and lineage decides whether
they are made again (raylite/head/state/task_failures.py).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import TYPE_CHECKING

from raylite.head.state.model import (
    Deliver,
    FreeObject,
    ObjectCopiesChanged,
    ObjectInfo,
    ObjectsSubscribed,
    PromoteObject,
    RefsChanged,
    TaskRecord,
)
from raylite.head.state.nodes import NodeTable
from raylite.head.state.sink import Sink

if TYPE_CHECKING:
    from raylite.head.state.streams import Streams
    from raylite.head.state.tasks import TaskTable


class ObjectDirectory:
    def __init__(self, sink: Sink, nodes: NodeTable, clients: dict[bytes, tuple[bytes, bool]]) -> None:
        self.sink = sink
        self.nodes = nodes
        self.clients = clients  # read only: the facade's session table (client -> (job, is_driver))
        self.objects: dict[bytes, ObjectInfo] = {}
        self.copies: dict[bytes, set[bytes]] = {}  # object -> nodes with a secondary copy
        # object -> the clients holding an ObjectRef to it: one client as its id, a set from a
        # second on (a set per object would be one more object per queued task for a full
        # garbage collection to walk; raylite/gc_watch.py). Read it through holds()/holders_of().
        self.holders: dict[bytes, bytes | set[bytes]] = {}
        self.client_refs: dict[bytes, set[bytes]] = {}  # client -> objects it holds
        self.pins: dict[bytes, int] = {}  # object -> tasks, objects and actors that need it
        self.holding_frees = False  # a restarted head, until RecoveryEnded
        self._subscribers: dict[bytes, set[bytes]] = {}
        self._free_candidates: dict[bytes, None] = {}  # judged once the whole step is applied
        # wired by HeadState
        self.tasks: TaskTable
        self.dep_waiters: dict[bytes, list[tuple[bytes, int]]]  # TaskTable's, read to skip a call when none waits
        self.on_freed: Callable[[bytes], None]
        self.streams: Streams  # told of refs to the ids it watches (generators and their items)

    # ---- publishing ----------------------------------------------------------------

    def add(self, info: ObjectInfo, owner: bytes | None) -> None:
        """An object exists: tell who waits for it, and wake the tasks that take it."""
        oid = info.object_id
        if oid in self.objects:
            return
        self.objects[oid] = info
        if info.contained:
            self.pin(info.contained)
        effects = self.sink.effects
        if owner is not None and owner in self.clients:
            effects.append(Deliver(owner, info))
        if self._subscribers:
            for client in self._subscribers.pop(oid, ()):
                if client != owner:
                    effects.append(Deliver(client, info))
        if oid in self.dep_waiters:
            self.tasks.object_ready(info)
        self._free_candidates[oid] = None

    def args_of(self, task: TaskRecord) -> list[ObjectInfo]:
        """The task's arguments that exist, once each, in dependency order (for Dispatch)."""
        objects = self.objects
        return [objects[d] for d in dict.fromkeys(task.deps) if d in objects]

    def on_subscribed(self, ev: ObjectsSubscribed) -> None:
        self.subscribe(ev.client_id, ev.object_ids)

    def subscribe(self, client_id: bytes, object_ids: Iterable[bytes]) -> None:
        for oid in object_ids:
            info = self.objects.get(oid)
            if info is not None:
                self.sink.effects.append(Deliver(client_id, info))
            else:
                self._subscribers.setdefault(oid, set()).add(client_id)

    # ---- reference counting --------------------------------------------------------------

    def holds(self, oid: bytes, client_id: bytes) -> bool:
        held = self.holders.get(oid)
        if held is None:
            return False
        return held == client_id if isinstance(held, bytes) else client_id in held

    def holders_of(self, oid: bytes) -> Collection[bytes]:
        held = self.holders.get(oid)
        if held is None:
            return ()
        return (held,) if isinstance(held, bytes) else held

    def on_refs_changed(self, ev: RefsChanged) -> None:
        mine = self.client_refs.setdefault(ev.client_id, set())
        client_id = ev.client_id
        watched = self.streams.watched
        holders = self.holders
        for oid, held in ev.changes:
            if held:
                had = holders.get(oid)
                if had is None:
                    holders[oid] = client_id
                elif isinstance(had, bytes):
                    if had != client_id:
                        holders[oid] = {had, client_id}
                else:
                    had.add(client_id)
                mine.add(oid)
                if oid in watched:
                    self.streams.held(oid, client_id)
            else:
                mine.discard(oid)
                self._drop_holder(oid, client_id)

    def client_gone(self, client_id: bytes) -> None:
        """A session ended: its subscriptions and every ref it held go with it."""
        for subs in self._subscribers.values():
            subs.discard(client_id)
        for oid in self.client_refs.pop(client_id, ()):
            self._drop_holder(oid, client_id)

    def _drop_holder(self, oid: bytes, client_id: bytes) -> None:
        held = self.holders.get(oid)
        if held is None:
            return
        if isinstance(held, bytes):
            if held == client_id:
                del self.holders[oid]
                self._free_candidates[oid] = None
        else:
            held.discard(client_id)
            if len(held) == 1:
                self.holders[oid] = next(iter(held))
        if oid in self.streams.watched:
            self.streams.dropped(oid, client_id)

    def pin(self, oids: tuple[bytes, ...]) -> None:
        pins = self.pins
        for oid in oids:
            pins[oid] = pins.get(oid, 0) + 1

    def unpin(self, oids: tuple[bytes, ...]) -> None:
        pins = self.pins
        for oid in oids:
            n = pins.get(oid, 0) - 1
            if n > 0:
                pins[oid] = n
            else:
                pins.pop(oid, None)
                self._free_candidates[oid] = None

    def recheck_all(self) -> None:
        """Judges every object at the end of this step (recovery is over)."""
        for oid in self.objects:
            self._free_candidates[oid] = None

    def free_pass(self) -> None:
        """Drops every candidate that nothing holds or needs now that the step is applied."""
        candidates = self._free_candidates
        while candidates:
            oid = next(iter(candidates))
            del candidates[oid]
            self._free_if_unreferenced(oid)

    def _free_if_unreferenced(self, oid: bytes) -> None:
        if oid in self.holders or oid in self.pins or self.holding_frees:
            return
        info = self.objects.pop(oid, None)
        if info is None:
            return  # not made yet: it is dropped the moment it is, unless someone holds it by then
        nodes = self.copies.pop(oid, set())
        if info.node_id is not None:
            nodes.add(info.node_id)
        for node_id in sorted(nodes):
            if self.nodes.alive(node_id):
                self.sink.effects.append(FreeObject(node_id, oid))
        if info.contained:
            self.unpin(info.contained)
        self.on_freed(oid)

    # ---- copies and lost nodes -----------------------------------------------------------

    def add_copy(self, oid: bytes, node_id: bytes) -> None:
        info = self.objects.get(oid)
        if info is not None and info.node_id is not None and info.node_id != node_id:
            self.copies.setdefault(oid, set()).add(node_id)

    def node_reported(self, node_id: bytes, objects: list[ObjectInfo], copies: list[bytes]) -> None:
        """What a node rejoining a restarted head stores: primaries (with the refs inside them) and copies."""
        for info in objects:
            if info.object_id in self.objects:
                self.add_copy(info.object_id, node_id)
            else:
                self.add(info, owner=None)
        for oid in copies:
            self.add_copy(oid, node_id)

    def node_lost(self, node_id: bytes) -> list[ObjectInfo]:
        """Forgets a dead node's copies; returns the objects whose last copy was there."""
        for oid, holders in list(self.copies.items()):
            holders.discard(node_id)
            if not holders:
                del self.copies[oid]
        return [info for info in list(self.objects.values()) if info.node_id == node_id and not self._promote(info)]

    def copies_changed(self, ev: ObjectCopiesChanged) -> list[ObjectInfo]:
        """A node pulled or evicted copies; returns objects lost because it evicted a just-promoted primary."""
        for oid in ev.added:
            self.add_copy(oid, ev.node_id)
        gone: list[ObjectInfo] = []
        for oid in ev.removed:
            holders = self.copies.get(oid)
            if holders is not None:
                holders.discard(ev.node_id)
                if not holders:
                    del self.copies[oid]
            info = self.objects.get(oid)
            if info is not None and info.node_id == ev.node_id:
                # the node evicted its copy before it heard that the copy had become the primary
                gone.append(info)
        return [info for info in gone if not self._promote(info)]

    def _promote(self, info: ObjectInfo) -> bool:
        """Makes a secondary copy the primary of an object whose primary is gone; False if none is left."""
        survivors = self.copies.pop(info.object_id, None)
        if not survivors:
            return False
        new_primary = min(survivors)
        info.node_id = new_primary
        survivors.discard(new_primary)
        if survivors:
            self.copies[info.object_id] = survivors
        # its node must stop treating it as a spare copy it may evict
        self.sink.effects.append(PromoteObject(new_primary, info.object_id))
        return True

    def drop_lost(self, info: ObjectInfo) -> None:
        """A lost object leaves the directory (it may be made again under the same id)."""
        del self.objects[info.object_id]
        if info.contained:
            self.unpin(info.contained)

    # ---- invariants ------------------------------------------------------------------------

    def validate(self, pinned_records: Iterable[TaskRecord], other_pins: Iterable[bytes] = ()) -> None:
        """Pins match what needs each object (other_pins: those of the streams); nothing is
        kept that nothing references."""
        expected: dict[bytes, int] = {}
        for oid in other_pins:
            expected[oid] = expected.get(oid, 0) + 1
        for t in pinned_records:
            for oid in t.deps + t.borrowed:
                expected[oid] = expected.get(oid, 0) + 1
        for info in self.objects.values():
            for oid in info.contained:
                expected[oid] = expected.get(oid, 0) + 1
        assert expected == self.pins, f"pins {self.pins} != expected {expected}"
        for oid in self.objects:
            assert oid in self.holders or oid in self.pins or self.holding_frees, (
                f"object {oid.hex()} is kept with no reference"
            )
        for oid, nodes in self.copies.items():
            stored = self.objects.get(oid)
            assert stored is not None and stored.node_id is not None, f"copies of {oid.hex()}, which is not stored"
            assert nodes and stored.node_id not in nodes, f"copies of {oid.hex()}: {nodes} (primary {stored.node_id!r})"
        for client_id, oids in self.client_refs.items():
            for oid in oids:
                assert self.holds(oid, client_id), f"{client_id.hex()} holds {oid.hex()} unrecorded"
        for oid, held in self.holders.items():
            assert isinstance(held, bytes) or len(held) > 1, f"holders of {oid.hex()}: a set of {len(held)}"
