"""The driver's printing of worker output: Ray's prefix and Ray 2.60's deduplication rules."""

from __future__ import annotations

import pytest

from raylite.client.worker_output import Deduplicator, Meta, WorkerOutput, dedup_key, render
from raylite.rpc import head_pb2

A = Meta("f", 1, "10.0.0.1")
B = Meta("f", 2, "10.0.0.2")


def test_prefix_as_ray_prints_it() -> None:
    assert render(A, "hi", "10.0.0.1", color=False) == "(f pid=1) hi"
    assert render(B, "hi", "10.0.0.1", color=False) == "(f pid=2, ip=10.0.0.2) hi"
    assert render(Meta("", 3, ""), "hi", "x", color=False) == "(pid=3) hi"
    assert render(A, "hi", "10.0.0.1", color=True) == "\x1b[36m(f pid=1)\x1b[0m hi"


def test_words_with_numbers_do_not_count() -> None:
    assert dedup_key("step 12 of 0x1f done, loss=0.5") == "step of done,"
    assert dedup_key("42 17") == ""


def test_the_same_process_is_never_folded() -> None:
    d = Deduplicator(5)
    assert [t for _, t in d.lines(A, ["x", "x"], now=0)] == ["x", "x"]


def test_repeats_from_other_processes_are_folded_then_summarised_after_the_window() -> None:
    d = Deduplicator(5)
    assert [t for _, t in d.lines(A, ["hello 1"], now=0)] == ["hello 1"]
    assert d.lines(B, ["hello 2"], now=1) == []
    assert d.lines(Meta("f", 3, "10.0.0.3"), ["hello 3"], now=2) == []
    assert d.next_due() == 5
    out = d.aged(now=5)
    assert len(out) == 1 and out[0][0].pid == 3
    assert out[0][1].startswith("hello 3\0 [repeated 2x across cluster] (raylite folds")
    # aggregation goes on from then, without the hint
    d.lines(B, ["hello 4"], now=6)
    d.lines(A, ["hello 5"], now=7)
    assert d.aged(now=10) == [(A, "hello 5\0 [repeated 2x across cluster]")]


def test_a_single_held_repeat_prints_as_the_line_itself() -> None:
    d = Deduplicator(5)
    d.lines(A, ["done"], now=0)
    assert d.lines(B, ["done"], now=1) == []
    assert d.aged(now=5) == [(B, "done")] and d.held == {}


def test_lines_empty_after_canonicalising_are_never_folded() -> None:
    d = Deduplicator(5)
    d.lines(A, ["123"], now=0)
    assert d.lines(B, ["456"], now=0) == [(B, "456")]


def test_allow_and_skip_patterns_and_flush_at_exit() -> None:
    d = Deduplicator(5, allow="keep", skip="hide")
    d.lines(A, ["keep me", "x"], now=0)
    assert d.lines(B, ["keep me", "hide me", "x", "x"], now=0) == [(B, "keep me")]
    assert d.flush() == [
        (
            B,
            "x\0 [repeated 2x across cluster] (raylite folds identical lines from several workers. "
            "Set RAYLITE_DEDUP_LOGS=0 to print every one, or RAYLITE_DEDUP_LOGS_AGG_WINDOW_S to change "
            "the window.)",
        )
    ]


def _batch(pid: int, lines: list[str], is_err: bool = False) -> head_pb2.WorkerLogBatch:
    return head_pb2.WorkerLogBatch(pid=pid, name="f", ip="10.0.0.9", lines=lines, is_err=is_err)


def test_stdout_and_stderr_go_to_their_streams(capsys: pytest.CaptureFixture[str]) -> None:
    out = WorkerOutput("10.0.0.1", environ={"RAYLITE_COLOR_PREFIX": "0"})
    out.take([_batch(1, ["to out"]), _batch(1, ["to err"], is_err=True)], now=0)
    captured = capsys.readouterr()
    assert captured.out == "(f pid=1, ip=10.0.0.9) to out\n"
    assert captured.err == "(f pid=1, ip=10.0.0.9) to err\n"


def test_dedup_can_be_turned_off(capsys: pytest.CaptureFixture[str]) -> None:
    out = WorkerOutput("10.0.0.9", environ={"RAYLITE_COLOR_PREFIX": "0", "RAYLITE_DEDUP_LOGS": "0"})
    out.take([_batch(1, ["same"]), _batch(2, ["same"])], now=0)
    assert capsys.readouterr().out == "(f pid=1) same\n(f pid=2) same\n"
    assert out.tick(now=10) is None
