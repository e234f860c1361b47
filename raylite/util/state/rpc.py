"""Asking the head for a state view (the GetStateView RPC), from any process.

The head to ask is, in order: the `address` given ("auto": the cluster started
on this machine), this process's own connection (after init(), or in a task),
RAYLITE_ADDRESS / RAY_ADDRESS, the cluster started on this machine. Each call
opens a channel of its own and closes it: state queries are rare and must
work from a process that never called init() (the CLI).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
from collections.abc import Sequence
from typing import Any

import grpc

from raylite import auth, config, session
from raylite.rpc import head_pb2, head_pb2_grpc
from raylite.util.state.exception import RayStateApiException

DEFAULT_TIMEOUT_S = 30
ADDRESS_VARIABLES = ("RAYLITE_ADDRESS", "RAY_ADDRESS")

NO_CLUSTER = (
    "no raylite cluster to ask: none was started on this machine (`raylite start --head` starts one), "
    "this process is not connected (raylite.init()), and RAYLITE_ADDRESS is not set"
)


class NoClusterError(ConnectionError):
    """No head could be found or reached; the text says how to start or name one."""


def head_of(address: str | None) -> tuple[str, str | None]:
    """(head address, token) for a query to `address` (see the module docstring)."""
    if address is None:
        from raylite.client import context

        client = context.peek()
        if client is not None:
            return client.head_address, client.token
        for name in ADDRESS_VARIABLES:
            if os.environ.get(name):
                address = os.environ[name]
                break
    if address is None or address == "auto":
        found = session.local_head_address()
        if found is None:
            raise NoClusterError(NO_CLUSTER)
        return found, auth.find_token()
    for prefix in ("raylite://", "ray://"):
        address = address.removeprefix(prefix)
    if ":" not in address:
        raise ValueError(f"address {address!r} should be host:port (for example 10.0.0.5:6380) or 'auto'")
    return address, auth.find_token()


def fetch(
    view: str,
    filters: Sequence[tuple[str, str, Any]] = (),
    limit: int = 0,
    detail: bool = False,
    address: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    ids: Sequence[bytes] = (),
) -> dict[str, Any]:
    """The head's answer to one state query, decoded (`ids`: of view "explain")."""
    head, token = head_of(address)
    request = head_pb2.StateViewRequest(
        protocol_version=config.PROTOCOL_VERSION, view=view, limit=max(0, int(limit)), detail=detail, ids=ids
    )
    for key, predicate, value in filters:
        request.filters.add(key=str(key), predicate=str(predicate), value=str(value))
    reply = _run(_ask(head, token, request, timeout))
    return json.loads(reply.json)


def _run(coro: Any) -> Any:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # called from inside an event loop (an async actor): run on a thread of its own
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _ask(
    head: str, token: str | None, request: head_pb2.StateViewRequest, timeout: float
) -> head_pb2.StateViewReply:
    channel = auth.channel(head, token)
    try:
        return await head_pb2_grpc.HeadServiceStub(channel).GetStateView(request, timeout=timeout)
    except grpc.aio.AioRpcError as exc:
        code = exc.code()
        if code == grpc.StatusCode.INVALID_ARGUMENT:
            raise RayStateApiException(exc.details()) from None
        if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            raise NoClusterError(
                f"no raylite head answers at {head} ({code.name}): is it running (`raylite status`), "
                "and is the address right?"
            ) from None
        if code == grpc.StatusCode.UNAUTHENTICATED:
            raise RayStateApiException(f"the head at {head} refused the query: {exc.details()}") from None
        if code == grpc.StatusCode.UNIMPLEMENTED:
            raise RayStateApiException(
                f"the head at {head} has no state API (an older raylite): install the same version everywhere"
            ) from None
        raise RayStateApiException(f"state query to {head} failed ({code.name}): {exc.details()}") from None
    finally:
        await channel.close()
