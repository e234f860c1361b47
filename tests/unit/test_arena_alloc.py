"""The arena's allocator: first fit, 64-byte alignment, coalescing, accounting."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from raylite.worker.state.arena_alloc import ALIGN, ArenaAllocator


def oid(n: int) -> bytes:
    return n.to_bytes(20, "big")


def test_ranges_are_aligned_first_fit_and_low() -> None:
    a = ArenaAllocator(4096)
    r1, r2 = a.alloc(oid(1), 1), a.alloc(oid(2), 100)
    assert r1 is not None and r2 is not None
    assert (r1.offset, r1.length, r2.offset, r2.length) == (0, ALIGN, ALIGN, 2 * ALIGN)
    assert a.high_water() == 3 * ALIGN
    a.validate()


def test_freed_neighbours_merge_into_one_hole() -> None:
    a = ArenaAllocator(1024)
    for n in range(4):
        assert a.alloc(oid(n), 256) is not None
    assert a.alloc(oid(9), 1) is None  # full
    a.free(oid(1))
    a.free(oid(2))
    assert a.holes == [(256, 512)]
    assert a.fragmentation() == 0.0
    got = a.alloc(oid(5), 512)  # only fits because the two holes merged
    assert got is not None and got.offset == 256
    a.free(oid(0))
    a.free(oid(3))
    assert a.fragmentation() == 0.5  # two holes of 256 bytes
    a.validate()


def test_an_object_keeps_its_range_when_reserved_again() -> None:
    a = ArenaAllocator(1024)
    first = a.alloc(oid(1), 100)
    assert a.alloc(oid(1), 60) == first
    bigger = a.alloc(oid(1), 300)
    assert bigger is not None and bigger.length == 320 and a.allocated == 320
    assert a.free(oid(7)) is None
    a.validate()


def test_high_water_is_zero_when_empty_and_capacity_when_the_top_is_used() -> None:
    a = ArenaAllocator(256)
    assert a.high_water() == 0
    a.alloc(oid(1), 256)
    assert a.high_water() == 256


ops = st.lists(st.tuples(st.booleans(), st.integers(0, 15), st.integers(1, 3000)), max_size=120)


@settings(max_examples=120, deadline=None)
@given(ops)
def test_random_alloc_free_sequences_keep_the_invariants(steps: list[tuple[bool, int, int]]) -> None:
    """No two ranges overlap, holes are merged, bytes add up, and a request fails only
    when no hole is large enough."""
    a = ArenaAllocator(16 * 1024)
    for is_alloc, n, size in steps:
        if is_alloc:
            before = list(a.holes)
            got = a.alloc(oid(n), size)
            if got is None:
                need = -(-size // ALIGN) * ALIGN
                assert all(length < need for _, length in before) or oid(n) in a.ranges
            else:
                assert got.length >= size and got.offset % ALIGN == 0
        else:
            a.free(oid(n))
        a.validate()
        assert 0.0 <= a.fragmentation() <= 1.0
        assert a.free_bytes() == sum(length for _, length in a.holes)
