"""Turning a call into a TaskSpec: options, argument packing, export.

Top-level ObjectRef arguments become dependencies: the head starts the task
only once they exist, and the executor passes their values. Refs nested in
containers travel as refs. Large plain arguments are put into the store
first, so a spec stays small.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from raylite import config, ids, labels, resources, runtime_context
from raylite.client import context, runtime_env
from raylite.client.object_ref import ObjectRef
from raylite.exceptions import RaySerializationError
from raylite.rpc import common_pb2
from raylite.runtime_env import WithPaths
from raylite.runtime_env import spec as env_spec
from raylite.serialization import pickle_dumps, serialize, serialize_call

if TYPE_CHECKING:  # (the client's module loads grpc: an executor makes its client only on first use)
    from raylite.client.core import Client

# accelerator_type="V100" asks for this much of the resource "accelerator_type:V100", as Ray does
ACCELERATOR_PREFIX, ACCELERATOR_AMOUNT = "accelerator_type:", 0.001

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
        # Ray's older spelling of PlacementGroupSchedulingStrategy
        "placement_group",
        "placement_group_bundle_index",
        "placement_group_capture_child_tasks",
        "_generator_backpressure_num_objects",
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
        "placement_group",
        "placement_group_bundle_index",
        "placement_group_capture_child_tasks",
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
    if num_returns is not None and num_returns not in ("streaming", "dynamic"):
        if not (isinstance(num_returns, int) and 0 <= num_returns <= config.MAX_NUM_RETURNS):
            raise ValueError(
                f"{what}: num_returns must be a whole number from 0 to {config.MAX_NUM_RETURNS}, got {num_returns!r}"
            )
    for name in ("max_retries", "max_restarts", "max_task_retries"):
        value = options.get(name)
        if value is not None and not (isinstance(value, int) and value >= -1):
            raise ValueError(f"{what}: {name} must be a whole number >= 0, or -1 for no limit, got {value!r}")
    strategy = _chosen_strategy(options)
    if strategy is not None:
        strategy_message(strategy)
    if options.get("label_selector"):
        labels.parse_selector(options["label_selector"])
    kind = options.get("accelerator_type")
    if kind is not None and (not isinstance(kind, str) or not kind):
        raise TypeError(f"{what}: accelerator_type must be a name such as 'V100' (ray.util.accelerators), got {kind!r}")
    if options.get("runtime_env") is not None:
        # here, where it is written, as Ray checks it (TypeError / ValueError naming the field)
        env_spec.validate(options["runtime_env"], job_level=False)
    for name in options.get("resources") or {}:
        if not isinstance(name, str) or not name:
            raise ValueError(f"{what}: resource names must be non-empty strings, got {name!r}")


def export(client: Client, cache: dict[str, Any], obj: Any) -> bytes:
    """Pickles a function or class once per definition and sends it once per client.

    A large pickle (a closure capturing a big array, say) is put into the
    object store and the export carries a small stand-in that loads it there
    (`load_stored_function`); the cache holds the ref, so the stored pickle
    lives as long as the function or class does here. As Ray's, a pickle above
    FUNCTION_SIZE_WARN_BYTES is warned about and one of FUNCTION_SIZE_ERROR_BYTES
    or more is refused.
    """
    fid = cache.get("function_id")
    if fid is None or (cache.get("stored_in") not in (None, client.client_id)):
        blob = _pickled_definition(obj)
        paths = runtime_env.driver_paths(client)
        if paths:  # the driver's folders go on the executor's sys.path before the definition loads
            blob = pickle_dumps(WithPaths(paths, blob))
        stored_in = None
        if len(blob) > config.FUNCTION_STORE_MIN_BYTES:
            ref = ObjectRef(client.new_put_id())  # held before the head hears of the object
            client.put_serialized(serialize(blob), ref.binary())
            cache["ref"] = ref
            blob = pickle_dumps(_StoredFunction(ref.binary(), _definition_name(obj)))
            stored_in = client.client_id
        fid = ids.function_id(blob)
        cache["function_id"], cache["blob"], cache["stored_in"] = fid, blob, stored_in
    client.export(fid, cache["blob"])
    return fid


def _definition_name(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


def _pickled_definition(obj: Any) -> bytes:
    kind = "actor class" if isinstance(obj, type) else "remote function"
    name = _definition_name(obj)
    try:
        blob = pickle_dumps(obj)
    except Exception as exc:  # noqa: BLE001
        raise RaySerializationError(
            f"Could not pickle the {kind} {name} to send it to the cluster ({exc}): it, or something it "
            f"uses from its scope (a global, a closure variable), cannot be pickled.\n{serializability_report(obj, name)}"
        ) from exc
    mib = len(blob) // (1024 * 1024)
    advice = (
        "Check that it does not capture a large array or other object from its scope; put() such "
        "objects in the object store and pass their ObjectRefs instead."
    )
    if len(blob) >= config.FUNCTION_SIZE_ERROR_BYTES:
        raise ValueError(
            f"The {kind} {name} is too large to send to the cluster ({mib} MiB >= FUNCTION_SIZE_ERROR_THRESHOLD="
            f"{config.FUNCTION_SIZE_ERROR_BYTES // (1024 * 1024)} MiB). {advice}"
        )
    if len(blob) > config.FUNCTION_SIZE_WARN_BYTES:
        print(f"raylite: warning: the {kind} {name} is very large ({mib} MiB). {advice}", file=sys.stderr, flush=True)
    return blob


class _StoredFunction:
    """Stands in an export for a function or class whose pickle is in the object store."""

    def __init__(self, object_id: bytes, name: str) -> None:
        self.object_id = object_id
        self.name = name

    def __reduce__(self) -> tuple[Any, ...]:
        return (load_stored_function, (self.object_id, self.name))


def load_stored_function(object_id: bytes, name: str) -> Any:
    """Unpickling a _StoredFunction: reads the real pickle from the object store and loads it."""
    import cloudpickle

    from raylite.client.api import get
    from raylite.exceptions import GetTimeoutError, RaySystemError

    try:
        blob = get(ObjectRef(object_id), timeout=config.STORED_FUNCTION_WAIT_S)
    except GetTimeoutError:
        raise RaySystemError(
            f"{name} is too large to travel inline, and its pickle, kept in the object store by the process that "
            f"defined it, could not be read within {config.STORED_FUNCTION_WAIT_S:.0f}s (has that process exited?)"
        ) from None
    return cloudpickle.loads(blob)


def serializability_report(obj: Any, name: str | None = None) -> str:
    """What raylite.util.inspect_serializability prints about obj: which parts do not pickle."""
    from raylite.util.check_serialize import inspect_serializability

    out = io.StringIO()
    try:
        inspect_serializability(obj, name=name, print_file=out)
    except Exception as exc:  # noqa: BLE001 - the report is a courtesy; the error stands without it
        return f"(could not inspect it: {exc})"
    return out.getvalue().rstrip()


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
        payload = serialize_call(packed_args, packed_kwargs, Dep)
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
        payload = serialize_call(packed_args, packed_kwargs, Dep)
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
                f"{what}: could not pickle {label} (of type {type(value).__qualname__}) to send it to the "
                f"cluster: {exc.__cause__ or exc}. Pass picklable values, or create the object inside the task.\n"
                f"{serializability_report(value, label)}"
            ) from exc.__cause__


def _chosen_strategy(options: Mapping[str, Any]) -> Any:
    """The scheduling_strategy option, or the one the older placement_group options spell."""
    strategy = options.get("scheduling_strategy")
    group = options.get("placement_group", "default")
    if group is None or group == "default":
        return strategy
    if strategy is not None:
        raise ValueError(
            "give either scheduling_strategy or the placement_group options, not both "
            "(placement_group=... is the older spelling of PlacementGroupSchedulingStrategy)"
        )
    from raylite.util.scheduling_strategies import PlacementGroupSchedulingStrategy

    return PlacementGroupSchedulingStrategy(
        group,
        options.get("placement_group_bundle_index", -1),
        options.get("placement_group_capture_child_tasks"),
    )


def _inherited_strategy(options: Mapping[str, Any]) -> common_pb2.SchedulingStrategy | None:
    """A task started with no strategy of its own by a task or actor that captures its
    children in its placement group runs in that group too (any bundle), capturing its own."""
    if options.get("scheduling_strategy") is not None or options.get("placement_group", "default") != "default":
        return None
    parent = runtime_context.placement_strategy()
    if parent is None or not parent.capture_child_tasks:
        return None
    return common_pb2.SchedulingStrategy(
        kind="PLACEMENT_GROUP",
        placement_group_id=parent.placement_group_id,
        bundle_index=-1,
        capture_child_tasks=True,
    )


def _placement_group_message(strategy: Any) -> common_pb2.SchedulingStrategy | None:
    group = strategy.placement_group
    if group is None:
        return None  # out of any group, even one a parent would pass on
    index = strategy.placement_group_bundle_index
    if not isinstance(index, int) or isinstance(index, bool):
        raise ValueError(f"placement_group_bundle_index must be an int, got {index!r}")
    if getattr(group, "is_empty", False):
        return None
    count = group.bundle_count
    if not -1 <= index < count:
        raise ValueError(
            f"placement group bundle index {index} is invalid: the group has {count} bundle(s), "
            f"so use 0 to {count - 1}, or -1 for any bundle"
        )
    return common_pb2.SchedulingStrategy(
        kind="PLACEMENT_GROUP",
        placement_group_id=group.id.binary(),
        bundle_index=index,
        capture_child_tasks=bool(strategy.placement_group_capture_child_tasks),
    )


def _check_fits_bundle(strategy: Any, request: Mapping[str, float], name: str) -> None:
    """A request no bundle it may use can hold is refused at once, as Ray does."""
    if strategy is None or getattr(strategy, "placement_group", None) is None:
        return
    bundles = strategy.placement_group.bundle_specs
    index = strategy.placement_group_bundle_index
    usable = bundles if index < 0 else [bundles[index]]
    if not any(resources.fits(request, bundle) for bundle in usable):
        which = "any bundle" if index < 0 else f"bundle {index}"
        raise ValueError(
            f"Cannot schedule {name} with the placement group because the resource request {dict(request)} "
            f"cannot fit into {which} of the placement group, {bundles}; ask for less or make the bundles larger"
        )


def strategy_message(strategy: Any) -> common_pb2.SchedulingStrategy | None:
    if strategy is None or strategy == "DEFAULT":
        return None
    if hasattr(strategy, "placement_group"):
        return _placement_group_message(strategy)
    if strategy == "SPREAD":
        return common_pb2.SchedulingStrategy(kind="SPREAD")
    hard = getattr(strategy, "hard", None)
    if hard is not None and hasattr(strategy, "soft") and not hasattr(strategy, "node_id"):
        message = common_pb2.SchedulingStrategy(kind="NODE_LABEL")
        labels.to_wire(message.hard_labels, strategy.hard)
        labels.to_wire(message.soft_labels, strategy.soft)
        return message
    node_id = getattr(strategy, "node_id", None)
    if node_id is not None:
        raw = ids.node_id_bytes(node_id)  # (a Ray-length id names no node: soft or fail)
        return common_pb2.SchedulingStrategy(
            kind="NODE_AFFINITY", node_id=raw, soft=bool(getattr(strategy, "soft", False))
        )
    raise ValueError(
        f"unsupported scheduling_strategy {strategy!r}: use 'DEFAULT', 'SPREAD', NodeAffinitySchedulingStrategy, "
        "NodeLabelSchedulingStrategy or PlacementGroupSchedulingStrategy"
    )


def _with_accelerator(options: Mapping[str, Any]) -> Mapping[str, float] | None:
    """The resources option, plus Ray's sliver of `accelerator_type:<type>` for accelerator_type."""
    kind = options.get("accelerator_type")
    if kind is None:
        return options.get("resources")
    return {**(options.get("resources") or {}), f"{ACCELERATOR_PREFIX}{kind}": ACCELERATOR_AMOUNT}


def _with_label_selector(
    strategy: common_pb2.SchedulingStrategy | None, options: Mapping[str, Any]
) -> common_pb2.SchedulingStrategy | None:
    """The label_selector option's conditions, added to the strategy's hard ones."""
    selector = options.get("label_selector")
    if not selector:
        return strategy
    matches = labels.parse_selector(selector)
    if strategy is None:
        strategy = common_pb2.SchedulingStrategy()
    elif strategy.kind == "PLACEMENT_GROUP":
        raise ValueError(
            "label_selector cannot be combined with a placement group (a bundle's node is chosen when the group "
            "is placed): use bundle_label_selector on placement_group() instead"
        )
    labels.to_wire(strategy.hard_labels, matches)
    return strategy


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
        # the task submitting it, if any: a recursive cancel of that task reaches this one
        parent_task_id=runtime_context.current_task_id(),
    )
    if kind != common_pb2.ACTOR_METHOD:
        request = resources.normalize(
            options.get("num_cpus"),
            options.get("num_gpus"),
            _with_accelerator(options),
            options.get("memory"),
            default_cpus=default_cpus,
        )
        spec.resources.update(request)
        chosen = _chosen_strategy(options)
        strategy = strategy_message(chosen)
        if strategy is not None and strategy.kind == "PLACEMENT_GROUP":
            # (an actor needs 1 CPU to be placed unless told otherwise: see raylite/client/actor.py)
            needs = request if request or kind == common_pb2.NORMAL or options.get("num_cpus") is not None else None
            _check_fits_bundle(chosen, needs if needs is not None else {"CPU": 1.0}, name.removesuffix(".__init__"))
        elif strategy is None:
            strategy = _inherited_strategy(options)
        strategy = _with_label_selector(strategy, options)
        if strategy is not None:
            spec.strategy.CopyFrom(strategy)
        runtime_env.apply(client, spec, options.get("runtime_env"))
    return spec


def copy_of_template(
    client: Client,
    template: common_pb2.TaskSpec,
    payload: bytes,
    deps: list[bytes],
    borrowed: list[bytes],
) -> common_pb2.TaskSpec:
    """A new spec: the template with a call's own fields set (a task id, the arguments, the
    refs they carry, the calling task)."""
    spec = common_pb2.TaskSpec()
    spec.CopyFrom(template)
    spec.task_id = client.ids.task_id()
    spec.payload = payload
    if deps:
        spec.dependencies.extend(deps)
    if borrowed:
        spec.borrowed.extend(borrowed)
    parent = runtime_context.current_task_id()
    if parent:  # the task submitting it: a recursive cancel of that task reaches this one
        spec.parent_task_id = parent
    return spec


def task_spec(
    client: Client,
    templates: dict[tuple[bytes, bytes, str, bytes, int], common_pb2.TaskSpec],
    *,
    name: str,
    function_id: bytes,
    payload: bytes,
    deps: list[bytes],
    borrowed: list[bytes],
    options: Mapping[str, Any],
    num_returns: int,
) -> common_pb2.TaskSpec:
    """build_spec(kind=NORMAL, default_cpus=1.0) for a remote function's own options (not
    .options(...)), made faster: build_spec's result for this client, job, name, function and
    num_returns is kept in `templates` (one per function) and copied, with the call's own fields
    set. Not when what build_spec would add depends on where the call is made (a placement
    group the calling task captures its children in) or adds refs (runtime_env packages)."""

    def built(payload: bytes, deps: list[bytes], borrowed: list[bytes]) -> common_pb2.TaskSpec:
        return build_spec(
            client,
            kind=common_pb2.NORMAL,
            name=name,
            function_id=function_id,
            payload=payload,
            deps=deps,
            borrowed=borrowed,
            options=options,
            default_cpus=1.0,
            num_returns=num_returns,
        )

    if runtime_context.placement_strategy() is not None:
        return built(payload, deps, borrowed)
    key = (client.ids.prefix, client.job_id, name, function_id, num_returns)
    template = templates.get(key)
    if template is None:
        template = built(b"", [], [])
        if template.borrowed:  # runtime_env packages, which build_spec puts after the arguments' refs
            return built(payload, deps, borrowed)
        template.task_id = b""  # (a task id spent: ids need only be unique)
        template.parent_task_id = b""
        templates[key] = template
    return copy_of_template(client, template, payload, deps, borrowed)


def method_spec(
    client: Client,
    templates: dict[tuple[bytes, bytes, str, int], common_pb2.TaskSpec],
    *,
    name: str,
    actor_id: bytes,
    payload: bytes,
    deps: list[bytes],
    borrowed: list[bytes],
    num_returns: int,
) -> common_pb2.TaskSpec:
    """build_spec(kind=ACTOR_METHOD, options={"max_retries": 0}) for an actor call, made faster: a
    copy of the TaskSpec of its client, job, method and num_returns (made once, kept in `templates`,
    one per handle) with the call's own fields set. An actor call asks for no resources, strategy
    or runtime_env, so nothing else of build_spec applies to it."""
    key = (client.ids.prefix, client.job_id, name, num_returns)
    template = templates.get(key)
    if template is None:
        template = templates[key] = common_pb2.TaskSpec(
            job_id=client.job_id,
            name=name,
            kind=common_pb2.ACTOR_METHOD,
            num_returns=num_returns,
            max_retries=0,
            actor_id=actor_id,
        )
    return copy_of_template(client, template, payload, deps, borrowed)


def current_client() -> Client:
    return context.current()
