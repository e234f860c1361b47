"""The C library, opened once for the modules that call it through ctypes.

`libc` is a ctypes.CDLL handle: a call through it releases the GIL while the kernel
works (mmap and munmap of the object store's read-only map, raylite/store.py;
madvise to populate pages, raylite/pages.py). `held` is a ctypes.PyDLL handle on the
same library: a call keeps the GIL, for syscalls shorter than a GIL hand-over
(store.py's readlink and fcntl on a get). The prototypes of the functions called
through `libc` are set here, once, so that no module sees another's half-declared
function.
"""

from __future__ import annotations

import ctypes

libc = ctypes.CDLL(None, use_errno=True)
held = ctypes.PyDLL(None, use_errno=True)

libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long)
libc.munmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
libc.madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
libc.madvise.restype = ctypes.c_int

MAP_FAILED = ctypes.c_void_p(-1).value
