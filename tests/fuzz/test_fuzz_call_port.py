"""The actor call port (raylite/worker/call_port.py) against hostile callers: a connection
without the right token, garbage frames and oversized frames are closed without any call
reaching the actor (no `Calls` event), and the port goes on serving an honest caller."""

from __future__ import annotations

import select
import socket
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from raylite import call_wire, config
from raylite.rpc import calls_pb2, common_pb2
from raylite.worker import call_port

TOKEN = "the-token"
ACTOR = b"\x05" * 16
CALLER = b"c" * 8


@pytest.fixture(scope="module")
def port() -> Iterator[call_port.CallPort]:
    p = call_port.CallPort("127.0.0.1", TOKEN, ACTOR, 1, None)
    yield p
    for conn in list(p.conns.values()):
        p.close(conn)
    p.listener.close()


def hello(token: str = TOKEN, incarnation: int = 1) -> bytes:
    body = calls_pb2.CallHello(
        protocol_version=config.PROTOCOL_VERSION, token=token, caller_id=CALLER, actor_id=ACTOR, incarnation=incarnation
    ).SerializeToString()
    return call_wire.pack(call_wire.HELLO, body)


def a_call(seq: int = 1) -> bytes:
    spec = common_pb2.TaskSpec(
        task_id=CALLER + seq.to_bytes(8, "big"),
        kind=common_pb2.ACTOR_METHOD,
        actor_id=ACTOR,
        num_returns=1,
        payload=b"f\0",
        call_seq=seq,
    )
    return call_wire.pack(call_wire.CALLS, calls_pb2.CallBatch(calls=[spec]).SerializeToString())


def exchange(port: call_port.CallPort, data: bytes, close: bool = False) -> tuple[list[object], bool]:
    """Connects, sends data, serves the port until the peer was answered or closed; returns the
    port's events and whether the port closed the connection."""
    events: list[object] = []
    host, _, number = port.address.rpartition(":")
    with socket.create_connection((host, int(number))) as sock:
        sock.sendall(data)
        if close:
            sock.shutdown(socket.SHUT_WR)
        sock.setblocking(False)
        closed = False
        idle = 0
        while idle < 6:  # served until the port has had nothing to do for a while (or closed us)
            readable, _, _ = select.select(port.sockets(), [], [], 0.02)
            events += port.readable(readable)
            idle = 0 if readable else idle + 1
            try:
                if sock.recv(1 << 16) == b"":
                    closed = True
                    break
            except BlockingIOError:
                pass
            except ConnectionResetError:
                closed = True
                break
        return events, closed


def calls(events: list[object]) -> list[object]:
    return [e for e in events if isinstance(e, call_port.Calls)]


def test_an_honest_caller_is_served(port: call_port.CallPort) -> None:
    events, closed = exchange(port, hello() + a_call())
    assert [e.batch.calls[0].call_seq for e in calls(events)] == [1]  # type: ignore[attr-defined]
    assert not closed


@pytest.mark.parametrize(
    "data",
    [
        a_call(),  # no hello
        hello(token="wrong") + a_call(),
        hello(token="") + a_call(),
        hello(incarnation=2) + a_call(),  # another life of the actor
        hello() + call_wire.pack(call_wire.CALLS, b"\xff\xff\xff"),  # does not parse
        hello() + call_wire.HEADER.pack(call_wire.MAX_FRAME + 1, call_wire.CALLS),  # oversized
        hello() + call_wire.pack(7, b""),  # unknown kind
    ],
    ids=["no-hello", "wrong-token", "no-token", "stale-life", "garbage", "oversized", "unknown-kind"],
)
def test_bad_callers_are_closed_without_running_anything(port: call_port.CallPort, data: bytes) -> None:
    events, closed = exchange(port, data)
    assert closed and not calls(events)
    test_an_honest_caller_is_served(port)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(junk=st.binary(max_size=300), with_hello=st.booleans())
def test_random_bytes_run_nothing_unless_they_are_a_valid_call(
    port: call_port.CallPort, junk: bytes, with_hello: bool
) -> None:
    events, _closed = exchange(port, (hello(token="wrong") if with_hello else b"") + junk, close=True)
    assert not calls(events)
