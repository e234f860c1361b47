"""Size-based rotation of executor logs: the pure plan, and ExecutorLogs carrying it out on real pipes."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import pytest

from raylite import config
from raylite.log_rotation import needs_rotation, rotation_moves
from raylite.worker.executor_logs import ExecutorLogs, executor_file


def test_a_file_rotates_before_the_write_that_would_pass_the_limit() -> None:
    assert not needs_rotation(90, 10, 100) and needs_rotation(91, 10, 100)
    assert not needs_rotation(0, 500, 100)  # an empty file takes even an oversized write
    assert not needs_rotation(10**12, 1, 0)  # a limit of 0: never


def test_rotation_shifts_the_backups_and_drops_the_oldest() -> None:
    assert rotation_moves("e.out", 3) == [
        ("e.out.3", None),
        ("e.out.2", "e.out.3"),
        ("e.out.1", "e.out.2"),
        ("e.out", "e.out.1"),
    ]
    assert rotation_moves("e.out", 1) == [("e.out.1", None), ("e.out", "e.out.1")]
    assert rotation_moves("e.out", 0) == [("e.out", None)]


def test_executor_logs_rotate_and_the_current_file_keeps_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(config, "LOGGING_ROTATE_BYTES", 100)
    monkeypatch.setattr(config, "LOGGING_ROTATE_BACKUP_COUNT", 2)
    chunks = [bytes([65 + i]) * 59 + b"\n" for i in range(5)]  # 60 bytes each: every second write rotates

    async def run() -> None:
        logs = ExecutorLogs(str(tmp_path), send=lambda batches: None, backlog=lambda: 0)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        logs.attach(4242, out_r, err_r)
        for chunk in chunks:
            os.write(out_w, chunk)
            assert logs._readable(out_r)  # read here, at once: nothing yields to the loop's reader
        os.close(out_w)
        os.close(err_w)
        logs.close()

    asyncio.run(run())
    current = Path(executor_file(str(tmp_path), 4242, False))
    assert current.read_bytes() == chunks[4]
    assert Path(f"{current}.1").read_bytes() == chunks[3]
    assert Path(f"{current}.2").read_bytes() == chunks[2]
    assert not Path(f"{current}.3").exists()  # two backups: chunks 0 and 1 are gone


def test_rotated_executor_logs_are_listed_under_their_stream() -> None:
    from raylite.util.state.logs import category

    assert [category(n) for n in ("executor-7.err", "executor-7.err.2", "executor-7.out", "executor-7.out.1")] == [
        "worker_err",
        "worker_err",
        "worker_out",
        "worker_out",
    ]


def test_a_daemon_log_past_the_limit_is_rotated_and_its_descriptors_follow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from raylite.daemon_util import RotatingStderr

    monkeypatch.setattr(config, "LOGGING_ROTATE_BYTES", 100)
    monkeypatch.setattr(config, "LOGGING_ROTATE_BACKUP_COUNT", 5)
    path = tmp_path / "head.log"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)  # as the daemon's stderr
    stream = open(fd, "w", closefd=False)
    handler = RotatingStderr(stream, fds=(fd,))
    record = logging.LogRecord("raylite.head", logging.INFO, __file__, 1, "x" * 59, None, None)  # 60 bytes a line
    try:
        for _ in range(2):  # 60, then 120 bytes: past 100, rotated after this record
            handler.emit(record)
        assert Path(f"{path}.1").read_text() == ("x" * 59 + "\n") * 2
        handler.emit(record)  # goes to the fresh file under the same name, through the same descriptor
        assert path.read_text() == "x" * 59 + "\n"
    finally:
        stream.close()
        os.close(fd)


class AllWritten(Exception):
    pass


def test_a_followed_log_goes_on_in_the_fresh_file_after_each_rotation_and_loses_no_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`raylite logs --follow` (log_files.read) while ExecutorLogs rotates the file under it: every
    line once, in order, whether the reader looks between the writes or only after several
    rotations (it missed the lines written before a rotation, and the start of a fresh file that
    had grown past its old offset)."""
    from raylite.rpc import worker_pb2
    from raylite.worker import log_files

    monkeypatch.setattr(config, "LOGGING_ROTATE_BYTES", 100)
    monkeypatch.setattr(config, "LOGGING_ROTATE_BACKUP_COUNT", 2)
    lines = [b"line %02d " % i + b"." * 30 + b"\n" for i in range(14)]  # 40 bytes: two to a file
    # how many lines are written before the reader looks again (after 5, 7: two rotations between reads)
    writes = [1, 2, 1, 3, 5, 2]
    assert sum(writes) == len(lines)

    async def run() -> list[bytes]:
        logs = ExecutorLogs(str(tmp_path), send=lambda batches: None, backlog=lambda: 0)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        logs.attach(4242, out_r, err_r)
        os.write(out_w, b"first\n")
        assert logs._readable(out_r)
        name = os.path.basename(executor_file(str(tmp_path), 4242, False))
        request = worker_pb2.ReadLogFileRequest(name=name, follow=True)
        written = iter(writes)
        to_write = list(lines)

        async def write_some(timeout: float) -> None:  # (log_files.read waits here between reads)
            count = next(written, None)
            if count is None:
                raise AllWritten  # the reader has looked after the last write
            for _ in range(count):
                os.write(out_w, to_write.pop(0))
                assert logs._readable(out_r)

        got: list[bytes] = []
        reader = log_files.read(str(tmp_path), request, write_some)
        try:
            async for chunk in reader:
                got.extend(chunk.data.splitlines(keepends=True))
        except AllWritten:
            pass
        finally:
            await reader.aclose()
            os.close(out_w)
            os.close(err_w)
            logs.close()
        return got

    expected = [b"first\n", *lines]
    got = asyncio.run(asyncio.wait_for(run(), 60))
    assert got == expected
