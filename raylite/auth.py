"""The cluster token: no RPC is served without it.

Every daemon's server checks the `raylite-token` metadata of each call in
constant time and refuses a missing or wrong token with UNAUTHENTICATED. Every
channel raylite opens (client to head, daemon to head, node to node) adds the
token to each call. Where the token comes from is raylite/tokens.py (no grpc,
so an executor can read it at start); an embedded cluster (`init()` with no
address) makes its own.

Every channel and listening port is made here: with TLS when this process has
certificates (raylite/tls.py), in plaintext otherwise. Daemons pass their TLS
material explicitly; clients and executors take it from their environment.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

import grpc

from raylite import config, tls
from raylite.malformed import ParseCheck

# the token itself, for the callers that name these here (raylite/tokens.py has no grpc)
from raylite.tokens import (  # noqa: F401
    ENV,
    HOW_TO_PASS,
    METADATA_KEY,
    call_metadata,
    find_token,
    new_token,
    token_file,
    write_token_file,
)

# ---- servers ---------------------------------------------------------------


class TokenCheck(grpc.aio.ServerInterceptor):
    """Refuses every call whose token is missing or wrong."""

    def __init__(self, token: str) -> None:
        self._token = token.encode()

    async def intercept_service(self, continuation: Callable[..., Any], details: grpc.HandlerCallDetails) -> Any:
        presented = ""
        for key, value in details.invocation_metadata or ():
            if key == METADATA_KEY:
                presented = value if isinstance(value, str) else value.decode(errors="replace")
        if hmac.compare_digest(presented.encode(), self._token):
            return await continuation(details)
        handler = await continuation(details)
        return _refusal(handler, "missing token" if not presented else "wrong token")


def _refusal(handler: Any, why: str) -> Any:
    message = f"raylite refused the call ({why}): {HOW_TO_PASS}"

    # A plain coroutine serves every kind of call (streaming ones write nothing).
    # It ends the call with a status rather than abort(): aborting a stream while
    # the client's first message is in flight has come back as INTERNAL.
    async def refuse(request: Any, context: grpc.aio.ServicerContext) -> None:
        context.set_code(grpc.StatusCode.UNAUTHENTICATED)
        context.set_details(message)

    if handler is None:
        return None
    kwargs = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(refuse, **kwargs)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(refuse, **kwargs)
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(refuse, **kwargs)
    return grpc.unary_unary_rpc_method_handler(refuse, **kwargs)


def server(token: str) -> grpc.aio.Server:
    return grpc.aio.server(options=config.SERVER_OPTIONS, interceptors=[TokenCheck(token), ParseCheck()])


def listen(server: grpc.aio.Server, host: str, port: int, tls_material: tls.Choice = tls.FROM_ENV) -> int:
    """Opens the server's port, with TLS when this process has certificates; returns the port (0: failed)."""
    material = tls.chosen(tls_material)
    if material is None:
        return server.add_insecure_port(f"{host}:{port}")
    return server.add_secure_port(f"{host}:{port}", tls.server_credentials(material))


# ---- channels --------------------------------------------------------------


# One interceptor per call kind: gRPC files each interceptor under the first
# kind it is an instance of, so one class for all four would cover unary calls only.
#
# Stream-stream calls (ClientStream, NodeStream: every batch of the hot path)
# get no interceptor: gRPC's intercepted stream-stream call passes each write
# through a queue, an extra task and asyncio.wait, several loop round trips per
# message. Those calls pass the token themselves (`call_metadata()`); one that
# forgets is refused UNAUTHENTICATED by the server at once.


class _TokenDetails:
    def __init__(self, token: str) -> None:
        self._pair = (METADATA_KEY, token)

    def _details(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        metadata = grpc.aio.Metadata(*(details.metadata or ()))
        metadata.add(*self._pair)
        return details._replace(metadata=metadata)


class _UnaryUnary(_TokenDetails, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation, details, request):
        return await continuation(self._details(details), request)


class _UnaryStream(_TokenDetails, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation, details, request):
        return await continuation(self._details(details), request)


class _StreamUnary(_TokenDetails, grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(self, continuation, details, request_iterator):
        return await continuation(self._details(details), request_iterator)


def channel(address: str, token: str | None, tls_material: tls.Choice = tls.FROM_ENV) -> grpc.aio.Channel:
    """A channel whose unary-unary, unary-stream and stream-unary calls present the
    token: over TLS when this process has certificates, else in plaintext.
    Stream-stream calls pass `call_metadata(token)` themselves (see above)."""
    kinds = (_UnaryUnary, _UnaryStream, _StreamUnary)
    interceptors = [kind(token) for kind in kinds] if token else None
    material = tls.chosen(tls_material)
    if material is None:
        return grpc.aio.insecure_channel(address, options=config.CHANNEL_OPTIONS, interceptors=interceptors)
    credentials = tls.channel_credentials(material)
    return grpc.aio.secure_channel(address, credentials, options=config.CHANNEL_OPTIONS, interceptors=interceptors)


async def connection_error(channel: grpc.aio.Channel, tls_material: tls.Choice = tls.FROM_ENV) -> str | None:
    """Why the channel cannot connect, in words, when TLS is the likely cause.

    A call made with wait_for_ready that runs out of time says only "Deadline
    Exceeded"; one made without it fails at once with the connection's last
    error, which names a failed handshake.
    """
    probe = channel.unary_unary("/raylite.Probe/Connect", request_serializer=None, response_deserializer=None)
    try:
        await probe(b"", timeout=config.CONNECT_TIMEOUT_S)
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.UNAVAILABLE:
            return tls.diagnose(exc.details() or "", using_tls=tls.chosen(tls_material) is not None)
    return None
