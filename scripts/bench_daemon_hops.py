#!/usr/bin/env python3
"""CPU per task of the worker daemon's own hops around an executor, each alone, old way and new.

    python scripts/bench_daemon_hops.py [--n 20000] [--rounds 2]

Four hops of docs/performance.md's "The worker side per task", each timed
(CPU of the calling thread) in the way the daemon does it now and in the way
it did before branch `workercut`, written out here, the two alternating:

- frame: one RESULT frame read from an executor's socketpair on a uvloop
  loop, the wake-up included (a feeder thread writes one frame per wake-up);
  before, a StreamReader with two readexactly per frame, now executor_pool._Frames;
- drain: ExecutorLogs.drain's look at an executor's two pipes when they hold
  nothing (the usual case: the marker was read when it came); before, an
  os.read per pipe raising BlockingIOError, now one poll(0);
- marker: one marker line through LineSplitter.feed; before, parsed at once;
- result: an executor's TaskResult into a NodeBatch; before, FromString and
  append (a copy), now results.add().MergeFromString.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import select
import socket
import threading
import time
from collections.abc import Callable

import uvloop

from raylite.rpc import head_pb2
from raylite.worker import protocol
from raylite.worker.executor_pool import _Frames
from raylite.worker.state import log_lines


def cpu_per_call(fn: Callable[[], object], n: int) -> float:
    c0 = time.thread_time()
    for _ in range(n):
        fn()
    return (time.thread_time() - c0) / n * 1e6


def frames(n: int, new: bool) -> float:
    frame = protocol.pack(protocol.RESULT, os.urandom(60))
    a, b = socket.socketpair()

    def feed() -> None:
        for _ in range(n):
            b.sendall(frame)
            time.sleep(0)  # one frame per wake-up, as one task's result is

    async def old_way() -> None:
        reader, writer = await asyncio.open_unix_connection(sock=a)
        for _ in range(n):
            length, _kind = protocol.HEADER.unpack(await reader.readexactly(protocol.HEADER.size))
            await reader.readexactly(length)
        writer.close()

    async def new_way() -> None:
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        count = [0]

        def on_frame(kind: int, body: bytes) -> None:
            count[0] += 1
            if count[0] == n:
                done.set_result(None)

        transport, _ = await loop.create_unix_connection(lambda: _Frames(on_frame), sock=a)
        await done
        transport.close()

    loop = uvloop.new_event_loop()
    feeder = threading.Thread(target=feed)
    c0 = time.thread_time()
    feeder.start()
    loop.run_until_complete(new_way() if new else old_way())
    spent = time.thread_time() - c0
    feeder.join()
    loop.close()
    b.close()
    return spent / n * 1e6


def drain(n: int, new: bool) -> float:
    pipes = [os.pipe() for _ in range(2)]
    for r, _ in pipes:
        os.set_blocking(r, False)
    poller = select.poll()
    for r, _ in pipes:
        poller.register(r, select.POLLIN)

    def old_way() -> None:
        for r, _ in pipes:
            try:
                os.read(r, 65536)
            except BlockingIOError:
                pass

    def new_way() -> None:
        for _fd, _event in poller.poll(0):
            pass

    try:
        return cpu_per_call(new_way if new else old_way, n)
    finally:
        for r, w in pipes:
            os.close(r)
            os.close(w)


class _EagerSplitter:
    """LineSplitter.feed before `workercut`: every marker parsed as it came."""

    def __init__(self) -> None:
        self.partial = b""
        self.source = log_lines.NO_SOURCE

    def feed(self, data: bytes) -> list[tuple[log_lines.Source, str]]:
        out: list[tuple[log_lines.Source, str]] = []
        chunks = (self.partial + data).split(b"\n")
        self.partial = chunks.pop()
        for raw in chunks:
            self._line(raw, out)
        return out

    def _line(self, raw: bytes, out: list[tuple[log_lines.Source, str]]) -> None:
        if raw.startswith(log_lines.MARKER):
            self.source = log_lines.parse_marker(raw) or self.source
            return
        out.append((self.source, raw.rstrip(b"\r").decode(errors="replace")))


def marker(n: int, new: bool) -> float:
    line = log_lines.marker(log_lines.Source(os.urandom(4), os.urandom(16), b"", "echo"))
    splitter = log_lines.LineSplitter() if new else _EagerSplitter()
    return cpu_per_call(lambda: splitter.feed(line), n)


def result(n: int, new: bool) -> float:
    r = head_pb2.TaskResult(task_id=os.urandom(16), node_id=os.urandom(16))
    r.results.add(object_id=os.urandom(20), data=os.urandom(40), size=40)
    body = r.SerializeToString()
    batch = head_pb2.NodeBatch()

    def old_way() -> None:
        batch.results.append(head_pb2.TaskResult.FromString(body))
        del batch.results[:]

    def new_way() -> None:
        batch.results.add().MergeFromString(body)
        del batch.results[:]

    return cpu_per_call(new_way if new else old_way, n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()}; us of CPU per task (per call), before / after, alternating")
    for name, hop in (("frame", frames), ("drain", drain), ("marker", marker), ("result", result)):
        cells = []
        for _ in range(args.rounds):
            before, after = hop(args.n, False), hop(args.n, True)
            cells.append(f"{before:6.1f} / {after:5.1f}")
        print(f"{name:7s} " + "   ".join(cells))


if __name__ == "__main__":
    main()
