"""The worker daemon's gRPC service: objects in and out of this node's store."""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import os
from collections.abc import AsyncIterator, Callable

import grpc

from raylite import auth, bulk, config, store, tls
from raylite.rpc import common_pb2, head_pb2, worker_pb2, worker_pb2_grpc
from raylite.worker import log_files, validate
from raylite.worker.bulk_server import BulkServer
from raylite.worker.executor_logs import ExecutorLogs
from raylite.worker.lease_service import LeaseServer
from raylite.worker.node_metrics import NodeMetrics
from raylite.worker.object_store import NodeStore, StoreFull
from raylite.worker.state.pull_progress import PullProgress, Report
from raylite.worker.state.store_index import DISK

log = logging.getLogger("raylite.worker")


class Transfers:
    """Pulls objects from peers into the local store, one transfer per object at a time.

    Objects of config.BULK_MIN_BYTES and more come over the holder's bulk port
    (raylite/bulk.py) straight into the reserved range of the store; smaller
    ones as FetchObject's chunks.
    """

    def __init__(
        self,
        node_store: NodeStore,
        on_copy_added: Callable[[bytes], None],
        token: str | None,
        tls_material: tls.Choice = tls.FROM_ENV,
        on_progress: Callable[[list[Report]], None] | None = None,
    ) -> None:
        self.node_store = node_store
        self.token = token
        self.tls_material = tls_material
        self.on_copy_added = on_copy_added
        self._inflight: dict[bytes, asyncio.Future[None]] = {}
        self.metrics: NodeMetrics | None = None  # counts the bytes fetched (raylite/worker/node_metrics.py)
        self._channels: dict[str, grpc.aio.Channel] = {}
        # long pulls reported to the head (NodeBatch.pulls), for explanations of waiting gets
        self.progress = PullProgress()
        self.on_progress = on_progress
        self._report_timer: asyncio.TimerHandle | None = None
        self._bulk_io = concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="bulk-recv")

    def _pull_started(self, oid: bytes, size: int) -> None:
        if self.on_progress is None:
            return
        loop = asyncio.get_running_loop()
        self.progress.started(oid, size, loop.time())
        if self._report_timer is None:  # one timer while any pull runs; none while none does
            self._report_timer = loop.call_later(self.progress.report_s, self._report)

    def _pull_ended(self, oid: bytes) -> None:
        if self.on_progress is None:
            return
        final = self.progress.ended(oid, asyncio.get_running_loop().time())
        if final is not None:
            self.on_progress([final])

    def _report(self) -> None:
        self._report_timer = None
        if not self.progress.pulls:
            return
        loop = asyncio.get_running_loop()
        due = self.progress.due(loop.time())
        if due and self.on_progress is not None:
            self.on_progress(due)
        self._report_timer = loop.call_later(self.progress.report_s, self._report)

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
        self._pull_started(oid, location.size)
        try:
            await self._fetch_any(location)
            fut.set_result(None)
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()  # retrieved here; waiters re-raise it themselves
            raise
        finally:
            del self._inflight[oid]
            self._pull_ended(oid)

    async def _fetch_any(self, location: common_pb2.ObjectValue) -> None:
        oid = location.object_id
        got = await self.node_store.reserve(oid, location.size, primary=False)
        errors = []
        for address in [location.node_address, *location.copy_addresses]:
            try:
                await self._fetch(oid, location.size, address, got.offset if got is not None else None)
            except grpc.aio.AioRpcError as exc:
                errors.append(f"{address}: {exc.code().name} {exc.details()}")
                continue
            except store.BadChunk as exc:  # the holder's bytes do not match the size the head knows
                errors.append(f"{address}: {exc}")
                continue
            except OSError as exc:  # the bulk connection: refused, cut, short or timed out (TLS errors too)
                log.warning("fetching object %s from %s failed: %s", oid.hex(), address, exc)
                errors.append(f"{address}: {exc}")
                continue
            self.node_store.written(oid)
            self.on_copy_added(oid)
            return
        self.node_store.abandon(oid)
        raise LookupError(f"object {oid.hex()} could not be fetched from any holder ({'; '.join(errors)})")

    async def _fetch(self, object_id: bytes, size: int, address: str, offset: int | None) -> None:
        if 0 < config.BULK_MIN_BYTES <= size:
            await self._fetch_bulk(object_id, size, address)
            return
        writer = store.ChunkWriter(self.node_store.store_dir, object_id, size, offset)
        try:
            call = self._stub(address).FetchObject(worker_pb2.FetchObjectRequest(object_id=object_id))
            progress = self.progress
            async for chunk in call:
                writer.write(chunk.offset, chunk.data)
                progress.received(object_id, len(chunk.data))
                if self.metrics is not None:
                    self.metrics.received(len(chunk.data))
            writer.commit()
        except BaseException:
            writer.abort()
            raise

    async def _fetch_bulk(self, object_id: bytes, size: int, address: str) -> None:
        """Reads the object over the holder's bulk port into the range the store reserved."""
        count = max(1, min(config.BULK_CONNECTIONS, config.BULK_MAX_CONNECTIONS))
        request = worker_pb2.BulkTicketRequest(object_id=object_id, connections=count)
        reply = await self._stub(address).BulkTicket(request, timeout=config.BULK_IDLE_TIMEOUT_S)
        if reply.size != size or not reply.tickets or not 0 < reply.port < 65536:
            raise store.BadChunk(
                f"its bulk ticket says {reply.size} bytes, {len(reply.tickets)} ticket(s), port {reply.port}; "
                f"the head knows the object as {size} bytes"
            )
        material = tls.chosen(self.tls_material)
        view = self.node_store.open_for_write(object_id, size)
        prefault = not self.node_store.mapped(object_id)
        try:
            await asyncio.get_running_loop().run_in_executor(
                self._bulk_io,
                functools.partial(
                    bulk.receive_all,
                    address,
                    reply.port,
                    list(reply.tickets),
                    object_id,
                    view,
                    material,
                    config.BULK_IDLE_TIMEOUT_S,
                    config.BULK_PART_MIN_BYTES,
                    functools.partial(self.progress.received, object_id),
                    prefault,
                ),
            )
        except BaseException:
            view.release()
            self.node_store.abort_write(object_id)
            raise
        view.release()
        self.node_store.publish(object_id, size)
        if self.metrics is not None:
            self.metrics.received(size)

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
        self._bulk_io.shutdown(wait=False, cancel_futures=True)


def pull_messages(reports: list[Report]) -> list[head_pb2.PullProgress]:
    """Reports of long pulls as NodeBatch.pulls entries."""
    return [
        head_pb2.PullProgress(
            object_id=r.object_id,
            received=r.received,
            total=r.total,
            elapsed_ms=min(int(r.elapsed_s * 1000), 2**32 - 1),
            done=r.done,
        )
        for r in reports
    ]


class WorkerServicer(worker_pb2_grpc.WorkerServiceServicer):
    def __init__(
        self,
        node_id: bytes,
        node_store: NodeStore,
        transfers: Transfers,
        logs: ExecutorLogs | None = None,
        bulk_server: BulkServer | None = None,
        leases: LeaseServer | None = None,
    ) -> None:
        self.node_id = node_id
        self.leases = leases if leases is not None else LeaseServer(lambda lease_id, why: None)
        self.node_store = node_store
        self.transfers = transfers
        self.logs = logs
        self.bulk_server = bulk_server
        self.metrics = transfers.metrics

    async def ListLogFiles(
        self, request: worker_pb2.ListLogFilesRequest, context: grpc.aio.ServicerContext
    ) -> worker_pb2.ListLogFilesReply:
        if self.logs is None:
            return worker_pb2.ListLogFilesReply()
        files = log_files.list_files(self.logs.log_dir, request.glob)
        return worker_pb2.ListLogFilesReply(log_dir=self.logs.log_dir, files=files)

    async def ReadLogFile(
        self, request: worker_pb2.ReadLogFileRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[worker_pb2.LogFileChunk]:
        await _check(validate.read_log_file(request), context)
        if self.logs is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "this worker daemon keeps no log folder")
            return
        try:
            async for chunk in log_files.read(self.logs.log_dir, request, self.logs.written):
                yield chunk
        except log_files.LogFileError as exc:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"node {self.node_id.hex()[:12]}: {exc}")

    async def LeaseStream(
        self, request_iterator: AsyncIterator[worker_pb2.LeaseBatch], context: grpc.aio.ServicerContext
    ) -> None:
        # tasks of a lease straight from their submitter (raylite/worker/lease_service.py); answers
        # are written with context.write as they come, so this is no generator
        await self.leases.stream(request_iterator, context)

    async def BulkTicket(
        self, request: worker_pb2.BulkTicketRequest, context: grpc.aio.ServicerContext
    ) -> worker_pb2.BulkTicketReply:
        await _check(validate.bulk_ticket(request), context)
        if self.bulk_server is None:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "this node serves no bulk port: use FetchObject")
        assert self.bulk_server is not None
        size = _stored_size(self.node_store, request.object_id)
        if size is None:
            await context.abort(
                grpc.StatusCode.NOT_FOUND, f"object {request.object_id.hex()} is not in this node's store"
            )
        tickets = self.bulk_server.issue(request.object_id, request.connections)
        return worker_pb2.BulkTicketReply(port=self.bulk_server.port, size=size, tickets=tickets)

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
                    got = await self.node_store.reserve(oid, chunk.total_size, primary=True)
                    reserved = True
                    offset = got.offset if got is not None else None
                    writer = store.ChunkWriter(self.node_store.store_dir, oid, chunk.total_size, offset)
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
            got = await self.node_store.reserve(
                request.object_id, request.size, primary=True, for_other=True, writer=request.writer_pid
            )
        except StoreFull as exc:
            return worker_pb2.ReserveReply(error=str(exc))
        if got is None:
            return worker_pb2.ReserveReply()  # no hole fits: the writer writes a file of its own
        return worker_pb2.ReserveReply(in_arena=True, arena_offset=got.offset, arena_length=got.length)

    def _holds(self, object_id: bytes) -> bool:
        return (
            self.node_store.index.where(object_id) is not None or self.node_store.readable_path(object_id) is not None
        )


def _stored_size(node_store: NodeStore, object_id: bytes) -> int | None:
    """The size of an object this node holds, in the arena, in a file of its own or spilled."""
    for _ in range(2):  # a spill or restore may move it between the look and the stat
        path = node_store.readable_path(object_id)
        if path is None:
            return None
        size = store.size_of(os.path.dirname(path), object_id)
        if size is not None:
            return size
    return None


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
