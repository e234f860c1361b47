"""Scheduling strategies, as in ray.util.scheduling_strategies."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NodeAffinitySchedulingStrategy:
    """Run on node_id (hex, from get_runtime_context().get_node_id() or nodes()).

    soft=False: fail with TaskUnschedulableError if that node is gone;
    soft=True: fall back to any node.
    """

    node_id: str
    soft: bool = False
