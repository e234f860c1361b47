"""Executor output on the worker daemon: markers, lines, the bounded buffer, reading log files."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from raylite.batching import Outbox
from raylite.head.log_routing import MAX_QUEUED_LINES, LogRouter
from raylite.rpc import common_pb2, head_pb2, worker_pb2
from raylite.worker import log_files, validate
from raylite.worker.state.log_lines import (
    MARKER,
    LineSplitter,
    MarkerFilter,
    Pending,
    Source,
    marker,
    parse_marker,
)

JOB = b"j" * 8
TASK = b"t" * 16
ACTOR = b"a" * 16
F = Source(JOB, TASK, b"", "f")


def test_a_marker_round_trips_and_garbage_is_no_marker() -> None:
    source = Source(JOB, TASK, ACTOR, "Counter(name with spaces)")
    assert parse_marker(marker(source)) == source
    assert parse_marker(marker(Source())) == Source()
    assert parse_marker(MARKER + b"zz - - f\n") is None
    assert parse_marker(b"plain line\n") is None


def test_lines_take_the_source_of_the_last_marker_and_markers_are_left_out() -> None:
    split = LineSplitter()
    out = split.feed(b"start-up\n" + marker(F) + b"hel")
    assert out == [(Source(), "start-up")]
    out = split.feed(b"lo\r\nworld\npartial")
    assert out == [(F, "hello"), (F, "world")]
    assert split.close() == [(F, "partial")]


def _eager_split(data: bytes) -> list[tuple[Source, str]]:
    """The splitter's meaning, markers applied one by one as they come (no held markers)."""
    source, out = Source(), []
    for raw in data.split(b"\n")[:-1]:
        if raw.startswith(MARKER):
            source = parse_marker(raw) or source
        else:
            out.append((source, raw.rstrip(b"\r").decode(errors="replace")))
    return out


def test_held_markers_give_the_lines_the_source_markers_applied_in_turn_would() -> None:
    import random

    rng = random.Random(7)
    malformed = MARKER + b"zz - - broken\n"
    for _ in range(200):
        pieces = []
        for _ in range(rng.randrange(1, 60)):
            pick = rng.random()
            if pick < 0.5:  # a silent task's marker (most of them)
                pieces.append(marker(Source(JOB, os.urandom(16), b"", f"t{rng.randrange(9)}")))
            elif pick < 0.6:
                pieces.append(malformed)
            else:
                pieces.append(f"line {rng.randrange(100)}\n".encode())
        data = b"".join(pieces)
        split, got, at = LineSplitter(), [], 0
        while at < len(data):  # chunks cut anywhere, and whole pieces (the fast path)
            step = len(pieces[0]) if rng.random() < 0.5 else rng.randrange(1, 80)
            got += split.feed(data[at : at + step])
            at += step
        got += split.close()
        assert got == _eager_split(data)
        assert len(split._markers) < LineSplitter.MAX_HELD_MARKERS


def test_a_malformed_marker_after_a_good_one_leaves_the_good_one_in_force() -> None:
    split = LineSplitter()
    assert split.feed(marker(F)) == []
    assert split.feed(MARKER + b"zz - - broken\n") == []
    assert split.feed(b"hi\n") == [(F, "hi")]


def test_a_line_with_no_newline_is_cut_rather_than_held_without_bound() -> None:
    split = LineSplitter()
    out = split.feed(b"x" * (40 * 1024))
    assert [len(line) for _, line in out] == [16 * 1024, 16 * 1024]
    assert len(split.partial) == 8 * 1024


def test_pending_groups_lines_by_source_and_drops_with_a_notice_when_full() -> None:
    pending = Pending(max_lines=3)
    assert not pending.add(1, False, Source(), "no job: file only")
    for i in range(5):
        pending.add(1, False, F, f"line {i}")
    pending.add(1, True, F, "an error line")
    groups = pending.take()
    assert [(g.pid, g.is_err) for g in groups] == [(1, False), (1, True)]
    assert groups[0].lines[:3] == ["line 0", "line 1", "line 2"]
    assert "2 lines dropped" in groups[0].lines[3]
    assert len(groups[1].lines) == 1 and "1 lines dropped" in groups[1].lines[0]
    assert pending.take() == [] and pending.dropped_total == 3


def test_marker_filter_keeps_one_task_or_actor_across_pieces() -> None:
    other = Source(JOB, b"o" * 16, b"", "g")
    text = b"boot\n" + marker(F) + b"f1\n" + marker(other) + b"g1\n"
    keep = MarkerFilter(task_id=TASK)
    assert keep.feed(text) == b"f1\n" and keep.matched
    assert keep.feed(marker(F) + b"f2\n") == b"f2\n"
    everything = MarkerFilter()
    assert everything.feed(text) == b"boot\nf1\ng1\n"
    actor = Source(JOB, TASK, ACTOR, "A")
    assert MarkerFilter(actor_id=ACTOR).feed(marker(actor) + b"a1\n" + marker(other) + b"g\n") == b"a1\n"


@pytest.mark.parametrize("name", ["../etc/passwd", "/etc/passwd", "..", "", "a/b", "x\0y"])
def test_names_that_are_paths_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(log_files.LogFileError):
        log_files.resolve(str(tmp_path), name)
    assert validate.read_log_file(worker_pb2.ReadLogFileRequest(name=name)) is not None or name == ""


def test_a_symlink_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (tmp_path / "secret").write_text("no")
    os.symlink(tmp_path / "secret", logs / "link.out")
    (logs / "worker.log").write_text("ok\n")
    with pytest.raises(log_files.LogFileError, match="out of the log folder"):
        log_files.resolve(str(logs), "link.out")
    assert log_files.resolve(str(logs), "worker.log").endswith("worker.log")
    assert [f.name for f in log_files.list_files(str(logs), "*.log")] == ["worker.log"]


def test_read_request_validation() -> None:
    ok = worker_pb2.ReadLogFileRequest(task_id=TASK)
    assert validate.read_log_file(ok) is None
    assert "required" in (validate.read_log_file(worker_pb2.ReadLogFileRequest()) or "")
    assert "task_id" in (validate.read_log_file(worker_pb2.ReadLogFileRequest(task_id=b"x")) or "")
    both = worker_pb2.ReadLogFileRequest(task_id=TASK, actor_id=ACTOR)
    assert "one or the other" in (validate.read_log_file(both) or "")


async def _read_all(log_dir: str, request: worker_pb2.ReadLogFileRequest) -> bytes:
    async def never(timeout: float) -> None:
        await asyncio.sleep(0)

    return b"".join([c.data async for c in log_files.read(log_dir, request, never)])


async def test_reading_a_file_its_tail_and_one_task_of_every_executor_log(tmp_path: Path) -> None:
    other = Source(JOB, b"o" * 16, b"", "g")
    (tmp_path / "executor-1.out").write_bytes(b"boot\n" + marker(F) + b"f1\nf2\n" + marker(other) + b"g1\n")
    (tmp_path / "executor-2.out").write_bytes(marker(other) + b"g2\n")
    assert await _read_all(str(tmp_path), worker_pb2.ReadLogFileRequest(name="executor-1.out")) == b"boot\nf1\nf2\ng1\n"
    tail = worker_pb2.ReadLogFileRequest(name="executor-1.out", tail=2)
    assert await _read_all(str(tmp_path), tail) == b"f2\ng1\n"
    assert await _read_all(str(tmp_path), worker_pb2.ReadLogFileRequest(task_id=TASK)) == b"f1\nf2\n"
    with pytest.raises(log_files.LogFileError, match="no executor log"):
        await _read_all(str(tmp_path), worker_pb2.ReadLogFileRequest(task_id=b"n" * 16))


def _batch(lines: int, job: bytes = JOB) -> head_pb2.WorkerLogBatch:
    return head_pb2.WorkerLogBatch(job_id=job, pid=7, name="f", lines=[f"l{i}" for i in range(lines)])


def test_the_head_forwards_lines_to_the_drivers_of_their_job_only() -> None:
    router = LogRouter()
    mine, theirs = Outbox(head_pb2.HeadToClient), Outbox(head_pb2.HeadToClient)
    router.listen(b"c1", JOB, mine)
    router.listen(b"c2", b"k" * 8, theirs)
    node = common_pb2.NodeInfo(node_id=b"n" * 16, ip="10.0.0.2")
    router.route(node, [_batch(2), _batch(3, b"z" * 8)])
    assert [list(b.lines) for b in mine.msg.log_batches] == [["l0", "l1"]]
    assert mine.msg.log_batches[0].ip == "10.0.0.2"
    assert not theirs.msg.log_batches and router.unrouted == 3
    router.stop_listening(b"c1", JOB, Outbox(head_pb2.HeadToClient))  # an older stream's end: still listening
    router.route(node, [_batch(1)])
    assert len(mine.msg.log_batches) == 2
    router.stop_listening(b"c1", JOB, mine)
    router.route(node, [_batch(1)])
    assert len(mine.msg.log_batches) == 2 and router.unrouted == 4


def test_a_backed_up_driver_misses_lines_and_is_told_how_many() -> None:
    router = LogRouter()
    out = Outbox(head_pb2.HeadToClient)
    router.listen(b"c1", JOB, out)
    router.route(None, [_batch(MAX_QUEUED_LINES)])
    router.route(None, [_batch(5)])
    assert router.dropped == 5
    out.msg.Clear()  # the writer took the message
    router.route(None, [_batch(1)])
    assert "5 lines dropped" in out.msg.log_batches[0].lines[0]
    assert list(out.msg.log_batches[1].lines) == ["l0"]


def test_drain_sends_what_the_pipes_hold_and_survives_their_end(tmp_path: Path) -> None:
    """The daemon's read of an executor's pipes before its result (one poll of both pipes)."""
    from raylite.worker.executor_logs import ExecutorLogs

    sent: list[head_pb2.WorkerLogBatch] = []

    async def run() -> None:
        logs = ExecutorLogs(str(tmp_path), send=sent.extend, backlog=lambda: 0)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        logs.attach(4243, out_r, err_r)
        logs.drain(4243)  # nothing there: nothing sent
        assert sent == []
        os.write(out_w, marker(F) + b"to stdout\n")
        os.write(err_w, marker(F) + b"to stderr\n")
        logs.drain(4243)  # read here, before the loop's readers ran
        assert sorted((b.is_err, list(b.lines)) for b in sent) == [(False, ["to stdout"]), (True, ["to stderr"])]
        os.close(out_w)
        os.close(err_w)
        logs.drain(4243)  # both ends hang up: the pipes close
        assert 4243 not in logs._polls and 4243 not in logs._fds_of
        logs.drain(4243)
        logs.close()

    asyncio.run(run())
