"""The daemon's end of an executor's task socket (executor_pool._Frames): frames cut out of the bytes."""

from __future__ import annotations

import asyncio
import os
import random

from raylite.worker import protocol
from raylite.worker.executor_pool import _Frames


def test_frames_come_out_whole_and_in_order_however_the_bytes_are_cut() -> None:
    rng = random.Random(3)
    sent = [(rng.choice(b"RDHPE"), rng.randbytes(rng.randrange(0, 300))) for _ in range(200)]
    data = b"".join(protocol.pack(kind, body) for kind, body in sent)

    async def run() -> None:
        for _ in range(20):
            got: list[tuple[int, bytes]] = []
            frames = _Frames(lambda kind, body, got=got: got.append((kind, body)))
            at = 0
            while at < len(data):  # a byte, a header, many frames at once: any cut
                step = rng.choice([1, 3, 5, 17, 400, 5000])
                frames.data_received(data[at : at + step])
                at += step
            assert got == sent
            assert not frames.buffer
            frames.connection_lost(None)
            assert frames.closed.done()

    asyncio.run(run())


def test_a_frame_cut_short_waits_for_its_last_byte() -> None:
    async def run() -> None:
        order: list[bytes] = []
        frames = _Frames(lambda kind, body: order.append(body))
        frames.data_received(protocol.pack(protocol.RESULT, b"one") + protocol.pack(protocol.DONE, b"two")[:-1])
        assert order == [b"one"]  # the second is not whole yet: held
        frames.data_received(b"o")
        assert order == [b"one", b"two"]

    asyncio.run(run())


class _ClosedTransport:
    """A transport whose executor hung up: writing raises, as uvloop's does once it is closed."""

    def is_closing(self) -> bool:
        return True

    def write(self, data: bytes) -> None:
        raise RuntimeError("unable to perform operation on <UnixTransport closed=True>; the handler is closed")


def test_a_task_for_an_executor_that_hung_up_is_dropped_not_raised() -> None:
    """Its death (ExecutorExited, on its way) answers for the task; the daemon must not stop on the write."""
    from raylite.rpc import common_pb2, head_pb2
    from raylite.worker.executor_pool import ExecutorPool, _Process
    from raylite.worker.state import pool

    executors = ExecutorPool(1, {}, on_result=lambda r: None, on_death=lambda d: None)
    process = _Process(None, None)  # type: ignore[arg-type]  # (no sockets in unit tests)
    process.transport = _ClosedTransport()  # type: ignore[assignment]
    executors.processes[1] = process
    assignment = head_pb2.TaskAssignment(spec=common_pb2.TaskSpec(task_id=b"t" * 16))
    executors._send(pool.Send(1, assignment, None))
    executors._retire(1)


def test_a_large_frame_in_small_pieces_comes_out_whole_and_is_not_parsed_before() -> None:
    """A RESULT of many inline values can be megabytes: the pieces wait in the buffer, unparsed."""
    body = os.urandom(1 << 20)
    data = protocol.pack(protocol.RESULT, body) + protocol.pack(protocol.DONE, b"x")

    async def run() -> None:
        got: list[tuple[int, bytes]] = []
        frames = _Frames(lambda kind, b: got.append((kind, b)))
        for at in range(0, len(data), 4096):
            frames.data_received(data[at : at + 4096])
            if at + 4096 < protocol.HEADER.size + len(body):
                assert frames.need == protocol.HEADER.size + len(body) and not got
        assert got == [(protocol.RESULT, body), (protocol.DONE, b"x")]

    asyncio.run(run())
