"""raylite/pages.py: receive buffers whose pages are mapped before the bytes arrive."""

from __future__ import annotations

import mmap
import resource

import pytest

from raylite import pages

MiB = 1 << 20


def faults_while_writing(view: memoryview) -> int:
    before = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
    for pos in range(0, view.nbytes, mmap.PAGESIZE):
        view[pos] = 1
    return resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - before


def test_a_populated_buffer_takes_no_fault_per_page_and_a_fresh_one_does() -> None:
    populated, fresh = mmap.mmap(-1, 8 * MiB), mmap.mmap(-1, 8 * MiB)
    fresh.madvise(mmap.MADV_NOHUGEPAGE)  # 4 KiB pages even where huge pages are on for every map
    if not pages.populate(memoryview(populated)[100:]):  # an unaligned start maps its whole first page too
        pytest.skip("this kernel has no MADV_POPULATE_WRITE (Linux < 5.14)")
    assert faults_while_writing(memoryview(populated)) < 8
    assert faults_while_writing(memoryview(fresh)) >= 8 * MiB // mmap.PAGESIZE // 2


def test_prefault_runs_ahead_and_a_receiver_never_waits_on_a_thread_that_gave_up() -> None:
    if not pages.populate(memoryview(mmap.mmap(-1, MiB))):
        pytest.skip("this kernel has no MADV_POPULATE_WRITE (Linux < 5.14)")
    buf = pages.anonymous(16 * MiB)
    ahead = pages.Prefault(memoryview(buf), step=4 * MiB)
    ahead.ready(16 * MiB)
    ahead.close()
    assert faults_while_writing(memoryview(buf)) < 16
    readonly = memoryview(bytes(4 * MiB))  # populate cannot take it (not writable): the thread stops
    broken = pages.Prefault(readonly, step=MiB)
    broken.ready(4 * MiB)  # returns: the thread is gone
    broken.close()


def test_a_recycled_buffer_comes_back_once_its_last_view_goes_and_only_for_a_size_that_fits() -> None:
    recycler = pages.Recycler(keep_bytes=8 * MiB, min_bytes=6 * MiB)
    view, fresh = recycler.take(8 * MiB)
    assert fresh and recycler.kept() == 0
    part = view[100:200]  # a slice keeps the buffer in use
    del view
    assert recycler.kept() == 0
    del part
    assert recycler.kept() == 8 * MiB
    small, fresh = recycler.take(5 * MiB)  # would waste over a fifth of it: a new one
    assert fresh and recycler.kept() == 8 * MiB
    again, fresh = recycler.take(7 * MiB)
    assert not fresh and recycler.kept() == 0 and again.nbytes == 7 * MiB and not again.readonly
    del small
    assert recycler.kept() == 0  # under min_bytes: never kept
    other, _ = recycler.take(8 * MiB)
    del again, other
    assert recycler.kept() == 8 * MiB  # keep_bytes holds one of the two
