"""Frames of direct actor calls, shared by the caller (raylite/client/direct.py) and the
actor's call port (raylite/worker/call_port.py).

A frame is a 4-byte big-endian length, a 1-byte kind and a protobuf body, as on the
executor's socketpair (raylite/worker/protocol.py). `FrameReader` cuts frames out of
whatever the socket gave, and refuses one longer than MAX_FRAME (the connection is
then closed: a peer that sends it is broken or hostile).
"""

from __future__ import annotations

import math
import socket
import struct

HEADER = struct.Struct(">IB")
MAX_FRAME = 64 * 1024 * 1024  # a batch of calls is cut well below this (MAX_BATCH)
MAX_BATCH = 4 * 1024 * 1024  # the caller starts a new frame past this many bytes of calls

HELLO = ord("h")  # caller -> port: CallHello
CALLS = ord("c")  # caller -> port: CallBatch
REPLIES = ord("r")  # port -> caller: CallReplyBatch (the first one answers the hello)

KINDS_IN = (HELLO, CALLS)


class FrameError(ValueError):
    pass


def pack(kind: int, body: bytes) -> bytes:
    return HEADER.pack(len(body), kind) + body


class FrameReader:
    """Bytes in, whole frames out."""

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self._buf = bytearray()
        self._max = max_frame

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        buf = self._buf
        buf += data
        out: list[tuple[int, bytes]] = []
        start = 0
        size = HEADER.size
        while len(buf) - start >= size:
            length, kind = HEADER.unpack_from(buf, start)
            if length > self._max:
                raise FrameError(f"a frame of {length} bytes is over the limit of {self._max}")
            end = start + size + length
            if len(buf) < end:
                break
            out.append((kind, bytes(buf[start + size : end])))
            start = end
        if start:
            del buf[:start]
        return out


def liveness_options(bound_s: float) -> list[tuple[int, int, int]]:
    """(level, option, value) for a caller's socket, so that a call port whose host stops
    answering (a partition, a host that died without closing) breaks the connection within
    about `bound_s`, and the caller resends its unanswered calls through the head.

    The check is the kernel's, not a ping frame: the executor answers frames from its main
    thread, which a single-threaded actor's long call keeps busy, so a ping answered there
    would break the channel of every call longer than the bound. The peer's kernel answers
    TCP keepalive probes (sent only after `bound_s / 2` with no bytes either way, so a busy
    channel sends none) and acknowledges calls whatever the process does; TCP_USER_TIMEOUT
    bounds how long calls sent may stay unacknowledged (keepalive alone waits out the
    retransmissions, ~15 minutes). [] when `bound_s` is 0 or the platform lacks the options.
    """
    names = ("TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_KEEPCNT", "TCP_USER_TIMEOUT")
    if bound_s <= 0 or not all(hasattr(socket, n) for n in names):
        return []
    idle = max(1, int(bound_s / 2))
    interval = max(1, int(bound_s / 10))
    count = max(1, math.ceil((bound_s - idle) / interval))
    tcp = socket.IPPROTO_TCP
    return [
        (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1),
        (tcp, socket.TCP_KEEPIDLE, idle),
        (tcp, socket.TCP_KEEPINTVL, interval),
        (tcp, socket.TCP_KEEPCNT, count),
        (tcp, socket.TCP_USER_TIMEOUT, int(bound_s * 1000)),
    ]
