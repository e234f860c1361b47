"""The node's arena: one shared-memory file, pre-faulted as it fills, and the I/O around its allocator.

At start the daemon creates `<store dir>/arena` of the store's capacity
(sparse: no memory yet) and allocates the pages of its first
`config.ARENA_FIRST_BYTES` in one `fallocate`; as the allocator's high-water
mark nears the end of what is allocated, the next `config.ARENA_GROW_BYTES`
are allocated the same way, off the event loop and ahead of need. Writers then
copy into pages that exist: no page fault and no zeroing per 4 KiB page on
the hot path. A range past what is allocated is handed out at once all the
same: the writer's pwrite allocates what the growth has not reached yet. The allocator (raylite/worker/state/arena_alloc.py) keeps the
used part low (first fit), so memory touched follows the high-water mark of
the store, not its capacity.

Freeing. A range whose object is gone (freed, evicted, spilled, abandoned) is
reused only when no reader maps it: readers pin ranges with shared fcntl locks
(raylite/store.py). `release` tries an exclusive lock at once; if a reader in
this process pins the range, the free waits for its last view to go
(`on_unpinned`); if another process does, a waiter thread blocks on the lock
and hands the range back when the kernel grants it (at the latest when the
reader exits, however it exits). Until then the range is `deferred`: its
bytes stay intact for the reader, and the store's accounting (StoreIndex)
already counts the room as free, so an allocation that finds no hole falls
back to a file of its own (`place` returns None) rather than wait on a reader.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import threading
from collections.abc import Callable

from raylite import config, pages, store
from raylite.worker.state.arena_alloc import ArenaAllocator, Range

log = logging.getLogger("raylite.worker")


class Arena:
    def __init__(self, store_dir: str, capacity: int, on_space: Callable[[], None]) -> None:
        self.store_dir = store_dir
        self.allocator = ArenaAllocator(capacity)
        self.on_space = on_space  # a deferred range came back: waiting reservations may fit now
        path = os.path.join(store_dir, store.ARENA_FILE)
        fd = os.open(path, os.O_CREAT | os.O_RDWR | os.O_TRUNC, 0o600)
        try:
            os.ftruncate(fd, self.allocator.capacity)
            self.faulted = _fallocate(fd, 0, min(config.ARENA_FIRST_BYTES, self.allocator.capacity))
        finally:
            os.close(fd)
        os.close(os.open(os.path.join(store_dir, store.LOCK_FILE), os.O_CREAT | os.O_RDWR, 0o600))
        self.handle = store.handle(store_dir)
        self.map = self.handle.writable()  # the daemon's map: transfers receive into it (made here, on the loop)
        self.populated = 0  # bytes from the start of the arena mapped in self.map already (raylite/pages.py)
        self.deferred: dict[bytes, Range] = {}  # freed ranges a reader still maps, by a key of their own
        self._keys = itertools.count()
        self._growing: asyncio.Future[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._waiting = 0  # waiter threads blocked on another process's pin

    async def place(self, object_id: bytes, size: int) -> Range | None:
        """A range for an object, its pages allocated; None if no hole fits (write a file instead)."""
        got = self.allocator.alloc(object_id, size)
        if got is None and self.deferred:
            self._sweep()
            got = self.allocator.alloc(object_id, size)
        if got is None:
            return None
        # Pages not allocated yet are allocated by the writer's pwrite as it goes (in the kernel, no
        # fault per page), and by the growth running meanwhile on another core: neither waits for the other.
        need = max(got.offset + got.length, self.allocator.high_water() + config.ARENA_GROW_BYTES // 2)
        if need > self.faulted and self._growing is None:
            task = asyncio.get_running_loop().create_task(self._grow(need))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        return got

    async def _grow(self, need: int) -> None:
        """Allocates the arena's pages up to `need` rounded up to a growth step, off the loop."""
        if self._growing is not None or need <= self.faulted or self.faulted >= self.allocator.capacity:
            return
        step = config.ARENA_GROW_BYTES
        upto = min(self.allocator.capacity, -(-need // step) * step)
        loop = asyncio.get_running_loop()
        self._growing = loop.create_future()
        try:
            self.faulted = await loop.run_in_executor(None, _fallocate_path, self._path(), self.faulted, upto)
            if await loop.run_in_executor(None, pages.populate, self.map[self.populated : self.faulted]):
                self.populated = max(self.populated, self.faulted)
        finally:
            self._growing.set_result(None)
            self._growing = None

    def _path(self) -> str:
        return os.path.join(self.store_dir, store.ARENA_FILE)

    def writable(self, got: Range, size: int) -> memoryview:
        return store.writable(self.store_dir, got.offset, size)

    def mapped(self, got: Range) -> bool:
        """Whether the daemon's map has the range's pages already (a write into them takes no fault)."""
        return got.offset + got.length <= self.populated

    def range_of(self, object_id: bytes) -> Range | None:
        return self.allocator.ranges.get(object_id)

    def release(self, object_id: bytes) -> None:
        """The object's name is gone: its range is reused once no reader maps it."""
        got = self.allocator.ranges.get(object_id)
        if got is None:
            return
        key = b"\0freed" + next(self._keys).to_bytes(8, "big")  # the id may be written again meanwhile
        self.allocator.ranges[key] = self.allocator.ranges.pop(object_id)
        self.deferred[key] = got
        self._reclaim(key)

    def _reclaim(self, key: bytes) -> bool:
        got = self.deferred.get(key)
        if got is None:
            return True
        who = self.handle.try_exclusive(got.offset, got.length)
        if who is None:
            del self.deferred[key]
            self.allocator.free(key)
            return True
        loop = asyncio.get_running_loop()
        if who == "here":

            def unpinned() -> None:
                loop.call_soon_threadsafe(self._reclaimed, key)

            self.handle.on_unpinned[got.offset] = unpinned
        elif self._waiting < config.ARENA_FREE_WAITERS:  # past that, the next allocation's sweep takes it back
            self._waiting += 1
            threading.Thread(target=self._wait, args=(loop, key, got), name="arena-free", daemon=True).start()
        return False

    def _wait(self, loop: asyncio.AbstractEventLoop, key: bytes, got: Range) -> None:
        """(a thread of its own, daemon: a reader holding on must not keep the daemon from exiting)"""
        try:
            self.handle.wait_exclusive(got.offset, got.length)
        except OSError:
            pass  # the store closed under us
        try:
            loop.call_soon_threadsafe(self._waited, key)
        except RuntimeError:
            pass  # the loop is gone: the daemon is stopping

    def _waited(self, key: bytes) -> None:
        self._waiting -= 1
        self._reclaimed(key)

    def _reclaimed(self, key: bytes) -> None:
        if key in self.deferred and self._reclaim(key):
            self.on_space()

    def _sweep(self) -> None:
        """Takes back every deferred range no reader maps any more (an allocation found no hole)."""
        for key, got in list(self.deferred.items()):
            if self.handle.try_exclusive(got.offset, got.length) is None:
                del self.deferred[key]
                self.allocator.free(key)

    def close(self) -> None:
        store.forget(self.store_dir)


def _fallocate(fd: int, start: int, end: int) -> int:
    """Allocates (and zeroes, once) the pages of [start, end); returns end."""
    if end > start:
        try:
            os.posix_fallocate(fd, start, end - start)
        except OSError as exc:  # e.g. a file system without fallocate: pages come on first touch
            log.warning("could not pre-allocate the object store's arena (%s); writes will fault pages in", exc)
    return end


def _fallocate_path(path: str, start: int, end: int) -> int:
    fd = os.open(path, os.O_RDWR)
    try:
        return _fallocate(fd, start, end)
    finally:
        os.close(fd)
