"""The public, Ray-named functions. Each delegates to this process's Client."""

from __future__ import annotations

import atexit
import os
import sys
from collections.abc import Sequence
from typing import Any

import cloudpickle

from raylite import exceptions, ids, session
from raylite.client import context, submit
from raylite.client.actor import ActorClass, ActorHandle, ActorMethod
from raylite.client.core import Client
from raylite.client.local_cluster import LocalCluster
from raylite.client.object_ref import ObjectRef
from raylite.client.remote_function import RemoteFunction, _BoundOptions
from raylite.serialization import serialize

_cluster: LocalCluster | None = None
_init_info: dict[str, Any] = {}


def init(
    address: str | None = None,
    *,
    num_cpus: float | None = None,
    num_gpus: float | None = None,
    resources: dict[str, float] | None = None,
    object_store_memory: int | None = None,
    ignore_reinit_error: bool = False,
    namespace: str | None = None,
    runtime_env: dict[str, Any] | None = None,
    **_ignored: Any,
) -> dict[str, Any]:
    """Starts a local cluster (no address) or connects to one ("auto" or host:port).

    Returns facts about the connection: node_ip_address, node_id, address,
    session_dir, as Ray's init does.
    """
    global _cluster, _init_info
    if context.is_initialized():
        if ignore_reinit_error:
            return _init_info
        raise RuntimeError(
            "raylite.init() was already called in this process; call raylite.shutdown() first, "
            "or pass ignore_reinit_error=True"
        )
    from_env = address is None
    address = address or os.environ.get("RAYLITE_ADDRESS") or os.environ.get("RAY_ADDRESS") or None
    local_node_id = None
    if address is None:
        _cluster = LocalCluster.start(num_cpus, num_gpus, resources, object_store_memory)
        head_address = _cluster.address
        local_node_id = _cluster.node_id
        print(
            f"raylite: started a local cluster: head {head_address}, logs in {_cluster.session_dir}/logs",
            file=sys.stderr,
        )
    else:
        sizing = num_cpus is not None or num_gpus is not None or resources is not None
        if sizing and from_env:
            # A program written for a laptop (init(num_cpus=8)) runs unchanged against
            # the cluster that RAYLITE_ADDRESS names; that cluster's size is what it is.
            print(
                f"raylite: connecting to {address} from RAYLITE_ADDRESS; num_cpus/num_gpus/resources "
                "of init() are ignored (they size a new local cluster)",
                file=sys.stderr,
            )
        elif sizing:
            raise ValueError(
                "num_cpus, num_gpus and resources describe a new local cluster; when connecting to an "
                f"existing cluster ({address!r}) set them with `raylite start` instead"
            )
        head_address = _resolve_address(address)
    try:
        client = Client(
            head_address,
            job_id=ids.new_job_id(),
            is_driver=True,
            local_node_id=local_node_id,
            token=_cluster.token if _cluster is not None else None,
        )
    except BaseException:
        if _cluster is not None:
            _cluster.stop()
            _cluster = None
        raise
    context.install(client)
    atexit.register(shutdown)
    node = client.local_node
    _init_info = {
        "address": head_address,
        "gcs_address": head_address,
        "node_ip_address": node.ip if node is not None else _own_ip(head_address),
        "node_id": node.node_id.hex() if node is not None else None,
        "session_dir": _cluster.session_dir if _cluster is not None else None,
        "webui_url": None,
    }
    return _init_info


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
    global _cluster
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
    location is known, and a value is read from where it lives at get.)
    """
    if isinstance(object_refs, ObjectRef):
        raise TypeError(f"wait() takes a list of ObjectRefs, got a single ObjectRef {object_refs!r}: pass [ref]")
    if not isinstance(object_refs, list):
        raise TypeError(f"wait() takes a list of ObjectRefs, got {type(object_refs).__name__}")
    if timeout is not None and timeout < 0:
        raise ValueError(f"wait(): timeout must be None or >= 0, got {timeout}")
    _check_refs(object_refs, "wait()")
    client = context.current()
    if not object_refs:
        return [], []
    if len(set(object_refs)) != len(object_refs):
        raise ValueError("wait() takes a list of unique ObjectRefs: the same ref appears more than once")
    if num_returns <= 0:
        raise ValueError(f"wait(): num_returns must be at least 1, got {num_returns}")
    if num_returns > len(object_refs):
        raise ValueError(f"wait(): num_returns={num_returns} is more than the {len(object_refs)} refs given")
    client.wait_for([r.binary() for r in object_refs], num_returns, timeout)
    ready: list[ObjectRef] = []
    not_ready: list[ObjectRef] = []
    for r in object_refs:
        if len(ready) < num_returns and client.value_of(r.binary()) is not None:
            ready.append(r)
        else:
            not_ready.append(r)
    return ready, not_ready


def kill(actor: ActorHandle, *, no_restart: bool = True) -> None:
    """Ends an actor at once (calls in flight fail with ActorDiedError); no_restart=False lets it restart."""
    if not isinstance(actor, ActorHandle):
        raise ValueError(
            f"kill() takes an actor handle, got {type(actor).__name__}: {actor!r} (a task is stopped with cancel())"
        )
    context.current().kill_actor(actor._actor_id, no_restart=no_restart)


def get_actor(name: str, namespace: str | None = None) -> ActorHandle:
    """The handle of the live actor named name; ValueError if there is none."""
    if not name:
        raise ValueError("get_actor() needs a non-empty actor name")
    reply = context.current().get_actor(name)
    if not reply.found:
        raise ValueError(f"no live actor named {name!r} in this cluster")
    return ActorHandle(reply.actor_id, cloudpickle.loads(reply.actor_meta))


def nodes() -> list[dict[str, Any]]:
    out = []
    for n in context.current().cluster_state():
        host, _, port = n.address.rpartition(":")
        out.append(
            {
                "NodeID": n.node_id.hex(),
                "Alive": n.alive,
                "alive": n.alive,
                "NodeManagerAddress": n.ip,
                "NodeManagerHostname": host,
                "NodeManagerPort": int(port or 0),
                "Resources": dict(n.total),
            }
        )
    return out


def _sum(field: str) -> dict[str, float]:
    total: dict[str, float] = {}
    for n in context.current().cluster_state():
        if n.alive:
            for k, v in getattr(n, field).items():
                total[k] = total.get(k, 0.0) + v
    return {k: v for k, v in total.items() if v > 0}


def cluster_resources() -> dict[str, float]:
    return _sum("total")


def available_resources() -> dict[str, float]:
    return _sum("available")


class RuntimeContext:
    """What the code calling it runs as: get_node_id(), get_job_id(), get_task_id(), get_actor_id()."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def get_node_id(self) -> str | None:
        node = self._client.local_node
        return node.node_id.hex() if node is not None else None

    def get_job_id(self) -> str:
        return self._client.job_id.hex()

    def get_task_id(self) -> str | None:
        return self._client.current_task_id.hex() or None

    def get_actor_id(self) -> str | None:
        actor_id = getattr(self._client, "current_actor_id", b"")
        return actor_id.hex() or None

    @property
    def node_id(self) -> str | None:
        return self.get_node_id()


def get_runtime_context() -> RuntimeContext:
    return RuntimeContext(context.current())
