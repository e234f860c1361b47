"""The worker daemon's gRPC service: objects in and out of this node's store."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import grpc

from raylite import config, store
from raylite.rpc import worker_pb2, worker_pb2_grpc

log = logging.getLogger("raylite.worker")


class Transfers:
    """Pulls objects from peers into the local store, one transfer per object."""

    def __init__(self, store_dir: str) -> None:
        self.store_dir = store_dir
        self._inflight: dict[bytes, asyncio.Future[None]] = {}
        self._channels: dict[str, grpc.aio.Channel] = {}

    def _stub(self, address: str) -> worker_pb2_grpc.WorkerServiceStub:
        channel = self._channels.get(address)
        if channel is None:
            channel = grpc.aio.insecure_channel(address, options=config.GRPC_OPTIONS)
            self._channels[address] = channel
        return worker_pb2_grpc.WorkerServiceStub(channel)

    async def pull(self, object_id: bytes, address: str) -> None:
        if store.contains(self.store_dir, object_id):
            return
        pending = self._inflight.get(object_id)
        if pending is not None:
            await asyncio.shield(pending)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._inflight[object_id] = fut
        try:
            await self._fetch(object_id, address)
            fut.set_result(None)
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        finally:
            del self._inflight[object_id]

    async def _fetch(self, object_id: bytes, address: str) -> None:
        writer = store.ChunkWriter(self.store_dir, object_id)
        try:
            call = self._stub(address).FetchObject(worker_pb2.FetchObjectRequest(object_id=object_id))
            async for chunk in call:
                writer.write(chunk.offset, chunk.data)
        except BaseException:
            writer.abort()
            raise
        writer.commit()

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()


class WorkerServicer(worker_pb2_grpc.WorkerServiceServicer):
    def __init__(self, store_dir: str, transfers: Transfers) -> None:
        self.store_dir = store_dir
        self.transfers = transfers

    async def FetchObject(
        self, request: worker_pb2.FetchObjectRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[worker_pb2.ObjectChunk]:
        try:
            view = store.map_readonly(self.store_dir, request.object_id)
        except FileNotFoundError:
            await context.abort(
                grpc.StatusCode.NOT_FOUND, f"object {request.object_id.hex()} is not in this node's store"
            )
        total = view.nbytes
        step = config.TRANSFER_CHUNK_BYTES
        for offset in range(0, max(total, 1), step):
            yield worker_pb2.ObjectChunk(
                object_id=request.object_id if offset == 0 else b"",
                total_size=total,
                offset=offset,
                data=bytes(view[offset : offset + step]),
            )

    async def Pull(self, request: worker_pb2.PullRequest, context: grpc.aio.ServicerContext) -> worker_pb2.PullReply:
        loc = request.location
        try:
            await self.transfers.pull(loc.object_id, loc.node_address)
        except grpc.aio.AioRpcError as exc:
            return worker_pb2.PullReply(
                error=f"could not fetch object {loc.object_id.hex()} from {loc.node_address}: {exc.details()}"
            )
        return worker_pb2.PullReply()

    async def PushObject(
        self, request_iterator: AsyncIterator[worker_pb2.ObjectChunk], context: grpc.aio.ServicerContext
    ) -> worker_pb2.PushObjectReply:
        writer: store.ChunkWriter | None = None
        try:
            async for chunk in request_iterator:
                if writer is None:
                    writer = store.ChunkWriter(self.store_dir, chunk.object_id)
                writer.write(chunk.offset, chunk.data)
        except BaseException:
            if writer is not None:
                writer.abort()
            raise
        if writer is None:
            return worker_pb2.PushObjectReply(error="empty push: no chunks arrived")
        writer.commit()
        return worker_pb2.PushObjectReply()
