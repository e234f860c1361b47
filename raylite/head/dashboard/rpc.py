"""The GetStateView RPC: decode the request, run the query, reply with JSON."""

from __future__ import annotations

import json
import time

import grpc

from raylite import config
from raylite.head import wire
from raylite.head.dashboard.query import QueryError, query
from raylite.head.state import HeadState
from raylite.head.state.explain import explain
from raylite.head.state.states import TaskState
from raylite.ids import OBJECT_ID_BYTES, TASK_ID_BYTES
from raylite.rpc import common_pb2, head_pb2

MAX_FILTERS = 64


def answer(state: HeadState, request: head_pb2.StateViewRequest, dashboard_url: str = "") -> str:
    """The reply's JSON; QueryError for a request no answer fits. The status view also
    says where the dashboard is."""
    if request.view == "explain":
        return json.dumps({"result": explained(state, list(request.ids), list(request.parked))})
    if len(request.filters) > MAX_FILTERS:
        raise QueryError(f"at most {MAX_FILTERS} filters, got {len(request.filters)}")
    filters = [(f.key, f.predicate, f.value) for f in request.filters]
    result = query(state, request.view, filters, request.limit or None, request.detail)
    if request.view == "status":
        result["result"]["dashboard_url"] = dashboard_url
    return json.dumps(result, default=str)


async def get_state_view(
    state: HeadState, request: head_pb2.StateViewRequest, context: grpc.aio.ServicerContext, dashboard_url: str = ""
) -> head_pb2.StateViewReply:
    if request.protocol_version != config.PROTOCOL_VERSION:
        await context.abort(
            grpc.StatusCode.FAILED_PRECONDITION,
            f"protocol version mismatch: this head speaks raylite protocol {config.PROTOCOL_VERSION}, "
            f"the caller {request.protocol_version}; install the same raylite version on every machine",
        )
    try:
        text = answer(state, request, dashboard_url)
    except QueryError as exc:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
    return head_pb2.StateViewReply(json=text)


def explained(state: HeadState, ids: list[bytes], parked: list[common_pb2.TaskSpec] | None = None) -> dict:
    """The explanation of why `ids` are not done, as JSON-ready data with its terminal lines;
    `parked`: tasks the asking client holds back for its own tasks' outputs (task leases)."""
    if parked and len(parked) > config.EXPLAIN_MAX_IDS:
        raise QueryError(f"at most {config.EXPLAIN_MAX_IDS} parked tasks per explanation, got {len(parked)}")
    records = []
    for spec in parked or ():
        if len(spec.task_id) != TASK_ID_BYTES or any(len(d) != OBJECT_ID_BYTES for d in spec.dependencies):
            raise QueryError("parked: a task id of 16 bytes and object ids of its dependencies were expected")
        task = wire.task_record(spec, b"")
        task.state = TaskState.WAITING
        task.missing = sum(1 for d in task.deps if d not in state.objects)
        records.append(task)
    if not ids:
        raise QueryError("view 'explain' needs ids: object, task or actor ids to explain")
    if len(ids) > config.EXPLAIN_MAX_IDS:
        raise QueryError(f"at most {config.EXPLAIN_MAX_IDS} ids per explanation, got {len(ids)}")
    for some_id in ids:
        if len(some_id) not in (TASK_ID_BYTES, OBJECT_ID_BYTES):
            raise QueryError(
                f"{some_id.hex()!r} is neither an object id ({OBJECT_ID_BYTES} bytes) nor a task or actor id "
                f"({TASK_ID_BYTES} bytes)"
            )
    out = explain(state, ids, now=time.time(), parked=records)
    return {**out.as_dict(), "lines": out.lines()}
