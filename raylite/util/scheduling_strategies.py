"""Scheduling strategies, as in ray.util.scheduling_strategies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from raylite.ids import node_id_bytes


@dataclass(frozen=True)
class NodeAffinitySchedulingStrategy:
    """Run on node_id (hex, from get_runtime_context().get_node_id() or nodes()).

    soft=False: fail with TaskUnschedulableError if that node is gone;
    soft=True: fall back to any node. A node id that is not one is refused here,
    as Ray refuses it (ValueError); a well-formed one that names no node is the
    case above.
    """

    node_id: str
    soft: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.node_id, str) and hasattr(self.node_id, "hex"):
            object.__setattr__(self, "node_id", self.node_id.hex())  # a NodeID or bytes, as Ray takes it
        node_id_bytes(self.node_id)


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
