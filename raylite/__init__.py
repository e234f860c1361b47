"""raylite: Ray Core's API on an asyncio + gRPC runtime. `import raylite as ray`.

The API's names are loaded on first use (PEP 562 `__getattr__`), not by `import raylite`:
the head and the worker daemon start with `python -m raylite.head.server` /
`raylite.worker.daemon`, which runs this file first, and neither needs the client
(about 50 modules of the driver's API, asyncio helpers and serialization). A driver
pays the same imports as before, at its first `ray.init()` / `@ray.remote`
(docs/performance.md, "Start-up").
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what the names are, for type checkers; at run time __getattr__ loads them
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

    ObjectID = ObjectRef

# Each public name and the module that defines it (a submodule's own name maps to itself).
_LAZY: dict[str, str] = {
    **{
        name: f"raylite.{name}"
        for name in ("actor", "exceptions", "job_config", "remote_function", "runtime_context", "util")
    },
    **dict.fromkeys(("ActorClass", "ActorHandle", "method"), "raylite.client.actor"),
    **dict.fromkeys(
        (
            "available_resources",
            "cancel",
            "cluster_resources",
            "get",
            "get_actor",
            "get_gpu_ids",
            "get_runtime_context",
            "init",
            "is_initialized",
            "kill",
            "nodes",
            "put",
            "remote",
            "shutdown",
            "timeline",
            "wait",
        ),
        "raylite.client.api",
    ),
    **dict.fromkeys(("DynamicObjectRefGenerator", "ObjectRefGenerator"), "raylite.client.generator"),
    "ObjectRef": "raylite.client.object_ref",
    "ObjectID": "raylite.client.object_ref",  # Ray's older name of the same class
    "LoggingConfig": "raylite.client.ray_context",
    "RemoteFunction": "raylite.client.remote_function",
}


def __getattr__(name: str) -> Any:
    """Loads a public name on first use and keeps it in this module, so a second use is a plain lookup."""
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'raylite' has no attribute {name!r}")
    module = importlib.import_module(module_name)
    value = module if module_name == f"raylite.{name}" else getattr(module, "ObjectRef" if name == "ObjectID" else name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__version__ = "0.1.0"


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
