"""raylite: Ray Core's API on an asyncio + gRPC runtime. `import raylite as ray`."""

from raylite import actor, exceptions, job_config, remote_function, runtime_context, util
from raylite.client.actor import ActorClass, ActorHandle, method
from raylite.client.api import (
    available_resources,
    cancel,
    cluster_resources,
    get,
    get_actor,
    get_gpu_ids,
    get_runtime_context,
    init,
    is_initialized,
    kill,
    nodes,
    put,
    remote,
    shutdown,
    timeline,
    wait,
)
from raylite.client.generator import DynamicObjectRefGenerator, ObjectRefGenerator
from raylite.client.object_ref import ObjectRef
from raylite.client.ray_context import LoggingConfig
from raylite.client.remote_function import RemoteFunction

__version__ = "0.1.0"

ObjectID = ObjectRef  # Ray's older name of the same class

# Ray's process modes (ray.worker's): a driver runs in SCRIPT_MODE, a task or actor in WORKER_MODE.
SCRIPT_MODE = 0
WORKER_MODE = 1

# The functions that start a local cluster when called before init(), and those that do not (as Ray's).
AUTO_INIT_APIS = frozenset({"get_actor", "wait", "get_runtime_context", "get_gpu_ids", "put", "get", "kill", "cancel"})
NON_AUTO_INIT_APIS = frozenset(
    {
        "init",
        "shutdown",
        "is_initialized",
        "remote",
        "method",
        "nodes",
        "cluster_resources",
        "available_resources",
        "timeline",
        "__version__",
    }
)

__all__ = [
    "ActorClass",
    "ActorHandle",
    "DynamicObjectRefGenerator",
    "LoggingConfig",
    "ObjectID",
    "ObjectRef",
    "ObjectRefGenerator",
    "RemoteFunction",
    "SCRIPT_MODE",
    "WORKER_MODE",
    "actor",
    "available_resources",
    "cancel",
    "cluster_resources",
    "exceptions",
    "get",
    "get_actor",
    "get_gpu_ids",
    "get_runtime_context",
    "init",
    "is_initialized",
    "job_config",
    "kill",
    "method",
    "nodes",
    "put",
    "remote",
    "remote_function",
    "runtime_context",
    "shutdown",
    "timeline",
    "util",
    "wait",
]
