"""The worker daemon's bulk port: objects' bytes to readers that hold a one-time ticket.

The port is opened at start on the host of the gRPC port and told to readers in
each BulkTicket reply. The event loop accepts each connection and greets it: the
TLS handshake (when the cluster has certificates) and the hello, on non-blocking
sockets, under one deadline (`config.BULK_HELLO_TIMEOUT_S`); then it redeems the
ticket and opens (pins) the object. Only a connection that passed all that is
handed to a thread of a small pool, which does the one blocking thing, the send
(sendfile, or a map's views under TLS). So an idle or slow client holds a
socket and a small coroutine until its deadline, never a thread: it cannot
starve real transfers (tests/multihost/test_bulk_multihost.py opens more idle
connections than there are threads). At most `config.BULK_MAX_GREETING`
connections are greeted at once; past that the oldest is dropped, so a flood of
connections cannot exhaust descriptors either.

A connection whose hello is malformed, or whose ticket is unknown, used, expired
or for another object, is closed without a byte of the object read or sent
(raylite/worker/state/tickets.py decides).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import os
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from raylite import bulk, config, store, tls
from raylite.worker.node_metrics import NodeMetrics
from raylite.worker.object_store import NodeStore
from raylite.worker.state.tickets import Refused, TicketBook

log = logging.getLogger("raylite.worker")
T = TypeVar("T")


@dataclass
class _Opened:
    """An object's bytes as the send needs them; they stay readable while this lives."""

    fd: int
    base: int  # where the object starts in fd
    size: int
    pin: memoryview | None  # keeps an arena range from reuse while it is sent

    def close(self) -> None:
        os.close(self.fd)
        if self.pin is not None:
            self.pin.release()
            self.pin = None


class BulkServer:
    def __init__(self, node_store: NodeStore, tls_material: tls.Material | None) -> None:
        self.node_store = node_store
        self.tls_material = tls_material
        self.book = TicketBook(config.BULK_TICKET_TTL_S)  # used on the loop only
        self._pool = concurrent.futures.ThreadPoolExecutor(config.BULK_SERVE_THREADS, thread_name_prefix="bulk-send")
        self._sock: socket.socket | None = None
        self._accepting: asyncio.Task[None] | None = None
        self._greeting: dict[asyncio.Task[None], None] = {}  # in the order accepted
        self.port = 0
        self.metrics: NodeMetrics | None = None  # counts the bytes sent (raylite/worker/node_metrics.py)
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self, host: str) -> int:
        """Listens on host (port chosen by the kernel) and starts accepting; returns the port."""
        if self.tls_material is not None:
            bulk.ssl_context(self.tls_material, True)  # bad material fails the start, not a transfer
        self._sock = socket.create_server((host, 0), backlog=128)
        self._sock.setblocking(False)
        self.port = self._sock.getsockname()[1]
        self._loop = asyncio.get_running_loop()
        self._accepting = self._loop.create_task(self._accept())
        return self.port

    def issue(self, object_id: bytes, count: int) -> list[bytes]:
        tickets = [bulk.new_ticket() for _ in range(count)]
        now = time.monotonic()
        for ticket in tickets:
            self.book.issue(ticket, object_id, now)
        log.info("bulk: issued %d ticket(s) for object %s", count, object_id.hex())
        return tickets

    async def _accept(self) -> None:
        assert self._sock is not None
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, peer = await loop.sock_accept(self._sock)
            except OSError as exc:  # out of file descriptors, or a connection reset before accept
                log.warning("bulk port: accept failed: %s", exc)
                await asyncio.sleep(0.1)
                continue
            if len(self._greeting) >= config.BULK_MAX_GREETING:
                oldest = next(iter(self._greeting))
                log.warning("bulk port: %d connections sent no hello yet; dropping the oldest", len(self._greeting))
                oldest.cancel()
                self._greeting.pop(oldest, None)
            task = loop.create_task(self._greet(conn, peer))
            self._greeting[task] = None
            task.add_done_callback(lambda t: self._greeting.pop(t, None))

    async def _greet(self, conn: socket.socket, peer: object) -> None:
        """Handshake, hello, ticket and object on the loop; the send, if all is good, in a thread."""
        handed = False
        sock: socket.socket = conn
        try:
            conn.setblocking(False)
            async with asyncio.timeout(config.BULK_HELLO_TIMEOUT_S):
                if self.tls_material is not None:
                    sock = bulk.ssl_context(self.tls_material, True).wrap_socket(
                        conn, server_side=True, do_handshake_on_connect=False
                    )
                    await _io(sock, sock.do_handshake)
                data = await _recv_exactly(sock, bulk.HELLO_BYTES)
            job = self._admit(data, peer)
            if job is not None:
                hello, opened = job
                try:
                    self._pool.submit(self._send, sock, peer, hello, opened)
                    handed = True
                except RuntimeError:  # the pool is shut down: the daemon is stopping
                    opened.close()
        except TimeoutError:
            log.info("bulk connection from %s sent no hello within %ss", peer, config.BULK_HELLO_TIMEOUT_S)
        except (OSError, ssl.SSLError) as exc:
            log.info("bulk connection from %s ended: %s", peer, exc)
        finally:
            if not handed:
                sock.close()

    def _admit(self, data: bytes, peer: object) -> tuple[bulk.Hello, _Opened] | None:
        """The hello, if it is good, with its object opened; None (logged) if the connection is refused."""
        hello = bulk.decode_hello(data)
        if isinstance(hello, str):
            log.warning("bulk port: refused a connection from %s: %s", peer, hello)
            return None
        verdict = self.book.redeem(hello.ticket, hello.object_id, time.monotonic())
        if isinstance(verdict, Refused):
            log.warning("bulk port: refused a connection from %s: %s", peer, verdict.reason)
            return None
        opened = self._open(hello.object_id)
        if opened is None:
            log.warning("bulk port: object %s asked by %s is no longer here", hello.object_id.hex(), peer)
            return None
        if hello.offset + hello.length > opened.size:
            log.warning(
                "bulk port: refused %s: bytes %d-%d asked of object %s, which has %d",
                peer,
                hello.offset,
                hello.offset + hello.length,
                hello.object_id.hex(),
                opened.size,
            )
            opened.close()
            return None
        return hello, opened

    def _send(self, sock: socket.socket, peer: object, hello: bulk.Hello, opened: _Opened) -> None:
        """(a thread of the pool) Sends the range asked for, then closes the connection."""
        try:
            bulk.set_timeouts(sock, config.BULK_IDLE_TIMEOUT_S)
            bulk.send_range(sock, opened.fd, opened.base + hello.offset, hello.length)
            if self.metrics is not None and self._loop is not None:  # NodeMetrics lives on the loop
                self._loop.call_soon_threadsafe(self.metrics.sent, hello.length)
        except (OSError, ssl.SSLError) as exc:
            log.info("bulk connection from %s ended: %s", peer, exc)
        except Exception:  # a bug here must not kill the pool's thread silently
            log.exception("bulk connection from %s failed", peer)
        finally:
            sock.close()
            opened.close()  # an arena object's range may be freed again once its pin is gone

    def _open(self, object_id: bytes) -> _Opened | None:
        """The object's bytes: a file of its own (spilled, or too big for any hole) or its range of
        the arena, pinned. Once open (or pinned), the bytes stay readable even if the object is
        freed or spilled meanwhile."""
        for _ in range(2):  # a spill or restore may move it between the look and the open
            path = self.node_store.readable_path(object_id)
            if path is None:
                return None
            try:
                where = store.locate(path)
                if where is None:
                    fd = os.open(path, os.O_RDONLY)
                    return _Opened(fd, 0, os.fstat(fd).st_size, None)
                pin = store.map_path(path)  # pins the range while this view lives
                return _Opened(os.dup(store.handle(os.path.dirname(path)).fd), where[0], where[1], pin)
            except FileNotFoundError:
                continue
        return None

    async def close(self) -> None:
        if self._accepting is not None:
            self._accepting.cancel()
        for task in list(self._greeting):
            task.cancel()
        if self._sock is not None:
            self._sock.close()
        self._pool.shutdown(wait=False, cancel_futures=True)


async def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    """n bytes from a non-blocking socket (plain or TLS), or fewer if the peer closed first."""
    buf = bytearray(n)
    view, pos = memoryview(buf), 0
    while pos < n:
        got = await _io(sock, functools.partial(sock.recv_into, view[pos:], n - pos))
        if got == 0:
            break
        pos += got
    return bytes(buf[:pos])


async def _io(sock: socket.socket, call: Callable[[], T]) -> T:
    """call() on a non-blocking socket, waiting for the loop to see it readable or writable as it asks."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            return call()
        except (BlockingIOError, ssl.SSLWantReadError):
            await _ready(loop, sock, loop.add_reader, loop.remove_reader)
        except ssl.SSLWantWriteError:
            await _ready(loop, sock, loop.add_writer, loop.remove_writer)


async def _ready(
    loop: asyncio.AbstractEventLoop,
    sock: socket.socket,
    add: Callable[..., object],
    remove: Callable[[int], object],
) -> None:
    fd = sock.fileno()
    ready = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    add(fd, wake)
    try:
        await ready
    finally:
        remove(fd)
