"""The public, Ray-named functions. Each delegates to this process's Client."""

from __future__ import annotations

import atexit
import json
import os
import sys
import uuid
from collections.abc import Sequence
from typing import Any

from raylite import exceptions, ids, runtime_context, session
from raylite.client import context, named_actors, ray_context, submit
from raylite.client import runtime_env as client_runtime_env
from raylite.client.actor import ActorClass, ActorHandle, ActorMethod
from raylite.client.core import Client
from raylite.client.generator import ObjectRefGenerator
from raylite.client.local_cluster import LocalCluster
from raylite.client.object_ref import ObjectRef
from raylite.client.ray_context import RayContext
from raylite.client.remote_function import RemoteFunction, _BoundOptions
from raylite.labels import check_labels
from raylite.placement_resources import is_group_resource
from raylite.serialization import serialize

_cluster: LocalCluster | None = None
_context: RayContext | None = None
_atexit_registered = False

# Environment variables naming the cluster init() with no address (or "auto") joins.
ADDRESS_VARIABLES = ("RAYLITE_ADDRESS", "RAY_ADDRESS")


def init(
    address: str | None = None,
    *,
    num_cpus: float | None = None,
    num_gpus: float | None = None,
    resources: dict[str, float] | None = None,
    labels: dict[str, str] | None = None,
    object_store_memory: int | None = None,
    local_mode: bool = False,
    ignore_reinit_error: bool = False,
    include_dashboard: bool | None = None,
    dashboard_host: str = "127.0.0.1",
    dashboard_port: int | None = None,
    job_config: Any = None,
    configure_logging: bool = True,
    logging_level: Any = "info",
    logging_format: str | None = None,
    logging_config: Any = None,
    log_to_driver: bool | None = None,
    namespace: str | None = None,
    runtime_env: dict[str, Any] | None = None,
    enable_resource_isolation: bool = False,
    cgroup_path: str | None = None,
    system_reserved_cpu: float | None = None,
    system_reserved_memory: int | None = None,
    proxy_server_url: str | None = None,
    **kwargs: Any,
) -> RayContext:
    """Starts a local cluster (no address, or "local") or connects to one ("auto" or host:port).

    Returns a RayContext: the connection's facts (`address_info`:
    node_ip_address, node_id, address, session_dir, ...), usable as
    `with init(): ...`. With no address, RAYLITE_ADDRESS or RAY_ADDRESS names
    the cluster to join, if set. A local cluster's head serves the dashboard
    (include_dashboard, dashboard_host, dashboard_port; its address is printed
    and in `dashboard_url`). Keyword arguments Ray's init takes for things
    raylite does not have (logging set-up, local_mode) are accepted and
    ignored; others are a RuntimeError, as in Ray.
    """
    global _cluster, _context
    ray_context.check_extra_options(kwargs)
    if job_config is not None:
        namespace = namespace or getattr(job_config, "ray_namespace", None)
        runtime_env = runtime_env or getattr(job_config, "runtime_env", None)
    if namespace is not None and (not isinstance(namespace, str) or not namespace):
        raise ValueError(f"namespace must be a non-empty string, got {namespace!r}")
    if context.is_initialized():
        if ignore_reinit_error:  # a driver's own context, or (in a task) one of its connection
            return _context if _context is not None else _context_of(context.current(), None)
        raise RuntimeError(
            "raylite.init() was already called in this process; call raylite.shutdown() first, "
            "or pass ignore_reinit_error=True"
        )
    # checked and packed before any cluster starts, so a bad path or type costs nothing
    packed_env = client_runtime_env.pack_job_env(runtime_env)
    node_labels = check_labels(labels, "init()")
    address, env_name = _address_to_use(address)
    local_node_id = None
    if address == "local":
        _cluster = LocalCluster.start(
            num_cpus,
            num_gpus,
            resources,
            object_store_memory,
            labels=node_labels,
            dashboard=(include_dashboard, dashboard_host, dashboard_port),
            metrics_export_port=kwargs.get("_metrics_export_port"),
        )
        head_address = _cluster.address
        local_node_id = _cluster.node_id
        dashboard = _cluster.dashboard_url
        trouble = _cluster.head.info.get("dashboard_error")
        print(
            f"raylite: started a local cluster: head {head_address}, logs in {_cluster.session_dir}/logs"
            + (f"; view the dashboard at {dashboard}" if dashboard else "")
            + (f"; no dashboard: {trouble}" if trouble else ""),
            file=sys.stderr,
        )
    else:
        sizing = [
            name
            for name, value in (
                ("num_cpus", num_cpus),
                ("num_gpus", num_gpus),
                ("resources", resources),
                ("object_store_memory", object_store_memory),
                ("labels", labels),
            )
            if value is not None
        ]
        if sizing and env_name == "RAYLITE_ADDRESS":
            # A program written for a laptop (init(num_cpus=8)) runs unchanged against
            # the cluster that RAYLITE_ADDRESS names; that cluster's size is what it is.
            print(
                f"raylite: connecting to {address} from RAYLITE_ADDRESS; {'/'.join(sizing)} "
                "of init() are ignored (they size a new local cluster)",
                file=sys.stderr,
            )
        elif sizing:
            where = f" ({address!r}{' from ' + env_name if env_name else ''})"
            raise ValueError(
                f"{', '.join(sizing)} describe a new local cluster; when connecting to an existing cluster"
                f"{where} leave them out and set them with `raylite start` instead"
            )
        head_address = _resolve_address(address)
    try:
        client = Client(
            head_address,
            job_id=ids.new_job_id(),
            is_driver=True,
            local_node_id=local_node_id,
            token=_cluster.token if _cluster is not None else None,
            log_to_driver=log_to_driver is not False,
        )
    except BaseException:
        if _cluster is not None:
            _cluster.stop()
            _cluster = None
        raise
    client.namespace = namespace or str(uuid.uuid4())  # Ray's anonymous namespace is a fresh uuid too
    context.install(client)
    _register_shutdown_at_exit()
    try:
        # once the client is this process's: the refs held to the uploads must count in it
        client_runtime_env.install_job_env(client, packed_env)
    except BaseException:
        shutdown()
        raise
    _put_job_info(client)
    _context = _context_of(client, _cluster)
    return _context


def _context_of(client: Client, cluster: LocalCluster | None) -> RayContext:
    node = client.local_node
    return RayContext(
        {
            "node_ip_address": node.ip if node is not None else _own_ip(client.head_address),
            "redis_address": None,
            "object_store_address": node.store_dir if node is not None else None,
            "raylet_socket_name": node.address if node is not None else None,
            "webui_url": _dashboard_host_port(client, cluster),
            "session_dir": cluster.session_dir if cluster is not None else None,
            "metrics_export_port": _metrics_port(cluster),
            "gcs_address": client.head_address,
            "address": client.head_address,
            "dashboard_agent_listen_port": -1,
            "node_id": node.node_id.hex() if node is not None else None,
        }
    )


def _metrics_port(cluster: LocalCluster | None) -> int:
    """The port of the local cluster's head that serves /metrics alone (_metrics_export_port); -1: none."""
    url = str(cluster.head.info.get("metrics_url") or "") if cluster is not None else ""
    return int(url.removesuffix("/metrics").rsplit(":", 1)[1]) if url else -1


def _dashboard_host_port(client: Client, cluster: LocalCluster | None) -> str:
    """Where the dashboard is, as Ray's webui_url (host:port, no scheme); "" when there is none."""
    url = cluster.dashboard_url if cluster is not None else client.dashboard_url
    return url.removeprefix("http://").removeprefix("https://").rstrip("/")


def _address_to_use(address: str | None) -> tuple[str, str | None]:
    """The address init() connects to ("local" for a new local cluster) and the variable it came from."""
    if address is None or address == "auto":
        for name in ADDRESS_VARIABLES:
            value = os.environ.get(name)
            if value:
                return value, name
    return address or "local", None


def _register_shutdown_at_exit() -> None:
    global _atexit_registered
    if not _atexit_registered:
        atexit.register(shutdown)
        _atexit_registered = True


def _put_job_info(client: Client) -> None:
    """The job's namespace and runtime_env, for its tasks to read (runtime_context.job_info_id)."""
    oid = runtime_context.job_info_id(client.job_id)
    client.job_info_ref = ObjectRef(oid)  # held for the life of the session
    client.put_serialized(serialize(runtime_context.job_info(client.namespace or "", client.runtime_env)), oid)


def _auto_init() -> None:
    """What the API does when it needs a cluster and init() was not called: init() with no arguments."""
    if os.environ.get("RAY_ENABLE_AUTO_CONNECT", "") == "0" or os.environ.get("RAYLITE_ENABLE_AUTO_CONNECT") == "0":
        raise RuntimeError(
            "raylite is not initialized and auto-init is off (RAY_ENABLE_AUTO_CONNECT=0): call raylite.init() first"
        )
    init()


context.install_auto_init(_auto_init)


def connected_client() -> Client:
    """This process's client, starting a local cluster first in a driver that has none (auto-init)."""
    return context.current()


def _initialized_client(what: str) -> Client:
    """This process's client; as Ray's, the state functions do not start a cluster."""
    client = context.peek()
    if client is None and context.is_initialized():
        client = context.current()  # an executor: its client is made on first use
    if client is None:
        raise exceptions.RaySystemError(f"raylite has not been started: call raylite.init() before {what}")
    return client


def _resolve_address(address: str) -> str:
    if address == "auto":
        found = session.local_head_address()
        if found is None:
            raise ConnectionError(
                "init(address='auto') found no raylite cluster started on this machine; "
                "start one with `raylite start --head`, or call init() with no address for a local cluster"
            )
        return found
    for prefix in ("raylite://", "ray://"):
        if address.startswith(prefix):
            address = address[len(prefix) :]
    if ":" not in address:
        raise ValueError(f"address {address!r} should be host:port (for example 10.0.0.5:6380) or 'auto'")
    return address


def _own_ip(head_address: str) -> str:
    from raylite.hostinfo import detect_ip

    return detect_ip(head_address.rsplit(":", 1)[0])


def shutdown() -> None:
    """Disconnects; stops the local cluster if init() started one."""
    global _cluster, _context
    _context = None
    client = context.peek()
    context.install(None)
    if client is not None:
        client.close()
    if _cluster is not None:
        cluster, _cluster = _cluster, None
        cluster.stop()


def is_initialized() -> bool:
    return context.is_initialized()


def remote(*args: Any, **options: Any) -> Any:
    """@remote or @remote(num_cpus=..., ...) on a function (task) or class (actor)."""
    if len(args) == 1 and not options and callable(args[0]):
        return _make_remote(args[0], {})
    if args:
        raise TypeError("remote() takes a function or class, or only keyword options: @remote or @remote(num_cpus=2)")
    return lambda target: _make_remote(target, options)


def _make_remote(target: Any, options: dict[str, Any]) -> Any:
    if isinstance(target, type):
        return ActorClass(target, options)
    if callable(target):
        return RemoteFunction(target, options)
    raise TypeError(f"@remote needs a function or a class, got {type(target).__name__}")


def _check_refs(refs: Sequence[Any], what: str) -> None:
    for r in refs:
        if not isinstance(r, ObjectRef):
            raise TypeError(f"{what} expects ObjectRefs, got {type(r).__name__}: {r!r}; {_how_to_get_a_ref(r)}")


def _how_to_get_a_ref(value: Any) -> str:
    if isinstance(value, (RemoteFunction, ActorMethod, _BoundOptions)):
        return "call its .remote(...) to run it, and pass the ObjectRef that returns"
    if isinstance(value, ActorHandle):
        return "an actor handle is not a value: call one of its methods with .remote(...) and pass that ObjectRef"
    return "pass the ObjectRef that .remote(...) or put() returned (put(value) makes one for a plain value)"


def get(object_refs: Any, *, timeout: float | None = None) -> Any:
    """The values of one ObjectRef or a list of them, waiting until they exist.

    Raises a failed object's error as soon as it is known, without waiting
    for the others (the first failed one in list order, of those known then),
    and GetTimeoutError (a TimeoutError) after timeout seconds.
    """
    if isinstance(object_refs, ObjectRef):
        client = context.current()
        oid = object_refs.binary()
        if not client.wait_for([oid], 1, timeout):
            raise _timed_out(client, [oid], timeout)
        return client.materialize(client.value_of(oid))  # type: ignore[arg-type]
    if not isinstance(object_refs, list):
        hint = "pass list(...) of them" if isinstance(object_refs, tuple) else _how_to_get_a_ref(object_refs)
        raise ValueError(
            f"get() takes an ObjectRef or a list of ObjectRefs, got {type(object_refs).__name__}: "
            f"{object_refs!r}; {hint}"
        )
    _check_refs(object_refs, "get()")
    client = context.current()
    oids = [r.binary() for r in object_refs]
    if not client.wait_for(oids, len(set(oids)), timeout, stop_on_error=True):
        raise _timed_out(client, oids, timeout)
    values = [client.value_of(oid) for oid in oids]
    for value in values:
        if value is not None and value.is_error:
            client.materialize(value)  # raises
    return [client.materialize(value) for value in values]  # type: ignore[arg-type]


def _timed_out(client: Client, oids: list[bytes], timeout: float | None) -> exceptions.GetTimeoutError:
    unique = set(oids)
    missing = sum(1 for o in unique if client.value_of(o) is None)
    return exceptions.GetTimeoutError(
        f"get() timed out after {timeout}s with {missing} of {len(unique)} objects not ready yet; "
        "raise the timeout, or use wait() to take the results as they come"
    )


def put(value: Any, *, _owner: Any = None) -> ObjectRef:
    """Stores value in the object store and returns a ref to it."""
    if isinstance(value, ObjectRef):
        raise TypeError("put() of an ObjectRef is not allowed: pass the ref itself where it is needed")
    client = context.current()
    try:
        s = serialize(value)
    except exceptions.RaySerializationError as exc:
        raise exceptions.RaySerializationError(
            f"put(): could not pickle the value (of type {type(value).__qualname__}) to store it: "
            f"{exc.__cause__ or exc}\n{submit.serializability_report(value)}"
        ) from exc.__cause__
    ref = ObjectRef(client.new_put_id())  # held before the head hears of the object
    client.put_serialized(s, ref.binary())
    return ref


def wait(
    object_refs: list[ObjectRef],
    *,
    num_returns: int = 1,
    timeout: float | None = None,
    fetch_local: bool = True,
) -> tuple[list[ObjectRef], list[ObjectRef]]:
    """Splits refs into (ready, not ready) once num_returns are ready or timeout passes.

    Both lists keep the order of the input. As Ray's: refs must be a list of
    unique ObjectRefs, an empty list returns ([], []) at once, and
    num_returns must be from 1 to len(refs). A failed object counts as ready.
    (fetch_local=False is accepted; raylite's ready means the value or its
    location is known, and a value is read from where it lives at get.) An
    ObjectRefGenerator in the list is ready when its next() would not wait.
    """
    if isinstance(object_refs, ObjectRef):
        raise TypeError(f"wait() takes a list of ObjectRefs, got a single ObjectRef {object_refs!r}: pass [ref]")
    if not isinstance(object_refs, list):
        raise TypeError(f"wait() takes a list of ObjectRefs, got {type(object_refs).__name__}")
    if timeout is not None and timeout < 0:
        raise ValueError(f"wait(): timeout must be None or >= 0, got {timeout}")
    _check_refs([r for r in object_refs if not isinstance(r, ObjectRefGenerator)], "wait()")
    client = context.current()
    if not object_refs:
        return [], []
    if len(set(object_refs)) != len(object_refs):
        raise ValueError("wait() takes a list of unique ObjectRefs: the same ref appears more than once")
    if num_returns <= 0:
        raise ValueError(f"wait(): num_returns must be at least 1, got {num_returns}")
    if num_returns > len(object_refs):
        raise ValueError(f"wait(): num_returns={num_returns} is more than the {len(object_refs)} refs given")
    client.wait_for([_wait_id(r) for r in object_refs], num_returns, timeout, caller="wait")
    ready: list[ObjectRef] = []
    not_ready: list[ObjectRef] = []
    for r in object_refs:
        is_ready = r.next_ready() if isinstance(r, ObjectRefGenerator) else client.value_of(r.binary()) is not None
        if len(ready) < num_returns and is_ready:
            ready.append(r)
        else:
            not_ready.append(r)
    return ready, not_ready


def _wait_id(ref: ObjectRef | ObjectRefGenerator) -> bytes:
    return ref._wait_oid() if isinstance(ref, ObjectRefGenerator) else ref.binary()


def kill(actor: ActorHandle, *, no_restart: bool = True) -> None:
    """Ends an actor at once (calls in flight fail with ActorDiedError); no_restart=False lets it restart."""
    if not isinstance(actor, ActorHandle):
        raise ValueError(
            f"kill() takes an actor handle, got {type(actor).__name__}: {actor!r} (a task is stopped with cancel())"
        )
    context.current().kill_actor(actor._actor_id, no_restart=no_restart)


def cancel(ray_waitable: ObjectRef, *, force: bool = False, recursive: bool = True) -> None:
    """Cancels the task that returns the ref; its get then raises TaskCancelledError.

    As Ray's: a task not started yet (queued, or waiting for its arguments)
    never runs; a running task gets KeyboardInterrupt in its thread, or with
    force=True its executor process is killed; it is not retried either way.
    An actor call not started yet never runs; a running async one is
    cancelled as an asyncio task, a running sync one is left to finish (it
    sees get_runtime_context().is_canceled()) and its result is dropped;
    force=True is refused for actor calls (ValueError). recursive=True
    cancels the tasks the task submitted too. Cancelling a finished task, or
    twice, does nothing.
    """
    ref = ray_waitable  # (Ray's name for the argument)
    if not isinstance(ref, ObjectRef):
        raise TypeError(
            f"cancel() takes the ObjectRef of a task (what .remote() returned), got {type(ref).__name__}: {ref!r}"
            + ("; an actor is ended with kill()" if isinstance(ref, ActorHandle) else "")
        )
    context.current().cancel(ref.binary(), bool(force), bool(recursive))


def get_actor(name: str, namespace: str | None = None) -> ActorHandle:
    """The handle of the live actor named name (in this job's namespace unless told); ValueError if none."""
    return named_actors.get_actor(name, namespace)


def nodes() -> list[dict[str, Any]]:
    """The cluster's nodes, as Ray lists them (NodeID, Alive, NodeManagerAddress, Resources, ...)."""
    out = []
    for n in _initialized_client("nodes()").cluster_state():
        host, _, port = n.address.rpartition(":")
        out.append(
            {
                "NodeID": n.node_id.hex(),
                "Alive": n.alive,
                "alive": n.alive,
                "NodeManagerAddress": n.ip,
                "NodeManagerHostname": host,
                "NodeManagerPort": int(port or 0),
                # raylite's worker daemon serves objects on the same port as everything else
                "ObjectManagerPort": int(port or 0),
                "ObjectStoreSocketName": n.store_dir,
                "RayletSocketName": n.address,
                "NodeName": n.ip,
                "Resources": {k: v for k, v in n.total.items() if not is_group_resource(k)},
                "Labels": {**dict(n.labels), "ray.io/node-id": n.node_id.hex()},
            }
        )
    return out


def _sum(field: str, what: str) -> dict[str, float]:
    total: dict[str, float] = {}
    for n in _initialized_client(what).cluster_state():
        if n.alive:
            for k, v in getattr(n, field).items():
                total[k] = total.get(k, 0.0) + v
    # (a placement group's own resources are not shown, as in Ray: raylite/placement_resources.py)
    return {k: v for k, v in total.items() if v > 0 and not is_group_resource(k)}


def cluster_resources() -> dict[str, float]:
    """The resources of the live nodes, summed."""
    return _sum("total", "cluster_resources()")


def available_resources() -> dict[str, float]:
    """The resources of the live nodes that no task or actor holds now, summed."""
    return _sum("available", "available_resources()")


def timeline(filename: str | None = None) -> list[dict[str, Any]] | None:
    """The tasks' timeline in Chrome trace format (chrome://tracing, Perfetto): one span per task
    run, per node, from the head's stories of the tasks it keeps.

    With filename, the trace is written there as JSON and None is returned, as Ray does.
    """
    if not context.is_initialized():
        raise RuntimeError("raylite has not been started: call raylite.init() before timeline()")
    from raylite.util.state.rpc import fetch

    events: list[dict[str, Any]] = fetch("timeline")["result"]
    if filename is None:
        return events
    with open(filename, "w") as f:
        json.dump(events, f)
    return None


def get_gpu_ids() -> list[Any]:
    """The GPUs assigned to the calling task or actor (indices on its node; [] in a driver)."""
    if runtime_context.worker() is None:
        context.current()  # auto-init, as Ray's
    return runtime_context.gpu_ids()


get_runtime_context = runtime_context.get_runtime_context
