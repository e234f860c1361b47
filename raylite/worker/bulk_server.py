"""The worker daemon's bulk port: objects' bytes to readers that hold a one-time ticket.

The port is opened at start on the host of the gRPC port and told to readers in
each BulkTicket reply. The event loop only accepts; each connection is served
by a thread of a small pool (TLS handshake, hello, sendfile), so the loop never
blocks on a large send. A connection whose hello is malformed, or whose ticket
is unknown, used, expired or for another object, is closed without a byte of
the object read or sent (raylite/worker/state/tickets.py decides).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import socket
import ssl
import threading
import time

from raylite import bulk, config, store, tls
from raylite.worker.node_metrics import NodeMetrics
from raylite.worker.object_store import NodeStore
from raylite.worker.state.tickets import Refused, TicketBook

log = logging.getLogger("raylite.worker")


class BulkServer:
    def __init__(self, node_store: NodeStore, tls_material: tls.Material | None) -> None:
        self.node_store = node_store
        self.tls_material = tls_material
        self.book = TicketBook(config.BULK_TICKET_TTL_S)
        self._lock = threading.Lock()  # the book is used by the loop (issue) and the pool (redeem)
        self._pool = concurrent.futures.ThreadPoolExecutor(config.BULK_SERVE_THREADS, thread_name_prefix="bulk-send")
        self._sock: socket.socket | None = None
        self._accepting: asyncio.Task[None] | None = None
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
        with self._lock:
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
            self._pool.submit(self._serve, conn, peer)

    def _serve(self, conn: socket.socket, peer: object) -> None:
        try:
            conn.setblocking(True)
            conn.settimeout(config.BULK_HELLO_TIMEOUT_S)
            if self.tls_material is not None:
                conn = bulk.ssl_context(self.tls_material, True).wrap_socket(conn, server_side=True)
            self._answer(conn, peer)
        except (OSError, ssl.SSLError) as exc:
            log.info("bulk connection from %s ended: %s", peer, exc)
        except Exception:  # a bug here must not kill the pool's thread silently
            log.exception("bulk connection from %s failed", peer)
        finally:
            conn.close()

    def _answer(self, conn: socket.socket, peer: object) -> None:
        hello = bulk.decode_hello(bulk.recv_exactly(conn, bulk.HELLO_BYTES))
        if isinstance(hello, str):
            log.warning("bulk port: refused a connection from %s: %s", peer, hello)
            return
        with self._lock:
            verdict = self.book.redeem(hello.ticket, hello.object_id, time.monotonic())
        if isinstance(verdict, Refused):
            log.warning("bulk port: refused a connection from %s: %s", peer, verdict.reason)
            return
        opened = self._open(hello.object_id)
        if opened is None:
            log.warning("bulk port: object %s asked by %s is no longer here", hello.object_id.hex(), peer)
            return
        fd, base, size, pin = opened
        try:
            if hello.offset + hello.length > size:
                log.warning(
                    "bulk port: refused %s: bytes %d-%d asked of object %s, which has %d",
                    peer,
                    hello.offset,
                    hello.offset + hello.length,
                    hello.object_id.hex(),
                    size,
                )
                return
            conn.settimeout(config.BULK_IDLE_TIMEOUT_S)
            bulk.send_range(conn, fd, base + hello.offset, hello.length)
            if self.metrics is not None and self._loop is not None:  # NodeMetrics lives on the loop
                self._loop.call_soon_threadsafe(self.metrics.sent, hello.length)
        finally:
            os.close(fd)
            del pin  # an arena object's range may be freed again once this view is gone

    def _open(self, object_id: bytes) -> tuple[int, int, int, memoryview | None] | None:
        """(fd, where the object starts in it, its size, the pin that keeps an arena range from reuse):
        a file of its own (spilled, or too big for any hole) or the arena with the object pinned.
        Once open (or pinned), the bytes stay readable even if the object is freed or spilled meanwhile."""
        for _ in range(2):  # a spill or restore may move it between the look and the open
            path = self.node_store.readable_path(object_id)
            if path is None:
                return None
            try:
                where = store.locate(path)
                if where is None:
                    fd = os.open(path, os.O_RDONLY)
                    return fd, 0, os.fstat(fd).st_size, None
                pin = store.map_path(path)  # pins the range while this view lives
                return os.dup(store.handle(os.path.dirname(path)).fd), where[0], where[1], pin
            except FileNotFoundError:
                continue
        return None

    async def close(self) -> None:
        if self._accepting is not None:
            self._accepting.cancel()
        if self._sock is not None:
            self._sock.close()
        self._pool.shutdown(wait=False, cancel_futures=True)
