"""Ray's log state API (list_logs, get_log) over the worker daemons' log folders.

Log files live on each node, in the folder of its worker daemon (the session's
`logs`): its own log, the head's on the head's machine, and
`executor-<pid>.out/.err` for what each executor printed. The head names the
nodes (GetClusterState); each node's daemon lists and serves its own folder
(WorkerService.ListLogFiles, ReadLogFile, token-guarded like every call).
A task's or an actor's output is found by asking every node, since the
executor logs carry markers naming the task or actor that printed each part.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Iterator
from dataclasses import dataclass
from typing import Any

import grpc

from raylite import auth, config
from raylite.rpc import common_pb2, head_pb2, head_pb2_grpc, worker_pb2, worker_pb2_grpc
from raylite.util.state.exception import RayStateApiException
from raylite.util.state.rpc import DEFAULT_TIMEOUT_S, NoClusterError, head_of

HEAD_NODE_RESOURCE = "node:__internal_head__"


def category(name: str) -> str:
    """The group a file is listed under, as Ray's list_logs groups them."""
    if name.startswith("executor-"):  # executor-<pid>.err, or a rotated executor-<pid>.err.<n>
        stem, _, n = name.rpartition(".")
        return "worker_err" if (stem if n.isdigit() else name).endswith(".err") else "worker_out"
    if name.startswith("head"):
        return "gcs_server"  # the head daemon, Ray's GCS
    if name.startswith("worker"):
        return "raylet"  # the node's daemon, Ray's raylet
    return "misc"


@dataclass
class Cluster:
    """The live nodes of a cluster (the head's node first), and the token to call them with."""

    token: str | None
    nodes: list[common_pb2.NodeInfo]

    @classmethod
    def find(cls, address: str | None = None, timeout: float = DEFAULT_TIMEOUT_S) -> Cluster:
        head, token = head_of(address)

        async def ask() -> head_pb2.ClusterStateReply:
            channel = auth.channel(head, token)
            try:
                request = head_pb2.ClusterStateRequest(protocol_version=config.PROTOCOL_VERSION)
                return await head_pb2_grpc.HeadServiceStub(channel).GetClusterState(request, timeout=timeout)
            except grpc.aio.AioRpcError as exc:
                raise NoClusterError(
                    f"no raylite head answers at {head} ({exc.code().name}): {exc.details()}"
                ) from None
            finally:
                await channel.close()

        alive = [n for n in asyncio.run(ask()).nodes if n.alive]
        return cls(token, sorted(alive, key=lambda n: HEAD_NODE_RESOURCE not in n.total))

    def pick(self, node_id: str | None = None, node_ip: str | None = None) -> list[common_pb2.NodeInfo]:
        """The nodes named by an id (or a prefix of its hex) or an ip; all of them when neither is given."""
        if not node_id and not node_ip:
            return list(self.nodes)
        chosen = [
            n
            for n in self.nodes
            if (node_id and n.node_id.hex().startswith(node_id.lower())) or (node_ip and n.ip == node_ip)
        ]
        if not chosen:
            known = ", ".join(f"{n.node_id.hex()[:12]} ({n.ip})" for n in self.nodes) or "none"
            raise RayStateApiException(f"no live node matches {node_id or node_ip!r}; the nodes are: {known}")
        return chosen

    def list_files(
        self, node: common_pb2.NodeInfo, glob: str = "", timeout: float = DEFAULT_TIMEOUT_S
    ) -> worker_pb2.ListLogFilesReply:
        async def ask() -> worker_pb2.ListLogFilesReply:
            channel = auth.channel(node.address, self.token)
            try:
                stub = worker_pb2_grpc.WorkerServiceStub(channel)
                return await stub.ListLogFiles(worker_pb2.ListLogFilesRequest(glob=glob), timeout=timeout)
            except grpc.aio.AioRpcError as exc:
                raise RayStateApiException(_failed(node, exc)) from None
            finally:
                await channel.close()

        return asyncio.run(ask())

    def read(
        self, node: common_pb2.NodeInfo, request: worker_pb2.ReadLogFileRequest, timeout: float | None = None
    ) -> Iterator[worker_pb2.LogFileChunk]:
        """The chunks of one node's answer, as they come (a followed file: until the caller stops).
        Raises FileNotFoundError when that node has no such file or output."""
        loop = asyncio.new_event_loop()
        stream = _read(node, self.token, request, timeout)
        try:
            while True:
                try:
                    yield loop.run_until_complete(anext(stream))
                except StopAsyncIteration:
                    return
        finally:
            loop.run_until_complete(stream.aclose())
            loop.close()


async def _read(
    node: common_pb2.NodeInfo, token: str | None, request: worker_pb2.ReadLogFileRequest, timeout: float | None
) -> AsyncGenerator[worker_pb2.LogFileChunk, None]:
    channel = auth.channel(node.address, token)
    try:
        call = worker_pb2_grpc.WorkerServiceStub(channel).ReadLogFile(request, timeout=timeout)
        async for chunk in call:
            yield chunk
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.NOT_FOUND:
            raise FileNotFoundError(exc.details()) from None
        raise RayStateApiException(_failed(node, exc)) from None
    finally:
        await channel.close()


def _failed(node: common_pb2.NodeInfo, exc: grpc.aio.AioRpcError) -> str:
    return f"node {node.node_id.hex()[:12]} ({node.address}) answered {exc.code().name}: {exc.details()}"


def list_logs(
    address: str | None = None,
    node_id: str | None = None,
    node_ip: str | None = None,
    glob_filter: str | None = None,
    timeout: int = DEFAULT_TIMEOUT_S,
) -> dict[str, list[str]]:
    """The log files of one node (the head's unless node_id or node_ip names another), by category."""
    cluster = Cluster.find(address, timeout)
    node = cluster.pick(node_id, node_ip)[0] if (node_id or node_ip) else cluster.pick()[0]
    grouped: dict[str, list[str]] = {}
    for f in cluster.list_files(node, glob_filter or "", timeout).files:
        grouped.setdefault(category(f.name), []).append(f.name)
    return grouped


def get_log(
    address: str | None = None,
    node_id: str | None = None,
    node_ip: str | None = None,
    filename: str | None = None,
    actor_id: str | None = None,
    task_id: str | None = None,
    pid: int | None = None,
    follow: bool = False,
    tail: int = 1000,
    timeout: int = DEFAULT_TIMEOUT_S,
    suffix: str = "out",
    **_: Any,
) -> Iterator[str]:
    """Yields a log's text in chunks of whole lines: a file of a node, an executor's (pid), or what a task
    or an actor printed (found on whichever node has it). tail=-1 for all of it; follow streams what
    is appended until the caller stops."""
    if not (filename or actor_id or task_id or pid):
        raise ValueError("get_log needs one of filename, actor_id, task_id or pid")
    if pid and not filename:
        filename = f"executor-{pid}.{suffix}"
    cluster = Cluster.find(address, timeout)
    request = worker_pb2.ReadLogFileRequest(
        name=filename or "",
        tail=max(0, tail),
        follow=follow,
        task_id=_id(task_id, "task_id"),
        actor_id=_id(actor_id, "actor_id"),
    )
    misses = []
    for node in cluster.pick(node_id, node_ip):
        try:
            for chunk in cluster.read(node, request, None if follow else timeout):
                yield chunk.data.decode(errors="replace")
            return
        except FileNotFoundError as exc:
            misses.append(str(exc))
    raise RayStateApiException("; ".join(misses) or "the cluster has no live node")


def _id(value: str | None, what: str) -> bytes:
    if not value:
        return b""
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise ValueError(f"{what} {value!r} is not a hex id (as list_tasks and list_actors show them)") from None
