"""An executor that hosts an actor: its creation's bookkeeping, its event loop or
threads, its async calls, and its end on purpose.

ActorHosting is a part of raylite.worker.executor_main.Executor, kept in its own
module; the names it uses of the rest of the executor are declared for the type checker.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import sys
import threading
from typing import TYPE_CHECKING, Any, NoReturn, cast

import cloudpickle

from raylite import exceptions, runtime_context
from raylite.actor import ActorExitRequest
from raylite.client import context
from raylite.rpc import common_pb2, head_pb2
from raylite.worker import actor_host, generators, protocol
from raylite.worker.cancels import ASYNCIO

if TYPE_CHECKING:
    from raylite.worker.executor_main import Executor


class ActorHosting:
    if TYPE_CHECKING:  # the rest of the executor (executor_main.py)
        actor: Any
        async_loop: asyncio.AbstractEventLoop | None
        async_groups: actor_host.AsyncGroups | None
        cancels: Any
        facts: runtime_context.WorkerFacts
        send_lock: threading.Lock
        channel: protocol.BlockingChannel

        def _report(self, spec: common_pb2.TaskSpec, results: list[common_pb2.ObjectValue]) -> None: ...
        def _pack_results(self, spec: common_pb2.TaskSpec, value: Any) -> list[common_pb2.ObjectValue]: ...
        def _pack_error(self, spec: common_pb2.TaskSpec, err: BaseException) -> list[common_pb2.ObjectValue]: ...
        def _task_error(self, spec: common_pb2.TaskSpec, exc: BaseException) -> BaseException: ...
        def _cancelled(self, spec: common_pb2.TaskSpec, how: str) -> exceptions.TaskCancelledError: ...
        def _cancelled_error(self, spec: common_pb2.TaskSpec, exc: BaseException) -> BaseException: ...
        def _task_facts(self, spec: common_pb2.TaskSpec, method: str = "") -> runtime_context.TaskFacts: ...
        def _arguments(self, assignment: head_pb2.TaskAssignment) -> tuple[list[Any], dict[str, Any]]: ...
        def _take_gpus(self, spec: common_pb2.TaskSpec) -> list[Any]: ...

    async def _run_async(self, assignment: head_pb2.TaskAssignment) -> None:
        spec = assignment.spec
        task_id = spec.task_id
        assert self.async_groups is not None
        method_name = self._method_name(spec)
        try:
            limit = self.async_groups.limit(spec.concurrency_group)
        except actor_host.UnknownGroup as exc:
            self._report(spec, self._pack_error(spec, self._task_error(spec, exc)))
            return
        facts = self._task_facts(spec, method_name)
        # registered from inside the coroutine, before its first await: a cancel then always
        # finds it in its try block (a task cancelled before it starts would not report)
        if not self.cancels.begin(task_id, ASYNCIO, facts, (self.async_loop, asyncio.current_task())):
            self._report(spec, self._pack_error(spec, self._cancelled(spec, "before it started")))
            return
        started = False
        try:
            async with limit:
                started = True
                runtime_context.enter_task(facts)  # this coroutine's own
                args, kwargs = await asyncio.get_running_loop().run_in_executor(None, self._arguments, assignment)
                retries_left = spec.max_retries
                while True:
                    try:
                        value = self._call_method(method_name, args, kwargs)
                        if inspect.isawaitable(value):
                            value = await value
                        break
                    except Exception as exc:
                        if self.cancels.cancelled(task_id) or not actor_host.retry_wanted(
                            spec.retry_exceptions, retries_left, exc
                        ):
                            raise
                        retries_left -= 1 if retries_left > 0 else 0
                if spec.generator:
                    value = await generators.drain_async(cast("Executor", self), spec, value)
                if self.cancels.cancelled(task_id):  # it caught the cancellation and returned: Ray drops the value
                    raise asyncio.CancelledError()
                results = self._pack_results(spec, value)
        except BaseException as exc:  # noqa: BLE001
            if actor_host.is_exit(exc):
                self._exit_actor(method_name)
            if self.cancels.cancelled(task_id) and not started:  # waiting for a free slot of its group
                results = self._pack_error(spec, self._cancelled(spec, "before it started"))
            elif self.cancels.cancelled(task_id):
                results = self._pack_error(spec, self._cancelled_error(spec, exc))
            else:
                results = self._pack_error(spec, self._task_error(spec, exc))
        finally:
            self.cancels.end(task_id)
        self._report(spec, results)

    def _call_method(self, method_name: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        """Calls a method of the actor, or one every actor has (actor_host.READY, TERMINATE)."""
        if method_name == actor_host.READY:
            return True
        if method_name == actor_host.TERMINATE:
            raise ActorExitRequest(0)
        return getattr(self.actor, method_name)(*args, **kwargs)

    def _exit_actor(self, method_name: str) -> NoReturn:
        """Ends this actor's process on purpose (exit_actor(), __ray_terminate__), for good.

        The daemon hears why before the process goes, and passes it on to the head
        with the death, so the actor is not restarted and its later calls fail with
        ActorDiedError saying so. The head has applied every result this process sent
        on its own client stream first (flush), so those calls are answered; the
        calls still running (in other threads) fail with the actor.
        """
        cls = self.facts.actor_class
        reason = actor_host.exit_reason(method_name, cls.__name__ if cls is not None else "the actor")
        client = context.peek()
        if client is not None:
            try:
                client.flush(timeout=10)
            except Exception:  # noqa: BLE001 - the head is gone; the exit goes on regardless
                pass
        with self.send_lock:
            self.channel.send(protocol.EXITING, reason.encode())
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)

    def _become_actor(self, assignment: head_pb2.TaskAssignment, cls: Any) -> None:
        """Records the actor this process now hosts, and gives it its GPUs for its whole life."""
        spec = assignment.spec
        facts = self.facts
        facts.actor_id = spec.actor_id
        facts.actor_name = spec.actor_name
        facts.actor_restarted = assignment.attempt > 1
        facts.actor_resources = dict(spec.resources)
        facts.actor_strategy = spec.strategy
        facts.actor_class = cls
        try:
            facts.actor_meta = cloudpickle.loads(spec.actor_meta) if spec.actor_meta else None
        except Exception:  # noqa: BLE001 - only current_actor needs it
            facts.actor_meta = None
        if spec.resources.get("GPU", 0) > 0:
            facts.actor_gpu_ids = self._take_gpus(spec)

    def _start_async_loop(self, limit: int, groups: dict[str, int]) -> None:
        loop = asyncio.new_event_loop()
        self.async_loop = loop
        ready = threading.Event()
        class_name = type(self.actor).__name__

        def run() -> None:
            asyncio.set_event_loop(loop)
            self.async_groups = actor_host.AsyncGroups(limit, groups, class_name)
            ready.set()
            loop.run_forever()

        threading.Thread(target=run, name="actor-loop", daemon=True).start()
        ready.wait()

    @staticmethod
    def _method_name(spec: common_pb2.TaskSpec) -> str:
        return spec.payload[: spec.payload.index(b"\0")].decode()
