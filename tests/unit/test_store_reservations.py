"""Reservations for writers in other processes: leases, writer deaths, files found
with another size, and how they meet spill and evict decisions (StoreIndex,
without files: what the shell would find on disk is an argument)."""

from __future__ import annotations

import pytest

from raylite.worker.state.store_index import DISK, SHM, Evict, Spill, StoreIndex

WRITER, OTHER = 4242, 5151


def oid(n: int) -> bytes:
    return n.to_bytes(20, "big")


def reserve_for_writer(index: StoreIndex, n: int, size: int, lease: float = 60.0, writer: int = WRITER) -> None:
    """What the Reserve RPC does for an executor: a lease, and the writer's pid."""
    assert index.reserve(oid(n), size, primary=True, lease=lease, writer=writer) == []
    index.validate()


def written_here(index: StoreIndex, n: int, size: int, primary: bool = True) -> None:
    """The daemon's own write (a transfer, a push): no lease, no writer."""
    assert index.reserve(oid(n), size, primary) is not None
    index.written(oid(n))
    index.validate()


# ---- leases ------------------------------------------------------------------------


def test_a_leased_reservation_ends_when_its_file_is_found() -> None:
    index = StoreIndex(100)
    reserve_for_writer(index, 1, 40)
    written_here(index, 2, 10)
    assert index.unwritten_leases() == [oid(1)]  # the daemon's own writes are never looked for
    assert index.settle(1.0, {oid(1): 40}) == []
    index.validate()
    assert index.unwritten_leases() == [] and not index.entries[oid(1)].pinned
    assert index.entries[oid(1)].writer == 0


@pytest.mark.parametrize("really", [70, 5])
def test_a_file_found_with_another_size_is_accounted_for_what_it_holds(really: int) -> None:
    index = StoreIndex(100)
    reserve_for_writer(index, 1, 20)
    index.settle(1.0, {oid(1): really})
    index.validate()
    assert index.used == really and index.entries[oid(1)].size == really


def test_a_lease_lapses_unwritten_and_its_room_serves_the_next_reservation() -> None:
    index = StoreIndex(100)
    reserve_for_writer(index, 1, 80, lease=10.0)
    assert index.reserve(oid(2), 50, primary=True) is None  # only a pinned reservation is in the way
    assert index.next_lapse() == 10.0
    assert index.settle(9.99, {}) == []
    assert index.settle(10.0, {}) == [oid(1)]
    index.validate()
    assert index.where(oid(1)) is None and index.used == 0
    assert index.reserve(oid(2), 50, primary=True) == []


def test_a_file_found_in_the_same_settle_as_its_lease_lapses_counts_as_written() -> None:
    index = StoreIndex(100)
    reserve_for_writer(index, 1, 30, lease=10.0)
    assert index.settle(11.0, {oid(1): 30}) == []
    assert index.where(oid(1)) == SHM


# ---- writer deaths -------------------------------------------------------------------


def test_a_dead_writer_gives_back_what_it_did_not_write() -> None:
    index = StoreIndex(100)
    reserve_for_writer(index, 1, 30)  # never written
    reserve_for_writer(index, 2, 30)  # written, not yet seen by settle
    reserve_for_writer(index, 3, 30, writer=OTHER)
    assert sorted(index.writes_of(WRITER)) == [oid(1), oid(2)]
    assert index.writer_died(WRITER, on_disk={oid(2)}) == [oid(1)]
    index.validate()
    assert index.where(oid(1)) is None and index.where(oid(2)) == SHM and index.where(oid(3)) == SHM
    assert index.used == 60
    assert index.writes_of(WRITER) == [] and index.writer_died(WRITER, on_disk=set()) == []


def test_a_writer_death_frees_room_a_waiting_reservation_gets() -> None:
    index = StoreIndex(100)
    reserve_for_writer(index, 1, 90)
    assert index.reserve(oid(2), 50, primary=True) is None
    index.writer_died(WRITER, on_disk=set())
    assert index.reserve(oid(2), 50, primary=True) == []
    index.validate()


def test_written_objects_are_not_given_back_when_their_writer_dies() -> None:
    index = StoreIndex(100)
    reserve_for_writer(index, 1, 30)
    index.settle(1.0, {oid(1): 30})
    assert index.writes_of(WRITER) == []
    assert index.writer_died(WRITER, on_disk=set()) == []
    assert index.where(oid(1)) == SHM


def test_an_object_being_moved_is_not_given_up_for_a_dead_writer() -> None:
    """A move owns the file while it runs; the writer's link is dropped all the same."""
    index = StoreIndex(100)
    reserve_for_writer(index, 1, 30)
    index.move_started(oid(1))
    assert index.writes_of(WRITER) == [] and index.unwritten_leases() == []
    assert index.writer_died(WRITER, on_disk=set()) == []
    index.move_ended(oid(1))
    index.validate()
    assert index.where(oid(1)) == SHM and index.entries[oid(1)].writer == 0


def test_the_latest_writer_of_a_reservation_is_the_one_whose_death_counts() -> None:
    index = StoreIndex(100)
    reserve_for_writer(index, 1, 30, writer=WRITER)
    assert index.reserve(oid(1), 30, primary=True, writer=OTHER) == []  # a retried task's new executor
    assert index.writer_died(WRITER, on_disk=set()) == []
    assert index.writer_died(OTHER, on_disk=set()) == [oid(1)]


def test_a_writer_link_ends_with_its_reservation() -> None:
    """A lapsed reservation written again by someone else is not that writer's any more."""
    index = StoreIndex(100)
    reserve_for_writer(index, 1, 30, lease=5.0)
    assert index.settle(6.0, {}) == [oid(1)]
    assert index.reserve(oid(1), 30, primary=True) == []  # a push of the same object, by the daemon
    assert index.writer_died(WRITER, on_disk=set()) == []
    assert index.where(oid(1)) == SHM


# ---- with spill and evict decisions ------------------------------------------------------


def test_a_reservation_for_a_writer_is_never_spilled_until_found_written() -> None:
    index = StoreIndex(100)
    reserve_for_writer(index, 1, 60)
    assert index.reserve(oid(2), 60, primary=True) is None
    index.settle(1.0, {oid(1): 60})
    assert index.reserve(oid(2), 60, primary=True) == [Spill(oid(1))]
    index.validate()
    assert index.where(oid(1)) == DISK


def test_an_object_found_larger_than_reserved_makes_the_next_reservation_spill_more() -> None:
    index = StoreIndex(100)
    written_here(index, 1, 30)
    reserve_for_writer(index, 2, 10)
    index.settle(1.0, {oid(2): 50})  # 80 bytes in shared memory, not 40
    assert index.reserve(oid(3), 60, primary=True) == [Spill(oid(1)), Spill(oid(2))]  # 40 would spill one
    index.validate()


def test_a_spill_is_not_due_once_its_object_was_freed_or_written_again() -> None:
    index = StoreIndex(100)
    written_here(index, 1, 40)
    written_here(index, 2, 40)
    actions = index.reserve(oid(3), 90, primary=True)
    assert actions == [Spill(oid(1)), Spill(oid(2))]
    assert index.due(Spill(oid(1)))
    index.abandon(oid(2))  # the head freed it while the first spill ran
    assert not index.due(Spill(oid(2)))
    written_here(index, 2, 5)  # and it was written again (a retried task): in shared memory
    assert not index.due(Spill(oid(2)))


def test_an_eviction_is_not_due_once_the_copy_was_pulled_again() -> None:
    index = StoreIndex(100)
    written_here(index, 1, 60, primary=False)
    assert index.reserve(oid(2), 60, primary=True) == [Evict(oid(1))]
    assert index.due(Evict(oid(1)))
    written_here(index, 1, 30, primary=False)  # pulled again before the eviction ran
    assert not index.due(Evict(oid(1)))


# ---- invariants ------------------------------------------------------------------------


def test_validate_notices_a_written_object_that_still_names_its_writer() -> None:
    index = StoreIndex(100)
    reserve_for_writer(index, 1, 30)
    index.entries[oid(1)].pinned = False
    with pytest.raises(AssertionError):
        index.validate()
