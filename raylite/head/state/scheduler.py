"""Placement policies: plain functions from a request and the nodes to a node.

They read NodeRecords and return a node id, or None to wait. They never
mutate anything; HeadState subtracts the resources of the node it is given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from raylite.head.state.model import DEFAULT_STRATEGY, NodeRecord, Strategy
from raylite.labels import satisfies
from raylite.resources import fits


def feasible_anywhere(
    request: Mapping[str, float], nodes: Sequence[NodeRecord], strategy: Strategy = DEFAULT_STRATEGY
) -> bool:
    """True when some live node could run the request once it is idle (and has the labels asked for)."""
    hard = strategy.hard_labels
    return any(n.alive and fits(request, n.total) and (not hard or satisfies(n.labels, hard)) for n in nodes)


def load(node: NodeRecord) -> float:
    """The share of its CPUs a node uses (0 for a node without CPUs): the default policy's order."""
    total = node.total.get("CPU", 0.0)
    if total <= 0:
        return 0.0
    return 1.0 - node.available.get("CPU", 0.0) / total


def pick_default(
    request: Mapping[str, float],
    nodes: Sequence[NodeRecord],
    locality: Mapping[bytes, int],
) -> bytes | None:
    """Among nodes with room: the one holding most argument bytes, else the least loaded."""
    ready = [n for n in nodes if n.alive and fits(request, n.available)]
    if not ready:
        return None
    if locality:
        best = max(ready, key=lambda n: locality.get(n.node_id, 0))
        if locality.get(best.node_id, 0) > 0:
            return best.node_id
    return min(ready, key=load).node_id


def pick_spread(request: Mapping[str, float], nodes: Sequence[NodeRecord], cursor: int) -> bytes | None:
    """Round robin over nodes with room, starting after position cursor."""
    n = len(nodes)
    for step in range(1, n + 1):
        node = nodes[(cursor + step) % n]
        if node.alive and fits(request, node.available):
            return node.node_id
    return None


def pick_node(
    request: Mapping[str, float],
    strategy: Strategy,
    nodes: Sequence[NodeRecord],
    locality: Mapping[bytes, int],
    spread_cursor: int,
) -> bytes | None:
    if strategy.hard_labels or strategy.soft_labels:
        # only nodes with every hard label condition; those with every soft one first, if one has room
        nodes = [n for n in nodes if satisfies(n.labels, strategy.hard_labels)]
        preferred = [n for n in nodes if satisfies(n.labels, strategy.soft_labels)] if strategy.soft_labels else []
        chosen = _pick(request, strategy, preferred, locality, spread_cursor) if preferred else None
        if chosen is not None:
            return chosen
    return _pick(request, strategy, nodes, locality, spread_cursor)


def _pick(
    request: Mapping[str, float],
    strategy: Strategy,
    nodes: Sequence[NodeRecord],
    locality: Mapping[bytes, int],
    spread_cursor: int,
) -> bytes | None:
    if strategy.kind == "SPREAD":
        return pick_spread(request, nodes, spread_cursor)
    if strategy.kind == "NODE_AFFINITY":
        target = next((n for n in nodes if n.node_id == strategy.node_id), None)
        if target is not None and target.alive:
            if fits(request, target.available):
                return target.node_id
            if not strategy.soft or fits(request, target.total):
                return None  # wait for the chosen node to have room
        if not strategy.soft:
            return None
    return pick_default(request, nodes, locality)
