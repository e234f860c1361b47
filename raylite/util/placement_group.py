"""Placement groups, as ray.util.placement_group: bundles of resources reserved together.

`placement_group(bundles, strategy)` asks the head to reserve every bundle at
once (raylite/head/state/placement.py does it); `ready()` is an ObjectRef that
resolves to the group once it is reserved, as in Ray: a task that asks for
nothing, scheduled into the group's first bundle, which returns the group.
Tasks and actors run in a group with `PlacementGroupSchedulingStrategy`
(raylite.util.scheduling_strategies) and take the group's resources, not
the node's.
"""

from __future__ import annotations

from typing import Any

from raylite import labels, runtime_context
from raylite.client import context
from raylite.client.remote_function import RemoteFunction
from raylite.exceptions import RaySystemError
from raylite.rpc import common_pb2, head_pb2
from raylite.util.scheduling_strategies import PlacementGroupSchedulingStrategy

__all__ = [
    "PlacementGroup",
    "get_current_placement_group",
    "get_placement_group",
    "placement_group",
    "placement_group_table",
    "remove_placement_group",
]

STRATEGIES = ("PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD")


class PlacementGroupID:
    """A placement group's id (Ray's PlacementGroupID): hex() and binary()."""

    __slots__ = ("_raw",)

    def __init__(self, raw: bytes) -> None:
        self._raw = raw

    def hex(self) -> str:
        return self._raw.hex()

    def binary(self) -> bytes:
        return self._raw

    def is_nil(self) -> bool:
        return not any(self._raw)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PlacementGroupID) and other._raw == self._raw

    def __hash__(self) -> int:
        return hash(self._raw)

    def __repr__(self) -> str:
        return f"PlacementGroupID({self.hex()})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (PlacementGroupID, (self._raw,))


class PlacementGroup:
    """A handle to a placement group; it may be passed to tasks and actors."""

    def __init__(self, id: PlacementGroupID, bundle_cache: list[dict[str, float]] | None = None) -> None:  # noqa: A002 - Ray's name
        self.id = id
        self.bundle_cache = bundle_cache

    @staticmethod
    def empty() -> PlacementGroup:
        return PlacementGroup(PlacementGroupID(bytes(16)))

    def ready(self) -> Any:
        """An ObjectRef that resolves to this group once every bundle is reserved."""
        self._check_not_empty("ready")
        strategy = PlacementGroupSchedulingStrategy(self, placement_group_bundle_index=0)
        return _bundle_reservation_check.options(scheduling_strategy=strategy).remote(self)

    def wait(self, timeout_seconds: float | None = 30) -> bool:
        """True once the group is reserved; False if that did not happen within timeout_seconds."""
        from raylite.client.api import wait

        ready, _ = wait([self.ready()], timeout=timeout_seconds)
        return bool(ready)

    @property
    def bundle_specs(self) -> list[dict[str, float]]:
        """The bundles, as {resource: amount} dicts, in order."""
        if self.bundle_cache is None:
            info = _lookup(head_pb2.GetPlacementGroupsRequest(placement_group_id=self.id.binary()))
            if info is None:
                raise ValueError(f"placement group {self.id.hex()} does not exist in this cluster")
            self.bundle_cache = _bundles(info.spec)
        return self.bundle_cache

    @property
    def bundle_count(self) -> int:
        return len(self.bundle_specs)

    @property
    def is_empty(self) -> bool:
        return self.id.is_nil()

    def _check_not_empty(self, what: str) -> None:
        if self.is_empty:
            raise ValueError(f"{what}() of the empty placement group: it stands for no group")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PlacementGroup) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f"PlacementGroup(id={self.id.hex()})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (PlacementGroup, (self.id, self.bundle_cache))


def bundle_reservation_check(group: PlacementGroup) -> PlacementGroup:
    return group


# The task behind ready(): it asks for nothing, so it runs as soon as bundle 0 exists.
_bundle_reservation_check = RemoteFunction(bundle_reservation_check, {"num_cpus": 0})


def placement_group(
    bundles: list[dict[str, float]],
    strategy: str = "PACK",
    name: str = "",
    lifetime: str | None = None,
    _max_cpu_fraction_per_node: float | None = None,
    _soft_target_node_id: str | None = None,
    bundle_label_selector: list[dict[str, str]] | None = None,
) -> PlacementGroup:
    """Reserves `bundles` (a list of {resource: amount}) together, placed by `strategy`.

    Returns at once; the group is reserved when every bundle fits (ready(),
    wait()). lifetime="detached": the group outlives its job.
    """
    clean = _check_bundles(bundles)
    selectors = _check_bundle_selectors(bundle_label_selector, len(clean))
    if strategy not in STRATEGIES:
        raise ValueError(f"Invalid placement group strategy {strategy!r}: use one of {', '.join(STRATEGIES)}")
    if lifetime not in (None, "detached"):
        raise ValueError(f"placement group lifetime must be None or 'detached', got {lifetime!r}")
    if not isinstance(name, str):
        raise TypeError(f"placement group name must be a string, got {name!r}")
    client = context.current()
    if name and _lookup(head_pb2.GetPlacementGroupsRequest(name=name)) is not None:
        raise RaySystemError(
            f"Failed to create placement group: the name {name!r} is taken by a placement group that was not "
            "removed; choose another name, or remove_placement_group(get_placement_group(name)) first"
        )
    pg_id = client.ids.task_id()
    spec = common_pb2.PlacementGroupSpec(
        placement_group_id=pg_id, name=name, strategy=strategy, detached=lifetime == "detached", job_id=client.job_id
    )
    for bundle, selector in zip(clean, selectors, strict=True):
        added = spec.bundles.add()
        added.resources.update(bundle)
        labels.to_wire(added.label_selector, selector)
    client.create_placement_group(spec)
    return PlacementGroup(PlacementGroupID(pg_id), clean)


def _check_bundle_selectors(selectors: Any, count: int) -> list[list[labels.Match]]:
    """bundle_label_selector: one label_selector dict per bundle (raylite/labels.py), or None."""
    if selectors is None:
        return [[] for _ in range(count)]
    if not isinstance(selectors, list) or len(selectors) != count:
        raise ValueError(f"bundle_label_selector must be a list of {count} dicts (one per bundle), got {selectors!r}")
    return [labels.parse_selector(selector or {}) for selector in selectors]


def _check_bundles(bundles: Any) -> list[dict[str, float]]:
    if not isinstance(bundles, list):
        raise ValueError(f"placement group bundles must be a list of dicts, got {type(bundles).__name__}: {bundles!r}")
    if not bundles:
        raise ValueError("placement group bundles must not be empty: give at least one bundle")
    clean = []
    for i, bundle in enumerate(bundles):
        if not isinstance(bundle, dict):
            raise ValueError(f"placement group bundle {i} must be a dict of resource amounts, got {bundle!r}")
        out: dict[str, float] = {}
        for key, amount in bundle.items():
            if not isinstance(key, str) or not key:
                raise ValueError(f"placement group bundle {i}: resource names must be non-empty strings, got {key!r}")
            if not isinstance(amount, (int, float)) or isinstance(amount, bool) or not 0 <= amount < float("inf"):
                raise ValueError(f"placement group bundle {i}: {key!r} must be a finite amount >= 0, got {amount!r}")
            out[key] = float(amount)
        if not any(out.values()):
            raise ValueError(
                f"placement group bundle {i} is {bundle!r}: bundles cannot be empty or ask for 0 of every resource"
            )
        clean.append(out)
    return clean


def remove_placement_group(placement_group: PlacementGroup) -> None:
    """Removes the group: its bundles are freed, its actors killed, its queued tasks fail."""
    if not isinstance(placement_group, PlacementGroup):
        raise TypeError(f"remove_placement_group() takes a PlacementGroup, got {placement_group!r}")
    placement_group._check_not_empty("remove_placement_group")
    context.current().remove_placement_group(placement_group.id.binary())


def get_placement_group(placement_group_name: str) -> PlacementGroup:
    """The group created with this name (and not removed); ValueError if there is none."""
    if not placement_group_name:
        raise ValueError("get_placement_group() needs the name the group was created with")
    info = _lookup(head_pb2.GetPlacementGroupsRequest(name=placement_group_name))
    if info is None:
        raise ValueError(f"Failed to look up placement group with name: {placement_group_name}")
    return PlacementGroup(PlacementGroupID(info.spec.placement_group_id), _bundles(info.spec))


def placement_group_table(placement_group: PlacementGroup | None = None) -> dict[Any, Any]:
    """One group's state as Ray's dict, or every group's, keyed by id (hex)."""
    client = context.current()
    if placement_group is not None:
        request = head_pb2.GetPlacementGroupsRequest(placement_group_id=placement_group.id.binary())
        groups = client.placement_groups(request)
        return _table(groups[0]) if groups else {}
    return {_table(g)["placement_group_id"]: _table(g) for g in client.placement_groups(request=None)}


def get_current_placement_group() -> PlacementGroup | None:
    """The group the calling task or actor runs in; None in a driver or outside any group."""
    strategy = runtime_context.placement_strategy()
    if strategy is None:
        return None
    return PlacementGroup(PlacementGroupID(strategy.placement_group_id))


def _lookup(request: head_pb2.GetPlacementGroupsRequest) -> Any:
    groups = context.current().placement_groups(request)
    return groups[0] if groups else None


def _bundles(spec: common_pb2.PlacementGroupSpec) -> list[dict[str, float]]:
    return [dict(bundle.resources) for bundle in spec.bundles]


def _table(info: head_pb2.PlacementGroupInfo) -> dict[str, Any]:
    spec = info.spec
    return {
        "placement_group_id": spec.placement_group_id.hex(),
        "name": spec.name,
        "bundles": dict(enumerate(_bundles(spec))),
        "bundles_to_node_id": {i: node_id.hex() for i, node_id in enumerate(info.bundle_nodes)},
        "strategy": spec.strategy,
        "state": info.state,
        "stats": {
            "end_to_end_creation_latency_ms": 0.0,
            "scheduling_latency_ms": 0.0,
            "scheduling_attempt": 1,
            "highest_retry_delay_ms": 0.0,
            "scheduling_state": _SCHEDULING_STATES.get(info.state, "QUEUED"),
        },
    }


_SCHEDULING_STATES = {"PENDING": "QUEUED", "CREATED": "FINISHED", "RESCHEDULING": "QUEUED", "REMOVED": "REMOVED"}
