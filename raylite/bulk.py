"""The bulk path: an object's bytes over a plain TCP (or TLS) connection, not gRPC messages.

A reader asks the holder for one-time tickets over gRPC (the BulkTicket rpc, which
checks the cluster token like every rpc), connects to the holder's bulk port,
sends a hello (magic, ticket, object id, byte range) and reads the range
straight into its destination (`recv_into` a writable view of the store, or of
a buffer): no bytes object per chunk, no protobuf. The holder's side is
raylite/worker/bulk_server.py; it sends from the object's file with sendfile
(plain) or from a map of it (TLS), and closes a connection whose hello or
ticket is not good without sending anything.

With TLS on (raylite/tls.py), both ends use the cluster's certificates, mutual,
and the reader checks that the holder's certificate names the host it dialed,
as gRPC does.

Everything here blocks: callers run it in a thread, never on an event loop.
"""

from __future__ import annotations

import functools
import mmap
import os
import secrets
import socket
import ssl
import struct
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass

from raylite import pages, tls
from raylite.ids import OBJECT_ID_BYTES

MAGIC = b"RLB1"
TICKET_BYTES = 32
_HELLO = struct.Struct(f"!4s{TICKET_BYTES}s{OBJECT_ID_BYTES}sQQ")
HELLO_BYTES = _HELLO.size
# TLS reads and writes are cut to this
_STEP = 4 << 20
# a plain receive asks for this much at once (MSG_WAITALL): one pages.STEP, so each call waits for one
# step of the receiver's mapping ahead (raylite/pages.py), and 32 calls (GIL takes) move 1 GiB
_WAITALL_STEP = pages.STEP
# one sendfile call moves at most this (Linux stops a call at 2 GiB - 4 KiB anyway)
_SENDFILE_MAX = 1 << 30


class BulkError(ConnectionError):
    """A bulk connection did not deliver its range: refused, cut, or short."""


@dataclass(frozen=True)
class Hello:
    ticket: bytes
    object_id: bytes
    offset: int
    length: int


def new_ticket() -> bytes:
    return secrets.token_bytes(TICKET_BYTES)


def encode_hello(hello: Hello) -> bytes:
    return _HELLO.pack(MAGIC, hello.ticket, hello.object_id, hello.offset, hello.length)


def decode_hello(data: bytes) -> Hello | str:
    """The hello a connection sent, or why it is not one."""
    if len(data) != HELLO_BYTES:
        return f"a hello of {HELLO_BYTES} bytes was expected, got {len(data)} bytes"
    magic, ticket, object_id, offset, length = _HELLO.unpack(data)
    if magic != MAGIC:
        return f"not a raylite bulk hello (magic {magic!r})"
    if length == 0:
        return "an empty byte range was asked for"
    return Hello(ticket, object_id, offset, length)


def ranges(size: int, parts: int, min_part: int) -> list[tuple[int, int]]:
    """(offset, length) of up to `parts` consecutive ranges covering size bytes, none under min_part
    (except a lone one), boundaries on 64 KiB."""
    parts = max(1, min(parts, size // max(min_part, 1)))
    step = -(-size // parts)
    step = -(-step // 65536) * 65536
    return [(off, min(step, size - off)) for off in range(0, size, step)] or [(0, size)]


def set_timeouts(sock: socket.socket, timeout_s: float) -> None:
    """Every wait of a send or receive on sock ends after timeout_s without progress.

    A plain socket stays in blocking mode and the kernel keeps the time (SO_RCVTIMEO, SO_SNDTIMEO):
    a sendfile of a whole range, or a MSG_WAITALL receive of a step, is then one system call that
    sleeps in the kernel until done. With Python's own timeout (settimeout) the socket is non-blocking
    underneath and each call returns whatever the socket buffer held, after a poll(): hundreds of
    calls per GiB, each taking the GIL back from the daemon's event loop (docs/performance.md,
    "One system call per step"). A TLS socket keeps settimeout: ssl needs it, and takes no flags.
    """
    if isinstance(sock, ssl.SSLSocket):
        sock.settimeout(timeout_s)
        return
    sock.settimeout(None)
    whole = int(timeout_s)
    timeval = struct.pack("@ll", whole, int((timeout_s - whole) * 1_000_000))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)


def split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


# ---- TLS -------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def ssl_context(material: tls.Material, server_side: bool) -> ssl.SSLContext:
    """Mutual TLS with the cluster's CA, as raylite/auth.py's gRPC ports and channels use."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server_side else ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cadata=material.ca.decode())
    _load_chain(ctx, material)
    return ctx


def _load_chain(ctx: ssl.SSLContext, material: tls.Material) -> None:
    # ssl loads a certificate and key only from a file: an anonymous one, so the key
    # never lands on a disk
    pem = material.cert + b"\n" + material.key
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("raylite-tls", os.MFD_CLOEXEC)
        try:
            os.write(fd, pem)
            ctx.load_cert_chain(f"/proc/self/fd/{fd}")
        finally:
            os.close(fd)
        return
    with tempfile.NamedTemporaryFile() as f:  # created 0600
        f.write(pem)
        f.flush()
        ctx.load_cert_chain(f.name)


# ---- the reader's side -----------------------------------------------------


def receive(
    address: str,
    port: int,
    hello: Hello,
    into: memoryview,
    material: tls.Material | None,
    timeout_s: float,
    on_bytes: Callable[[int], None] | None = None,
    prefault: bool = False,
) -> None:
    """Reads hello's range from the holder at address's host into `into` (hello.length bytes).

    Each connect, handshake and read may take timeout_s at most; raises BulkError
    (or OSError, ssl.SSLError) when the range does not arrive whole. prefault: `into`'s
    pages are not mapped yet; a thread maps them ahead of the reads (raylite/pages.py).
    """
    host, _ = split_address(address)
    where = f"{host}:{port}"
    raw = socket.create_connection((host, port), timeout=timeout_s)
    try:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock = ssl_context(material, False).wrap_socket(raw, server_hostname=host) if material else raw
        with sock:
            set_timeouts(sock, timeout_s)
            sock.sendall(encode_hello(hello))
            ahead = pages.Prefault(into) if prefault else None
            try:
                _fill(sock, into, where, hello, on_bytes, ahead, timeout_s)
            finally:
                if ahead is not None:
                    ahead.close()
    finally:
        raw.close()


def _fill(
    sock: socket.socket,
    into: memoryview,
    where: str,
    hello: Hello,
    on_bytes: Callable[[int], None] | None,
    ahead: pages.Prefault | None,
    timeout_s: float,
) -> None:
    plain = not isinstance(sock, ssl.SSLSocket)
    step, flags = (_WAITALL_STEP, socket.MSG_WAITALL) if plain else (_STEP, 0)
    total, pos = into.nbytes, 0
    while pos < total:
        end = min(total, pos + step)
        if ahead is not None:
            ahead.ready(end)
        try:
            got = sock.recv_into(into[pos:end], end - pos, flags)
        except BlockingIOError:  # SO_RCVTIMEO ran out with no byte come (set_timeouts)
            raise BulkError(
                f"the bulk connection to {where} for object {hello.object_id.hex()} timed out: no byte for "
                f"{timeout_s}s after {pos} of {total} bytes (range at {hello.offset})"
            ) from None
        if got == 0:
            what = "refused the ticket or lost the object" if pos == 0 else "was cut"
            raise BulkError(
                f"the bulk connection to {where} for object {hello.object_id.hex()} {what}: "
                f"{pos} of {total} bytes (range at {hello.offset}) arrived"
            )
        pos += got
        if on_bytes is not None:
            on_bytes(got)


def receive_all(
    address: str,
    port: int,
    tickets: list[bytes],
    object_id: bytes,
    into: memoryview,
    material: tls.Material | None,
    timeout_s: float,
    min_part: int,
    on_bytes: Callable[[int], None] | None = None,
    prefault: bool = False,
) -> None:
    """Reads the whole object into `into`, one range per ticket on connections of their own;
    on_bytes(n) is told of every n bytes that arrive (from the receiving threads: progress only);
    prefault as for receive()."""
    parts = ranges(into.nbytes, len(tickets), min_part)
    errors: list[BaseException] = []

    def one(i: int) -> None:
        off, length = parts[i]
        try:
            receive(
                address,
                port,
                Hello(tickets[i], object_id, off, length),
                into[off : off + length],
                material,
                timeout_s,
                on_bytes,
                prefault,
            )
        except BaseException as exc:  # reported by the caller's thread
            errors.append(exc)

    helpers = [threading.Thread(target=one, args=(i,), name="bulk-recv", daemon=True) for i in range(1, len(parts))]
    for t in helpers:
        t.start()
    one(0)
    for t in helpers:
        t.join()
    if errors:
        raise errors[0]


# ---- the holder's side -----------------------------------------------------


def recv_exactly(sock: socket.socket, n: int) -> bytes:
    """n bytes, or fewer if the peer closed first (the hello: small, so a bytes object is fine)."""
    buf = bytearray(n)
    view, pos = memoryview(buf), 0
    while pos < n:
        got = sock.recv_into(view[pos:], n - pos)
        if got == 0:
            break
        pos += got
    return bytes(buf[:pos])


def send_range(sock: socket.socket, fd: int, offset: int, length: int) -> None:
    """Sends bytes [offset, offset+length) of the file fd: sendfile on a plain socket (no copy through
    user space), a map's views on a TLS one (no copy into Python bytes). The socket's timeouts are
    set_timeouts()'s."""
    if not isinstance(sock, ssl.SSLSocket):
        # os.sendfile on the blocking socket: one call sleeps in the kernel until the range is sent
        # (socket.sendfile would poll and call again each time the buffer has room)
        out, sent = sock.fileno(), 0
        while sent < length:
            try:
                n = os.sendfile(out, fd, offset + sent, min(length - sent, _SENDFILE_MAX))
            except BlockingIOError:  # SO_SNDTIMEO ran out with no byte taken: the reader stopped reading
                raise TimeoutError(
                    f"the reader took no byte for the socket's timeout after {sent} of {length}"
                ) from None
            if n == 0:
                raise BulkError(f"the object's file ended after {sent} of the {length} bytes asked for at {offset}")
            sent += n
        return
    start = offset - offset % mmap.ALLOCATIONGRANULARITY
    with mmap.mmap(fd, offset + length - start, prot=mmap.PROT_READ, offset=start) as mapped:
        view = memoryview(mapped)
        try:
            pos, end = offset - start, offset - start + length
            while pos < end:
                piece = view[pos : min(end, pos + _STEP)]
                sock.sendall(piece)
                piece.release()
                pos += _STEP
        finally:
            view.release()
