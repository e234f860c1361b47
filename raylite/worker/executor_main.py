"""An executor process: runs tasks, or hosts one actor, for its worker daemon.

`python -m raylite.worker.executor_main`, started by the daemon with the
settings in $RAYLITE_EXECUTOR. Tasks arrive on a socketpair from the daemon;
results go back on it, except once user code has made a client (the first use
of the API: nested tasks, get, put, actor calls): then the result goes on that
client's own stream to the head and only a DONE frame to the daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import faulthandler
import fcntl
import inspect
import json
import os
import signal
import socket
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import cloudpickle

from raylite import config, exceptions, ids, runtime_context, store
from raylite.client import context
from raylite.client.submit import Dep
from raylite.rpc import common_pb2, head_pb2
from raylite.serialization import deserialize, serialize
from raylite.worker import generators, protocol, task_errors


def _die_with_parent(parent_pid: int) -> None:
    """Asks the kernel to SIGKILL us when the daemon dies, so no executor outlives it."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass
    if os.getppid() != parent_pid:
        os._exit(1)


class LocalRefs:
    """Counts ObjectRefs while this executor has no client; the client adopts the counts."""

    def __init__(self) -> None:
        self.counts: dict[bytes, int] = {}

    def add_ref(self, oid: bytes) -> None:
        self.counts[oid] = self.counts.get(oid, 0) + 1

    def remove_ref(self, oid: bytes) -> None:
        n = self.counts.get(oid, 0) - 1
        if n > 0:
            self.counts[oid] = n
        else:
            self.counts.pop(oid, None)


class Executor:
    def __init__(self, cfg: dict[str, Any], channel: protocol.BlockingChannel) -> None:
        self.cfg = cfg
        self.channel = channel
        self.node_id = bytes.fromhex(cfg["node_id"])
        self.node_address = cfg["node_address"]
        self.store_dir = cfg["store_dir"]
        self.ip = cfg["node_ip"]
        self.pid = os.getpid()
        self.blobs: dict[bytes, bytes] = {}
        self.functions: dict[bytes, Any] = {}
        self.actor: Any = None
        self.actor_error: exceptions.RayTaskError | None = None
        self.actor_name = ""
        self.actor_id = b""
        self.async_loop: asyncio.AbstractEventLoop | None = None
        self.async_limit: asyncio.Semaphore | None = None
        self.threads: ThreadPoolExecutor | None = None
        self.send_lock = threading.Lock()
        self.calls = _CallLedger()
        self.job_id = b""
        self.task_id = b""
        self.last_error = ""
        self.retryable = False
        self.local_refs = LocalRefs()
        self.worker_id = os.urandom(ids.CLIENT_ID_BYTES)  # also its client's id, made on first use
        self.facts = runtime_context.WorkerFacts(self.node_id, self.worker_id, cfg["head"], self.ip)
        runtime_context.set_worker(self.facts)
        self.gpus = GpuSlots(
            os.path.join(self.store_dir, GpuSlots.FILE), int(cfg.get("num_gpus") or 0), _visible_gpus()
        )
        context.install_fallback_counter(self.local_refs)
        context.install_factory(self._make_client)

    # ---- the client, made on first use -------------------------------------------

    def _make_client(self) -> Any:
        from raylite.client.core import Client

        client = Client(
            self.cfg["head"],
            job_id=self.job_id,
            is_driver=False,
            local_node_id=self.node_id,
            adopt_refs=self.local_refs.counts,
            client_id=self.worker_id,
        )
        self.local_refs.counts = {}
        client.current_task_id = self.task_id
        return client

    # ---- main loop -----------------------------------------------------------------

    def serve(self) -> None:
        self.channel.send(protocol.HELLO, str(self.pid).encode())
        while True:
            frame = self.channel.recv()
            if frame is None or frame[0] == protocol.EXIT:
                return
            assignment = head_pb2.TaskAssignment.FromString(frame[1])
            if assignment.function.blob:
                self.blobs[assignment.function.function_id] = assignment.function.blob
            self.dispatch(assignment)

    def dispatch(self, assignment: head_pb2.TaskAssignment) -> None:
        spec = assignment.spec
        if spec.kind == common_pb2.ACTOR_METHOD:
            with self.send_lock:
                seen, result = self.calls.arrived(spec.task_id)
            if seen:
                # a call a restarted head received again from its caller: never run twice
                if result is not None:
                    self._deliver(spec, result)
                return
        if spec.kind == common_pb2.ACTOR_METHOD and self.async_loop is not None:
            asyncio.run_coroutine_threadsafe(self._run_async(assignment), self.async_loop)
        elif spec.kind == common_pb2.ACTOR_METHOD and self.threads is not None:
            self.threads.submit(self.run, assignment)
        else:
            self.run(assignment)

    # ---- running one task ----------------------------------------------------------------

    def _begin(self, spec: common_pb2.TaskSpec) -> None:
        self.job_id = spec.job_id
        # only normal tasks hold resources that a blocking get can lend out
        self.task_id = spec.task_id if spec.kind == common_pb2.NORMAL else b""
        client = context.peek()
        if client is not None:
            client.job_id = spec.job_id
            client.current_task_id = self.task_id

    def run(self, assignment: head_pb2.TaskAssignment) -> None:
        spec = assignment.spec
        self._begin(spec)
        facts = self._task_facts(spec)
        token = runtime_context.enter_task(facts)
        value = None
        try:
            if spec.kind == common_pb2.NORMAL and spec.resources.get("GPU", 0) > 0:
                facts.gpu_ids = self._take_gpus(spec)
            value = self._execute(assignment, facts)
            if spec.generator:
                value = generators.drain(self, spec, value)
            results = self._pack_results(spec, value)
        except BaseException as exc:  # noqa: BLE001 - every failure becomes the task's error
            err = self._task_error(spec, exc)
            results = self._pack_error(spec, err)
            if spec.kind == common_pb2.ACTOR_CREATION:
                # quoted by the head in the ActorDiedError of the actor's calls, traceback and all
                self.last_error = task_errors.summary(err)
            else:
                self.last_error = f"{type(exc).__name__}: {exc}"
            self.retryable = _should_retry(spec, exc)
        finally:
            runtime_context.leave_task(token)
            if facts.gpu_ids and spec.kind == common_pb2.NORMAL:
                self._give_back_gpus(spec)
        if context.peek() is None:
            value = None  # with no client, no ref of ours is registered anywhere
        # otherwise refs inside the value stay held until the result is on its way,
        # so the head never sees them released before the result that keeps them
        self._report(spec, results)
        del value

    async def _run_async(self, assignment: head_pb2.TaskAssignment) -> None:
        spec = assignment.spec
        assert self.async_limit is not None
        async with self.async_limit:
            runtime_context.enter_task(self._task_facts(spec, self._method_name(spec)))  # this coroutine's own
            try:
                args, kwargs = await asyncio.get_running_loop().run_in_executor(None, self._arguments, assignment)
                method_name = self._method_name(spec)
                value = getattr(self.actor, method_name)(*args, **kwargs)
                if inspect.isawaitable(value):
                    value = await value
                if spec.generator:
                    value = await generators.drain_async(self, spec, value)
                results = self._pack_results(spec, value)
            except BaseException as exc:  # noqa: BLE001
                results = self._pack_error(spec, self._task_error(spec, exc))
        self._report(spec, results)

    def _report(self, spec: common_pb2.TaskSpec, results: list[common_pb2.ObjectValue]) -> None:
        if context.peek() is None and self.local_refs.counts:
            # refs the task received outlive it (kept in actor state, say): the
            # head must hear of them before the task's end releases its arguments
            context.current()
        failed = any(r.is_error for r in results)
        summary, self.last_error = (self.last_error if failed else ""), ""
        retryable, self.retryable = self.retryable and failed, False
        result = head_pb2.TaskResult(
            task_id=spec.task_id,
            results=results,
            error_summary=summary[:2000],
            retryable=retryable,
            node_id=self.node_id,
        )
        if spec.kind == common_pb2.ACTOR_METHOD:
            with self.send_lock:
                self.calls.finished(spec.task_id, result)
        self._deliver(spec, result)

    def _deliver(self, spec: common_pb2.TaskSpec, result: head_pb2.TaskResult) -> None:
        client = context.peek()
        if client is not None:
            # on the client's stream the result follows everything the task sent
            # (submissions, puts, refs), in order; the daemon only frees the slot
            client.report_result(result)
            with self.send_lock:
                self.channel.send(protocol.DONE, spec.task_id)
            return
        with self.send_lock:
            self.channel.send(protocol.RESULT, result.SerializeToString())

    def _execute(self, assignment: head_pb2.TaskAssignment, facts: runtime_context.TaskFacts) -> Any:
        spec = assignment.spec
        if spec.kind == common_pb2.ACTOR_METHOD:
            if self.actor_error is not None:
                raise exceptions.ActorDiedError(self.actor_error)
            method_name = self._method_name(spec)
            args, kwargs = self._arguments(assignment)
            return getattr(self.actor, method_name)(*args, **kwargs)
        target = self._function(spec.function_id)
        facts.function = target
        facts.member = "__init__" if spec.kind == common_pb2.ACTOR_CREATION else ""
        if spec.kind == common_pb2.NORMAL:
            args, kwargs = self._arguments(assignment)
            return target(*args, **kwargs)
        # ACTOR_CREATION
        self._become_actor(assignment, target)
        facts.resources = dict(self.facts.actor_resources)
        facts.gpu_ids = list(self.facts.actor_gpu_ids)
        args, kwargs = self._arguments(assignment)
        self.actor_id = spec.actor_id
        self.actor_name = target.__qualname__
        try:
            self.actor = target(*args, **kwargs)
        except BaseException as exc:
            self.actor_error = task_errors.task_error(
                spec.name, exc, self.pid, self.ip, actor_cls=target, actor_id=spec.actor_id.hex()
            )
            raise
        methods = [m for _, m in inspect.getmembers(type(self.actor), inspect.isfunction)]
        if any(inspect.iscoroutinefunction(m) or inspect.isasyncgenfunction(m) for m in methods):
            self._start_async_loop(spec.max_concurrency or 1000)
        elif spec.max_concurrency > 1:
            self.threads = ThreadPoolExecutor(spec.max_concurrency, thread_name_prefix="actor")
        return None

    # ---- what the task runs as (get_runtime_context(), get_gpu_ids()) ------------------------------

    def _task_facts(self, spec: common_pb2.TaskSpec, method: str = "") -> runtime_context.TaskFacts:
        if spec.kind != common_pb2.ACTOR_METHOD:
            return runtime_context.TaskFacts(spec.job_id, spec.task_id, spec.name, resources=dict(spec.resources))
        return runtime_context.TaskFacts(
            spec.job_id,
            spec.task_id,
            spec.name,
            type(self.actor) if self.actor is not None else None,
            method or self._method_name(spec),
            self.facts.actor_resources,  # read-only: get_assigned_resources() copies
            self.facts.actor_gpu_ids,
        )

    def _become_actor(self, assignment: head_pb2.TaskAssignment, cls: Any) -> None:
        """Records the actor this process now hosts, and gives it its GPUs for its whole life."""
        spec = assignment.spec
        facts = self.facts
        facts.actor_id = spec.actor_id
        facts.actor_name = spec.actor_name
        facts.actor_restarted = assignment.attempt > 1
        facts.actor_resources = dict(spec.resources)
        facts.actor_class = cls
        try:
            facts.actor_meta = cloudpickle.loads(spec.actor_meta) if spec.actor_meta else None
        except Exception:  # noqa: BLE001 - only current_actor needs it
            facts.actor_meta = None
        if spec.resources.get("GPU", 0) > 0:
            facts.actor_gpu_ids = self._take_gpus(spec)

    def _take_gpus(self, spec: common_pb2.TaskSpec) -> list[Any]:
        """Claims GPUs of this node for the task (or actor) and shows only them to CUDA."""
        gpu_ids = self.gpus.claim(_gpu_owner(spec), spec.resources["GPU"])
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(str(i) for i in gpu_ids)
        return gpu_ids

    def _give_back_gpus(self, spec: common_pb2.TaskSpec) -> None:
        self.gpus.release(_gpu_owner(spec))
        if self.gpus.original_visible is None:
            os.environ.pop("CUDA_VISIBLE_DEVICES", None)
        else:
            os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(self.gpus.original_visible)

    def _start_async_loop(self, limit: int) -> None:
        loop = asyncio.new_event_loop()
        self.async_loop = loop
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            self.async_limit = asyncio.Semaphore(limit)
            ready.set()
            loop.run_forever()

        threading.Thread(target=run, name="actor-loop", daemon=True).start()
        ready.wait()

    @staticmethod
    def _method_name(spec: common_pb2.TaskSpec) -> str:
        return spec.payload[: spec.payload.index(b"\0")].decode()

    def _function(self, function_id: bytes) -> Any:
        fn = self.functions.get(function_id)
        if fn is None:
            blob = self.blobs.pop(function_id, None)
            if blob is None:
                blob = context.current().get_function(function_id)
            fn = cloudpickle.loads(blob)
            self.functions[function_id] = fn
        return fn

    def _arguments(self, assignment: head_pb2.TaskAssignment) -> tuple[list[Any], dict[str, Any]]:
        spec = assignment.spec
        payload = spec.payload
        if spec.kind == common_pb2.ACTOR_METHOD:
            payload = payload[payload.index(b"\0") + 1 :]
        args, kwargs = deserialize(payload)
        if not spec.dependencies:
            return args, kwargs
        known = {v.object_id: v for v in assignment.args}
        values: dict[int, Any] = {}

        def resolve(index: int) -> Any:
            if index not in values:
                values[index] = self._dependency(spec.dependencies[index], known)
            return values[index]

        args = [resolve(a.index) if isinstance(a, Dep) else a for a in args]
        kwargs = {k: resolve(v.index) if isinstance(v, Dep) else v for k, v in kwargs.items()}
        return args, kwargs

    def _dependency(self, oid: bytes, known: dict[bytes, common_pb2.ObjectValue]) -> Any:
        value = known.get(oid)
        if value is not None and not value.is_error:
            if not value.in_store:
                return deserialize(value.data)
            if value.node_id == self.node_id:
                try:
                    return store.read(self.store_dir, oid)
                except FileNotFoundError:
                    pass  # spilled: get() below has the daemon restore it
        from raylite.client.api import get
        from raylite.client.object_ref import ObjectRef

        return get(ObjectRef(oid))

    # ---- results ----------------------------------------------------------------------

    def _pack_results(self, spec: common_pb2.TaskSpec, value: Any) -> list[common_pb2.ObjectValue]:
        n = spec.num_returns or 1
        if spec.kind == common_pb2.ACTOR_CREATION:
            values = [None]
        elif n == 1:
            values = [value]
        elif inspect.isgenerator(value):
            values = generators.fixed_returns(spec, value, n)
        else:
            values = list(value)
            if len(values) != n:
                raise ValueError(f"{spec.name} declared num_returns={n} but returned {len(values)} values")
        return [self._store_result(ids.object_id(spec.task_id, i), v, spec.name) for i, v in enumerate(values)]

    def _store_result(self, oid: bytes, value: Any, name: str) -> common_pb2.ObjectValue:
        try:
            s = serialize(value)
        except exceptions.RaySerializationError as exc:
            raise exceptions.RaySerializationError(
                f"{name} returned a value (of type {type(value).__qualname__}) that cannot be pickled to send "
                f"back: {exc.__cause__ or exc}"
            ) from None
        if s.size <= config.INLINE_MAX_BYTES:
            return common_pb2.ObjectValue(object_id=oid, data=s.to_bytes(), size=s.size, contained=s.contained)
        try:
            context.current().reserve(oid, s.size)
        except exceptions.ObjectStoreFullError as exc:
            raise exceptions.ObjectStoreFullError(f"the value {name} returned cannot be stored: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - our own node did not answer
            # Not the task's error: the daemon is gone (or going), and this process with
            # it. Dying now lets the head retry the task elsewhere as for any lost worker.
            print(
                f"raylite executor: the node's store did not answer while storing {name}'s result ({exc}); exiting",
                file=sys.stderr,
                flush=True,
            )
            os._exit(EXIT_NODE_LOST)
        store.write(self.store_dir, oid, s)
        return common_pb2.ObjectValue(
            object_id=oid,
            node_id=self.node_id,
            node_address=self.node_address,
            size=s.size,
            in_store=True,
            contained=s.contained,
        )

    def _pack_error(self, spec: common_pb2.TaskSpec, err: BaseException) -> list[common_pb2.ObjectValue]:
        data = serialize(task_errors.travelling(err)).to_bytes()
        n = spec.num_returns or 1
        return [
            common_pb2.ObjectValue(object_id=ids.object_id(spec.task_id, i), data=data, size=len(data), is_error=True)
            for i in range(n)
        ]

    def _task_error(self, spec: common_pb2.TaskSpec, exc: BaseException) -> BaseException:
        """What the task's callers get for exc: a RayTaskError, or a runtime error (a dead actor) as is."""
        if isinstance(exc, exceptions.RayError) and not isinstance(
            exc, (exceptions.RayTaskError, exceptions.RaySerializationError)
        ):
            return exc
        in_actor = spec.kind != common_pb2.NORMAL
        return task_errors.task_error(
            spec.name,
            exc,
            self.pid,
            self.ip,
            actor=self.actor if in_actor else None,
            actor_cls=self.facts.actor_class if in_actor else None,
            actor_id=spec.actor_id.hex() if in_actor else None,
        )


EXIT_NODE_LOST = 75  # this executor's own daemon stopped answering


def _gpu_owner(spec: common_pb2.TaskSpec) -> str:
    return f"{os.getpid()}:{spec.task_id.hex()}"


def _visible_gpus() -> list[str] | None:
    """The GPU ids CUDA_VISIBLE_DEVICES named when this executor started, if it was set."""
    value = os.environ.get("CUDA_VISIBLE_DEVICES")
    if value is None:
        return None
    return [v.strip() for v in value.split(",") if v.strip()]


def choose_gpus(in_use: dict[int, float], total: int, amount: float) -> list[int]:
    """Which of a node's `total` GPUs a task asking for `amount` of them gets, given what others use.

    A whole number asks for that many GPUs, the least used first (free ones when
    the scheduler's accounting holds). A fraction shares one GPU: the fullest
    that still has room, so that fractions pack together and whole GPUs stay
    free, as Ray places them.
    """
    if total <= 0 or amount <= 0:
        return []
    indices = list(range(total))
    if amount < 1:
        fits = [i for i in indices if in_use.get(i, 0.0) + amount <= 1.0 + 1e-9]
        if fits:
            return [max(fits, key=lambda i: (in_use.get(i, 0.0), -i))]
        return [min(indices, key=lambda i: (in_use.get(i, 0.0), i))]
    wanted = min(total, int(amount + 0.5) if abs(amount - round(amount)) < 1e-9 else int(amount) + 1)
    return sorted(sorted(indices, key=lambda i: (in_use.get(i, 0.0), i))[:wanted])


class GpuSlots:
    """The node's GPUs as its executors share them: who holds which, in a file in the node's store folder.

    Each executor claims GPUs for a task (or for the life of an actor) under
    an exclusive lock on the file and releases them when the task ends;
    claims of processes that died are dropped at the next claim. Only
    processes of one node share the file, so no daemon needs to take part.
    """

    FILE = "gpu-claims.json"

    def __init__(self, path: str, total: int, original_visible: list[str] | None) -> None:
        self.path = path
        self.total = total
        self.original_visible = original_visible

    def claim(self, owner: str, amount: float) -> list[Any]:
        with self._locked() as claims:
            in_use: dict[int, float] = {}
            for held in claims.values():
                for index, share in held.items():
                    in_use[int(index)] = in_use.get(int(index), 0.0) + share
            chosen = choose_gpus(in_use, self.total, amount)
            share = amount if amount < 1 else 1.0
            claims[owner] = {str(i): share for i in chosen}
        if self.original_visible is not None:
            return [self.original_visible[i] for i in chosen if i < len(self.original_visible)]
        return chosen

    def release(self, owner: str) -> None:
        with self._locked() as claims:
            claims.pop(owner, None)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, dict[str, float]]]:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with os.fdopen(os.dup(fd), "r+") as f:
                try:
                    claims = json.loads(f.read() or "{}")
                except ValueError:
                    claims = {}
                claims = {o: held for o, held in claims.items() if _pid_alive(int(o.split(":", 1)[0]))}
                yield claims
                f.seek(0)
                f.truncate()
                f.write(json.dumps(claims))
        finally:
            os.close(fd)  # releases the lock


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _CallLedger:
    """The actor calls this process has seen, and the latest results, by call id.

    After a head restart, callers resubmit the calls whose results they had not
    received; some of those ran here already (their results were lost with the
    head). Those get their result again instead of running twice. Only recent
    results are kept: a call is resubmitted only if it was in flight at the crash.
    """

    MAX_RESULTS = 1000
    MAX_BYTES = 16 * 1024 * 1024

    def __init__(self) -> None:
        self._seen: set[bytes] = set()
        self._results: OrderedDict[bytes, head_pb2.TaskResult] = OrderedDict()
        self._bytes = 0

    def arrived(self, call_id: bytes) -> tuple[bool, head_pb2.TaskResult | None]:
        """(seen before, its result if it is still kept); marks the call as seen."""
        if call_id in self._seen:
            return True, self._results.get(call_id)
        self._seen.add(call_id)
        return False, None

    def finished(self, call_id: bytes, result: head_pb2.TaskResult) -> None:
        self._results[call_id] = result
        self._bytes += _inline_bytes(result)
        while len(self._results) > self.MAX_RESULTS or self._bytes > self.MAX_BYTES:
            old_id, old = self._results.popitem(last=False)
            self._bytes -= _inline_bytes(old)
            self._seen.discard(old_id)  # too old to be resubmitted


def _inline_bytes(result: head_pb2.TaskResult) -> int:
    return sum(len(v.data) for v in result.results)


def _should_retry(spec: common_pb2.TaskSpec, exc: BaseException) -> bool:
    """Whether the task's retry_exceptions option covers this error."""
    if not spec.retry_exceptions or spec.kind != common_pb2.NORMAL:
        return False
    try:
        wanted = cloudpickle.loads(spec.retry_exceptions)
    except Exception:  # noqa: BLE001 - an unloadable class list retries nothing
        return False
    return wanted is True or isinstance(exc, tuple(wanted))


def main() -> None:
    faulthandler.enable()  # a crash in native code leaves a Python stack in the log
    cfg = json.loads(os.environ.pop("RAYLITE_EXECUTOR"))
    _die_with_parent(cfg["parent_pid"])
    sock = socket.socket(fileno=cfg["fd"])
    executor = Executor(cfg, protocol.BlockingChannel(sock))
    try:
        executor.serve()
    finally:
        client = context.peek()
        if client is not None:
            client.close()
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
