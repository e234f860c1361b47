"""An executor process: runs tasks, or hosts one actor, for its worker daemon.

`python -m raylite.worker.executor_main`, started by the daemon with the
settings in $RAYLITE_EXECUTOR. Tasks arrive on a socketpair from the daemon;
results go back on it, except once user code has made a client (the first use
of the API: nested tasks, get, put, actor calls): then the result goes on that
client's own stream to the head and only a DONE frame to the daemon.
Cancels arrive on a second socketpair, read by a thread of their own
(raylite/worker/cancels.py), since the main thread is busy running the task.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import dataclasses
import faulthandler
import inspect
import json
import os
import signal
import socket
import sys
import threading
from typing import Any

import cloudpickle

from raylite import config, exceptions, ids, runtime_context
from raylite.client import context
from raylite.client import runtime_env as client_runtime_env
from raylite.client.waiters import wait_event
from raylite.rpc import common_pb2, head_pb2
from raylite.worker import actor_host, executor_cancel, executor_output, generators, protocol, runtime_env, task_errors
from raylite.worker.call_ledger import CallLedger
from raylite.worker.cancels import FLAG, INTERRUPT, CancelBook
from raylite.worker.executor_actor import ActorHosting
from raylite.worker.executor_cancel import _CALL_NOT_INTERRUPTED, CancelHandling
from raylite.worker.executor_direct import DirectCalls
from raylite.worker.executor_inputs import TaskInputs
from raylite.worker.executor_results import TaskReporting
from raylite.worker.gpus import GpuSlots, _visible_gpus
from raylite.worker.local_refs import LocalRefs
from raylite.worker.state import log_lines


def die_with_parent(parent_pid: int) -> None:
    """Asks the kernel to SIGKILL us when the daemon dies, so no executor outlives it."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass
    if os.getppid() != parent_pid:
        os._exit(1)


class Executor(CancelHandling, TaskInputs, TaskReporting, DirectCalls, ActorHosting):
    def __init__(
        self, cfg: dict[str, Any], channel: protocol.BlockingChannel, control: protocol.BlockingChannel | None = None
    ) -> None:
        self.cfg = cfg
        self.channel = channel
        self.control = control  # cancels from the daemon, read by a thread of their own
        self.cancels = CancelBook()
        self.main_thread = threading.get_ident()
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
        self.async_groups: actor_host.AsyncGroups | None = None
        self.threads: actor_host.ThreadGroups | None = None
        self.in_order: actor_host.InOrder | None = None  # a single-threaded actor's calls, held for their turn
        self.inbox: actor_host.Inbox | None = None  # an actor's main-thread source of work (daemon, call port)
        self.call_address = ""  # its call port's, once the actor is made (direct calls)
        self.direct_routes = {}
        self.holds = {}
        self.send_lock = threading.Lock()
        self.calls = CallLedger()
        self.job_id = b""
        self.task_id = b""
        self.lease_id = b""  # the lease of the normal task it runs, if a client sent it on one
        self.last_error = ""
        self.retryable = False
        self.local_refs = LocalRefs()
        self.worker_id = os.urandom(ids.CLIENT_ID_BYTES)  # also its client's id, made on first use
        self.facts = runtime_context.WorkerFacts(self.node_id, self.worker_id, cfg["head"], self.ip)
        self.runtime_env_packages: dict[str, bytes] = {}  # URI -> object id, of the environment's packages
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
            adopt_refs=self.local_refs.take(),
            client_id=self.worker_id,
        )
        self.local_refs.hand_over(client)
        client.current_task_id = self.task_id
        client.current_lease_id = self.lease_id
        # the tasks it submits inherit this executor's environment, as nested tasks inherit their parent's
        client_runtime_env.set_base(client, self.facts.runtime_env, self.runtime_env_packages)
        return client

    def enter_runtime_env(self) -> None:
        """Sets the executor's environment up (raylite/worker/runtime_env.py): its packages, its sys.path
        and current directory. Raises runtime_env.SetupError (or what a package's fetch raised)."""
        setup = self.cfg.get("runtime_env")
        if not setup:
            return
        # known before the fetch makes this process's client, which hands it on to nested tasks
        self.runtime_env_packages = {uri: bytes.fromhex(oid) for uri, oid in setup["packages"].items()}
        self.facts.runtime_env = json.loads(setup["env"])
        runtime_env.enter_packages(self.cfg, self._fetch_package)

    def _fetch_package(self, oid: bytes, timeout: float | None) -> bytes:
        from raylite.client.api import get
        from raylite.client.object_ref import ObjectRef

        data = get(ObjectRef(oid), timeout=timeout)
        if not isinstance(data, bytes):
            raise runtime_env.SetupError(f"object {oid.hex()} does not hold a package")
        return data

    # ---- main loop -----------------------------------------------------------------

    def serve(self) -> None:
        if self.control is not None:
            signal.signal(signal.SIGINT, self._on_interrupt)
            threading.Thread(target=self._watch_cancels, name="cancels", daemon=True).start()
        self.channel.send(protocol.HELLO, str(self.pid).encode())
        while True:
            if self.in_order is not None:  # it became a single-threaded actor
                self.in_order.serve(self._take, self.run, self._take_direct)
                return
            if self.inbox is not None:  # an actor with a call port: it reads the port and the daemon
                kind, frame = self.inbox.get()
                if kind == "direct":
                    self._take_direct(frame)
                    continue
            else:
                frame = self.channel.recv()
            if frame is None:
                return
            if frame[0] == protocol.EXIT:
                # retired by the pool: what this process's client sent (its last result, say) reaches
                # the head before the process goes, or the head would run that task again
                client = context.peek()
                if client is not None:
                    with contextlib.suppress(Exception):
                        client.flush(timeout=config.CONNECT_TIMEOUT_S)
                return
            self._take(frame)

    def _take(self, frame: tuple[int, bytes]) -> None:
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
        if spec.kind == common_pb2.ACTOR_METHOD and self.in_order is not None:
            self.in_order.arrived(assignment)
        elif spec.kind == common_pb2.ACTOR_METHOD and self.async_loop is not None:
            asyncio.run_coroutine_threadsafe(self._run_async(assignment), self.async_loop)
        elif spec.kind == common_pb2.ACTOR_METHOD and self.threads is not None:
            try:
                self.threads.submit(spec.concurrency_group, self.run, assignment)
            except actor_host.UnknownGroup as exc:
                self._report(spec, self._pack_error(spec, self._task_error(spec, exc)))
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
            client.current_lease_id = self.lease_id

    def run(self, assignment: head_pb2.TaskAssignment) -> None:
        spec = assignment.spec
        kind, task_id = spec.kind, spec.task_id
        self.lease_id = assignment.lease_id if kind == common_pb2.NORMAL else b""
        self._begin(spec)
        facts = self._task_facts(spec)
        # an actor's creation is never cancelled (an actor is ended with kill())
        if kind != common_pb2.ACTOR_CREATION and not self.cancels.begin(
            task_id, INTERRUPT if kind == common_pb2.NORMAL else FLAG, facts
        ):
            self._report(spec, self._pack_error(spec, self._cancelled(spec, "before it started")))
            return
        token = runtime_context.enter_task(facts)
        value = None
        try:
            if kind == common_pb2.NORMAL and spec.resources.get("GPU", 0) > 0:
                facts.gpu_ids = self._take_gpus(spec)
            try:
                value = self._execute(assignment, facts)
                if spec.generator:
                    value = generators.drain(self, spec, value)
            finally:
                self.cancels.disarm(task_id)
            if kind == common_pb2.ACTOR_METHOD and self.cancels.cancelled(task_id):
                value = None  # a sync call is not interrupted; cancelled meanwhile, its value is dropped
                results = self._pack_error(spec, self._cancelled(spec, _CALL_NOT_INTERRUPTED))
            else:
                results = self._pack_results(spec, value)
        except BaseException as exc:  # noqa: BLE001 - every failure becomes the task's error
            if kind != common_pb2.NORMAL and actor_host.is_exit(exc):
                self._exit_actor(self._method_name(spec) if kind == common_pb2.ACTOR_METHOD else "__init__")
            if kind != common_pb2.ACTOR_CREATION and self.cancels.cancelled(task_id):
                results = self._pack_error(spec, self._cancelled_error(spec, exc))
            else:
                err = self._task_error(spec, exc)
                results = self._pack_error(spec, err)
                if kind == common_pb2.ACTOR_CREATION:
                    # quoted by the head in the ActorDiedError of the actor's calls, traceback and all
                    self.last_error = task_errors.summary(err)
                else:
                    self.last_error = f"{type(exc).__name__}: {exc}"
                self.retryable = _should_retry(spec, exc)
        finally:
            runtime_context.leave_task(token)
            if facts.gpu_ids and kind == common_pb2.NORMAL:
                self._give_back_gpus(spec)
            if kind != common_pb2.ACTOR_CREATION:
                self.cancels.end(task_id)
        if context.peek() is None:
            value = None  # with no client, no ref of ours is registered anywhere
        # otherwise refs inside the value stay held until the result is on its way,
        # so the head never sees them released before the result that keeps them
        self._report(spec, results)
        del value

    def _execute(self, assignment: head_pb2.TaskAssignment, facts: runtime_context.TaskFacts) -> Any:
        spec = assignment.spec
        if spec.kind == common_pb2.ACTOR_METHOD:
            if self.actor_error is not None:
                raise exceptions.ActorDiedError(self.actor_error)
            method_name = self._method_name(spec)
            got = self.in_order.arguments_got(spec.task_id) if self.in_order is not None else None
            if isinstance(got, BaseException):
                raise got
            args, kwargs = got if got is not None else self._arguments(assignment)
            retries_left = spec.max_retries
            while True:
                try:
                    return self._call_method(method_name, args, kwargs)
                except Exception as exc:
                    if not actor_host.retry_wanted(spec.retry_exceptions, retries_left, exc):
                        raise
                    retries_left -= 1 if retries_left > 0 else 0
        target = self._function(spec.function_id)
        facts.function = target
        facts.member = "__init__" if spec.kind == common_pb2.ACTOR_CREATION else ""
        if spec.kind == common_pb2.NORMAL:
            args, kwargs = self._arguments(assignment)
            executor_output.mark(log_lines.Source(spec.job_id, spec.task_id, b"", _shown_name(spec.name, target)))
            return target(*args, **kwargs)
        # ACTOR_CREATION
        self._become_actor(assignment, target)
        facts.resources = dict(self.facts.actor_resources)
        facts.gpu_ids = list(self.facts.actor_gpu_ids)
        args, kwargs = self._arguments(assignment)
        self.actor_id = spec.actor_id
        self.actor_name = target.__qualname__
        source = log_lines.Source(spec.job_id, spec.task_id, spec.actor_id, target.__name__)
        executor_output.mark(source)
        try:
            self.actor = target(*args, **kwargs)
            if type(self.actor).__repr__ is not object.__repr__:  # Ray shows a custom repr in the prefix
                executor_output.mark(
                    dataclasses.replace(source, name=executor_output.repr_or(self.actor, target.__name__))
                )
        except BaseException as exc:
            self.actor_error = task_errors.task_error(
                spec.name, exc, self.pid, self.ip, actor_cls=target, actor_id=spec.actor_id.hex()
            )
            raise
        groups = actor_host.groups_of(self.facts.actor_meta)
        methods = [m for _, m in inspect.getmembers(type(self.actor), inspect.isfunction)]
        if any(inspect.iscoroutinefunction(m) or inspect.isasyncgenfunction(m) for m in methods):
            self._start_async_loop(spec.max_concurrency or 1000, groups)
        elif spec.max_concurrency > 1 or groups:
            self.threads = actor_host.ThreadGroups(spec.max_concurrency or 1, groups, target.__name__)
        else:
            self.in_order = actor_host.InOrder(self.channel.sock, self.channel.recv, self._arguments)
        if self.in_order is not None:
            self.inbox = self.in_order.inbox
        elif config.DIRECT_ACTOR_CALLS:
            self.inbox = actor_host.Inbox(self.channel.sock, self.channel.recv)
        self.call_address = self._open_call_port(spec.actor_id, assignment.attempt)
        return None

    # ---- what the task runs as (get_runtime_context(), get_gpu_ids()) ------------------------------

    def _task_facts(self, spec: common_pb2.TaskSpec, method: str = "") -> runtime_context.TaskFacts:
        if spec.kind != common_pb2.ACTOR_METHOD:
            return runtime_context.TaskFacts(
                spec.job_id, spec.task_id, spec.name, resources=dict(spec.resources), strategy=spec.strategy
            )
        return runtime_context.TaskFacts(
            spec.job_id,
            spec.task_id,
            spec.name,
            type(self.actor) if self.actor is not None else None,
            method or self._method_name(spec),
            self.facts.actor_resources,  # read-only: get_assigned_resources() copies
            self.facts.actor_gpu_ids,
            strategy=self.facts.actor_strategy,
        )

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


# Where an interrupt may land: the executor's call of the user's code, and a wait for
# objects; in any other raylite code it is deferred (raylite/worker/cancels.py).
executor_cancel.INTERRUPTIBLE.update({Executor._execute.__code__, wait_event.__code__})


def _gpu_owner(spec: common_pb2.TaskSpec) -> str:
    return f"{os.getpid()}:{spec.task_id.hex()}"


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
    try:  # a pipe to the worker daemon: each line leaves as it is printed, as on a terminal
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    except (AttributeError, ValueError):
        pass
    cfg = json.loads(os.environ.pop("RAYLITE_EXECUTOR"))
    die_with_parent(cfg["parent_pid"])
    sock = socket.socket(fileno=cfg["fd"])
    channel = protocol.BlockingChannel(sock)
    if cfg.get("runtime_env"):
        try:
            runtime_env.enter_interpreter(cfg)  # pip: execs this executor in the environment's virtualenv
        except Exception as exc:  # noqa: BLE001 - whatever stops the set-up is the tasks' error
            runtime_env.report_failure(channel, cfg["node_ip"], _why(exc))
            os._exit(0)
    control = socket.socket(fileno=cfg["control_fd"]) if "control_fd" in cfg else None
    executor = Executor(cfg, channel, protocol.BlockingChannel(control) if control else None)
    try:
        try:
            executor.enter_runtime_env()
        except Exception as exc:  # noqa: BLE001
            runtime_env.report_failure(channel, executor.ip, _why(exc))
            return
        executor.serve()
    finally:
        client = context.peek()
        if client is not None:
            client.close()
    sys.stdout.flush()
    os._exit(0)


def _shown_name(name: str, function: Any) -> str:
    """A task's name in its output's prefix: as Ray, a function's own name (not its qualified one)."""
    if name == getattr(function, "__qualname__", None):
        return str(getattr(function, "__name__", name))
    return name


def _why(exc: BaseException) -> str:
    if isinstance(exc, runtime_env.SetupError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


if __name__ == "__main__":
    main()
