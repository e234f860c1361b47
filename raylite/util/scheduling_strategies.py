"""Scheduling strategies, as in ray.util.scheduling_strategies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class NodeAffinitySchedulingStrategy:
    """Run on node_id (hex, from get_runtime_context().get_node_id() or nodes()).

    soft=False: fail with TaskUnschedulableError if that node is gone;
    soft=True: fall back to any node.
    """

    node_id: str
    soft: bool = False


@dataclass(frozen=True)
class PlacementGroupSchedulingStrategy:
    """Run in a placement group's reserved resources (raylite.util.placement_group).

    placement_group_bundle_index: the bundle, or -1 for any bundle of the group;
    placement_group_capture_child_tasks: the tasks and actors this one starts
    (without a scheduling strategy of their own) run in the group too.
    placement_group=None takes the task out of any group it would inherit.
    """

    placement_group: Any
    placement_group_bundle_index: int = -1
    placement_group_capture_child_tasks: bool | None = None
