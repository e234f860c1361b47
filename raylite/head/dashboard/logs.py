"""The dashboard's logs routes: a node's log files, read from that node's worker daemon.

    /api/logs?node=<node id or prefix>                       the node's files (name, size, mtime)
    /api/logs/file?node=...&name=...&offset=N or &tail=N     text from byte N (or the last N lines)
                                                             and the offset to ask from next time

The head keeps no logs: it asks the node's WorkerService (ListLogFiles,
ReadLogFile) with the cluster token, as `raylite logs` does. The page polls
/api/logs/file with the offset of its last answer, so a followed file costs one
small read a second. A name that is a path, or leads out of the node's log
folder, is refused by the node (400).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import grpc

from raylite import auth
from raylite.rpc import worker_pb2, worker_pb2_grpc

if TYPE_CHECKING:
    from aiohttp import web

    from raylite.head.service import HeadServicer

CALL_TIMEOUT_S = 10
MAX_ANSWER_BYTES = 1024 * 1024  # one poll's worth; the page asks again from where it stopped


def add_routes(app: web.Application, servicer: HeadServicer, token: str) -> None:
    from aiohttp import web

    def node_of(request: web.Request) -> Any:
        wanted = request.query.get("node", "").lower()
        chosen = [
            n.info for n in servicer.state.nodes.values() if n.alive and wanted and n.node_id.hex().startswith(wanted)
        ]
        if len(chosen) != 1:
            raise web.HTTPNotFound(
                text=_error(f"no single live node has an id starting with {wanted!r}"), content_type="application/json"
            )
        return chosen[0]

    async def files(request: web.Request) -> web.Response:
        node = node_of(request)
        async with auth.channel(node.address, token, servicer.peer_tls) as channel:
            try:
                reply = await worker_pb2_grpc.WorkerServiceStub(channel).ListLogFiles(
                    worker_pb2.ListLogFilesRequest(), timeout=CALL_TIMEOUT_S
                )
            except grpc.aio.AioRpcError as exc:
                return _failed(node, exc)
        listed = [{"name": f.name, "size": f.size, "mtime": f.mtime} for f in reply.files]
        return web.json_response({"result": {"node_id": node.node_id.hex(), "log_dir": reply.log_dir, "files": listed}})

    async def read(request: web.Request) -> web.Response:
        node = node_of(request)
        try:
            offset, tail = int(request.query.get("offset", "0")), int(request.query.get("tail", "0"))
        except ValueError:
            return web.json_response({"error": "offset and tail are whole numbers"}, status=400)
        ask = worker_pb2.ReadLogFileRequest(
            name=request.query.get("name", ""), offset=max(0, offset), tail=max(0, tail)
        )
        data, end = b"", max(0, offset)
        async with auth.channel(node.address, token, servicer.peer_tls) as channel:
            try:
                async for chunk in worker_pb2_grpc.WorkerServiceStub(channel).ReadLogFile(ask, timeout=CALL_TIMEOUT_S):
                    data += chunk.data
                    end = chunk.end_offset
                    if len(data) >= MAX_ANSWER_BYTES:
                        break
            except grpc.aio.AioRpcError as exc:
                return _failed(node, exc)
        text = data.decode(errors="replace")
        return web.json_response({"result": {"data": text, "end_offset": end}})

    app.router.add_get("/api/logs", files)
    app.router.add_get("/api/logs/file", read)


def _error(text: str) -> str:
    return json.dumps({"error": text})


def _failed(node: Any, exc: grpc.aio.AioRpcError) -> web.Response:
    from aiohttp import web

    status = {grpc.StatusCode.INVALID_ARGUMENT: 400, grpc.StatusCode.NOT_FOUND: 404}.get(exc.code(), 502)
    where = f"node {node.node_id.hex()[:12]} ({node.address})"
    return web.json_response({"error": f"{where}: {exc.details()}"}, status=status)
