"""The submitter's lease book (raylite/client/state/leases.py), validate() after every step."""

from __future__ import annotations

from raylite.client.state.leases import (
    ClassState,
    FailTask,
    LeaseBook,
    RequestLease,
    ReturnLease,
    SendTask,
    ViaHead,
)

CID = b"c" * 8
L1 = CID + (1).to_bytes(4, "big")
K = b"class"


def _book() -> LeaseBook:
    return LeaseBook(CID, slots_wanted=2, idle_ticks=3, grant_ticks=2)


def _ok(book: LeaseBook, out: list) -> list:
    book.validate()
    return out


def test_the_first_task_goes_through_the_head_while_the_lease_is_asked_for() -> None:
    book = _book()
    assert _ok(book, book.submitted(b"t1", K, 3)) == [RequestLease(L1, K, 2), ViaHead(b"t1")]
    assert _ok(book, book.submitted(b"t2", K, 3)) == []  # queued until the grant
    assert _ok(book, book.granted(L1, 1)) == [SendTask(L1, b"t2", 1)]


def test_at_most_two_times_slots_are_sent_and_each_answer_sends_the_next() -> None:
    book = _book()
    book.submitted(b"t0", K, 3)
    book.granted(L1, 1)
    sends = [out for i in range(1, 5) for out in book.submitted(b"t%d" % i, K, 3)]
    assert sends == [SendTask(L1, b"t1", 1), SendTask(L1, b"t2", 1)]
    assert _ok(book, book.answered(b"t1", retryable=False)) == [SendTask(L1, b"t3", 1)]
    assert book.in_flight(L1) == [b"t2", b"t3"]


def test_a_retryable_answer_is_sent_again_first_with_a_retry_spent() -> None:
    book = _book()
    book.submitted(b"t0", K, 1)
    book.granted(L1, 1)
    book.submitted(b"t1", K, 1)
    assert _ok(book, book.answered(b"t1", retryable=True)) == [SendTask(L1, b"t1", 2)]
    # no retries left: the retryable answer is final (the error is the result)
    assert _ok(book, book.answered(b"t1", retryable=True)) == []
    assert b"t1" not in book.tasks


def test_a_broken_stream_sends_what_it_stranded_through_the_head_or_fails_it() -> None:
    book = _book()
    book.submitted(b"t0", K, 3)
    book.granted(L1, 1)
    book.submitted(b"a", K, 2)
    book.submitted(b"b", K, 0)
    book.submitted(b"c", K, 2)  # queued: over 2 x 1
    out = _ok(book, book.broken(L1, "node died"))
    assert out == [ViaHead(b"a"), FailTask(b"b", "node died"), ViaHead(b"c"), ReturnLease(L1, "node died")]
    assert book.classes[K].state is ClassState.NONE
    # the next task asks for a new lease
    assert isinstance(book.submitted(b"d", K, 3)[0], RequestLease)


def test_a_revoked_lease_sends_nothing_more_and_goes_back_after_its_last_answer() -> None:
    book = _book()
    book.submitted(b"t0", K, 3)
    book.granted(L1, 1)
    for t in (b"a", b"b", b"c"):
        book.submitted(t, K, 3)
    assert _ok(book, book.revoked(L1)) == [ViaHead(b"c")]
    assert _ok(book, book.submitted(b"d", K, 3)) == [ViaHead(b"d")]
    assert _ok(book, book.answered(b"a", False)) == []
    assert _ok(book, book.answered(b"b", False)) == [ReturnLease(L1, "revoked")]


def test_an_idle_lease_is_returned_after_idle_ticks() -> None:
    book = _book()
    book.submitted(b"t0", K, 3)
    book.granted(L1, 1)
    assert book.holding()
    assert book.tick() == [] and book.tick() == []
    assert _ok(book, book.tick()) == [ReturnLease(L1, "idle")]
    assert not book.holding()


def test_queued_tasks_go_through_the_head_when_no_grant_comes() -> None:
    book = _book()
    book.submitted(b"t0", K, 3)
    book.submitted(b"t1", K, 3)
    assert book.tick() == []
    assert _ok(book, book.tick()) == [ViaHead(b"t1")]
    assert book.classes[K].state is ClassState.REQUESTED  # a grant may still come


def test_a_grant_nobody_asked_for_is_returned() -> None:
    book = _book()
    assert book.granted(b"x" * 12, 1) == [ReturnLease(b"x" * 12, "not wanted any more")]
