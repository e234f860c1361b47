"""The node store's admission, eviction and spilling decisions, without files."""

from __future__ import annotations

import pytest

from raylite.worker.state.store_index import DISK, SHM, Evict, Spill, StoreFull, StoreIndex


def oid(n: int) -> bytes:
    return n.to_bytes(20, "big")


def admit(index: StoreIndex, n: int, size: int, primary: bool = True) -> list:
    actions = index.reserve(oid(n), size, primary)
    assert actions is not None
    index.written(oid(n))
    index.validate()
    return actions


def test_fits_without_actions() -> None:
    index = StoreIndex(100)
    assert admit(index, 1, 60) == []
    assert admit(index, 2, 40) == []
    assert index.used == 100


def test_secondary_copies_are_evicted_before_and_primaries_spilled_lru() -> None:
    index = StoreIndex(100)
    admit(index, 1, 40, primary=True)
    admit(index, 2, 40, primary=False)
    index.touched(oid(1))  # 2 is now least recently used
    assert admit(index, 3, 40) == [Evict(oid(2))]
    assert admit(index, 4, 50) == [Spill(oid(1))]
    assert index.where(oid(1)) == DISK and index.where(oid(2)) is None
    assert index.used == 90


def test_a_promoted_copy_is_spilled_like_a_primary_not_evicted() -> None:
    """The head promotes a copy when its primary's node dies: it is then the only one."""
    index = StoreIndex(100)
    admit(index, 1, 60, primary=False)
    index.promote(oid(1))
    assert admit(index, 2, 60) == [Spill(oid(1))]
    assert index.where(oid(1)) == DISK
    index.promote(oid(3))  # evicted before the promotion came: nothing to do
    index.validate()


def test_restoring_a_spilled_object_spills_another() -> None:
    index = StoreIndex(100)
    admit(index, 1, 60)
    admit(index, 2, 60)  # spills 1
    assert index.where(oid(1)) == DISK
    assert index.reserve(oid(1), 60, primary=True) == [Spill(oid(2))]
    index.written(oid(1))
    index.validate()
    assert index.where(oid(1)) == SHM and index.where(oid(2)) == DISK


def test_pinned_objects_are_never_moved_and_the_caller_waits() -> None:
    index = StoreIndex(100)
    assert index.reserve(oid(1), 80, primary=True) == []  # being written: pinned
    assert index.reserve(oid(2), 50, primary=True) is None  # only pinned bytes in the way
    assert index.used == 80
    index.written(oid(1))
    assert index.reserve(oid(2), 50, primary=True) == [Spill(oid(1))]
    index.validate()


def test_object_larger_than_store_is_refused() -> None:
    index = StoreIndex(100)
    with pytest.raises(StoreFull, match="larger than the node's object store"):
        index.reserve(oid(1), 101, primary=True)


def test_abandoned_reservation_frees_its_bytes() -> None:
    index = StoreIndex(100)
    index.reserve(oid(1), 70, primary=True)
    index.abandon(oid(1))
    index.validate()
    assert index.used == 0 and admit(index, 2, 100) == []


def test_restoring_takes_the_size_the_object_was_written_with() -> None:
    """A second reservation of a spilled object (with another size) restores it as it was."""
    index = StoreIndex(100)
    admit(index, 1, 60)
    admit(index, 2, 60)  # spills 1
    assert index.reserve(oid(1), 5, primary=True) == [Spill(oid(2))]
    index.written(oid(1))
    index.validate()
    assert index.entries[oid(1)].size == 60 and index.used == 60


def test_written_counts_the_bytes_really_written() -> None:
    index = StoreIndex(100)
    index.reserve(oid(1), 10, primary=True, lease=5.0)
    index.written(oid(1), 70)  # the writer wrote more than it reserved
    index.validate()
    assert index.used == 70
    assert index.reserve(oid(2), 50, primary=True) == [Spill(oid(1))]


def test_an_unwritten_reservation_lapses_with_its_lease() -> None:
    index = StoreIndex(100)
    index.reserve(oid(1), 90, primary=True, lease=5.0)  # for a writer that then dies
    index.reserve(oid(2), 5, primary=True)  # the daemon's own write: no lease
    assert index.reserve(oid(3), 50, primary=True) is None
    assert index.next_lapse() == 5.0
    assert index.expire(4.9) == []
    assert index.expire(5.0) == [oid(1)]
    index.validate()
    assert index.where(oid(2)) == SHM and index.next_lapse() is None
    assert index.reserve(oid(3), 50, primary=True) == []


def test_a_written_reservation_never_lapses() -> None:
    index = StoreIndex(100)
    index.reserve(oid(1), 40, primary=True, lease=5.0)
    index.written(oid(1), 40)
    assert index.expire(100.0) == [] and index.where(oid(1)) == SHM
