"""The client core: one gRPC session with the head, driven by an event loop
in a background thread, used from any user thread.

User threads never block on I/O except in get/wait: `.remote()` and `put`
append to a deque and wake the loop once; the loop drains the deque into one
ClientBatch per write (raylite/batching.py). Values the head pushes land in
`_objects`; threads blocked in get/wait are woken through `_Waiter`s.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import grpc

from raylite import auth, config, exceptions, hostinfo, ids, message_order, reconnect, store
from raylite.batching import Outbox
from raylite.client import streams
from raylite.daemon_util import new_event_loop
from raylite.ids import task_of
from raylite.rpc import common_pb2, head_pb2, head_pb2_grpc, worker_pb2, worker_pb2_grpc
from raylite.serialization import Serialized, deserialize

log = logging.getLogger("raylite")


_TASK, _PUT, _SUBSCRIBE, _EXPORT, _BLOCK, _KILL, _FLUSH, _RESTART, _REF, _RESULT = range(10)
_ITEM, _CONSUMED = streams._ITEM, streams._CONSUMED
assert streams._BLOCK == _BLOCK


class _Waiter:
    """Wakes a user thread (or calls `on_done`) once `needed` of the objects it waits for arrived,
    or at the first error among them if `stop_on_error` (get raises it without waiting for the rest).

    `fail` ends the wait early (the head is gone): `needed` stays above zero and no error was seen.
    """

    __slots__ = ("needed", "event", "on_done", "stop_on_error", "saw_error")

    def __init__(self, needed: int, on_done: Callable[[], None] | None = None, stop_on_error: bool = False) -> None:
        self.needed = needed
        self.event = threading.Event()
        self.on_done = on_done
        self.stop_on_error = stop_on_error
        self.saw_error = False

    def hit(self, is_error: bool = False) -> None:
        self.needed -= 1
        if self.needed == 0 or (is_error and self.stop_on_error and not self.saw_error):
            self.saw_error = self.saw_error or is_error
            self._done()

    def fail(self) -> None:
        if not self.event.is_set():
            self._done()

    def _done(self) -> None:
        if self.event.is_set():
            return
        self.event.set()
        if self.on_done is not None:
            self.on_done()


class Client(streams.StreamCalls):
    def __init__(
        self,
        head_address: str,
        *,
        job_id: bytes,
        is_driver: bool,
        local_node_id: bytes | None = None,
        adopt_refs: dict[bytes, int] | None = None,
        token: str | None = None,
        client_id: bytes | None = None,
    ) -> None:
        self.head_address = head_address
        self.token = auth.find_token(token)
        self.job_id = job_id
        self.is_driver = is_driver
        self.ids = ids.IdSource(client_id)
        self.client_id = self.ids.prefix  # also the process's worker id (get_runtime_context().get_worker_id())
        self.namespace: str | None = None  # a driver's: set by init()
        self.runtime_env: dict[str, Any] = {}  # a driver's job-level runtime_env: set by init()
        self.job_info_ref: Any = None  # a driver's: the ObjectRef of its job's info (runtime_context)
        self.host_key = hostinfo.host_key()
        self.current_task_id = b""  # executors: the task running in this thread
        self._pending: deque[tuple[int, Any]] = deque()
        self._wake_scheduled = False
        self._lock = threading.Lock()
        self._objects: dict[bytes, common_pb2.ObjectValue] = {}
        self._failed_call_actors: dict[bytes, bytes] = {}  # error value of an actor call -> the actor
        self._waiters: dict[bytes, list[_Waiter]] = {}
        self._refcounts: dict[bytes, int] = {}
        self._ref_lock = threading.Lock()
        self._local_stub: worker_pb2_grpc.WorkerServiceStub | None = None
        self._owned_pending: set[bytes] = set()
        self._exported: dict[bytes, common_pb2.ExportedFunction] = {}
        self._unfinished = _UnfinishedTasks()
        self._outage = reconnect.Outage()
        self._functions: dict[bytes, Any] = {}
        self._nodes: dict[bytes, common_pb2.NodeInfo] = {}
        self._flush_seq = 0
        self._flushes: dict[int, threading.Event] = {}
        self._resolver_pool: concurrent.futures.ThreadPoolExecutor | None = None  # made by the first future_of
        self._resolver_lock = threading.Lock()
        self._closed = False
        self._init_streams()
        self._loop = new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="raylite-client", daemon=True)
        self._thread.start()
        self._call(self._connect(), timeout=config.CONNECT_TIMEOUT_S + 5)
        self.local_node = self._pick_local_node(local_node_id)
        for oid, n in (adopt_refs or {}).items():  # refs an executor made before it needed us
            if n > 0:
                self._refcounts[oid] = n
                self._enqueue(_REF, (oid, True))

    # ---- plumbing ------------------------------------------------------------

    def _call(self, awaitable: Any, timeout: float | None = None) -> Any:
        """Runs a coroutine on the client loop and waits for its result."""
        return asyncio.run_coroutine_threadsafe(awaitable, self._loop).result(timeout)

    def _rpc(self, method: Callable[[], Any], timeout: float | None = 60) -> Any:
        """Makes a unary call on the client loop (gRPC calls belong to the loop that made them)."""
        return self._call(_await(method), timeout)

    async def _connect(self) -> None:
        self._channel = auth.channel(self.head_address, self.token)
        self._stub = head_pb2_grpc.HeadServiceStub(self._channel)
        # A failed TLS handshake shows at the first attempt to connect, and waiting
        # for the head (wait_for_ready below) would not cure it: say so at once.
        why = await auth.connection_error(self._channel)
        if why:
            await self._channel.close()
            raise self._unreachable(why)
        try:
            reply = await self._stub.GetClusterState(
                head_pb2.ClusterStateRequest(protocol_version=config.PROTOCOL_VERSION),
                timeout=config.CONNECT_TIMEOUT_S,
                wait_for_ready=True,
            )
        except grpc.aio.AioRpcError as exc:
            unreachable = exc.code() in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE)
            why = await auth.connection_error(self._channel) if unreachable else None
            await self._channel.close()
            if why:  # the head came up during the wait, and the handshake failed
                raise self._unreachable(why) from None
            if exc.code() == grpc.StatusCode.FAILED_PRECONDITION:
                raise exceptions.RaySystemError(exc.details()) from None
            if exc.code() == grpc.StatusCode.UNAUTHENTICATED:
                raise exceptions.AuthenticationError(
                    f"the raylite head at {self.head_address} refused this process: {exc.details()}"
                ) from None
            raise ConnectionError(
                f"could not reach a raylite head at {self.head_address} within {config.CONNECT_TIMEOUT_S:.0f}s "
                f"({exc.code().name}): is `raylite start --head` running there, and is the address right?"
            ) from None
        self.session_name = reply.session_name
        for node in reply.nodes:
            self._nodes[node.node_id] = node
        self._outbox = Outbox(head_pb2.ClientBatch)
        self._open_stream()

    def _unreachable(self, why: str) -> ConnectionError:
        return ConnectionError(f"could not connect to the raylite head at {self.head_address}: {why}")

    def _open_stream(self) -> None:
        """Starts a session on a new stream: the hello, then whatever waits in the outbox."""
        pending, self._outbox = self._outbox.msg, Outbox(head_pb2.ClientBatch)
        msg = self._outbox.touch()
        msg.hello.protocol_version = config.PROTOCOL_VERSION
        msg.hello.client_id = self.client_id
        msg.hello.job_id = self.job_id
        msg.hello.is_driver = self.is_driver
        pending.ClearField("hello")
        msg.MergeFrom(pending)
        self._stream = self._stub.ClientStream(wait_for_ready=True)
        self._outage.connected(time.monotonic())
        self._writer_task = asyncio.ensure_future(self._outbox.run(self._stream))
        self._reader_task = asyncio.ensure_future(self._read())

    def _resume_batch(self) -> head_pb2.ClientBatch:
        """What a restarted head must hear from this client to carry on its work.

        The refs it holds, the values it knows of them, its exported functions,
        its unfinished tasks (and the finished ones whose outputs those still
        need), and the objects it waits for. Duplicates of what the head still
        has are ignored there.
        """
        batch = head_pb2.ClientBatch()
        batch.exports.extend(self._exported.values())
        with self._ref_lock:
            held = list(self._refcounts)
        with self._lock:
            values = {oid: self._objects[oid] for oid in held if oid in self._objects}
            values.update(self._unfinished.arguments())
            batch.puts.extend(values.values())
            batch.subscribe.extend(self._waiters)
            batch.tasks.extend(self._unfinished.specs())
        for oid in held:
            batch.ref_changes.add(object_id=oid, held=True)
        return batch

    def _pick_local_node(self, node_id: bytes | None) -> common_pb2.NodeInfo | None:
        if node_id is not None:
            return self._nodes.get(node_id) or self._refresh_node(node_id)
        for node in self._nodes.values():
            if node.alive and node.host_key == self.host_key:
                return node
        return None

    def _refresh_node(self, node_id: bytes) -> common_pb2.NodeInfo | None:
        for node in self.cluster_state():
            self._nodes[node.node_id] = node
        return self._nodes.get(node_id)

    def _enqueue(self, kind: int, item: Any) -> None:
        self._pending.append((kind, item))
        if not self._wake_scheduled:
            self._wake_scheduled = True
            try:
                self._loop.call_soon_threadsafe(self._drain)
            except RuntimeError:
                raise exceptions.RaySystemError("the raylite client is shut down") from None

    def _drain(self) -> None:
        self._wake_scheduled = False
        msg = self._outbox.touch()
        pending = self._pending
        refs: dict[bytes, bool] = {}
        while pending:
            kind, item = pending.popleft()
            if kind == _REF:
                refs[item[0]] = item[1]  # the last change of a batch is the one that counts
            elif kind == _TASK:
                msg.tasks.append(item)
            elif kind == _PUT:
                msg.puts.append(item)
            elif kind == _SUBSCRIBE:
                msg.subscribe.extend(item)
            elif kind == _EXPORT:
                msg.exports.append(item)
            elif kind == _BLOCK:
                msg.block_states.append(item)
            elif kind == _KILL:
                msg.kill_actors.append(item)
            elif kind == _FLUSH:
                msg.flush = item
            elif kind == _RESTART:
                msg.restart_actors.append(item)
            elif kind == _RESULT:
                msg.results.append(item)
            elif kind == _ITEM:
                msg.generator_items.append(item)
            elif kind == _CONSUMED:
                msg.generator_consumed.append(item)
        for oid, held in refs.items():
            msg.ref_changes.add(object_id=oid, held=held)

    async def _read(self) -> None:
        stream = self._stream
        actions: dict[str, Callable[[Any], None] | None] = {
            "objects": self._on_objects,
            "generator_consumed": self._on_generator_consumed,
            "flush_ack": self._on_flush_ack,
            "warning": _print_warning,
        }
        steps = message_order.bind(head_pb2.HeadToClient, actions)
        try:
            async for msg in stream:
                for name, action in steps:
                    items = getattr(msg, name)
                    if items:
                        action(items)
        except grpc.aio.AioRpcError as exc:
            if self._closed:
                return
            if exc.code() in reconnect.REFUSALS:  # sending the same again would be refused again
                print(f"raylite: the head at {self.head_address} refused this client: {exc.details()}", file=sys.stderr)
                self._fail_all_waiters()
                return
            print(
                f"raylite: lost the head at {self.head_address} ({exc.code().name}); "
                f"reconnecting for up to {config.HEAD_RECONNECT_S:.0f}s",
                file=sys.stderr,
            )
            asyncio.ensure_future(self._reconnect())
            return
        if not self._closed:
            self._fail_all_waiters()

    async def _reconnect(self) -> None:
        """Waits for the head's address to answer again, then resumes the session there."""
        self._outbox.close()
        self._writer_task.cancel()
        self._stream.cancel()
        if not await reconnect.reach_head(self._channel, self._outage):
            print(
                f"raylite: the head at {self.head_address} did not come back within {config.HEAD_RECONNECT_S:.0f}s",
                file=sys.stderr,
            )
            self._fail_all_waiters()
            return
        if self._closed:
            return
        self._outbox.msg.MergeFrom(self._resume_batch())
        self._open_stream()
        print(f"raylite: reconnected to the head at {self.head_address}", file=sys.stderr)

    def _fail_all_waiters(self) -> None:
        with self._lock:
            waiters, self._waiters = self._waiters, {}
        for ws in waiters.values():
            for w in ws:
                w.fail()
        for event in self._flushes.values():
            event.set()

    def _on_flush_ack(self, seq: int) -> None:
        event = self._flushes.pop(seq, None)
        if event is not None:
            event.set()

    def _on_objects(self, values: Any) -> None:
        with self._lock:
            for value in values:
                oid = value.object_id
                if self._streams:
                    state = self._streams.get(task_of(oid))
                    if state is not None and self._stream_value(state, value):
                        continue
                self._owned_pending.discard(oid)
                # the actor of a failed call, while this client still has the call's spec
                actor_id = self._unfinished.actor_of(task_of(oid)) if value.is_error else b""
                self._unfinished.output_arrived(task_of(oid))
                waiters = self._waiters.pop(oid, None)
                if waiters is None and oid not in self._refcounts:
                    continue  # nobody here holds a ref any more
                self._objects[oid] = value
                if actor_id:
                    self._failed_call_actors[oid] = actor_id
                if waiters:
                    for w in waiters:
                        w.hit(value.is_error)

    # ---- refs ------------------------------------------------------------------

    def add_ref(self, oid: bytes) -> None:
        """Counts a new ObjectRef; the head hears of this process's first one."""
        with self._ref_lock:
            n = self._refcounts.get(oid, 0)
            self._refcounts[oid] = n + 1
        if n == 0:
            self._enqueue(_REF, (oid, True))

    def remove_ref(self, oid: bytes) -> None:
        """Forgets an ObjectRef; the head hears of this process's last one."""
        with self._ref_lock:
            n = self._refcounts.get(oid, 0) - 1
            if n > 0:
                self._refcounts[oid] = n
                return
            self._refcounts.pop(oid, None)
            self._objects.pop(oid, None)
            self._failed_call_actors.pop(oid, None)
        if not self._closed:
            self._enqueue(_REF, (oid, False))

    # ---- tasks -------------------------------------------------------------------

    def export(self, function_id: bytes, blob: bytes) -> None:
        if function_id not in self._exported:
            export = common_pb2.ExportedFunction(function_id=function_id, blob=blob)
            self._exported[function_id] = export
            self._enqueue(_EXPORT, export)

    def submit(self, spec: common_pb2.TaskSpec) -> None:
        with self._lock:
            for i in range(spec.num_returns):
                self._owned_pending.add(ids.object_id(spec.task_id, i))
            known = {d: self._objects[d] for d in spec.dependencies if d in self._objects}
            self._unfinished.add(spec, known)
        self._enqueue(_TASK, spec)

    def report_result(self, result: head_pb2.TaskResult) -> None:
        """An executor's task result, sent after everything the task itself sent."""
        self._enqueue(_RESULT, result)

    def kill_actor(self, actor_id: bytes, no_restart: bool = True) -> None:
        """Kills an actor; calls made after this return go to its next incarnation (if any)."""
        self._enqueue(_KILL if no_restart else _RESTART, actor_id)
        self.flush()

    def flush(self, timeout: float = 30.0) -> None:
        """Returns once the head has applied everything this client sent so far."""
        with self._lock:
            self._flush_seq += 1
            seq = self._flush_seq
            event = threading.Event()
            self._flushes[seq] = event
        self._enqueue(_FLUSH, seq)
        if not event.wait(timeout):
            raise exceptions.RaySystemError(f"the head at {self.head_address} did not answer within {timeout}s")

    # ---- objects -------------------------------------------------------------------

    def new_put_id(self) -> bytes:
        return ids.object_id(self.ids.task_id(), 0)

    def put_serialized(self, s: Serialized, oid: bytes) -> None:
        """Stores a value under oid; the caller already holds an ObjectRef to it.

        The ref must exist first: its RefChange then reaches the head no later
        than the put, which the head would otherwise free the moment it arrives.
        """
        value = self._store_value(oid, s)
        value.contained.extend(s.contained)
        self._objects[oid] = value
        self._enqueue(_PUT, value)

    def _store_value(self, oid: bytes, s: Serialized) -> common_pb2.ObjectValue:
        """Inline if small, else written once into the local node's store (or pushed to a node)."""
        if s.size <= config.INLINE_MAX_BYTES:
            return common_pb2.ObjectValue(object_id=oid, data=s.to_bytes(), size=s.size)
        node = self.local_node
        if node is not None:
            self.reserve(oid, s.size)
            store.write(node.store_dir, oid, s)
        else:
            node = next((n for n in self._nodes.values() if n.alive), None)
            if node is None:
                raise exceptions.RaySystemError("no live node to store the object in")
            self._call(self._push(node.address, oid, s))
        return common_pb2.ObjectValue(
            object_id=oid, node_id=node.node_id, node_address=node.address, size=s.size, in_store=True
        )

    def reserve(self, oid: bytes, size: int) -> None:
        """Asks the local node's store for room before writing an object into it."""
        assert self.local_node is not None
        request = worker_pb2.ReserveRequest(object_id=oid, size=size, writer_pid=os.getpid())
        reply = self._rpc(lambda: self._local_worker().Reserve(request))
        if reply.error:
            raise exceptions.ObjectStoreFullError(reply.error)

    def _local_worker(self) -> worker_pb2_grpc.WorkerServiceStub:
        if self._local_stub is None:
            assert self.local_node is not None
            channel = auth.channel(self.local_node.address, self.token)
            self._local_stub = worker_pb2_grpc.WorkerServiceStub(channel)
        return self._local_stub

    async def _push(self, address: str, oid: bytes, s: Serialized) -> None:
        data = s.to_bytes()
        step = config.TRANSFER_CHUNK_BYTES

        def chunks() -> Any:
            for offset in range(0, len(data), step):
                yield worker_pb2.ObjectChunk(
                    object_id=oid, total_size=len(data), offset=offset, data=data[offset : offset + step]
                )

        async with auth.channel(address, self.token) as channel:
            reply = await worker_pb2_grpc.WorkerServiceStub(channel).PushObject(chunks())
        if reply.error:
            raise exceptions.ObjectStoreFullError(f"storing object on {address} failed: {reply.error}")

    def value_of(self, oid: bytes) -> common_pb2.ObjectValue | None:
        return self._objects.get(oid)

    def wait_for(self, oids: list[bytes], num_needed: int, timeout: float | None, stop_on_error: bool = False) -> bool:
        """Blocks until num_needed of oids are known here; False on timeout.

        With stop_on_error, returns as soon as one of them is known to be an
        error (get raises it at once, as Ray's does, without waiting for the rest).
        """
        with self._lock:
            objects = self._objects
            missing = [o for o in dict.fromkeys(oids) if o not in objects]
            if self._streams and missing:  # the item after the last of an ended stream: never comes
                missing = [o for o in missing if not self._ended_marker(o)]
            have = len(set(oids)) - len(missing)
            if have >= num_needed:
                return True
            if stop_on_error and have and any(objects[o].is_error for o in oids if o in objects):
                return True
            waiter = _Waiter(num_needed - have, stop_on_error=stop_on_error)
            for oid in missing:
                self._waiters.setdefault(oid, []).append(waiter)
            # (the items of this client's streams come to it unasked, but not one asked for again)
            subscribe = [o for o in missing if o not in self._owned_pending and not self._item_to_come(o)]
        if subscribe:
            self._enqueue(_SUBSCRIBE, subscribe)
        blocking_task = self.current_task_id
        if blocking_task:
            self._enqueue(_BLOCK, head_pb2.BlockState(task_id=blocking_task, blocked=True))
        try:
            ok = waiter.event.wait(timeout)
        finally:
            if blocking_task:
                self._enqueue(_BLOCK, head_pb2.BlockState(task_id=blocking_task, blocked=False))
            with self._lock:
                for oid in missing:
                    ws = self._waiters.get(oid)
                    if ws is not None and waiter in ws:
                        ws.remove(waiter)
                        if not ws:
                            del self._waiters[oid]
        if ok and waiter.needed > 0 and not waiter.saw_error:
            raise exceptions.RaySystemError(
                f"lost the connection to the head at {self.head_address} while waiting for objects"
            )
        return ok

    def future_of(self, ref: Any) -> concurrent.futures.Future[Any]:
        """A future of an ObjectRef's value (or its error), resolved without blocking any thread meanwhile.

        The value is read in a helper thread once it is known here: reading a
        stored value may fetch it from another node. The future holds the ref
        until then, so `put(x).future()` keeps x alive.
        """
        oid = ref.binary()
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def resolve() -> None:
            self._resolvers().submit(self._resolve, ref, future)

        with self._lock:
            known = oid in self._objects
            if not known:
                self._waiters.setdefault(oid, []).append(_Waiter(1, resolve))
                subscribe = oid not in self._owned_pending
        if known:
            resolve()
        elif subscribe:
            self._enqueue(_SUBSCRIBE, [oid])
        return future

    def _resolve(self, ref: Any, future: concurrent.futures.Future[Any]) -> None:
        if not future.set_running_or_notify_cancel():
            return
        oid = ref.binary()
        try:
            value = self.value_of(oid)
            if value is None:
                raise exceptions.RaySystemError(
                    f"lost the connection to the head at {self.head_address} while waiting for object {oid.hex()}"
                )
            future.set_result(self.materialize(value))
        except BaseException as exc:  # noqa: BLE001 - delivered through the future
            future.set_exception(exc)

    def _resolvers(self) -> concurrent.futures.ThreadPoolExecutor:
        # its own lock: a resolution starts from _on_objects, which holds self._lock
        with self._resolver_lock:
            if self._resolver_pool is None:
                self._resolver_pool = concurrent.futures.ThreadPoolExecutor(
                    config.FUTURE_RESOLVER_THREADS, thread_name_prefix="raylite-future"
                )
            return self._resolver_pool

    def materialize(self, value: common_pb2.ObjectValue) -> Any:
        """The Python value of an object; raises the stored error for failed tasks."""
        if value.in_store:
            value, obj = self._read_anywhere(value)
        else:
            obj = deserialize(value.data)
        if value.is_error:
            if isinstance(obj, exceptions.RayTaskError):
                raise obj.as_instanceof_cause()
            if isinstance(obj, exceptions.RayError):
                self._fill_in(obj, value.object_id)
            raise obj
        return obj

    def _fill_in(self, err: exceptions.RayError, oid: bytes) -> None:
        """Sets the fields of a runtime-made error that Ray's carry and only this client knows."""
        if isinstance(err, exceptions.ObjectLostError) and not err.object_ref_hex:
            err.object_ref_hex = oid.hex()
        elif isinstance(err, exceptions.RayActorError):
            if err.actor_id is None:
                actor_id = self._failed_call_actors.get(oid)
                err.actor_id = actor_id.hex() if actor_id else None
            if isinstance(err, exceptions.ActorDiedError) and exceptions.CONSTRUCTOR_FAILED in err.error_msg:
                err._actor_init_failed = True
        elif isinstance(err, exceptions.TaskCancelledError) and err.task_id is None:
            err.task_id = task_of(oid).hex()

    def _read_anywhere(self, value: common_pb2.ObjectValue) -> tuple[common_pb2.ObjectValue, Any]:
        """Reads a stored object where the head says it is, asking again after each failed read.

        Returns the location read from (or the value the head answered with) and
        the object. Only the time spent asking the head counts against the
        relocation budget, not reads, which may take long for large objects.
        """
        budget, delay = 3 * config.PEER_TIMEOUT_S, 0.1
        while value.in_store:
            try:
                return value, self._read_stored(value)
            except (exceptions.ObjectLostError, grpc.aio.AioRpcError) as exc:
                asked = time.monotonic()
                value = self._relocate(value, exc, budget, delay)
                budget -= time.monotonic() - asked
                delay = min(delay * 2, 1.0)
        return value, deserialize(value.data)

    def _relocate(
        self, stale: common_pb2.ObjectValue, exc: BaseException, budget: float, delay: float
    ) -> common_pb2.ObjectValue:
        """Asks the head again where an object is, after its node failed to hand it over.

        Until the head notices the node is gone it names the same node, and it
        names it too when the node lives and the failure was passing (a
        connection not made in time): the read is then tried there again after
        `delay`. Once the head notices a death, it answers with a copy
        elsewhere, the object rebuilt from its lineage, or an ObjectLostError.
        Gives up (ObjectLostError) when `budget` seconds would be exceeded.
        """
        oid = stale.object_id
        deadline = time.monotonic() + budget
        with self._lock:
            cached = self._objects.get(oid)
            if cached is not None and cached.node_id == stale.node_id:
                del self._objects[oid]
        if self.wait_for([oid], 1, max(0.0, budget)):
            newer = self._objects.get(oid)
            if newer is not None and (not newer.in_store or newer.node_id != stale.node_id):
                return newer
            if newer is not None and time.monotonic() + delay <= deadline:
                time.sleep(delay)  # back-off before reading from the same node again
                return newer
        detail = exc.details() if isinstance(exc, grpc.aio.AioRpcError) else str(exc)
        raise exceptions.ObjectLostError(
            f"object {oid.hex()} could not be read from node {stale.node_id.hex()[:12]} at {stale.node_address} "
            f"({detail}), and the head names no other place for it"
        )

    def _read_stored(self, value: common_pb2.ObjectValue) -> Any:
        node = self._nodes.get(value.node_id) or self._refresh_node(value.node_id)
        if node is not None and node.host_key == self.host_key:
            try:
                return store.read(node.store_dir, value.object_id)
            except FileNotFoundError:
                pass
        local = self.local_node
        if local is not None:
            # the local daemon fetches it from a holder, or restores it from disk
            reply = self._rpc(lambda: self._local_worker().Pull(worker_pb2.PullRequest(location=value)), timeout=None)
            if reply.error:
                raise exceptions.ObjectLostError(reply.error)
            return store.read(local.store_dir, value.object_id)
        return deserialize(self._call(self._fetch(value)))

    async def _fetch(self, value: common_pb2.ObjectValue) -> bytearray:
        buf = bytearray(value.size)
        async with auth.channel(value.node_address, self.token) as channel:
            call = worker_pb2_grpc.WorkerServiceStub(channel).FetchObject(
                worker_pb2.FetchObjectRequest(object_id=value.object_id)
            )
            async for chunk in call:
                buf[chunk.offset : chunk.offset + len(chunk.data)] = chunk.data
        return buf

    # ---- queries -------------------------------------------------------------------

    def cluster_state(self) -> list[common_pb2.NodeInfo]:
        request = head_pb2.ClusterStateRequest(protocol_version=config.PROTOCOL_VERSION)
        reply = self._rpc(lambda: self._stub.GetClusterState(request), timeout=30)
        return list(reply.nodes)

    def get_function(self, function_id: bytes) -> bytes:
        request = head_pb2.GetFunctionRequest(function_id=function_id)
        reply = self._rpc(lambda: self._stub.GetFunction(request), timeout=30)
        return reply.blob

    def get_actor(self, name: str) -> head_pb2.GetActorReply:
        return self._rpc(lambda: self._stub.GetActor(head_pb2.GetActorRequest(name=name)), timeout=30)

    # ---- lifecycle -------------------------------------------------------------------

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True

        async def shutdown() -> None:
            self._outbox.close()
            await asyncio.sleep(0)
            self._stream.cancel()
            self._reader_task.cancel()
            await self._channel.close()
            # gRPC's own helpers of streams cut by a reconnection, and the like
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

        try:
            self._call(shutdown(), timeout=5)
        except Exception:  # noqa: BLE001 - closing is best effort
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if self._resolver_pool is not None:
            self._resolver_pool.shutdown(wait=False, cancel_futures=True)


class _UnfinishedTasks:
    """The specs a client resubmits to a restarted head.

    A task stays until one of its outputs arrives, and after that for as long
    as a kept task takes one of its outputs as an argument: the head that died
    may have held that output inline, and only rerunning the task remakes it.
    The values of other arguments the client knew when it submitted (its puts)
    stay with the tasks, since the client may drop its own refs to them.
    """

    def __init__(self) -> None:
        self._specs: dict[bytes, common_pb2.TaskSpec] = {}  # in submission order
        self._finished: set[bytes] = set()
        self._needed_by: dict[bytes, int] = {}  # task -> kept tasks taking its outputs
        self._values: dict[bytes, tuple[common_pb2.ObjectValue, int]] = {}  # argument -> (value, kept users)
        self._uses: dict[bytes, tuple[bytes, ...]] = {}  # task -> the arguments it keeps in _values

    def add(self, spec: common_pb2.TaskSpec, known: dict[bytes, common_pb2.ObjectValue] | None = None) -> None:
        self._specs[spec.task_id] = spec
        for maker in self._makers(spec):
            self._needed_by[maker] = self._needed_by.get(maker, 0) + 1
        if known:
            self._uses[spec.task_id] = tuple(known)
            for oid, value in known.items():
                users = self._values.get(oid, (value, 0))[1]
                self._values[oid] = (value, users + 1)

    def actor_of(self, task_id: bytes) -> bytes:
        """The actor an unfinished actor call was made on (b"" for others)."""
        spec = self._specs.get(task_id)
        return spec.actor_id if spec is not None and spec.kind == common_pb2.ACTOR_METHOD else b""

    def arguments(self) -> dict[bytes, common_pb2.ObjectValue]:
        return {oid: value for oid, (value, _) in self._values.items()}

    def output_arrived(self, task_id: bytes) -> None:
        if task_id in self._specs and task_id not in self._finished:
            self._finished.add(task_id)
            self._drop_if_unneeded(task_id)

    def specs(self) -> list[common_pb2.TaskSpec]:
        return list(self._specs.values())

    def _makers(self, spec: common_pb2.TaskSpec) -> set[bytes]:
        return {task_of(d) for d in spec.dependencies if task_of(d) in self._specs}

    def _drop_if_unneeded(self, task_id: bytes) -> None:
        stack = [task_id]
        while stack:
            tid = stack.pop()
            if tid not in self._finished or self._needed_by.get(tid, 0) > 0:
                continue
            spec = self._specs.pop(tid)
            self._finished.discard(tid)
            self._needed_by.pop(tid, None)
            for oid in self._uses.pop(tid, ()):
                value, users = self._values[oid]
                if users > 1:
                    self._values[oid] = (value, users - 1)
                else:
                    del self._values[oid]
            for maker in self._makers(spec):
                self._needed_by[maker] -= 1
                stack.append(maker)

    def __len__(self) -> int:
        return len(self._specs)


def _print_warning(warning: str) -> None:
    print(f"raylite: warning: {warning}", file=sys.stderr, flush=True)


async def _await(make: Callable[[], Any]) -> Any:
    return await make()
