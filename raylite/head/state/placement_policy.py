"""Where a placement group's bundles go: plain functions of the bundles and the nodes.

`place` answers for all the bundles still to place at once, or None: a group
is reserved whole or not at all. It never mutates the nodes; it works on a
scratch copy of what each node has free, so that two bundles on one node
are counted against it together. `fixed` are the bundles of the group that
keep their node (a rescheduling group's survivors): the strategies see them.

- STRICT_PACK: every bundle on one node (the node of the survivors, if any).
- PACK: on one node if they fit there, else as few nodes as a greedy pass
  finds, preferring nodes that already hold bundles of the group.
- STRICT_SPREAD: every bundle on a node of its own.
- SPREAD: on nodes holding no bundle of the group while there are such
  nodes, then on any node with room.

A bundle with label conditions (`bundle_label_selector`) goes only on a node
whose labels satisfy them (raylite/labels.py).

Nodes are tried in table order (least loaded first where a choice is free),
so the same inputs give the same answer. Bundles are placed largest first:
a greedy pass then fails less often where a placement exists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from raylite import labels
from raylite import resources as res
from raylite.head.state.model import NodeRecord
from raylite.labels import Match


def place(
    bundles: Sequence[Mapping[str, float]],
    todo: Sequence[int],
    strategy: str,
    nodes: Sequence[NodeRecord],
    fixed: Mapping[int, bytes],
    bundle_labels: Sequence[tuple[Match, ...]] = (),
) -> dict[int, bytes] | None:
    """Bundle index -> node id for every index in todo, or None if they cannot all be placed now."""
    alive = [n for n in nodes if n.alive]
    free = {n.node_id: dict(n.available) for n in alive}
    order = sorted(todo, key=lambda i: -sum(bundles[i].values()))
    allowed = _allowed(bundle_labels, alive)
    if strategy == "STRICT_PACK":
        return _on_one_node(bundles, todo, alive, free, set(fixed.values()) or None, allowed)
    if strategy == "PACK":
        together = _on_one_node(bundles, todo, alive, free, set(fixed.values()) or None, allowed)
        if together is not None:
            return together
        return _greedy(bundles, order, alive, free, fixed, allowed, prefer_used=True)
    if strategy == "STRICT_SPREAD":
        return _greedy(bundles, order, alive, free, fixed, allowed, prefer_used=False, distinct=True)
    if strategy == "SPREAD":
        return _greedy(bundles, order, alive, free, fixed, allowed, prefer_used=False)
    raise ValueError(f"unknown placement strategy {strategy!r}")


def feasible(
    bundles: Sequence[Mapping[str, float]],
    strategy: str,
    nodes: Sequence[NodeRecord],
    bundle_labels: Sequence[tuple[Match, ...]] = (),
) -> bool:
    """Could the group be placed on the live nodes once they are idle?"""
    idle = [NodeRecord(n.node_id, n.total, dict(n.total), labels=n.labels) for n in nodes if n.alive]
    return place(bundles, range(len(bundles)), strategy, idle, {}, bundle_labels) is not None


def _allowed(bundle_labels: Sequence[tuple[Match, ...]], alive: Sequence[NodeRecord]) -> dict[int, set[bytes]]:
    """Bundle index -> the nodes its label conditions allow (only bundles that have some)."""
    return {
        i: {n.node_id for n in alive if labels.satisfies(n.labels, matches)}
        for i, matches in enumerate(bundle_labels)
        if matches
    }


def _load(node: NodeRecord, free: Mapping[str, float]) -> float:
    total = node.total.get("CPU", 0.0)
    return 1.0 - free.get("CPU", 0.0) / total if total > 0 else 0.0


def _on_one_node(
    bundles: Sequence[Mapping[str, float]],
    todo: Sequence[int],
    alive: Sequence[NodeRecord],
    free: dict[bytes, dict[str, float]],
    only: set[bytes] | None,
    allowed: Mapping[int, set[bytes]],
) -> dict[int, bytes] | None:
    need: dict[str, float] = {}
    for i in todo:
        res.add(need, bundles[i])
    candidates = [
        n
        for n in alive
        if (only is None or n.node_id in only)
        and res.fits(need, free[n.node_id])
        and all(n.node_id in allowed[i] for i in todo if i in allowed)
    ]
    if not candidates:
        return None
    best = min(candidates, key=lambda n: _load(n, free[n.node_id]))
    return {i: best.node_id for i in todo}


def _greedy(
    bundles: Sequence[Mapping[str, float]],
    order: Sequence[int],
    alive: Sequence[NodeRecord],
    free: dict[bytes, dict[str, float]],
    fixed: Mapping[int, bytes],
    allowed: Mapping[int, set[bytes]],
    prefer_used: bool,
    distinct: bool = False,
) -> dict[int, bytes] | None:
    used: dict[bytes, int] = {}
    for node_id in fixed.values():
        used[node_id] = used.get(node_id, 0) + 1
    out: dict[int, bytes] = {}
    for i in order:
        fits = [n for n in alive if res.fits(bundles[i], free[n.node_id])]
        if i in allowed:
            fits = [n for n in fits if n.node_id in allowed[i]]
        if distinct:
            fits = [n for n in fits if n.node_id not in used]
        if not fits:
            return None
        if prefer_used:
            node = min(fits, key=lambda n: (-used.get(n.node_id, 0), _load(n, free[n.node_id])))
        else:
            node = min(fits, key=lambda n: (used.get(n.node_id, 0), _load(n, free[n.node_id])))
        out[i] = node.node_id
        used[node.node_id] = used.get(node.node_id, 0) + 1
        res.subtract(free[node.node_id], bundles[i])
    return out
