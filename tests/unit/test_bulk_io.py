"""The bulk path's blocking I/O (raylite/bulk.py): a plain connection moves a range in few system
calls, and still times out when its peer stalls. Loopback sockets in this process."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator

import pytest

from raylite import bulk

MIB = 1 << 20


class CountingSocket:
    """A plain socket's recv_into, counted (isinstance of ssl.SSLSocket is false: the plain path)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.calls = 0

    def recv_into(self, buf: memoryview, nbytes: int, flags: int = 0) -> int:
        self.calls += 1
        return self.sock.recv_into(buf, nbytes, flags)


@pytest.fixture
def tcp_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = socket.create_connection(server.getsockname())
        accepted, _ = server.accept()
    with client, accepted:
        yield client, accepted


def hello() -> bulk.Hello:
    return bulk.Hello(b"t" * bulk.TICKET_BYTES, b"o" * 28, 0, 96 * MIB)


def test_a_plain_receive_asks_once_per_step_however_the_bytes_come(
    tcp_pair: tuple[socket.socket, socket.socket],
) -> None:
    reader, writer = tcp_pair
    payload = os.urandom(MIB) * 96

    def send() -> None:
        for i in range(96):  # 96 writes of 1 MiB: a receive without MSG_WAITALL returns after each, or sooner
            writer.sendall(payload[i * MIB : (i + 1) * MIB])

    sender = threading.Thread(target=send)
    sender.start()
    buf = bytearray(96 * MIB)
    counted = CountingSocket(reader)
    bulk.set_timeouts(reader, 10.0)
    bulk._fill(counted, memoryview(buf), "test", hello(), None, None, 10.0)  # type: ignore[arg-type]
    sender.join()
    assert buf == payload
    assert counted.calls == 96 * MIB // bulk._WAITALL_STEP, f"{counted.calls} recv_into calls for 96 MiB"


def test_a_plain_send_of_a_range_is_one_sendfile_call(
    tcp_pair: tuple[socket.socket, socket.socket], tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader, writer = tcp_pair
    path = os.path.join(str(tmp_path), "object")
    data = os.urandom(MIB) * 64
    with open(path, "wb") as f:
        f.write(data)
    calls = []
    real = os.sendfile

    def counted(*args: int) -> int:
        calls.append(args[3])
        return real(*args)

    monkeypatch.setattr(bulk.os, "sendfile", counted)
    got = bytearray(64 * MIB - 4096)

    def drain() -> None:
        view, pos = memoryview(got), 0
        while pos < len(got):
            n = reader.recv_into(view[pos:], len(got) - pos)
            assert n
            pos += n

    draining = threading.Thread(target=drain)
    draining.start()
    fd = os.open(path, os.O_RDONLY)
    try:
        bulk.set_timeouts(writer, 10.0)
        bulk.send_range(writer, fd, 4096, 64 * MIB - 4096)
    finally:
        os.close(fd)
    draining.join()
    assert got == data[4096:]
    assert len(calls) == 1, f"{len(calls)} sendfile calls for 64 MiB"


def test_a_receive_from_a_peer_that_stalls_times_out(tcp_pair: tuple[socket.socket, socket.socket]) -> None:
    reader, writer = tcp_pair
    writer.sendall(b"x" * MIB)  # one MiB, then nothing: a cut link (the socket stays open)
    bulk.set_timeouts(reader, 0.3)
    with pytest.raises(bulk.BulkError, match="timed out") as caught:
        bulk._fill(reader, memoryview(bytearray(4 * MIB)), "test", hello(), None, None, 0.3)
    assert f"after {MIB} of {4 * MIB} bytes" in str(caught.value)


def test_a_send_to_a_reader_that_stops_reading_times_out(
    tcp_pair: tuple[socket.socket, socket.socket], tmp_path: object
) -> None:
    _reader, writer = tcp_pair  # never read: the buffers fill, then no byte is taken
    path = os.path.join(str(tmp_path), "object")
    with open(path, "wb") as f:
        f.truncate(256 * MIB)
    fd = os.open(path, os.O_RDONLY)
    try:
        bulk.set_timeouts(writer, 0.3)
        with pytest.raises(TimeoutError, match="took no byte"):
            bulk.send_range(writer, fd, 0, 256 * MIB)
    finally:
        os.close(fd)
