"""The daemon's served leases (raylite/worker/state/lease_queue.py)."""

from __future__ import annotations

from raylite.worker.state.lease_queue import Admitted, Finished, LeaseQueue

L, C = b"l" * 12, b"c" * 8


def _queue(slots: int = 1) -> LeaseQueue:
    q = LeaseQueue()
    q.announced(L, C, slots)
    return q


def test_only_the_granted_client_opens_a_known_lease_once() -> None:
    q = _queue()
    assert "unknown" in q.opened(b"x" * 12, C)
    assert "another client" in q.opened(L, b"d" * 8)
    assert q.opened(L, C) == ""
    assert "already" in q.opened(L, C)
    q.validate()


def test_a_lease_holds_two_times_slots_and_bounces_the_rest() -> None:
    q = _queue(slots=1)
    q.opened(L, C)
    # one runs (one slot), one waits here for it, the third is over 2 x slots
    assert q.arrived(L, [b"a", b"b", b"c"]) == Admitted([b"a"], [b"c"], [b"b"])
    assert q.arrived(L, [b"a"]) == Admitted([], [], [])  # a duplicate runs once
    q.validate()
    assert q.finished(L, b"a") == Finished(False, [b"b"])  # the next starts without a round trip
    assert q.arrived(L, [b"c"]) == Admitted([], [], [b"c"])
    assert q.is_waiting(L, b"c")
    assert q.finished(L, b"c") == Finished(False, [])  # withdrawn (cancelled) while it waited
    q.validate()


def test_a_stopped_lease_bounces_new_tasks_and_drains_when_its_tasks_end() -> None:
    q = _queue(slots=2)
    q.opened(L, C)
    q.arrived(L, [b"a", b"b"])
    assert not q.stopped(L)
    assert q.arrived(L, [b"c"]) == Admitted([], [b"c"])
    assert q.finished(L, b"a") == Finished(False, [])
    assert q.finished(L, b"b") == Finished(True, [])
    assert not q.leases and "unknown" in q.opened(L, C)
    q.announced(L, C, 1)  # a late grant of an ended lease is ignored
    assert not q.leases
    q.validate()


def test_a_closed_stream_may_be_opened_again_until_the_head_stops_the_lease() -> None:
    q = _queue()
    q.opened(L, C)
    q.arrived(L, [b"a"])
    q.stream_closed(L)
    assert q.arrived(L, [b"b"]) == Admitted([], [b"b"])
    assert q.opened(L, C) == ""
    assert q.stopped(b"y" * 12)  # a stop of a lease never seen here: nothing to drain
    q.validate()


def test_a_closed_stream_abandons_the_tasks_waiting_here() -> None:
    q = _queue(slots=1)
    q.opened(L, C)
    q.arrived(L, [b"a", b"b"])
    assert q.abandon(L) == [b"b"]
    q.stream_closed(L)
    q.stopped(L)
    assert q.finished(L, b"a") == Finished(True, [])
    q.validate()


def test_a_lent_slot_starts_a_waiting_task_of_the_lease() -> None:
    q = _queue(slots=1)
    q.opened(L, C)
    q.arrived(L, [b"a", b"b"])  # a runs, b waits
    assert q.lend(L, True) == [b"b"]  # a blocked in get: b must not wait behind it
    q.validate()
    q.lend(L, False)
    assert q.finished(L, b"a") == Finished(False, [])
    q.validate()
