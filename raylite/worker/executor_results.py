"""What an executor sends back for a task: its results packed (inline, or written into the
node's store), its error as its callers will see it, and the report itself, on the
executor's own client stream when it has one, else to its daemon.

TaskReporting is a part of raylite.worker.executor_main.Executor, kept in its own
module; the names it uses of the rest of the executor are declared for the type checker.
"""

from __future__ import annotations

import inspect
import os
import sys
import threading
from typing import TYPE_CHECKING, Any

from raylite import config, exceptions, ids, store
from raylite.client import context
from raylite.rpc import common_pb2, head_pb2
from raylite.serialization import serialize
from raylite.worker import generators, protocol, task_errors

EXIT_NODE_LOST = 75  # this executor's own daemon stopped answering


class TaskReporting:
    if TYPE_CHECKING:  # the rest of the executor (executor_main.py)
        local_refs: Any
        lease_id: bytes
        last_error: str
        retryable: bool
        node_id: bytes
        node_address: str
        store_dir: str
        send_lock: threading.Lock
        calls: Any
        channel: protocol.BlockingChannel
        pid: int
        ip: str
        actor: Any
        facts: Any
        call_address: str
        direct_routes: dict[bytes, Any]

        def _deliver_direct(self, spec: common_pb2.TaskSpec, result: head_pb2.TaskResult) -> bool: ...

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
        if spec.kind == common_pb2.ACTOR_CREATION and not failed:
            result.call_address = self.call_address
        if spec.kind == common_pb2.ACTOR_METHOD:
            with self.send_lock:
                self.calls.finished(spec.task_id, result)
        self._deliver(spec, result)

    def _deliver(self, spec: common_pb2.TaskSpec, result: head_pb2.TaskResult) -> None:
        client = context.peek()
        if client is not None:
            client.calls_left()  # the actor calls the task made go ahead of its result
        if self.direct_routes and self._deliver_direct(spec, result):
            return
        if client is not None and self.lease_id and spec.kind == common_pb2.NORMAL:
            # a leased task's answer goes back on its lease, through the daemon; what the task sent
            # on this client's stream is applied at the head first, and refs inside the result stay
            # held until the submitter's record of it (which pins them there) has surely arrived
            client.metrics.now()
            try:
                client.flush()
            except exceptions.RaySystemError:
                pass  # the head is away (restarting): what the task sent reaches it on reconnection
            if any(v.contained for v in result.results):
                self._hold_contained(client, [oid for v in result.results for oid in v.contained])
            with self.send_lock:
                self.channel.send(protocol.RESULT, result.SerializeToString())
            return
        if client is not None:
            # on the client's stream the result follows everything the task sent
            # (submissions, puts, refs, its user metrics), in order; the daemon only frees the slot
            client.metrics.now()
            client.report_result(result)
            with self.send_lock:
                self.channel.send(protocol.DONE, spec.task_id)
            return
        with self.send_lock:
            self.channel.send(protocol.RESULT, result.SerializeToString())

    def _hold_contained(self, client: Any, oids: list[bytes]) -> None:
        for oid in oids:
            client.add_ref(oid)

        def release() -> None:
            for oid in oids:
                client.remove_ref(oid)

        timer = threading.Timer(config.LEASE_CONTAINED_HOLD_S, release)
        timer.daemon = True
        timer.start()

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
            value_msg = common_pb2.ObjectValue(object_id=oid, data=s.to_bytes(), size=s.size)
            if s.contained:  # (setting an empty list costs as much as the rest)
                value_msg.contained.extend(s.contained)
            return value_msg
        try:
            offset = context.current().reserve(oid, s.size)
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
        store.write(self.store_dir, oid, s, offset)
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
