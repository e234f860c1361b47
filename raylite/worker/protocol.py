"""Frames between a worker daemon and its executor processes (socketpairs).

Each frame is a 4-byte big-endian length, a 1-byte kind and a body. Bodies are
serialized protobuf messages, so the daemon forwards them without re-encoding.

Each executor has two sockets: the task socket (tasks in, results out), read
by its main thread between tasks, and the control socket (cancels in), read
by a thread of its own at any time, since the main thread is busy running
the very task a cancel names.
"""

from __future__ import annotations

import socket
import struct

HEADER = struct.Struct(">IB")

# daemon -> executor
TASK = ord("T")  # body: TaskAssignment
EXIT = ord("X")  # body: empty; finish and exit
CANCEL = ord("C")  # control socket; body: a task id to stop (raylite/worker/cancels.py)
# executor -> daemon
HELLO = ord("H")  # body: the executor's pid, ascii
RESULT = ord("R")  # body: TaskResult, for the daemon to forward to the head
DONE = ord("D")  # body: task id; the executor sent the TaskResult to the head itself
SETUP_FAILED = ord("F")  # body: why, utf-8; instead of HELLO: its runtime environment cannot be set up
EXITING = ord("E")  # body: why, utf-8; the actor this executor hosts ends on purpose (it exits next)
# body: host:port, utf-8; the actor it hosts opened its call port (direct calls): the daemon tells
# a restarted head in its resume hello, so that callers keep calling direct (LiveActor.call_address)
CALL_PORT = ord("P")


def pack(kind: int, body: bytes) -> bytes:
    return HEADER.pack(len(body), kind) + body


class BlockingChannel:
    """The executor's end: blocking reads, whole-frame writes."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def send(self, kind: int, body: bytes) -> None:
        self.sock.sendall(pack(kind, body))

    def recv(self) -> tuple[int, bytes] | None:
        header = self._exactly(HEADER.size)
        if header is None:
            return None
        length, kind = HEADER.unpack(header)
        body = self._exactly(length)
        if body is None:
            return None
        return kind, body

    def _exactly(self, n: int) -> bytes | None:
        buf = bytearray(n)
        view = memoryview(buf)
        got = 0
        while got < n:
            k = self.sock.recv_into(view[got:])
            if k == 0:
                return None
            got += k
        return bytes(buf)
