"""A client's objects: putting values, waiting for objects, and reading them wherever they are.

Values the head pushes land in `_objects` (raylite/client/core.py: _on_objects)
and wake the `Waiter`s of threads blocked in get/wait or of futures. A stored
value is read in place from this machine's shared-memory store when a node
here holds it (no copy), through the local daemon when one runs here (it
fetches from the holder), or straight from the holder otherwise; a failed
read asks the head where the object is now (`_relocate`).

ClientObjects is a part of raylite.client.core.Client, kept in its own module;
the names it uses of the rest of the client are declared below for the type
checker.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import grpc

from raylite import auth, bulk, config, exceptions, ids, pages, store, tls
from raylite.client.arrivals import Arrival, ArrivalSink
from raylite.client.items import _BLOCK, _PUT, _SUBSCRIBE
from raylite.client.waiters import Waiter, wait_event
from raylite.ids import task_of
from raylite.rpc import common_pb2, head_pb2, head_pb2_grpc, worker_pb2, worker_pb2_grpc
from raylite.serialization import Serialized, deserialize

# receive buffers of large objects read over a bulk port, kept for the next read once unused
_buffers = pages.Recycler(config.CLIENT_KEEP_BUFFER_BYTES)


class ClientObjects:
    if TYPE_CHECKING:  # the rest of the client (raylite/client/core.py)
        head_address: str
        token: str | None
        host_key: str
        ids: ids.IdSource
        local_node: common_pb2.NodeInfo | None
        current_task_id: bytes
        current_lease_id: bytes
        _lock: threading.Lock
        _objects: dict[bytes, common_pb2.ObjectValue]
        _waiters: dict[bytes, list[Waiter]]
        _owned_pending: set[bytes]
        _nodes: dict[bytes, common_pb2.NodeInfo]
        _failed_call_actors: dict[bytes, bytes]
        _stub: head_pb2_grpc.HeadServiceStub
        _loop: asyncio.AbstractEventLoop
        _local_stub: worker_pb2_grpc.WorkerServiceStub | None
        _resolver_pool: concurrent.futures.ThreadPoolExecutor | None
        _resolver_lock: threading.Lock

        def _enqueue(self, kind: int, item: Any) -> None: ...
        def _call(self, awaitable: Any, timeout: float | None = None) -> Any: ...
        def _rpc(self, method: Callable[[], Any], timeout: float | None = 60) -> Any: ...
        def _refresh_node(self, node_id: bytes) -> common_pb2.NodeInfo | None: ...

        # and of its streams (raylite/client/streams.py)
        _streams: dict[bytes, Any]

        def _ended_marker(self, oid: bytes) -> bool: ...
        def register_refs(self, oids: Any) -> None: ...
        def _item_to_come(self, oid: bytes) -> bool: ...

    def new_put_id(self) -> bytes:
        return ids.object_id(self.ids.task_id(), 0)

    def put_serialized(self, s: Serialized, oid: bytes) -> None:
        """Stores a value under oid; the caller already holds an ObjectRef to it.

        The ref must exist first: its RefChange then reaches the head no later
        than the put, which the head would otherwise free the moment it arrives.
        """
        if s.contained:
            self.register_refs(s.contained)
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
            store.write(node.store_dir, oid, s, self.reserve(oid, s.size))
        else:
            node = next((n for n in self._nodes.values() if n.alive), None)
            if node is None:
                raise exceptions.RaySystemError("no live node to store the object in")
            self._call(self._push(node.address, oid, s))
        return common_pb2.ObjectValue(
            object_id=oid, node_id=node.node_id, node_address=node.address, size=s.size, in_store=True
        )

    def reserve(self, oid: bytes, size: int) -> int | None:
        """Asks the local node's store for room before writing an object into it.

        Returns the offset of the range reserved in the node's arena, or None: write a file of its own.
        """
        assert self.local_node is not None
        request = worker_pb2.ReserveRequest(object_id=oid, size=size, writer_pid=os.getpid())
        reply = self._rpc(lambda: self._local_worker().Reserve(request))
        if reply.error:
            raise exceptions.ObjectStoreFullError(reply.error)
        if not reply.in_arena or reply.arena_length < size:  # (a daemon's reply that does not hold the bytes: a file)
            return None
        return reply.arena_offset

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

    def wait_for(
        self,
        oids: list[bytes],
        num_needed: int,
        timeout: float | None,
        stop_on_error: bool = False,
        caller: str = "get",
    ) -> bool:
        """Blocks until num_needed of oids are known here; False on timeout.

        With stop_on_error, returns as soon as one of them is known to be an
        error (get raises it at once, as Ray's does, without waiting for the rest).
        A wait past config.wait_explain_s() prints once why it waits (`caller` names it).
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
            waiter = Waiter(num_needed - have, stop_on_error=stop_on_error)
            for oid in missing:
                self._waiters.setdefault(oid, []).append(waiter)
            # (the items of this client's streams come to it unasked, but not one asked for again)
            subscribe = [o for o in missing if o not in self._owned_pending and not self._item_to_come(o)]
        if subscribe:
            self._enqueue(_SUBSCRIBE, subscribe)
        blocking_task = self.current_task_id
        if blocking_task:
            self._enqueue(
                _BLOCK, head_pb2.BlockState(task_id=blocking_task, blocked=True, lease_id=self.current_lease_id)
            )
        try:
            ok = self._wait_explained(waiter, missing, timeout, caller)
        finally:
            if blocking_task:
                self._enqueue(
                    _BLOCK, head_pb2.BlockState(task_id=blocking_task, blocked=False, lease_id=self.current_lease_id)
                )
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

    def _wait_explained(self, waiter: Waiter, missing: list[bytes], timeout: float | None, caller: str) -> bool:
        """Waits for the waiter; past the explanation threshold, once, prints why it still waits.

        One timed wait then the rest of the wait: no timer thread, no polling, and a
        get that ends before the threshold costs what it did before.
        """
        after = config.wait_explain_s()
        if after <= 0 or (timeout is not None and timeout <= after):
            return wait_event(waiter.event, timeout)
        if wait_event(waiter.event, after):
            return True
        self._print_explanation(waiter, missing, after, caller)
        return wait_event(waiter.event, None if timeout is None else timeout - after)

    def _print_explanation(
        self, waiter: Waiter | ArrivalSink, missing: list[bytes], waited: float, caller: str, pulling: bool = False
    ) -> None:
        """Prints the head's explanation of why `missing` are not here yet (unless done meanwhile)."""
        if not pulling:
            with self._lock:
                missing = [o for o in missing if o not in self._objects]
        if not missing:
            return
        asked = missing[: config.EXPLAIN_MAX_IDS]
        try:
            lines = self.explain(asked)
        except Exception as exc:  # noqa: BLE001 - an explanation is a courtesy: the wait goes on
            lines = [f"(the head could not say why: {exc})"]
        if waiter.event.is_set():
            return  # done meanwhile: the explanation would be stale
        more = f" (explaining the first {len(asked):,})" if len(missing) > len(asked) else ""
        where = f" in task {self.current_task_id.hex()}" if self.current_task_id else ""
        objects = f"{len(missing):,} object{'s' * (len(missing) != 1)}"
        head = f"raylite: {caller}{where} has waited {waited:g} s for {objects}{more}:"
        text = "\n".join([head, *("  " + line for line in lines)])
        print(text, file=sys.stderr, flush=True)

    def explain(self, ids: list[bytes]) -> list[str]:
        """The head's explanation of why `ids` (object, task or actor ids) are not done, as lines."""
        request = head_pb2.StateViewRequest(protocol_version=config.PROTOCOL_VERSION, view="explain", ids=ids)
        leases = getattr(self, "_leases", None)
        if leases is not None:  # tasks parked in the lease link are this client's alone: it tells them
            request.parked.extend(leases.parked_specs(ids, config.EXPLAIN_MAX_IDS))
        reply = self._rpc(lambda: self._stub.GetStateView(request), timeout=10)
        return list(json.loads(reply.json)["result"]["lines"])

    def arrivals(self, oids: list[bytes], caller: str = "progress") -> Iterator[list[bytes]]:
        """Yields the ids of `oids` in batches as they become known here, each once, until all are.

        One registration per object and one wake-up per batch, so following 100,000 objects
        costs O(n) in all (a loop of wait(num_returns=k) would rescan the rest each time).
        A batch waited for past config.wait_explain_s() prints once why (as get does).
        """
        sink = ArrivalSink()
        with self._lock:
            objects = self._objects
            unique = list(dict.fromkeys(oids))
            known = [o for o in unique if o in objects]
            missing = [o for o in unique if o not in objects]
            for oid in missing:
                self._waiters.setdefault(oid, []).append(Arrival(oid, sink))  # type: ignore[arg-type]
            subscribe = [o for o in missing if o not in self._owned_pending and not self._item_to_come(o)]
        if subscribe:
            self._enqueue(_SUBSCRIBE, subscribe)
        try:
            if known:
                yield known
            left = set(missing)
            explained = config.wait_explain_s() <= 0
            while left:
                if not explained and not wait_event(sink.event, config.wait_explain_s()):
                    explained = True
                    self._print_explanation(sink, list(left), config.wait_explain_s(), caller)
                wait_event(sink.event, None)
                batch = sink.take()
                if b"" in batch:
                    raise exceptions.RaySystemError(
                        f"lost the connection to the head at {self.head_address} while waiting for objects"
                    )
                batch = [o for o in batch if o in left]
                left.difference_update(batch)
                if batch:
                    yield batch
        finally:
            self._forget_arrivals(missing, sink)

    def _forget_arrivals(self, oids: list[bytes], sink: ArrivalSink) -> None:
        with self._lock:
            for oid in oids:
                ws = self._waiters.get(oid)
                if ws is None:
                    continue
                ws[:] = [w for w in ws if not (isinstance(w, Arrival) and w.sink is sink)]
                if not ws:
                    del self._waiters[oid]

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
                self._waiters.setdefault(oid, []).append(Waiter(1, resolve))
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
            reply = self._pull_explained(value)
            if reply.error:
                raise exceptions.ObjectLostError(reply.error)
            return store.read(local.store_dir, value.object_id)
        if 0 < config.BULK_MIN_BYTES <= value.size:
            return deserialize(self._fetch_bulk(value))
        return deserialize(self._call(self._fetch(value)))

    def _pull_explained(self, value: common_pb2.ObjectValue) -> worker_pb2.PullReply:
        """The local daemon's Pull of a remote object; one that takes past the threshold prints
        once why the get still waits (the head knows how far the transfer got)."""
        request = worker_pb2.PullRequest(location=value)
        future = asyncio.run_coroutine_threadsafe(_call_on_loop(lambda: self._local_worker().Pull(request)), self._loop)
        after = config.wait_explain_s()
        if after > 0:
            try:
                return future.result(after)
            except concurrent.futures.TimeoutError:
                done = ArrivalSink()
                future.add_done_callback(lambda _f: done.event.set())
                self._print_explanation(done, [value.object_id], after, "get", pulling=True)
        return future.result()

    def _fetch_bulk(self, value: common_pb2.ObjectValue) -> memoryview:
        """Reads a large object from its holder's bulk port (raylite/bulk.py) straight into a buffer,
        in the calling thread: the client's loop only asks for the tickets."""
        count = max(1, min(config.BULK_CONNECTIONS, config.BULK_MAX_CONNECTIONS))
        request = worker_pb2.BulkTicketRequest(object_id=value.object_id, connections=count)
        reply = self._call(self._bulk_tickets(value.node_address, request))
        if reply.size != value.size:
            raise exceptions.ObjectLostError(
                f"node {value.node_address} holds {reply.size} bytes of object {value.object_id.hex()}, "
                f"the head knows it as {value.size} bytes"
            )
        buf, fresh = _buffers.take(value.size)  # a recycled one has its pages mapped; a fresh one maps them ahead
        try:
            bulk.receive_all(
                value.node_address,
                reply.port,
                list(reply.tickets),
                value.object_id,
                buf,
                tls.current(),
                config.BULK_IDLE_TIMEOUT_S,
                config.BULK_PART_MIN_BYTES,
                prefault=fresh,
            )
        except OSError as exc:  # refused, cut, short, timed out, or a TLS failure
            raise exceptions.ObjectLostError(str(exc)) from exc
        return buf

    async def _bulk_tickets(self, address: str, request: worker_pb2.BulkTicketRequest) -> worker_pb2.BulkTicketReply:
        async with auth.channel(address, self.token) as channel:
            stub = worker_pb2_grpc.WorkerServiceStub(channel)
            return await stub.BulkTicket(request, timeout=config.BULK_IDLE_TIMEOUT_S)

    async def _fetch(self, value: common_pb2.ObjectValue) -> bytearray:
        buf = bytearray(value.size)
        async with auth.channel(value.node_address, self.token) as channel:
            call = worker_pb2_grpc.WorkerServiceStub(channel).FetchObject(
                worker_pb2.FetchObjectRequest(object_id=value.object_id)
            )
            async for chunk in call:
                buf[chunk.offset : chunk.offset + len(chunk.data)] = chunk.data
        return buf


async def _call_on_loop(make: Callable[[], Any]) -> Any:
    return await make()  # (a gRPC call is made on the loop that will await it)
