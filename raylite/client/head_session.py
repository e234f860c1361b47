"""A client's gRPC session with the head: the channel, the batch stream and its
resumption after the head restarts, and the unary queries.

HeadSession is a part of raylite/client/core.py's Client, kept in its own module
because it is where the client meets grpc: an executor starts without grpc
(tests/unit/test_startup_imports.py) and loads it with its client, on the
first use of the API. What a message from the head means and what a resumed
session must say are the client's (`_head_actions`, `_resume_batch` in core.py);
this module carries the bytes and the errors.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import grpc

from raylite import auth, config, exceptions, message_order, reconnect
from raylite.batching import Outbox
from raylite.rpc import common_pb2, head_pb2, head_pb2_grpc


class HeadSession:
    if TYPE_CHECKING:  # the rest of the client (raylite/client/core.py)
        head_address: str
        token: str | None
        client_id: bytes
        job_id: bytes
        is_driver: bool
        worker_output: Any
        session_name: str
        dashboard_url: str
        _closed: bool
        _loop: asyncio.AbstractEventLoop
        _outage: reconnect.Outage
        _nodes: dict[bytes, common_pb2.NodeInfo]

        def _head_actions(self) -> dict[str, Callable[[Any], None] | None]: ...
        def _resume_batch(self) -> head_pb2.ClientBatch: ...
        def _fail_all_waiters(self) -> None: ...
        def flush(self, timeout: float = 30.0) -> None: ...

    _channel: grpc.aio.Channel
    _stub: head_pb2_grpc.HeadServiceStub
    _stream: Any
    _outbox: Outbox
    _writer_task: asyncio.Future[Any]
    _reader_task: asyncio.Future[Any]

    # ---- plumbing ------------------------------------------------------------

    def _call(self, awaitable: Any, timeout: float | None = None) -> Any:
        """Runs a coroutine on the client loop and waits for its result."""
        return asyncio.run_coroutine_threadsafe(awaitable, self._loop).result(timeout)

    def _rpc(self, method: Callable[[], Any], timeout: float | None = 60) -> Any:
        """Makes a unary call on the client loop (gRPC calls belong to the loop that made them)."""
        return self._call(_await(method), timeout)

    # ---- the session -------------------------------------------------------------

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
        self.dashboard_url = reply.dashboard_url  # "" when the head runs no dashboard
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
        msg.hello.log_to_driver = self.worker_output is not None
        pending.ClearField("hello")
        msg.MergeFrom(pending)
        self._stream = self._stub.ClientStream(wait_for_ready=True, metadata=auth.call_metadata(self.token))
        self._outage.connected(time.monotonic())
        self._writer_task = asyncio.ensure_future(self._outbox.run(self._stream))
        self._reader_task = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        stream = self._stream
        steps = message_order.bind(head_pb2.HeadToClient, self._head_actions())
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

    async def _close_session(self) -> None:
        """Ends the stream and the channel, and the tasks gRPC left on the loop."""
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

    # ---- queries -------------------------------------------------------------------

    def cluster_state(self) -> list[common_pb2.NodeInfo]:
        request = head_pb2.ClusterStateRequest(protocol_version=config.PROTOCOL_VERSION)
        reply = self._rpc(lambda: self._stub.GetClusterState(request), timeout=30)
        return list(reply.nodes)

    def get_function(self, function_id: bytes) -> bytes:
        request = head_pb2.GetFunctionRequest(function_id=function_id)
        reply = self._rpc(lambda: self._stub.GetFunction(request), timeout=30)
        return reply.blob

    def placement_groups(self, request: head_pb2.GetPlacementGroupsRequest | None) -> list[head_pb2.PlacementGroupInfo]:
        """One placement group (by id or name), or all of them (request None); the head's view."""
        self.flush()  # after the groups this client created or removed
        message = request or head_pb2.GetPlacementGroupsRequest()
        return list(self._rpc(lambda: self._stub.GetPlacementGroups(message), timeout=30).groups)

    def get_actor(self, name: str, namespace: str) -> head_pb2.GetActorReply:
        self.flush()  # an actor this client just created is known to the head before it is looked up
        request = head_pb2.GetActorRequest(name=name, namespace=namespace)
        return self._rpc(lambda: self._stub.GetActor(request), timeout=30)

    def list_named_actors(self, namespace: str, all_namespaces: bool) -> list[head_pb2.NamedActor]:
        request = head_pb2.ListNamedActorsRequest(namespace=namespace, all_namespaces=all_namespaces)
        return list(self._rpc(lambda: self._stub.ListNamedActors(request), timeout=30).actors)


async def _await(make: Callable[[], Any]) -> Any:
    return await make()
