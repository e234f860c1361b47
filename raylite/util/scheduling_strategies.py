"""Scheduling strategies, as in ray.util.scheduling_strategies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from raylite import labels
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


class _LabelOperator:
    """In, NotIn, Exists, DoesNotExist: one condition on a node label's value."""

    op = ""
    takes_values = False

    def __init__(self, *values: str) -> None:
        name = type(self).__name__
        if self.takes_values:
            if not values:
                raise ValueError(f'{name}(...) needs at least one value, e.g. {name}("value1", "value2")')
            for position, value in enumerate(values):
                if not isinstance(value, str):
                    raise ValueError(
                        f"{name}(...): value {position} is {value!r} of type {type(value).__name__}; "
                        f'values are strings, e.g. {name}("value1", "value2")'
                    )
        elif values:
            raise TypeError(f"{name}() takes no values")
        self.values = tuple(values)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(map(repr, self.values))})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _LabelOperator) and type(other) is type(self) and other.values == self.values

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.values))


class In(_LabelOperator):
    """The label exists and its value is one of these."""

    op, takes_values = labels.IN, True


class NotIn(_LabelOperator):
    """The label is missing, or its value is none of these."""

    op, takes_values = labels.NOT_IN, True


class Exists(_LabelOperator):
    """The node has the label, whatever its value."""

    op = labels.EXISTS


class DoesNotExist(_LabelOperator):
    """The node does not have the label."""

    op = labels.DOES_NOT_EXIST


class NodeLabelSchedulingStrategy:
    """Run on a node whose labels satisfy every `hard` condition; among those, prefer nodes
    that satisfy every `soft` one. Conditions map a label name to In, NotIn, Exists or
    DoesNotExist. Work no live node can satisfy waits (and is reported infeasible)."""

    def __init__(
        self, hard: dict[str, _LabelOperator] | None, *, soft: dict[str, _LabelOperator] | None = None
    ) -> None:
        self.hard = _matches(hard, "hard")
        self.soft = _matches(soft, "soft")
        if not (self.hard or self.soft):
            raise ValueError("NodeLabelSchedulingStrategy: `hard` and `soft` cannot both be empty")

    def __repr__(self) -> str:
        return f"NodeLabelSchedulingStrategy(hard=[{labels.describe(self.hard)}], soft=[{labels.describe(self.soft)}])"


def _matches(conditions: object, param: str) -> list[labels.Match]:
    if conditions is None:
        return []
    if not isinstance(conditions, dict):
        raise ValueError(
            f'NodeLabelSchedulingStrategy: {param} must be a dict such as {{"key1": In("value1")}}, '
            f"not {type(conditions).__name__}"
        )
    out: list[labels.Match] = []
    for key, operator in conditions.items():
        if not isinstance(key, str):
            raise ValueError(f"NodeLabelSchedulingStrategy: a label name in {param} must be a str, got {key!r}")
        if not isinstance(operator, _LabelOperator):
            raise ValueError(
                f"NodeLabelSchedulingStrategy: {param}[{key!r}] must be In, NotIn, Exists or DoesNotExist "
                f'(e.g. {{"key1": In("value1")}}), got {operator!r} of type {type(operator).__name__}'
            )
        out.append((key, operator.op, operator.values))
    return out
