"""Pages mapped before bytes arrive: a transfer's receiver takes no page fault.

A `recv_into` a page this process has not mapped yet takes a page fault per
4 KiB (262,144 for 1 GiB), each a trip into the kernel on the receiving
thread; on an anonymous buffer each also zeroes the page. `populate` asks the
kernel to map a whole range at once (madvise MADV_POPULATE_WRITE, Linux 5.14):
for pages of the arena already allocated it only fills page tables, about
0.07 s per GiB against ~0.16 s of faults measured on the receiving thread
(docs/performance.md). `Prefault` runs it a step ahead of the receiver in a
thread of its own, so the two overlap; `anonymous` is a receive buffer of
transparent huge pages (one fault and zeroing per 2 MiB, where the kernel
allows them) for a reader with no store.

None of this changes what a reader sees: populating writes nothing. Where
the kernel cannot (older kernels, other systems) everything still works,
faulting pages in as before.
"""

from __future__ import annotations

import ctypes
import mmap
import threading
import weakref

from raylite import libc

MADV_POPULATE_WRITE = 23  # linux/mman.h (Python 3.11's mmap module does not name it)
STEP = 32 << 20  # how far ahead of the receiver each populate call maps

_libc = libc.libc  # a CDLL call releases the GIL while the kernel works (raylite/libc.py)
_supported = True


def populate(view: memoryview) -> bool:
    """Maps every page of a writable view now (allocating any the file lacks); False if the kernel cannot."""
    global _supported
    if not _supported or view.nbytes == 0 or view.readonly:
        return False
    anchor = ctypes.c_char.from_buffer(view)
    try:
        address = ctypes.addressof(anchor)
    finally:
        del anchor  # the export would keep the view from being released
    start = address - address % mmap.PAGESIZE
    if _libc.madvise(start, address + view.nbytes - start, MADV_POPULATE_WRITE) == 0:
        return True
    if ctypes.get_errno() == 22:  # EINVAL: a kernel before 5.14, or a mapping it will not populate
        _supported = False
    return False


def anonymous(size: int) -> mmap.mmap:
    """A private zeroed buffer of size bytes, backed by huge pages where the kernel gives them."""
    buf = mmap.mmap(-1, max(size, 1))
    if hasattr(mmap, "MADV_HUGEPAGE") and size >= 2 << 20:
        try:
            buf.madvise(mmap.MADV_HUGEPAGE)
        except OSError:
            pass  # transparent huge pages off: 4 KiB pages, faulted in (or populated) as usual
    return buf


class Prefault:
    """Populates a receive buffer a STEP at a time ahead of its receiver, in a thread of its own.

    The receiver calls `ready(end)` before writing up to `end`: it returns at once when that part is
    mapped, waits while the thread is on it, and never waits on a thread that stopped or failed
    (the receiver then faults the pages in itself, as without this).
    """

    def __init__(self, view: memoryview, step: int = STEP) -> None:
        self._view = view
        self._step = step
        self._done = 0  # bytes from the start that are mapped, or the whole view once it gave up
        self._stop = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="prefault", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        total, pos = self._view.nbytes, 0
        try:
            while pos < total and not self._stop:
                end = min(total, pos + self._step)
                piece = self._view[pos:end]
                ok = populate(piece)
                piece.release()
                if not ok:
                    return
                with self._cond:
                    self._done = end
                    self._cond.notify_all()
                pos = end
        finally:  # done, stopped or failed: the receiver waits no more
            with self._cond:
                self._done = total
                self._cond.notify_all()

    def ready(self, end: int) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self._done >= end or self._stop, timeout=5.0)

    def close(self) -> None:
        """Stops the thread and waits for it (at most one populate step): the view may go after this."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join()


class Recycler:
    """Large receive buffers taken back when the last view of one goes, for a later receive that fits.

    A driver with no store reads each large object into a buffer of its own; a fresh one costs a
    zeroing and a mapping of every page (about 0.3 s of CPU per GiB here). When every view of a
    buffer is gone (its owner's finalizer, as for the arena's reader views), it is kept, up to
    keep_bytes in all, and the next receive of a size between 80 and 100 % of it takes it, its pages
    already mapped. Only buffers of at least min_bytes are kept: smaller ones are cheap to make.
    """

    def __init__(self, keep_bytes: int, min_bytes: int = 64 << 20) -> None:
        self.keep_bytes = keep_bytes
        self.min_bytes = min_bytes
        self._free: list[mmap.mmap] = []
        self._lock = threading.Lock()

    def take(self, size: int) -> tuple[memoryview, bool]:
        """A writable view of size bytes, and whether its pages are new (not mapped yet)."""
        buf = self._reuse(size) if size >= self.min_bytes else None
        fresh = buf is None
        if buf is None:
            buf = anonymous(size)
        owner = (ctypes.c_char * size).from_buffer(buf)
        if size >= self.min_bytes and self.keep_bytes > 0:
            weakref.finalize(owner, self._give_back, buf)
        return memoryview(owner).cast("B"), fresh

    def _reuse(self, size: int) -> mmap.mmap | None:
        with self._lock:
            fits = [b for b in self._free if size <= len(b) and size * 5 >= len(b) * 4]
            if not fits:
                return None
            best = min(fits, key=len)
            self._free.remove(best)
            return best

    def _give_back(self, buf: mmap.mmap) -> None:
        with self._lock:
            self._free.append(buf)
            while sum(len(b) for b in self._free) > self.keep_bytes:
                self._free.pop(0)  # the oldest goes (unmapped once nothing refers to it)

    def kept(self) -> int:
        with self._lock:
            return sum(len(b) for b in self._free)
