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

A placement group's bundle reserved on a node takes its resources like a
task and adds resources named after the group to the node (`grow`), which
the group's tasks then take; removing the group takes them away (`shrink`):
raylite/placement_resources.py has the names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from raylite import resources as res
from raylite.head.state.model import NodeRecord
from raylite.head.state.sink import Sink


class NodeTable:
    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.nodes: dict[bytes, NodeRecord] = {}

    def add(self, node_id: bytes, total: Mapping[str, float], info: Any) -> NodeRecord:
        node = NodeRecord(node_id, dict(total), dict(total), info)
        self.nodes[node_id] = node
        self.sink.needs_pass = True
        return node

    def remove(self, node_id: bytes) -> bool:
        """Marks a node dead; False if it was unknown or already dead."""
        node = self.nodes.get(node_id)
        if node is None or not node.alive:
            return False
        node.alive = False
        node.available = {}
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

    def give_back(self, node_id: bytes | None, request: Mapping[str, float]) -> None:
        node = self.nodes.get(node_id) if node_id is not None else None
        if node is not None and node.alive:
            res.add(node.available, request)
            self.sink.needs_pass = True

    def grow(self, node_id: bytes, amounts: Mapping[str, float]) -> None:
        """The node has these resources too now (a placement group's bundle reserved there)."""
        node = self.nodes[node_id]
        if node.alive:
            res.add(node.total, amounts)
            res.add(node.available, amounts)
            self.sink.needs_pass = True

    def shrink(self, node_id: bytes, amounts: Mapping[str, float]) -> None:
        """Takes back what grow added (nothing may hold it any more); names left at zero go."""
        node = self.nodes[node_id]
        if not node.alive:
            return
        for table in (node.total, node.available):
            res.subtract(table, amounts)
            for name in amounts:
                if abs(table.get(name, 0.0)) < res.EPS:
                    table.pop(name, None)
