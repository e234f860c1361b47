"""The real servicers of a head and two worker daemons, in this process, for bad input.

`Services` runs, on one event loop in a background thread, the gRPC servers a
cluster runs (the head's HeadServicer, and two WorkerServicers over real
NodeStores in a temporary folder), each behind the token interceptor. Two
well-behaved peers live beside them and must never notice what the tests
send: a keeper node (worker A's node, registered on the head's node stream,
answering every task it is given) and a keeper client (a driver session that
put one inline object and one object stored in worker A, and holds both).

Tests talk to the servers from their own thread through plain (blocking)
gRPC channels, with raw bytes, so that anything can be sent. After each input,
`check()` asserts that every service still serves and that nothing was lost:
HeadState.validate() holds, the keeper's objects are in the directory and in
the store with their bytes, the keeper's session answers a flush, and each
store admits a new object.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from raylite import auth, bulk, config, ids, store
from raylite.batching import Outbox
from raylite.daemon_util import new_event_loop
from raylite.head.service import HeadServicer
from raylite.rpc import common_pb2, head_pb2, head_pb2_grpc, worker_pb2, worker_pb2_grpc
from raylite.worker.bulk_server import BulkServer
from raylite.worker.executor_logs import ExecutorLogs
from raylite.worker.object_store import NodeStore
from raylite.worker.service import Transfers, WorkerServicer
from raylite.worker.state.store_index import SHM

TOKEN = "fuzz-token"
SECRET = b"a file beside the log folder that ReadLogFile must never serve"
STORE_CAPACITY = 8 << 20
KEEPER_RESOURCES = {"CPU": 1000.0, "special": 1000.0}  # room for the actors fuzzed clients leave behind
LEASE_S = 0.5  # reservations nobody writes lapse quickly, so the oracle can see the store recover

# Ids the tests draw from, so that generated messages name things the services know.
KEEPER_CLIENT = b"keeper\0\0"
FUZZ_CLIENTS = [b"client-1", b"client-2"]
NODE_A = b"node-A".ljust(16, b"\0")  # the keeper node: worker A's store
NODE_B = b"node-B".ljust(16, b"\0")
FUZZ_NODES = [b"node-1".ljust(16, b"\0"), b"node-2".ljust(16, b"\0")]
KEEPER_TASK = b"keeper-t".ljust(16, b"\0")
TASKS = [f"task-{i}".encode().ljust(16, b"\0") for i in range(4)]
ACTORS = TASKS[2:]  # an actor's id is the id of its creation task
KEEPER_INLINE = ids.object_id(KEEPER_TASK, 0)
KEEPER_STORED = ids.object_id(KEEPER_TASK, 1)
B_STORED = ids.object_id(KEEPER_TASK, 2)
OBJECTS = [ids.object_id(t, i) for t in TASKS for i in range(2)] + [KEEPER_INLINE, KEEPER_STORED, B_STORED]
FUNCTION_BLOB = b"not really a pickled function"
FUNCTION_ID = ids.function_id(FUNCTION_BLOB)

INLINE_BYTES = b"the keeper's inline value"
STORED_BYTES = bytes(range(256)) * 300  # 76800 bytes, more than one fetch chunk would need
B_BYTES = b"b" * 5000

HEAD_SERVICE = head_pb2.DESCRIPTOR.services_by_name["HeadService"]
WORKER_SERVICE = worker_pb2.DESCRIPTOR.services_by_name["WorkerService"]


def path_of(method: Any) -> str:
    return f"/{method.containing_service.full_name}/{method.name}"


@dataclass
class Outcome:
    code: grpc.StatusCode
    details: str
    replies: list[bytes] = field(default_factory=list)


class Services:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.loop = new_event_loop()
        self.loop_errors: list[str] = []
        self.loop.set_exception_handler(self._on_loop_error)
        self._thread = threading.Thread(target=self.loop.run_forever, name="fuzz-services", daemon=True)
        self._channels: dict[str, grpc.Channel] = {}
        self._flush_seq = 0
        self.tasks_run: list[bytes] = []  # the tasks the keeper node was given, in order
        self._flushes: dict[int, asyncio.Future[None]] = {}

    # ---- lifecycle -------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()
        self.run(self._start(), timeout=30)

    def stop(self) -> None:
        for channel in self._channels.values():
            channel.close()
        self.run(self._stop(), timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)

    def run(self, coro: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def on_loop(self, read: Any) -> Any:
        """read() on the services' loop, between two of their steps."""

        async def go() -> Any:
            return read()

        return self.run(go())

    def _on_loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        self.loop_errors.append(f"{context.get('message')}: {context.get('exception')!r}")
        loop.default_exception_handler(context)

    async def _start(self) -> None:
        self.head = HeadServicer("fuzz")
        self.head_server = auth.server(TOKEN)
        head_pb2_grpc.add_HeadServiceServicer_to_server(self.head, self.head_server)
        self.head_address = f"127.0.0.1:{self.head_server.add_insecure_port('127.0.0.1:0')}"
        await self.head_server.start()
        self.stores: dict[bytes, NodeStore] = {}
        self.worker_servers: dict[bytes, grpc.aio.Server] = {}
        self.worker_addresses: dict[bytes, str] = {}
        self.transfers: list[Transfers] = []
        self.bulk_servers: dict[bytes, BulkServer] = {}
        for node_id, name in ((NODE_A, "a"), (NODE_B, "b")):
            node_store = NodeStore(
                str(self.root / name / "store"),
                str(self.root / name / "spill"),
                STORE_CAPACITY,
                lambda oid: None,
                lease_s=LEASE_S,
            )
            transfers = Transfers(node_store, lambda oid: None, TOKEN)
            logs = ExecutorLogs(str(self.root / name / "logs"), lambda batches: None, lambda: 0)
            (self.root / name / "logs" / "worker.log").write_text("a line of the worker's log\n")
            (self.root / name / "secret").write_bytes(SECRET)  # beside the log folder: never served
            server = auth.server(TOKEN)
            bulk_server = BulkServer(node_store, None)
            bulk_server.start("127.0.0.1")
            self.bulk_servers[node_id] = bulk_server
            servicer = WorkerServicer(node_id, node_store, transfers, logs, bulk_server)
            worker_pb2_grpc.add_WorkerServiceServicer_to_server(servicer, server)
            self.worker_addresses[node_id] = f"127.0.0.1:{server.add_insecure_port('127.0.0.1:0')}"
            await server.start()
            self.stores[node_id] = node_store
            self.worker_servers[node_id] = server
            self.transfers.append(transfers)
        await self._push(NODE_A, KEEPER_STORED, STORED_BYTES)
        await self._push(NODE_B, B_STORED, B_BYTES)
        self._channel = auth.channel(self.head_address, TOKEN)
        stub = head_pb2_grpc.HeadServiceStub(self._channel)
        await self._start_keeper_node(stub)
        await self._start_keeper_client(stub)

    async def _stop(self) -> None:
        self._keeper_out.close()
        self._node_out.close()
        self._keeper_call.cancel()
        self._node_call.cancel()
        await self._channel.close()
        for transfers in self.transfers:
            await transfers.close()
        for bulk_server in self.bulk_servers.values():
            await bulk_server.close()
        for server in [self.head_server, *self.worker_servers.values()]:
            await server.stop(grace=0.2)
        for node_store in self.stores.values():
            node_store.close()

    async def _push(self, node_id: bytes, oid: bytes, data: bytes) -> None:
        async with auth.channel(self.worker_addresses[node_id], TOKEN) as channel:
            chunk = worker_pb2.ObjectChunk(object_id=oid, total_size=len(data), offset=0, data=data)
            reply = await worker_pb2_grpc.WorkerServiceStub(channel).PushObject(iter([chunk]))
        assert not reply.error, reply.error

    async def _start_keeper_node(self, stub: head_pb2_grpc.HeadServiceStub) -> None:
        """Worker A's node on the head: runs every task it is given by answering at once."""
        info = common_pb2.NodeInfo(
            node_id=NODE_A,
            address=self.worker_addresses[NODE_A],
            ip="127.0.0.1",
            host_key="fuzz",
            alive=True,
            store_dir=self.stores[NODE_A].store_dir,
        )
        info.total.update(KEEPER_RESOURCES)
        self._node_out = Outbox(head_pb2.NodeBatch)
        self._node_call = stub.NodeStream(metadata=auth.call_metadata(TOKEN))
        self._node_out.touch().hello.CopyFrom(head_pb2.NodeHello(protocol_version=config.PROTOCOL_VERSION, node=info))
        self._node_writer = asyncio.ensure_future(self._node_out.run(self._node_call))
        joined = asyncio.get_running_loop().create_future()

        async def serve() -> None:
            async for msg in self._node_call:
                if not joined.done():
                    joined.set_result(None)
                for assignment in msg.tasks:
                    self.tasks_run.append(assignment.spec.task_id)
                    result = self._node_out.touch().results.add(task_id=assignment.spec.task_id, node_id=NODE_A)
                    # one value: the head gives it to every return of the task
                    result.results.add(object_id=ids.object_id(assignment.spec.task_id, 0), data=b"done", size=4)

        self._node_reader = asyncio.ensure_future(serve())
        await asyncio.wait_for(joined, 10)

    async def _start_keeper_client(self, stub: head_pb2_grpc.HeadServiceStub) -> None:
        self._keeper_out = Outbox(head_pb2.ClientBatch)
        self._keeper_call = stub.ClientStream(metadata=auth.call_metadata(TOKEN))
        batch = self._keeper_out.touch()
        batch.hello.CopyFrom(
            head_pb2.ClientHello(
                protocol_version=config.PROTOCOL_VERSION, client_id=KEEPER_CLIENT, job_id=b"keeper", is_driver=True
            )
        )
        for oid in (KEEPER_INLINE, KEEPER_STORED):
            batch.ref_changes.add(object_id=oid, held=True)
        batch.puts.add(object_id=KEEPER_INLINE, data=INLINE_BYTES, size=len(INLINE_BYTES))
        batch.puts.add(
            object_id=KEEPER_STORED,
            node_id=NODE_A,
            node_address=self.worker_addresses[NODE_A],
            size=len(STORED_BYTES),
            in_store=True,
        )
        self._keeper_writer = asyncio.ensure_future(self._keeper_out.run(self._keeper_call))

        async def read() -> None:
            async for msg in self._keeper_call:
                if msg.flush_ack:
                    fut = self._flushes.pop(msg.flush_ack, None)
                    if fut is not None and not fut.done():
                        fut.set_result(None)

        self._keeper_reader = asyncio.ensure_future(read())
        await self._keeper_flush()

    async def _keeper_flush(self) -> None:
        self._flush_seq += 1
        fut = asyncio.get_running_loop().create_future()
        self._flushes[self._flush_seq] = fut
        self._keeper_out.touch().flush = self._flush_seq
        await asyncio.wait_for(fut, 10)

    # ---- the oracle ----------------------------------------------------------------

    def check(self) -> None:
        """Every service still serves, and nothing the keepers own was lost."""
        self.run(self._check(), timeout=60)
        outcome = self.unary(
            self.head_address, "GetClusterState", head_pb2.ClusterStateRequest(protocol_version=config.PROTOCOL_VERSION)
        )
        assert outcome.code == grpc.StatusCode.OK, outcome
        reply = head_pb2.ClusterStateReply.FromString(outcome.replies[0])
        assert any(n.node_id == NODE_A and n.alive for n in reply.nodes), reply
        for node_id, oid, data in ((NODE_A, KEEPER_STORED, STORED_BYTES), (NODE_B, B_STORED, B_BYTES)):
            fetched = self.fetch(node_id, oid)
            assert fetched == data, f"object {oid.hex()} on {node_id!r} changed: {len(fetched)} bytes"
            fetched = self.bulk_fetch(node_id, oid)
            assert fetched == data, f"object {oid.hex()} on {node_id!r} over the bulk port: {len(fetched)} bytes"
        assert not self.loop_errors, self.loop_errors

    async def _check(self) -> None:
        deadline = time.monotonic() + 10
        # the streams the test opened have ended (or were cut): their cleanup must be done
        while set(self.head.clients) != {KEEPER_CLIENT} or set(self.head.nodes) != {NODE_A}:
            assert time.monotonic() < deadline, (
                f"streams not cleaned up: clients {list(self.head.clients)} nodes {list(self.head.nodes)}"
            )
            await asyncio.sleep(0.005)
        state = self.head.state
        state.validate()
        assert set(state.clients) == {KEEPER_CLIENT}, f"clients in the head's state: {list(state.clients)}"
        assert state.nodes[NODE_A].alive
        inline = state.objects.get(KEEPER_INLINE)
        assert inline is not None and inline.value.data == INLINE_BYTES, "the keeper's inline object was lost"
        stored = state.objects.get(KEEPER_STORED)
        assert stored is not None and stored.node_id == NODE_A, "the keeper's stored object was lost"
        assert not self._keeper_reader.done(), "the keeper client's stream ended"
        assert not self._node_reader.done(), "the keeper node's stream ended"
        await self._keeper_flush()
        for node_id, node_store in self.stores.items():
            node_store.index.validate()
            for oid, entry in node_store.index.entries.items():
                size = store.size_of(node_store.store_dir if entry.where == SHM else node_store.spill_dir, oid)
                if not entry.pinned and size is not None:
                    assert size == entry.size, (
                        f"{oid.hex()} on {node_id!r}: the store counts {entry.size} bytes, the file has {size}"
                    )
            probe = ids.random_id(20)
            try:
                await asyncio.wait_for(node_store.reserve(probe, 1024, primary=True), 5)
            except asyncio.TimeoutError:
                raise AssertionError(f"store of {node_id!r} admits nothing: {node_store.index.entries}") from None
            node_store.delete(probe)

    # ---- calls from the test thread --------------------------------------------------

    def channel(self, address: str) -> grpc.Channel:
        channel = self._channels.get(address)
        if channel is None:
            channel = grpc.insecure_channel(address, options=config.CHANNEL_OPTIONS)
            self._channels[address] = channel
        return channel

    def fetch_outcome(self, node_id: bytes, oid: bytes) -> Outcome:
        return self.unary(self.worker_addresses[node_id], "FetchObject", worker_pb2.FetchObjectRequest(object_id=oid))

    def fetch(self, node_id: bytes, oid: bytes) -> bytes:
        outcome = self.fetch_outcome(node_id, oid)
        assert outcome.code == grpc.StatusCode.OK, outcome
        chunks = [worker_pb2.ObjectChunk.FromString(r) for r in outcome.replies]
        data = bytearray()
        for chunk in chunks:
            assert chunk.offset == len(data)
            data += chunk.data
        return bytes(data)

    def bulk_tickets(self, node_id: bytes, oid: bytes, count: int = 1) -> worker_pb2.BulkTicketReply:
        request = worker_pb2.BulkTicketRequest(object_id=oid, connections=count)
        outcome = self.unary(self.worker_addresses[node_id], "BulkTicket", request)
        assert outcome.code == grpc.StatusCode.OK, outcome
        return worker_pb2.BulkTicketReply.FromString(outcome.replies[0])

    def bulk_fetch(self, node_id: bytes, oid: bytes) -> bytes:
        """The object's bytes over the bulk port, as a peer's transfer reads them."""
        reply = self.bulk_tickets(node_id, oid, 2)
        buf = bytearray(reply.size)
        address = self.worker_addresses[node_id]
        bulk.receive_all(address, reply.port, list(reply.tickets), oid, memoryview(buf), None, 10, 1 << 15)
        return bytes(buf)

    def bulk_raw(self, node_id: bytes, data: bytes, timeout: float = 10) -> bytes:
        """Sends data on a fresh connection to the node's bulk port, then everything it answers
        until it closes (the write side is shut after data, so a short hello ends at once)."""
        port = self.bulk_servers[node_id].port
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            received = bytearray()
            while True:
                piece = sock.recv(1 << 16)
                if not piece:
                    return bytes(received)
                received += piece

    def unary(self, address: str, method: str, request: Any, timeout: float = 10) -> Outcome:
        """One request (a message or raw bytes) to a method that takes one."""
        return self.call(address, method, [request], timeout=timeout)

    def call(
        self,
        address: str,
        method: str,
        requests: list[Any],
        cut: bool = False,
        timeout: float = 10,
        token: str | None = TOKEN,
        until: Any = None,
    ) -> Outcome:
        """Sends requests (messages or raw bytes) to any method. cut: cancel the call
        after the last request instead of closing the stream. until: (bidirectional
        streams) read replies until until(reply) is true, then cancel the call."""
        descriptor = _method(method)
        raw = [r if isinstance(r, bytes) else r.SerializeToString() for r in requests]
        channel = self.channel(address)
        path = path_of(descriptor)
        metadata = ((auth.METADATA_KEY, token),) if token else ()
        if not descriptor.client_streaming:
            assert len(raw) == 1, "a unary request takes one message"
            if descriptor.server_streaming:
                stream = channel.unary_stream(path)(raw[0], timeout=timeout, metadata=metadata)
                if until is not None:
                    return _read_until(stream, until)
                return _collect(lambda: list(stream))
            return _collect(lambda: [channel.unary_unary(path)(raw[0], timeout=timeout, metadata=metadata)])
        sent = threading.Event()
        release = threading.Event()

        def requests_iter() -> Iterator[bytes]:
            yield from raw
            sent.set()
            if cut:
                release.wait(timeout)

        if until is not None:
            call = channel.stream_stream(path)(requests_iter(), timeout=timeout, metadata=metadata)
            try:
                return _read_until(call, until)
            finally:
                release.set()
        if descriptor.server_streaming:
            call = channel.stream_stream(path)(requests_iter(), timeout=timeout, metadata=metadata)
        else:
            call = channel.stream_unary(path).future(requests_iter(), timeout=timeout, metadata=metadata)
        if cut:
            # cut once everything is sent, unless the server ended the call before
            deadline = time.monotonic() + timeout
            while not sent.wait(0.005) and not call.done() and time.monotonic() < deadline:
                pass
            call.cancel()
            release.set()
        if descriptor.server_streaming:
            return _collect(lambda: list(call))
        return _collect(lambda: [call.result()])


def _read_until(call: Any, until: Any) -> Outcome:
    """Reads a call's replies until until(reply), then cancels it."""
    replies = []
    try:
        for reply in call:
            replies.append(reply)
            if until(reply):
                break
    finally:
        call.cancel()
    return Outcome(grpc.StatusCode.CANCELLED, "cut after the awaited reply", replies)


def _collect(read: Any) -> Outcome:
    try:
        replies = read()
    except grpc.FutureCancelledError:
        return Outcome(grpc.StatusCode.CANCELLED, "cancelled by the test")
    except grpc.RpcError as exc:
        return Outcome(exc.code(), exc.details() or "")
    return Outcome(grpc.StatusCode.OK, "", replies)


def _method(name: str) -> Any:
    for service in (HEAD_SERVICE, WORKER_SERVICE):
        if name in service.methods_by_name:
            return service.methods_by_name[name]
    raise KeyError(f"no method {name}")


class Tally:
    """How many inputs each fuzz test sent, and how the services answered them."""

    def __init__(self) -> None:
        self.examples = 0
        self.inputs = 0
        self.seconds = 0.0
        self.per_test: dict[str, dict[str, int]] = {}
        self.codes: dict[str, int] = {}
        self.tasks_run = 0  # tasks that got through the head to the keeper node

    def record(self, test: str, inputs: int, code: grpc.StatusCode) -> None:
        self.examples += 1
        self.inputs += inputs
        counts = self.per_test.setdefault(test, {"examples": 0, "inputs": 0})
        counts["examples"] += 1
        counts["inputs"] += inputs
        self.codes[code.name] = self.codes.get(code.name, 0) + 1

    def lines(self) -> list[str]:
        out = [f"{self.inputs} inputs (messages and raw requests) in {self.examples} examples, {self.seconds:.0f}s"]
        for test, counts in self.per_test.items():
            out.append(f"  {test}: {counts['inputs']} inputs in {counts['examples']} examples")
        out.append("  answers: " + ", ".join(f"{code} {n}" for code, n in sorted(self.codes.items())))
        out.append(f"  tasks the head dispatched to the keeper node: {self.tasks_run}")
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "inputs": self.inputs,
            "examples": self.examples,
            "seconds": self.seconds,
            "per_test": self.per_test,
            "codes": self.codes,
            "tasks_run": self.tasks_run,
        }


TALLY = Tally()
