"""The worker daemon's gRPC service: objects in and out of this node's store."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

import grpc

from raylite import auth, config, store, tls
from raylite.rpc import common_pb2, worker_pb2, worker_pb2_grpc
from raylite.worker import validate
from raylite.worker.node_metrics import NodeMetrics
from raylite.worker.object_store import NodeStore, StoreFull
from raylite.worker.state.store_index import DISK

log = logging.getLogger("raylite.worker")


class Transfers:
    """Pulls objects from peers into the local store, one transfer per object at a time."""

    def __init__(
        self,
        node_store: NodeStore,
        on_copy_added: Callable[[bytes], None],
        token: str | None,
        tls_material: tls.Choice = tls.FROM_ENV,
    ) -> None:
        self.node_store = node_store
        self.token = token
        self.tls_material = tls_material
        self.on_copy_added = on_copy_added
        self._inflight: dict[bytes, asyncio.Future[None]] = {}
        self.metrics: NodeMetrics | None = None  # counts the bytes fetched (raylite/worker/node_metrics.py)
        self._channels: dict[str, grpc.aio.Channel] = {}

    def _stub(self, address: str) -> worker_pb2_grpc.WorkerServiceStub:
        channel = self._channels.get(address)
        if channel is None:
            channel = auth.channel(address, self.token, self.tls_material)
            self._channels[address] = channel
        return worker_pb2_grpc.WorkerServiceStub(channel)

    async def pull(self, location: common_pb2.ObjectValue) -> None:
        """Makes the object local: restored from disk if we hold it, else fetched from a holder."""
        oid = location.object_id
        if await self.node_store.ensure_local(oid):
            return
        pending = self._inflight.get(oid)
        if pending is not None:
            await asyncio.shield(pending)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._inflight[oid] = fut
        try:
            await self._fetch_any(location)
            fut.set_result(None)
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()  # retrieved here; waiters re-raise it themselves
            raise
        finally:
            del self._inflight[oid]

    async def _fetch_any(self, location: common_pb2.ObjectValue) -> None:
        oid = location.object_id
        await self.node_store.reserve(oid, location.size, primary=False)
        errors = []
        for address in [location.node_address, *location.copy_addresses]:
            try:
                await self._fetch(oid, location.size, address)
            except grpc.aio.AioRpcError as exc:
                errors.append(f"{address}: {exc.code().name} {exc.details()}")
                continue
            except store.BadChunk as exc:  # the holder's bytes do not match the size the head knows
                errors.append(f"{address}: {exc}")
                continue
            self.node_store.written(oid)
            self.on_copy_added(oid)
            return
        self.node_store.abandon(oid)
        raise LookupError(f"object {oid.hex()} could not be fetched from any holder ({'; '.join(errors)})")

    async def _fetch(self, object_id: bytes, size: int, address: str) -> None:
        writer = store.ChunkWriter(self.node_store.store_dir, object_id, size)
        try:
            call = self._stub(address).FetchObject(worker_pb2.FetchObjectRequest(object_id=object_id))
            async for chunk in call:
                writer.write(chunk.offset, chunk.data)
                if self.metrics is not None:
                    self.metrics.received(len(chunk.data))
            writer.commit()
        except BaseException:
            writer.abort()
            raise

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()


class WorkerServicer(worker_pb2_grpc.WorkerServiceServicer):
    def __init__(self, node_id: bytes, node_store: NodeStore, transfers: Transfers) -> None:
        self.node_id = node_id
        self.node_store = node_store
        self.transfers = transfers
        self.metrics = transfers.metrics

    async def FetchObject(
        self, request: worker_pb2.FetchObjectRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[worker_pb2.ObjectChunk]:
        await _check(validate.object_id(request.object_id), context)
        path = self.node_store.readable_path(request.object_id)
        view = None
        if path is not None:
            try:
                view = store.map_path(path)
            except FileNotFoundError:  # moved between the check and the open
                path = self.node_store.readable_path(request.object_id)
                view = store.map_path(path) if path else None
        if view is None:
            await context.abort(
                grpc.StatusCode.NOT_FOUND, f"object {request.object_id.hex()} is not in this node's store"
            )
            return  # (abort raises; this tells the type checker)
        total = view.nbytes
        step = config.TRANSFER_CHUNK_BYTES
        for offset in range(0, max(total, 1), step):
            data = bytes(view[offset : offset + step])
            yield worker_pb2.ObjectChunk(
                object_id=request.object_id if offset == 0 else b"",
                total_size=total,
                offset=offset,
                data=data,
            )
            if self.metrics is not None:
                self.metrics.sent(len(data))

    async def Pull(self, request: worker_pb2.PullRequest, context: grpc.aio.ServicerContext) -> worker_pb2.PullReply:
        loc = request.location
        await _check(validate.location(loc, self.node_id), context)
        try:
            if loc.node_id == self.node_id:
                if not await self.node_store.ensure_local(loc.object_id):
                    return worker_pb2.PullReply(error=f"object {loc.object_id.hex()} is not in this node's store")
            else:
                await self.transfers.pull(loc)
        except (LookupError, StoreFull) as exc:
            return worker_pb2.PullReply(error=str(exc))
        return worker_pb2.PullReply()

    async def PushObject(
        self, request_iterator: AsyncIterator[worker_pb2.ObjectChunk], context: grpc.aio.ServicerContext
    ) -> worker_pb2.PushObjectReply:
        writer: store.ChunkWriter | None = None
        first = worker_pb2.ObjectChunk()
        oid = b""
        reserved = False

        def discard() -> None:
            nonlocal writer, reserved
            if writer is not None:
                writer.abort()
                writer = None
            if reserved:
                reserved = False
                self.node_store.abandon(oid)

        try:
            async for chunk in request_iterator:
                if writer is None:
                    await _check(validate.first_chunk(chunk), context)
                    first, oid = chunk, chunk.object_id
                    if self._holds(oid):
                        # objects never change: a second push of one we hold (a replay) writes nothing
                        return worker_pb2.PushObjectReply()
                    await self.node_store.reserve(oid, chunk.total_size, primary=True)
                    reserved = True
                    writer = store.ChunkWriter(self.node_store.store_dir, oid, chunk.total_size)
                else:
                    await _check(validate.next_chunk(chunk, first), context, discard)
                await _check_chunk(writer.write, chunk.offset, chunk.data, context=context, cleanup=discard)
                if self.metrics is not None:
                    self.metrics.received(len(chunk.data))
            if writer is not None:
                await _check_chunk(writer.commit, context=context, cleanup=discard)
        except StoreFull as exc:
            return worker_pb2.PushObjectReply(error=str(exc))
        except BaseException:
            discard()
            raise
        if writer is None:
            return worker_pb2.PushObjectReply(error="empty push: no chunks arrived")
        self.node_store.written(oid)
        return worker_pb2.PushObjectReply()

    async def Reserve(
        self, request: worker_pb2.ReserveRequest, context: grpc.aio.ServicerContext
    ) -> worker_pb2.ReserveReply:
        await _check(validate.object_id(request.object_id), context)
        where = self.node_store.index.where(request.object_id)
        if where is not None:
            # written before (a retried task writes its result again): the writer replaces
            # the file in place, so a spilled copy comes back to be replaced
            if where == DISK:
                await self.node_store.ensure_local(request.object_id)
            return worker_pb2.ReserveReply()
        try:
            await self.node_store.reserve(
                request.object_id, request.size, primary=True, for_other=True, writer=request.writer_pid
            )
        except StoreFull as exc:
            return worker_pb2.ReserveReply(error=str(exc))
        return worker_pb2.ReserveReply()

    def _holds(self, object_id: bytes) -> bool:
        return (
            self.node_store.index.where(object_id) is not None or self.node_store.readable_path(object_id) is not None
        )


async def _check(
    problem: str | None, context: grpc.aio.ServicerContext, cleanup: Callable[[], None] | None = None
) -> None:
    """Ends the call of a peer that sent a malformed request (raylite/worker/validate.py).

    cleanup runs first: once the status is out the peer may look at the store.
    """
    if problem is not None:
        log.warning("refused a peer's request (%s): %s", context.peer(), problem)
        if cleanup is not None:
            cleanup()
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)


async def _check_chunk(
    step: Callable[..., None], *args: object, context: grpc.aio.ServicerContext, cleanup: Callable[[], None]
) -> None:
    try:
        step(*args)
    except store.BadChunk as exc:
        await _check(f"PushObject: {exc}", context, cleanup)
