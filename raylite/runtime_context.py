"""`get_runtime_context()`: what the calling code runs as, as Ray's `ray.runtime_context`.

In the driver the facts come from its client (job, node, worker id,
namespace). In an executor they come from the executor itself, which sets
`WorkerFacts` once and `TaskFacts` around each task (a context variable, so
the concurrent calls of a threaded or async actor each see their own), and
reading them needs no connection to the head.

Ids are hex strings, as Ray's; raylite's ids are shorter than Ray's (a job id
is 8 bytes, a node id 16, an object id 20).

A job's namespace reaches its tasks through a small object the driver puts
at init under an id derived from the job id (`job_info_id`); an executor
reads it the first time a task asks, and keeps it. The runtime_env a task
sees is its executor's own: executors run one environment each (the task's
merged one, raylite/worker/runtime_env.py).
"""

from __future__ import annotations

import contextvars
import inspect
import json
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from raylite import ids

if TYPE_CHECKING:
    from raylite.client.actor import ActorHandle
    from raylite.client.core import Client

__all__ = ["RuntimeContext", "get_runtime_context"]

# the accelerator resources get_accelerator_ids() reports, as Ray's
ACCELERATORS = ("GPU", "TPU", "NPU", "HPU", "RBLN", "FURIOSA", "MBLT", "TTNPU", "neuron_cores")


@dataclass
class TaskFacts:
    """The task (or actor call) running in the current thread or coroutine."""

    job_id: bytes
    task_id: bytes
    name: str  # the task's name: its function's, or options(name=...)
    function: Any = None  # the function, or the actor's class
    member: str = ""  # the method of the actor's class
    resources: dict[str, float] = field(default_factory=dict)
    gpu_ids: list[Any] = field(default_factory=list)
    cancelled: bool = False  # raylite.cancel() reached it (is_canceled()); set by the executor
    strategy: Any = None  # its spec's SchedulingStrategy (the actor's, for a call): its placement group

    @property
    def function_name(self) -> str:
        """module.qualname of the function or method (worked out only when asked)."""
        return qualified_name(self.function, self.member) if self.function is not None else ""


def qualified_name(target: Any, member: str = "") -> str:
    """module.qualname of a function or class (and of one of its methods), as Ray names a task's function.

    As Ray's, code of the driver's script is named by the script's module name
    (its file name), not "__main__".
    """
    module = getattr(target, "__module__", None) or "?"
    if module == "__main__":
        module = _script_module(target) or module
    name = f"{module}.{getattr(target, '__qualname__', repr(target))}"
    return f"{name}.{member}" if member else name


def _script_module(target: Any) -> str | None:
    functions = [target] if not isinstance(target, type) else list(vars(target).values())
    for fn in functions:
        code = getattr(inspect.unwrap(fn), "__code__", None) if callable(fn) else None
        if code is not None:
            return inspect.getmodulename(code.co_filename)
    return None


@dataclass
class WorkerFacts:
    """The executor process: its node, its id, and the actor it hosts, if any."""

    node_id: bytes
    worker_id: bytes
    head_address: str
    node_ip: str = ""
    actor_id: bytes = b""
    actor_name: str = ""
    actor_meta: Any = None  # the hosted actor's ActorMeta, for current_actor
    actor_class: Any = None
    actor_restarted: bool = False
    actor_resources: dict[str, float] = field(default_factory=dict)
    actor_gpu_ids: list[Any] = field(default_factory=list)
    actor_strategy: Any = None  # the hosted actor's SchedulingStrategy (its placement group, if any)
    job_infos: dict[bytes, dict[str, Any]] = field(default_factory=dict)  # job id -> its JobInfo
    runtime_env: dict[str, Any] = field(default_factory=dict)  # the environment the executor runs in
    lock: threading.Lock = field(default_factory=threading.Lock)


_worker: WorkerFacts | None = None
_task: contextvars.ContextVar[TaskFacts | None] = contextvars.ContextVar("raylite_task", default=None)

# How long an executor waits for a job's info object (it is freed with its driver).
JOB_INFO_WAIT_S = 10.0


def set_worker(facts: WorkerFacts | None) -> None:
    """Called once by an executor process."""
    global _worker
    _worker = facts


def worker() -> WorkerFacts | None:
    return _worker


def enter_task(facts: TaskFacts) -> contextvars.Token[TaskFacts | None]:
    return _task.set(facts)


def leave_task(token: contextvars.Token[TaskFacts | None]) -> None:
    _task.reset(token)


def current_task_id() -> bytes:
    """The id of the task (or actor call) the calling code runs in; b"" outside one (a driver)."""
    task = _task.get()
    return task.task_id if task is not None else b""


def current_task() -> TaskFacts | None:
    return _task.get()


def placement_strategy() -> Any:
    """The SchedulingStrategy that put the current task or actor in a placement group; None if none did."""
    task = _task.get()
    strategy = task.strategy if task is not None else None
    return strategy if strategy is not None and strategy.kind == "PLACEMENT_GROUP" else None


def job_info_id(job_id: bytes) -> bytes:
    """The object id under which a driver puts its job's info (no task id of a client can equal it)."""
    return ids.object_id(job_id.ljust(8, b"\0")[:8] + b"\xff" * (ids.TASK_ID_BYTES - 8), 0)


def job_info(namespace: str, runtime_env: dict[str, Any] | None) -> dict[str, Any]:
    return {"namespace": namespace, "runtime_env": dict(runtime_env or {})}


def _executor_job_info(facts: WorkerFacts, job_id: bytes) -> dict[str, Any]:
    with facts.lock:
        known = facts.job_infos.get(job_id)
    if known is not None:
        return known
    from raylite import exceptions
    from raylite.client.api import get
    from raylite.client.object_ref import ObjectRef

    try:
        info = get(ObjectRef(job_info_id(job_id)), timeout=JOB_INFO_WAIT_S)
    except exceptions.GetTimeoutError:
        info = {}  # its driver is gone (a detached actor outliving it) and took the object along
    if not isinstance(info, dict):
        info = {}
    with facts.lock:
        facts.job_infos[job_id] = info
    return info


class RuntimeContext:
    """What the code calling it runs as: ids of its job, node, worker, task and actor, and more."""

    def __init__(self, client: Client | None) -> None:
        self._client = client  # the driver's; None in an executor

    # ---- ids -------------------------------------------------------------------------------

    def get_job_id(self) -> str:
        task = _task.get()
        if task is not None:
            return task.job_id.hex()
        if self._client is not None:
            return self._client.job_id.hex()
        raise RuntimeError("no job is running in this executor now")

    def get_node_id(self) -> str | None:
        if _worker is not None:
            return _worker.node_id.hex()
        node = self._client.local_node if self._client is not None else None
        return node.node_id.hex() if node is not None else None

    def get_worker_id(self) -> str:
        if _worker is not None:
            return _worker.worker_id.hex()
        assert self._client is not None
        return self._client.client_id.hex()

    def get_task_id(self) -> str | None:
        task = _task.get()
        return task.task_id.hex() if task is not None and task.task_id else None

    def get_task_name(self) -> str | None:
        task = _task.get()
        return task.name if task is not None else None

    def get_task_function_name(self) -> str | None:
        task = _task.get()
        return task.function_name or None if task is not None else None

    def get_actor_id(self) -> str | None:
        if _worker is not None and _worker.actor_id:
            return _worker.actor_id.hex()
        return None

    def get_actor_name(self) -> str | None:
        """The actor's name ("" for an unnamed actor); None outside an actor."""
        if _worker is not None and _worker.actor_id:
            return _worker.actor_name
        return None

    def get_placement_group_id(self) -> str | None:
        """The id (hex) of the placement group the current task or actor runs in; None outside one."""
        strategy = placement_strategy()
        return strategy.placement_group_id.hex() if strategy is not None else None

    # Ray's older properties
    @property
    def job_id(self) -> str:
        return self.get_job_id()

    @property
    def node_id(self) -> str | None:
        return self.get_node_id()

    @property
    def task_id(self) -> str | None:
        assert _worker is not None, "task_id is only known inside a task or actor"
        return self.get_task_id()

    @property
    def actor_id(self) -> str | None:
        assert _worker is not None, "actor_id is only known inside a task or actor"
        return self.get_actor_id()

    @property
    def current_placement_group_id(self) -> str | None:
        return self.get_placement_group_id()

    @property
    def should_capture_child_tasks_in_placement_group(self) -> bool:
        strategy = placement_strategy()
        return strategy is not None and strategy.capture_child_tasks

    # ---- the job ----------------------------------------------------------------------------

    @property
    def namespace(self) -> str | None:
        if self._client is not None:
            return self._client.namespace
        task = _task.get()
        if _worker is None or task is None:
            return None
        return _executor_job_info(_worker, task.job_id).get("namespace")

    def get_runtime_env_string(self) -> str:
        return json.dumps(self._runtime_env())

    @property
    def runtime_env(self) -> dict[str, Any]:
        return dict(self._runtime_env())

    def _runtime_env(self) -> dict[str, Any]:
        if self._client is not None:
            return dict(self._client.runtime_env)
        if _worker is None:
            return {}
        # an executor runs in one environment (its tasks' merged one): never shared with another
        return dict(_worker.runtime_env)

    @property
    def gcs_address(self) -> str:
        """The head's address (the process Ray calls the GCS)."""
        if _worker is not None:
            return _worker.head_address
        assert self._client is not None
        return self._client.head_address

    def get_temp_dir(self) -> str:
        """Where this machine's raylite sessions keep their files."""
        from raylite import config

        return config.runtime_dir()

    def get_session_name(self) -> str:
        from raylite.client import context

        return context.current().session_name

    # ---- resources ----------------------------------------------------------------------------

    def get_assigned_resources(self) -> dict[str, float]:
        """What the current task holds ({"CPU": 1.0} by default); an actor's calls: what the actor holds."""
        assert _worker is not None, "get_assigned_resources() is only available inside a task or actor"
        task = _task.get()
        if _worker.actor_id:
            return dict(_worker.actor_resources)
        return dict(task.resources) if task is not None else {}

    def get_accelerator_ids(self) -> dict[str, list[str]]:
        """The ids of the accelerators assigned to the current task or actor, by resource name."""
        out: dict[str, list[str]] = {name: [] for name in ACCELERATORS}
        out["GPU"] = [str(i) for i in gpu_ids()]
        return out

    def get_resource_ids(self) -> dict[str, list[str]]:
        return self.get_accelerator_ids()

    def get_node_labels(self) -> dict[str, str]:
        """The labels of the node this process runs on (asks the head: one round trip)."""
        node = self.get_node_id()
        if not node:
            return {}
        from raylite.client.api import nodes  # (loads the client: this is only called from user code)

        for entry in nodes():
            if entry["NodeID"] == node:
                return dict(entry["Labels"])
        return {"ray.io/node-id": node}

    # ---- the actor ------------------------------------------------------------------------------

    @property
    def current_actor(self) -> ActorHandle:
        """A handle to the actor this code runs in."""
        if _worker is None or not _worker.actor_id:
            raise RuntimeError("current_actor is only available inside an actor")
        from raylite.client.actor import ActorHandle

        return ActorHandle(_worker.actor_id, _worker.actor_meta)

    @property
    def was_current_actor_reconstructed(self) -> bool:
        """Whether this actor is a restart of one whose process died."""
        assert _worker is not None and _worker.actor_id, "was_current_actor_reconstructed is only known in an actor"
        return _worker.actor_restarted

    def is_canceled(self) -> bool:
        """Whether raylite.cancel() reached the task or actor call this code runs in."""
        if _worker is None:
            raise RuntimeError("is_canceled() is only available inside a task")
        task = _task.get()
        return task is not None and task.cancelled

    def get(self) -> dict[str, Any]:
        """The job id, node id and namespace (and in a task its task id, in an actor its actor id)."""
        out: dict[str, Any] = {"job_id": self.get_job_id(), "node_id": self.get_node_id(), "namespace": self.namespace}
        if self.get_task_id() is not None:
            out["task_id"] = self.get_task_id()
        if self.get_actor_id() is not None:
            out["actor_id"] = self.get_actor_id()
        return out


def gpu_ids() -> list[Any]:
    """The GPUs of the current task or actor: indices on its node (strings when the node's
    CUDA_VISIBLE_DEVICES named them); [] in a driver."""
    task = _task.get()
    if task is not None and task.gpu_ids:
        return list(task.gpu_ids)
    if _worker is not None:
        return list(_worker.actor_gpu_ids)
    return []


def get_runtime_context() -> RuntimeContext:
    """The runtime context of the calling code (starts a local cluster first in a driver that has none)."""
    if _worker is not None:
        return RuntimeContext(None)
    from raylite.client.api import connected_client

    return RuntimeContext(connected_client())
