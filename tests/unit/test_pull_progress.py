"""Which pulls a worker daemon reports to the head (raylite/worker/state/pull_progress.py)."""

from __future__ import annotations

from raylite.worker.state.pull_progress import PullProgress, Report

A, B = b"a" * 20, b"b" * 20


def test_only_pulls_that_ran_long_are_reported_and_those_end_with_a_done_report() -> None:
    book = PullProgress(report_s=1.0)
    book.started(A, 1000, now=10.0)
    book.received(A, 300)
    book.started(B, 50, now=10.6)
    assert book.due(now=10.9) == []
    assert book.due(now=11.5) == [Report(A, 300, 1000, 1.5)]
    assert book.ended(B, now=11.3) is None, "the head never heard of B: nothing to take back"
    book.received(A, 700)
    assert book.ended(A, now=12.0) == Report(A, 1000, 1000, 2.0, done=True)
    assert book.pulls == {}


def test_chunks_of_a_pull_that_is_not_tracked_are_ignored() -> None:
    book = PullProgress()
    book.received(A, 10)
    assert book.pulls == {} and book.ended(A, now=0.0) is None
