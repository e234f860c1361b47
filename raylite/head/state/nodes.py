"""The node table: which nodes the head knows, and what each has free.

Theory of operation
-------------------
A node's `total` is what it announced when it joined; `available` is total
minus what runs there: normal tasks that are RUNNING and not blocked in
`get`, and live actors (`held`, from placement until death). Tasks take
with `take` when they are placed or adopted and give back with `give_back`
when they finish, are retried, or block; actors likewise. Only this module
adds and subtracts, so HeadState.validate() can recount a node from the task
table and the actor directory and compare.

A dead node stays in the table with `alive` False and nothing available: its
id must not come back (a node the head declared dead rejoins under a new id),
and late reports that name it are recognised and ignored. Giving back to a
dead node is a no-op, which is what makes "release what it held" safe to say
for any task or actor whatever happened to its node.

Making room sets `needs_pass` on the sink: something queued may fit now.

The least loaded node (scheduler.py's default policy) is found through a heap
of (CPU load, join order) kept up to date by every change above, so placing a
task does not walk every node (`least_loaded`): with 1,000 nodes a walk cost
~200 us per placement (scripts/bench_scale.py simulate). Entries of loads a
node no longer has are skipped when they reach the top, and the heap is
rebuilt when stale ones pile up.

A placement group's bundle reserved on a node takes its resources like a
task and adds resources named after the group to the node (`grow`), which
the group's tasks then take; removing the group takes them away (`shrink`):
raylite/placement_resources.py has the names.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from typing import Any, Literal

from raylite import resources as res
from raylite.head.state.model import NodeRecord
from raylite.head.state.scheduler import load
from raylite.head.state.sink import Sink
from raylite.labels import NODE_ID

# Candidates least_loaded() looks at before it leaves the choice to a walk over every node
# (a request that fits few nodes, or none: a full cluster). Such a walk costs once per
# scheduling pass, where the queue stops, not once per task placed.
_CANDIDATES = 8


class NodeTable:
    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.nodes: dict[bytes, NodeRecord] = {}
        self._order: dict[bytes, int] = {}  # node -> its place in join order (min()'s tie-break)
        self._keys: dict[bytes, tuple[float, int]] = {}  # live node -> its entry's (load, order)
        self._by_load: list[tuple[float, int, bytes]] = []  # heap; stale entries are skipped
        self._totals: dict[str, float] | None = None  # of the live nodes, made again after a change

    def totals(self) -> dict[str, float]:
        """What the live nodes have in all, free or not (a scheduling class's capacity)."""
        if self._totals is None:
            totals: dict[str, float] = {}
            for node in self.nodes.values():
                if node.alive:
                    res.add(totals, node.total)
            self._totals = totals
        return self._totals

    def add(
        self, node_id: bytes, total: Mapping[str, float], info: Any, labels: Mapping[str, str] | None = None
    ) -> NodeRecord:
        node = NodeRecord(node_id, dict(total), dict(total), info, labels={**(labels or {}), NODE_ID: node_id.hex()})
        self.nodes[node_id] = node
        self._order.setdefault(node_id, len(self._order))  # (a dict keeps a re-added key's place)
        self._totals = None
        self._moved(node)
        self.sink.needs_pass = True
        return node

    def least_loaded(self, request: Mapping[str, float]) -> bytes | None | Literal[False]:
        """The live node with the lowest CPU load that fits `request`, ties to the earliest
        joined (as scheduler.pick_default without locality); None if no node fits; False when
        the first few candidates do not fit and the caller must walk every node to know."""
        heap, keys, nodes = self._by_load, self._keys, self.nodes
        aside: list[tuple[float, int, bytes]] = []
        found: bytes | None | Literal[False] = None
        while heap:
            entry = heap[0]
            if keys.get(entry[2]) != entry[:2]:
                heapq.heappop(heap)  # a load the node no longer has, or a dead node
                continue
            if res.fits(request, nodes[entry[2]].available):
                found = entry[2]
                break
            aside.append(heapq.heappop(heap))
            if len(aside) == _CANDIDATES:
                found = False
                break
        for entry in aside:
            heapq.heappush(heap, entry)
        return found

    def _moved(self, node: NodeRecord) -> None:
        """The node's load changed (or it joined or died): its heap entry follows."""
        if not node.alive:
            self._keys.pop(node.node_id, None)
            return
        key = (load(node), self._order[node.node_id])
        if self._keys.get(node.node_id) == key:
            return
        self._keys[node.node_id] = key
        heap = self._by_load
        if len(heap) > 4 * len(self._keys) + 64:
            heap[:] = [(k[0], k[1], n) for n, k in self._keys.items()]
            heapq.heapify(heap)
        else:
            heapq.heappush(heap, (key[0], key[1], node.node_id))

    def remove(self, node_id: bytes) -> bool:
        """Marks a node dead; False if it was unknown or already dead."""
        node = self.nodes.get(node_id)
        if node is None or not node.alive:
            return False
        node.alive = False
        node.available = {}
        self._totals = None
        self._moved(node)
        self.sink.needs_pass = True
        return True

    def alive(self, node_id: bytes | None) -> bool:
        node = self.nodes.get(node_id) if node_id is not None else None
        return node is not None and node.alive

    def take(self, node_id: bytes, request: Mapping[str, float]) -> None:
        """Something starts to use `request` on the node (it may overcommit: see TaskBlockChanged)."""
        node = self.nodes[node_id]
        if node.alive:
            res.subtract(node.available, request)
            self._moved(node)

    def give_back(self, node_id: bytes | None, request: Mapping[str, float]) -> None:
        node = self.nodes.get(node_id) if node_id is not None else None
        if node is not None and node.alive:
            res.add(node.available, request)
            self._moved(node)
            self.sink.needs_pass = True

    def grow(self, node_id: bytes, amounts: Mapping[str, float]) -> None:
        """The node has these resources too now (a placement group's bundle reserved there)."""
        node = self.nodes[node_id]
        if node.alive:
            self._totals = None
            res.add(node.total, amounts)
            res.add(node.available, amounts)
            self._moved(node)
            self.sink.needs_pass = True

    def shrink(self, node_id: bytes, amounts: Mapping[str, float]) -> None:
        """Takes back what grow added (nothing may hold it any more); names left at zero go."""
        node = self.nodes[node_id]
        if not node.alive:
            return
        self._totals = None
        for table in (node.total, node.available):
            res.subtract(table, amounts)
            for name in amounts:
                if abs(table.get(name, 0.0)) < res.EPS:
                    table.pop(name, None)
        self._moved(node)
