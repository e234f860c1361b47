"""raylite: Ray Core's API on an asyncio + gRPC runtime. `import raylite as ray`."""

from raylite import exceptions, util  # util: ray.util is there after `import ray`
from raylite.client.actor import ActorClass, ActorHandle, method
from raylite.client.api import (
    available_resources,
    cluster_resources,
    get,
    get_actor,
    get_runtime_context,
    init,
    is_initialized,
    kill,
    nodes,
    put,
    remote,
    shutdown,
    wait,
)
from raylite.client.object_ref import ObjectRef
from raylite.client.remote_function import RemoteFunction

__version__ = "0.1.0"

__all__ = [
    "ActorClass",
    "ActorHandle",
    "ObjectRef",
    "RemoteFunction",
    "available_resources",
    "cluster_resources",
    "exceptions",
    "get",
    "get_actor",
    "get_runtime_context",
    "init",
    "is_initialized",
    "kill",
    "method",
    "nodes",
    "put",
    "remote",
    "shutdown",
    "util",
    "wait",
]
