"""Turning a call into a TaskSpec: options, argument packing, export.

Top-level ObjectRef arguments become dependencies: the head starts the task
only once they exist, and the executor passes their values. Refs nested in
containers travel as refs. Large plain arguments are put into the store
first, so a spec stays small.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from raylite import config, ids, resources
from raylite.client import context
from raylite.client.core import Client
from raylite.client.object_ref import ObjectRef
from raylite.exceptions import RaySerializationError
from raylite.rpc import common_pb2
from raylite.serialization import pickle_dumps, serialize

TASK_OPTIONS = frozenset(
    {
        "num_cpus",
        "num_gpus",
        "resources",
        "memory",
        "num_returns",
        "max_retries",
        "retry_exceptions",
        "scheduling_strategy",
        "name",
        "runtime_env",
        "max_calls",
        "accelerator_type",
        "label_selector",
    }
)
ACTOR_OPTIONS = frozenset(
    {
        "num_cpus",
        "num_gpus",
        "resources",
        "memory",
        "name",
        "namespace",
        "lifetime",
        "max_restarts",
        "max_task_retries",
        "max_concurrency",
        "get_if_exists",
        "scheduling_strategy",
        "runtime_env",
        "concurrency_groups",
        "accelerator_type",
        "max_pending_calls",
        "label_selector",
    }
)


class Dep:
    """Stands in the payload for the value of dependency number `index`."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index

    def __reduce__(self) -> tuple[Any, ...]:
        return (Dep, (self.index,))


def check_options(options: Mapping[str, Any], allowed: frozenset[str], what: str) -> None:
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} for {what}; valid options: {sorted(allowed)}")
    # here, where the mistake is made, rather than as a refusal by the head
    num_returns = options.get("num_returns")
    if num_returns is not None and not (isinstance(num_returns, int) and 0 <= num_returns <= config.MAX_NUM_RETURNS):
        raise ValueError(
            f"{what}: num_returns must be a whole number from 0 to {config.MAX_NUM_RETURNS}, got {num_returns!r}"
        )
    for name in ("max_retries", "max_restarts", "max_task_retries"):
        value = options.get(name)
        if value is not None and not (isinstance(value, int) and value >= -1):
            raise ValueError(f"{what}: {name} must be a whole number >= 0, or -1 for no limit, got {value!r}")
    if options.get("scheduling_strategy") is not None:
        strategy_message(options["scheduling_strategy"])
    for name in options.get("resources") or {}:
        if not isinstance(name, str) or not name:
            raise ValueError(f"{what}: resource names must be non-empty strings, got {name!r}")


def export(client: Client, cache: dict[str, Any], obj: Any) -> bytes:
    """Pickles a function or class once per definition and sends it once per client."""
    fid = cache.get("function_id")
    if fid is None:
        try:
            blob = pickle_dumps(obj)
        except Exception as exc:  # noqa: BLE001
            raise RaySerializationError(
                f"could not pickle {getattr(obj, '__qualname__', obj)!r} to send it to the cluster: {exc}. "
                "It or something it references (a global, a closure variable) is not picklable."
            ) from exc
        if len(blob) > config.GRPC_MAX_MESSAGE_BYTES // 2:
            raise ValueError(
                f"{getattr(obj, '__qualname__', obj)!r} pickles to {len(blob)} bytes, too large to send to the "
                f"cluster (the limit is {config.GRPC_MAX_MESSAGE_BYTES // 2}, half of RAYLITE_GRPC_MAX_MESSAGE_BYTES): "
                "it probably captures a large object from its scope; pass that object as an argument, or put() it "
                "and pass the ObjectRef"
            )
        fid = ids.function_id(blob)
        cache["function_id"], cache["blob"] = fid, blob
    client.export(fid, cache["blob"])
    return fid


@dataclass
class Packed:
    """A call's serialized arguments."""

    payload: bytes
    deps: list[bytes]  # top-level ObjectRef arguments (and big arguments put into the store)
    borrowed: list[bytes]  # ObjectRefs nested inside the arguments
    keepalive: list[ObjectRef] = field(default_factory=list)  # hold until the spec is submitted


def pack_arguments(client: Client, args: tuple[Any, ...], kwargs: dict[str, Any], what: str) -> Packed:
    """Serializes the call's arguments."""
    deps: list[bytes] = []
    keepalive: list[ObjectRef] = []

    def put_big(s: Any) -> Dep:
        # the ref keeps the stored argument alive until the task that needs it is queued
        ref = ObjectRef(client.new_put_id())  # held before the head hears of the object
        client.put_serialized(s, ref.binary())
        keepalive.append(ref)
        deps.append(ref.binary())
        return Dep(len(deps) - 1)

    def swap(value: Any) -> Any:
        if isinstance(value, ObjectRef):
            deps.append(value.binary())
            return Dep(len(deps) - 1)
        return value

    packed_args = [swap(a) for a in args]
    packed_kwargs = {k: swap(v) for k, v in kwargs.items()}
    try:
        payload = serialize((packed_args, packed_kwargs))
    except RaySerializationError:
        _name_unpicklable(args, kwargs, what)
        raise
    if payload.size > config.INLINE_MAX_BYTES:
        # put the big arguments into the store once and pass refs to them
        for i, a in enumerate(packed_args):
            if not isinstance(a, Dep):
                s = serialize(a)
                if s.size > config.INLINE_MAX_BYTES // 4:
                    packed_args[i] = put_big(s)
        for k, v in packed_kwargs.items():
            if not isinstance(v, Dep):
                s = serialize(v)
                if s.size > config.INLINE_MAX_BYTES // 4:
                    packed_kwargs[k] = put_big(s)
        payload = serialize((packed_args, packed_kwargs))
    return Packed(payload.to_bytes(), deps, payload.contained, keepalive)


def _name_unpicklable(args: tuple[Any, ...], kwargs: dict[str, Any], what: str) -> None:
    labelled = [(f"argument {i}", a) for i, a in enumerate(args)] + [
        (f"keyword argument {k!r}", v) for k, v in kwargs.items()
    ]
    for label, value in labelled:
        try:
            serialize(value)
        except RaySerializationError as exc:
            raise RaySerializationError(
                f"{what}: {label} (of type {type(value).__qualname__}) cannot be pickled to send to the "
                f"cluster: {exc.__cause__ or exc}. Pass picklable values, or create the object inside the task."
            ) from exc.__cause__


def strategy_message(strategy: Any) -> common_pb2.SchedulingStrategy | None:
    if strategy is None or strategy == "DEFAULT":
        return None
    if strategy == "SPREAD":
        return common_pb2.SchedulingStrategy(kind="SPREAD")
    node_id = getattr(strategy, "node_id", None)
    if node_id is not None:
        try:
            raw = bytes.fromhex(node_id)
        except (TypeError, ValueError):
            raw = b""
        if len(raw) != ids.NODE_ID_BYTES:
            raise ValueError(
                f"NodeAffinitySchedulingStrategy: {node_id!r} is not a node id; use the hex id of a live node, "
                "as ray.nodes()[i]['NodeID'] or ray.get_runtime_context().get_node_id() give it"
            )
        return common_pb2.SchedulingStrategy(
            kind="NODE_AFFINITY", node_id=raw, soft=bool(getattr(strategy, "soft", False))
        )
    raise ValueError(
        f"unsupported scheduling_strategy {strategy!r}: use 'DEFAULT', 'SPREAD' or NodeAffinitySchedulingStrategy"
    )


def build_spec(
    client: Client,
    *,
    kind: common_pb2.TaskKind,
    name: str,
    function_id: bytes,
    payload: bytes,
    deps: list[bytes],
    options: Mapping[str, Any],
    default_cpus: float,
    actor_id: bytes = b"",
    num_returns: int = 1,
    borrowed: list[bytes] | None = None,
) -> common_pb2.TaskSpec:
    task_id = client.ids.task_id()
    spec = common_pb2.TaskSpec(
        task_id=task_id,
        job_id=client.job_id,
        name=name,
        kind=kind,
        dependencies=deps,
        num_returns=num_returns,
        max_retries=options.get("max_retries", config.DEFAULT_MAX_RETRIES),
        actor_id=actor_id or (task_id if kind == common_pb2.ACTOR_CREATION else b""),
        payload=payload,
        function_id=function_id,
        borrowed=borrowed or [],
    )
    if kind != common_pb2.ACTOR_METHOD:
        request = resources.normalize(
            options.get("num_cpus"),
            options.get("num_gpus"),
            options.get("resources"),
            options.get("memory"),
            default_cpus=default_cpus,
        )
        spec.resources.update(request)
        strategy = strategy_message(options.get("scheduling_strategy"))
        if strategy is not None:
            spec.strategy.CopyFrom(strategy)
    return spec


def current_client() -> Client:
    return context.current()
