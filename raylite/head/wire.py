"""The one place where protobuf messages meet the head's domain records (raylite/head/state)."""

from __future__ import annotations

from raylite import labels
from raylite.failures import failure_bytes
from raylite.head.state.model import DEFAULT_STRATEGY, ObjectInfo, Strategy, TaskRecord
from raylite.head.state.placement_model import PlacementGroupRecord
from raylite.rpc import common_pb2 as pb
from raylite.serialization import dumps

_NONE = dumps(None)  # the value of an object the head makes with no value (a stream's return 0)


def task_record(spec: pb.TaskSpec, client_id: bytes) -> TaskRecord:
    """The head's record of a task. The spec is kept serialized, to be sent to a node as is: a
    parsed message would be one more object for the garbage collector to walk per queued task,
    and would keep the arena of the whole batch it came in alive (raylite/gc_watch.py)."""
    strategy = spec.strategy
    return TaskRecord(
        task_id=spec.task_id,
        job_id=spec.job_id,
        client_id=client_id,
        name=spec.name,
        kind=spec.kind,
        resources=dict(spec.resources),
        deps=tuple(spec.dependencies),
        num_returns=spec.num_returns,
        max_retries=spec.max_retries,
        actor_id=spec.actor_id,
        strategy=_strategy(strategy)
        if strategy.kind or strategy.hard_labels or strategy.soft_labels
        else DEFAULT_STRATEGY,
        placement=dict(spec.placement),
        actor_name=spec.actor_name,
        actor_namespace=spec.actor_namespace,
        detached=spec.detached,
        actor_meta=spec.actor_meta,
        function_id=spec.function_id,
        max_restarts=spec.max_restarts,
        max_task_retries=spec.max_task_retries,
        borrowed=tuple(spec.borrowed),
        parent_id=spec.parent_task_id,
        generator=spec.generator,
        direct_incarnation=spec.direct_incarnation,
        spec=spec.SerializeToString(),
    )


def _strategy(strategy: pb.SchedulingStrategy) -> Strategy:
    if strategy.kind == "PLACEMENT_GROUP":
        return Strategy(
            strategy.kind, placement_group_id=strategy.placement_group_id, bundle_index=strategy.bundle_index
        )
    return Strategy(
        strategy.kind or "DEFAULT",  # ("": the label_selector option alone)
        strategy.node_id,
        strategy.soft,
        hard_labels=labels.from_wire(strategy.hard_labels),
        soft_labels=labels.from_wire(strategy.soft_labels),
    )


def placement_group_record(spec: pb.PlacementGroupSpec, client_id: bytes) -> PlacementGroupRecord:
    return PlacementGroupRecord(
        pg_id=spec.placement_group_id,
        name=spec.name,
        bundles=[dict(b.resources) for b in spec.bundles],
        strategy=spec.strategy,
        job_id=spec.job_id,
        client_id=client_id,
        detached=spec.detached,
        spec=spec,
        bundle_labels=[labels.from_wire(b.label_selector) for b in spec.bundles],
    )


def object_info(value: pb.ObjectValue) -> ObjectInfo:
    return ObjectInfo(
        object_id=value.object_id,
        value=value,
        node_id=value.node_id if value.in_store else None,
        size=value.size,
        is_error=value.is_error,
        contained=tuple(value.contained),
    )


def object_value(info: ObjectInfo) -> pb.ObjectValue:
    """The wire form of an object, under info's id (results may share a value)."""
    if info.failure is not None:
        data = failure_bytes(info.failure)
        return pb.ObjectValue(object_id=info.object_id, data=data, size=len(data), is_error=True)
    value: pb.ObjectValue = info.value
    if value is None:
        return pb.ObjectValue(object_id=info.object_id, data=_NONE, size=len(_NONE))
    if value.object_id == info.object_id:
        return value
    copy = pb.ObjectValue()
    copy.CopyFrom(value)
    copy.object_id = info.object_id
    return copy
