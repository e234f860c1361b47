"""The GetStateView RPC: decode the request, run the query, reply with JSON."""

from __future__ import annotations

import json

import grpc

from raylite import config
from raylite.head.dashboard.query import QueryError, query
from raylite.head.state import HeadState
from raylite.rpc import head_pb2

MAX_FILTERS = 64


def answer(state: HeadState, request: head_pb2.StateViewRequest, dashboard_url: str = "") -> str:
    """The reply's JSON; QueryError for a request no answer fits. The status view also
    says where the dashboard is."""
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
