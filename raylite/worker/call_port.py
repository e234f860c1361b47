"""An actor executor's call port: callers send it calls directly (docs/design-direct-calls.md (a)).

A TCP listener on the node's address (port 0), with TLS when the executor has the
cluster's TLS material, served by the executor's main thread from the same select()
that reads its daemon's socket (raylite/worker/actor_host.py: Inbox): no thread per
connection or call. Each connection must open with a CallHello carrying the cluster
token (compared in constant time), this actor's id and the life of it the caller
located; anything else gets a CallRefused and the connection is closed without
running anything. A frame that does not parse, or one over call_wire.MAX_FRAME,
closes that connection only.

Replies go back from whichever thread finished the call (main thread, a thread
group's thread, the async actor's loop), one whole frame at a time under the
connection's lock.
"""

from __future__ import annotations

import hmac
import logging
import socket
import ssl
import threading
from dataclasses import dataclass, field

from google.protobuf.message import DecodeError

from raylite import call_wire, config, tls
from raylite.rpc import calls_pb2
from raylite.worker import validate

log = logging.getLogger("raylite")

HANDSHAKE_TIMEOUT_S = 5.0


@dataclass(eq=False)
class Connection:
    sock: socket.socket
    reader: call_wire.FrameReader = field(default_factory=call_wire.FrameReader)
    lock: threading.Lock = field(default_factory=threading.Lock)
    caller: bytes = b""  # set by an accepted hello
    closed: bool = False

    def send(self, kind: int, body: bytes) -> bool:
        with self.lock:
            if self.closed:
                return False
            try:
                self.sock.sendall(call_wire.pack(kind, body))
                return True
            except OSError:
                return False  # the caller resends what it has no answer for


@dataclass
class Hello:
    conn: Connection
    caller: bytes
    first_unanswered: int


@dataclass
class Calls:
    conn: Connection
    batch: calls_pb2.CallBatch


@dataclass
class Closed:
    conn: Connection


Event = Hello | Calls | Closed


def server_context(paths: tls.Paths) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(paths.cert, paths.key)
    ctx.load_verify_locations(paths.ca)
    ctx.verify_mode = ssl.CERT_REQUIRED  # the cluster's CA signed the caller, as on every gRPC port
    return ctx


class CallPort:
    def __init__(
        self, host: str, token: str | None, actor_id: bytes, incarnation: int, tls_paths: tls.Paths | None
    ) -> None:
        self.token = (token or "").encode()
        self.actor_id = actor_id
        self.incarnation = incarnation
        self.ssl = server_context(tls_paths) if tls_paths is not None else None
        self.listener = socket.create_server((host, 0), backlog=64)
        self.listener.setblocking(False)
        self.address = f"{host}:{self.listener.getsockname()[1]}"
        self.conns: dict[socket.socket, Connection] = {}
        self._sockets: list[socket.socket] | None = None  # sockets(), made again after a change of conns
        self._closed: list[Closed] = []  # connections closed since readable() last returned
        self._refusals_logged = 0

    def sockets(self) -> list[socket.socket]:
        """The listener and the connections: the same list object until one opens or closes."""
        if self._sockets is None:
            self._sockets = [self.listener, *self.conns]
        return self._sockets

    def buffered(self) -> list[socket.socket]:
        """TLS connections holding decrypted bytes select() cannot see."""
        return [s for s in self.conns if isinstance(s, ssl.SSLSocket) and s.pending()]

    def readable(self, socks: list[socket.socket]) -> list[Event]:
        out: list[Event] = []
        for sock in socks:
            if sock is self.listener:
                self._accept()
                continue
            conn = self.conns.get(sock)
            if conn is not None:
                self._read(conn, out)
        if self._closed:
            out.extend(self._closed)
            self._closed = []
        return out

    def _accept(self) -> None:
        try:
            sock, _ = self.listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.ssl is not None:
            sock.settimeout(HANDSHAKE_TIMEOUT_S)
            try:
                sock = self.ssl.wrap_socket(sock, server_side=True)
            except (OSError, ssl.SSLError) as exc:
                self._refused(f"the TLS handshake failed ({exc})")
                sock.close()
                return
        sock.settimeout(None)
        self.conns[sock] = Connection(sock)
        self._sockets = None

    def _read(self, conn: Connection, out: list[Event]) -> None:
        try:
            if isinstance(conn.sock, ssl.SSLSocket):
                with conn.lock:  # one OpenSSL object is not read and written at once
                    data = conn.sock.recv(1 << 20)
            else:
                data = conn.sock.recv(1 << 20)
        except ssl.SSLWantReadError:
            return
        except OSError:
            data = b""
        if not data:
            self.close(conn)
            return
        try:
            for kind, body in conn.reader.feed(data):
                event = self._frame(conn, kind, body)
                if event is None:
                    return
                out.append(event)
        except call_wire.FrameError as exc:
            self._refuse(conn, f"a malformed frame: {exc}")

    def _frame(self, conn: Connection, kind: int, body: bytes) -> Hello | Calls | None:
        try:
            if not conn.caller:
                if kind != call_wire.HELLO:
                    return self._refuse(conn, "the first frame was not a CallHello")
                return self._hello(conn, calls_pb2.CallHello.FromString(body))
            if kind != call_wire.CALLS:
                return self._refuse(conn, f"a frame of unknown kind {kind}")
            batch = calls_pb2.CallBatch.FromString(body)
        except DecodeError:
            return self._refuse(conn, "a frame that does not parse")
        problem = validate.call_batch(batch, self.actor_id)
        if problem is not None:
            return self._refuse(conn, problem)
        return Calls(conn, batch)

    def _hello(self, conn: Connection, hello: calls_pb2.CallHello) -> Hello | Calls | None:
        if not hmac.compare_digest(hello.token.encode(), self.token):
            return self._refuse(conn, "a missing or wrong cluster token")
        if hello.protocol_version != config.PROTOCOL_VERSION:
            return self._refuse(conn, f"protocol version {hello.protocol_version}, not {config.PROTOCOL_VERSION}")
        if hello.actor_id != self.actor_id or len(hello.caller_id) != 8:
            return self._refuse(conn, "a hello for another actor (or without a caller id)")
        if hello.incarnation != self.incarnation:
            return self._refuse(
                conn, f"a hello for life {hello.incarnation} of the actor, not {self.incarnation}", True
            )
        conn.caller = hello.caller_id
        conn.send(call_wire.REPLIES, b"")  # an empty reply batch: accepted
        return Hello(conn, hello.caller_id, hello.first_unanswered)

    def _refuse(self, conn: Connection, why: str, stale: bool = False) -> Hello | Calls | None:
        """Tells the caller why, closes the connection; None (what the frame's reading returns)."""
        reply = calls_pb2.CallReplyBatch(refused=calls_pb2.CallRefused(why=why, stale_incarnation=stale))
        conn.send(call_wire.REPLIES, reply.SerializeToString())
        self._refused(why)
        self.close(conn)
        return None

    def _refused(self, why: str) -> None:
        if self._refusals_logged < 5:  # logged, but a hostile peer cannot fill the log
            self._refusals_logged += 1
            log.warning("actor %s's call port refused a connection: %s", self.actor_id.hex()[:12], why)

    def close(self, conn: Connection) -> None:
        if self.conns.pop(conn.sock, None) is not None:
            self._sockets = None
            if conn.caller:
                self._closed.append(Closed(conn))
        with conn.lock:
            conn.closed = True
            try:
                conn.sock.close()
            except OSError:
                pass

    def reply(self, conn: Connection, batch: calls_pb2.CallReplyBatch) -> bool:
        return conn.send(call_wire.REPLIES, batch.SerializeToString())
