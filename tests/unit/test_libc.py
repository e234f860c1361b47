"""One libc handle (raylite/libc.py) for the modules that call the C library through ctypes."""

from __future__ import annotations

import ctypes

from raylite import libc, pages, store


def test_the_store_and_pages_share_the_one_handle_and_its_prototypes() -> None:
    assert store._libc is libc.libc and pages._libc is libc.libc and store._held is libc.held
    assert libc.libc.mmap.restype is ctypes.c_void_p and libc.libc.madvise.restype is ctypes.c_int
