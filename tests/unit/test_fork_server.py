"""The executor fork server (raylite/worker/fork_server.py), with real processes and no cluster:
an executor forked from it greets on its task socket, exits when told, and its exit code (or
the signal that killed it) reaches the daemon's side; a server that dies takes its executors
with it and says so."""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
import socket

import pytest

from raylite.worker import protocol
from raylite.worker.fork_server import ForkRefused, ForkServer, ForkServerGone


def _environment(tmp_path: os.PathLike[str]) -> dict[str, str]:
    settings = {
        "node_id": "00" * 16,
        "node_address": "127.0.0.1:1",
        "node_ip": "127.0.0.1",
        "store_dir": str(tmp_path),
        "head": "127.0.0.1:1",  # never dialled: these executors make no client
        "parent_pid": os.getpid(),  # replaced by the server's pid in the child
    }
    return {**os.environ, "RAYLITE_EXECUTOR": json.dumps(settings)}


async def _spawn(server: ForkServer, tmp_path: os.PathLike[str]) -> tuple[object, protocol.BlockingChannel, int]:
    ours, theirs = socket.socketpair()
    out_r, out_w = os.pipe()
    try:
        child = await server.spawn(_environment(tmp_path), [theirs.fileno(), -1, out_w, -1])
    finally:
        theirs.close()
        os.close(out_w)
    channel = protocol.BlockingChannel(ours)
    hello = await asyncio.to_thread(channel.recv)
    assert hello is not None and hello[0] == protocol.HELLO
    assert int(hello[1]) == child.pid  # type: ignore[attr-defined]
    return child, channel, out_r


@pytest.fixture
async def server(tmp_path):  # type: ignore[no-untyped-def]
    forks = ForkServer()
    await forks.start(dict(os.environ))
    yield forks
    await forks.stop()


async def test_a_forked_executor_greets_uses_the_requests_settings_and_exits_when_told(server, tmp_path):
    # it greets on the socket its settings (from the request's environment) name, with its own pid
    child, channel, out_r = await _spawn(server, tmp_path)
    assert child.pid != os.getpid()
    with open(f"/proc/{child.pid}/stat") as f:
        parent = int(f.read().rsplit(")", 1)[1].split()[1])
    assert parent == server.proc.pid  # type: ignore[union-attr]
    channel.send(protocol.EXIT, b"")
    assert await asyncio.wait_for(child.wait(), 10) == 0
    assert os.read(out_r, 100) == b""  # its stdout was the pipe we gave: closed at its exit
    os.close(out_r)


async def test_the_signal_that_killed_a_forked_executor_is_its_exit_code(server, tmp_path):
    first, _, out_a = await _spawn(server, tmp_path)
    second, channel, out_b = await _spawn(server, tmp_path)
    assert first.pid != second.pid
    first.send_signal(signal.SIGKILL)
    assert await asyncio.wait_for(first.wait(), 10) == -signal.SIGKILL
    channel.send(protocol.EXIT, b"")  # the other one is untouched
    assert await asyncio.wait_for(second.wait(), 10) == 0
    for fd in (out_a, out_b):
        os.close(fd)


async def test_a_dead_server_takes_its_executors_with_it_and_forks_no_more(server, tmp_path):
    child, _, out_r = await _spawn(server, tmp_path)
    server.proc.kill()  # type: ignore[union-attr]
    assert await asyncio.wait_for(child.wait(), 10) == -signal.SIGKILL
    assert not server.alive
    with pytest.raises(ForkServerGone):
        await server.spawn(_environment(tmp_path), [0])
    try:
        gone = os.pidfd_open(child.pid)  # readable once the process has exited
    except ProcessLookupError:
        pass  # exited and reaped already
    else:
        exited, _, _ = await asyncio.to_thread(select.select, [gone], [], [], 10)
        os.close(gone)
        assert exited, f"executor {child.pid} outlived its fork server"
    os.close(out_r)


async def test_a_burst_of_requests_larger_than_the_socket_holds_is_served_in_order(server, tmp_path):
    # 40 requests of ~60 KiB each: more than the socket's buffer, so writers wait for room
    env = {**_environment(tmp_path), "PADDING": "x" * 60_000}
    pairs = [socket.socketpair() for _ in range(40)]
    children = await asyncio.gather(*(server.spawn(env, [theirs.fileno(), -1, -1, -1]) for _, theirs in pairs))
    for (ours, theirs), child in zip(pairs, children, strict=True):
        theirs.close()
        channel = protocol.BlockingChannel(ours)
        hello = await asyncio.to_thread(channel.recv)
        assert hello is not None and int(hello[1]) == child.pid  # each answer went to its own request
        channel.send(protocol.EXIT, b"")
    assert await asyncio.wait_for(asyncio.gather(*(c.wait() for c in children)), 30) == [0] * 40
    assert server.alive


async def test_a_request_too_large_for_one_message_is_refused_and_the_server_goes_on(server, tmp_path):
    ours, theirs = socket.socketpair()
    with pytest.raises(ForkRefused):
        await server.spawn({**_environment(tmp_path), "PADDING": "x" * 4_000_000}, [theirs.fileno(), -1, -1, -1])
    theirs.close()
    ours.close()
    assert server.alive
    child, channel, out_r = await _spawn(server, tmp_path)
    channel.send(protocol.EXIT, b"")
    assert await asyncio.wait_for(child.wait(), 10) == 0
    os.close(out_r)
