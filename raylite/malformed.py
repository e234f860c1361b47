"""Requests that do not parse: every raylite server answers them INVALID_ARGUMENT.

gRPC parses a request before the servicer sees it, and bytes that are not a
message of the method's type would end the call as UNKNOWN, with a traceback
in the daemon's log for each. `ParseCheck` (one interceptor on every server,
raylite/auth.py `server`) parses in the handler instead: a request that does
not parse ends that call with INVALID_ARGUMENT naming the message type, and
the daemon logs one line. Messages that parse are checked field by field by
each service (raylite/head/validate.py, raylite/worker/validate.py).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc

log = logging.getLogger("raylite")


class ParseCheck(grpc.aio.ServerInterceptor):
    async def intercept_service(self, continuation: Callable[..., Any], details: grpc.HandlerCallDetails) -> Any:
        handler = await continuation(details)
        if handler is None or handler.request_deserializer is None:
            return handler
        return _parsing(handler, details.method)


def _parsing(handler: Any, method: str) -> Any:
    """The handler, taking raw bytes and parsing them itself."""
    parse = handler.request_deserializer

    async def parsed(raw: bytes, context: grpc.aio.ServicerContext) -> Any:
        try:
            return parse(raw)
        except Exception as exc:  # noqa: BLE001 - whatever the parser raises, the bytes are at fault
            why = f"{method}: the request is not a valid message of this method ({type(exc).__name__}: {exc})"
            log.warning("refused a request from %s: %s", context.peer(), why)
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, why)

    async def parsed_stream(raws: AsyncIterator[bytes], context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        async for raw in raws:
            yield await parsed(raw, context)

    async def parsed_iterator(raws: AsyncIterator[bytes], context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        return parsed_stream(raws, context)

    convert = parsed_iterator if handler.request_streaming else parsed
    if handler.request_streaming:
        behaviour = handler.stream_stream if handler.response_streaming else handler.stream_unary
        make = (
            grpc.stream_stream_rpc_method_handler
            if handler.response_streaming
            else grpc.stream_unary_rpc_method_handler
        )
    else:
        behaviour = handler.unary_stream if handler.response_streaming else handler.unary_unary
        make = (
            grpc.unary_stream_rpc_method_handler if handler.response_streaming else grpc.unary_unary_rpc_method_handler
        )
    return make(
        _same_kind(behaviour, convert),
        request_deserializer=None,
        response_serializer=handler.response_serializer,
    )


def _same_kind(behaviour: Callable[..., Any], convert: Callable[..., Any]) -> Callable[..., Any]:
    """Calls behaviour with convert(request); a coroutine or an async generator as
    behaviour is, since gRPC tells how to run a handler by its kind."""
    if inspect.isasyncgenfunction(behaviour):

        async def stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            async for reply in behaviour(await convert(request, context), context):
                yield reply

        return stream

    async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await behaviour(await convert(request, context), context)

    return call
