"""The node's object store: the I/O around StoreIndex (raylite/worker/state) and the arena.

Objects live in the node's arena (raylite/worker/arena.py), one shared-memory
file in `store_dir`, each published under its id by a link naming its range
(raylite/store.py); an object the arena has no hole for gets a file of its
own in the same folder. Spilled primaries move to `spill_dir` on disk, as
files. Writers on this node reserve room first (the Reserve RPC, or `reserve`
here for the daemon's own transfers), which gives them their range, then write
and seal it themselves. Readers map objects directly; one that finds an object
gone asks the daemon (Pull), which restores it from disk. Room reserved for
another process lapses if its object has not appeared within `lease_s`; its
range is reused only once its writer is gone (a live writer may still write).

StoreIndex keeps the books and makes every decision (what to spill or evict,
which reservations ended, what a dead writer leaves); this shell looks at
files, moves and deletes them, and makes reservations wait for room.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import mmap
import os
import shutil
import time
from collections.abc import Callable

from raylite import config, store
from raylite.worker.arena import Arena
from raylite.worker.state.arena_alloc import Range
from raylite.worker.state.store_index import DISK, Evict, Spill, StoreFull, StoreIndex

log = logging.getLogger("raylite.worker")


class NodeStore:
    def __init__(
        self,
        store_dir: str,
        spill_dir: str,
        capacity: int,
        on_copy_removed: Callable[[bytes], None],
        lease_s: float = config.RESERVATION_LEASE_S,
    ) -> None:
        self.store_dir = store_dir
        self.spill_dir = spill_dir
        self.lease_s = lease_s
        self.index = StoreIndex(capacity)
        self.on_copy_removed = on_copy_removed
        self.on_change: Callable[[], None] = lambda: None  # its use changed (raylite/worker/node_metrics.py)
        self._space = asyncio.Condition()
        # spills and restores in progress (index.moving), for readers and deleters to wait on
        self._moving: dict[bytes, asyncio.Future[None]] = {}
        self._io = concurrent.futures.ThreadPoolExecutor(config.STORE_IO_THREADS, thread_name_prefix="store-io")
        store.create_dir(store_dir)
        os.makedirs(spill_dir, mode=0o700, exist_ok=True)
        with open(os.path.join(store_dir, OWNER_FILE), "w") as f:
            f.write(f"{os.getpid()} {spill_dir}")
        self.arena = Arena(store_dir, capacity, on_space=self._wake)
        self._lapsed: dict[bytes, int] = {}  # ranges of lapsed reservations whose writer lives -> its pid
        self._writes: dict[bytes, tuple[str, int]] = {}  # open_for_write of a file of its own: tmp path, fd

    async def reserve(
        self, object_id: bytes, size: int, primary: bool, for_other: bool = False, writer: int = 0
    ) -> Range | None:
        """Makes room for object_id in shared memory; raises StoreFull if it can never fit.

        Returns the object's range in the arena, or None: no hole fits, write a file of its own.

        for_other: another process writes the file (the Reserve RPC); the room is
        held for lease_s at most unless the file appears. `writer` is that
        process's pid, if known: if it dies first, `writer_died` gives the room back at once.
        """
        lease = time.monotonic() + self.lease_s if for_other else None
        async with self._space:
            while True:
                self._settle()
                actions = self.index.reserve(object_id, size, primary, lease, writer)
                if actions is not None:
                    break
                await self._wait_for_space()  # only objects still being written are in the way
        self.on_change()
        for action in actions:
            await self._carry_out(action)
        return await self.arena.place(object_id, size)

    def open_for_write(self, object_id: bytes, size: int) -> memoryview:
        """A writable view of a reserved object's bytes (a transfer receives straight into it)."""
        got = self.arena.range_of(object_id)
        if got is not None:
            return self.arena.writable(got, size)
        tmp = f"{store.object_path(self.store_dir, object_id)}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_CREAT | os.O_RDWR | os.O_TRUNC, 0o600)
        os.ftruncate(fd, size)
        self._writes[object_id] = (tmp, fd)
        return memoryview(mmap.mmap(fd, size)) if size else memoryview(bytearray())

    def mapped(self, object_id: bytes) -> bool:
        """Whether open_for_write's view of the object has its pages mapped already (no faults to expect)."""
        got = self.arena.range_of(object_id)
        return got is not None and self.arena.mapped(got)

    def seal(self, object_id: bytes, size: int) -> None:
        """The bytes written through open_for_write are complete: readers find the object from now
        on, and its reservation counts as written."""
        self.publish(object_id, size)
        self.written(object_id)

    def publish(self, object_id: bytes, size: int) -> None:
        """seal() without marking it written (a transfer's caller does that once it has the copy)."""
        got = self.arena.range_of(object_id)
        pending = self._writes.pop(object_id, None)
        if pending is not None:
            os.close(pending[1])
            os.rename(pending[0], store.object_path(self.store_dir, object_id))
        elif got is not None:
            store.seal(self.store_dir, object_id, got.offset, size)

    def abort_write(self, object_id: bytes) -> None:
        """Drops what open_for_write began (a failed transfer); the reservation stays for another try
        (abandon() gives it back)."""
        pending = self._writes.pop(object_id, None)
        if pending is not None:
            os.close(pending[1])
            _unlink(pending[0])

    def _wake(self) -> None:
        asyncio.get_running_loop().create_task(self._notify())

    async def _wait_for_space(self) -> None:
        """Waits for a write to end, or for the next reservation lease to lapse."""
        lapse = self.index.next_lapse()
        if lapse is None:
            await self._space.wait()
            return
        try:
            timeout = max(0.0, lapse - time.monotonic()) + config.RESERVATION_WAKE_SLACK_S
            await asyncio.wait_for(self._space.wait(), timeout)
        except asyncio.TimeoutError:
            pass

    def written(self, object_id: bytes) -> None:
        self.index.written(object_id)
        self.on_change()
        asyncio.get_running_loop().create_task(self._notify())

    def abandon(self, object_id: bytes) -> None:
        self.index.abandon(object_id)
        self.arena.release(object_id)
        self.abort_write(object_id)
        self.on_change()
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self._space:
            self._space.notify_all()

    def _settle(self) -> None:
        """Reservations made over RPC end when the writer's file appears, or when their lease lapses."""
        found = {}
        writers = {}
        for oid in self.index.unwritten_leases():
            size = store.size_of(self.store_dir, oid)
            if size is not None:
                found[oid] = size
            writers[oid] = self.index.entries[oid].writer
        for oid in self.index.settle(time.monotonic(), found):
            log.warning(
                "the reservation of object %s lapsed: nothing was written within %.0fs", oid.hex()[:16], self.lease_s
            )
            if writers.get(oid) and _alive(writers[oid]):
                self._lapsed[oid] = writers[oid]  # it may still write: its range waits for its death
            else:
                self._drop_lapsed(oid)

    def _drop_lapsed(self, oid: bytes) -> None:
        if self.index.where(oid) is None:  # (not reserved again since)
            if store.locate_or_none(store.object_path(self.store_dir, oid)) is not None:
                _unlink(store.object_path(self.store_dir, oid))  # sealed too late: its range goes
            self.arena.release(oid)

    def writer_died(self, pid: int) -> None:
        """A process that reserved room died: what it had not written yet will never come."""
        on_disk = {oid for oid in self.index.writes_of(pid) if store.contains(self.store_dir, oid)}
        for oid in self.index.writer_died(pid, on_disk):
            _unlink(f"{store.object_path(self.store_dir, oid)}.{pid}.tmp")  # its half-written bytes
            self.arena.release(oid)
        for oid in [oid for oid, writer in self._lapsed.items() if writer == pid]:
            del self._lapsed[oid]
            self._drop_lapsed(oid)
        asyncio.get_running_loop().create_task(self._notify())

    async def _carry_out(self, action: Evict | Spill) -> None:
        # The actions of one reservation run one after the other: by the time one
        # runs, its object may have been freed (and even written again) meanwhile.
        if not self.index.due(action):
            return
        oid = action.object_id
        if isinstance(action, Evict):
            await asyncio.get_running_loop().run_in_executor(self._io, _unlink, store.object_path(self.store_dir, oid))
            self.arena.release(oid)
            self.on_copy_removed(oid)
            return
        await self._move(oid, self.store_dir, self.spill_dir)
        self.arena.release(oid)
        log.info("spilled %s to %s", oid.hex()[:16], self.spill_dir)

    async def _move(self, oid: bytes, src_dir: str, dst_dir: str, into: Range | None = None) -> None:
        """Moves an object between shared memory (its arena range or file) and disk, off the loop.

        into: its new range when it comes back into the arena. At every moment
        one of the two names exists (copy, rename or seal, unlink), and
        `_moving` lets readers and deleters wait for the move to finish.
        """
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        self._moving[oid] = done
        self.index.move_started(oid)
        try:
            await loop.run_in_executor(self._io, _move_file, oid, src_dir, dst_dir, into)
        finally:
            self.index.move_ended(oid)
            del self._moving[oid]
            self.on_change()
            done.set_result(None)

    async def ensure_local(self, object_id: bytes) -> bool:
        """Brings a spilled object back into shared memory; False if we never had it."""
        moving = self._moving.get(object_id)
        if moving is not None:
            await moving
        if store.contains(self.store_dir, object_id):
            self.index.touched(object_id)
            return True
        entry = self.index.entries.get(object_id)
        if entry is None or entry.where != DISK:
            return False
        got = await self.reserve(object_id, entry.size, primary=True)
        await self._move(object_id, self.spill_dir, self.store_dir, got)
        self.written(object_id)
        return True

    def delete(self, object_id: bytes) -> None:
        """Nothing references the object any more: its bytes go, in memory and on disk."""
        moving = self._moving.get(object_id)
        if moving is not None:  # let a spill or restore finish first
            moving.add_done_callback(lambda _: self.delete(object_id))
            return
        self.index.abandon(object_id)
        for folder in (self.store_dir, self.spill_dir):
            _unlink(store.object_path(folder, object_id))
        self.arena.release(object_id)
        self._lapsed.pop(object_id, None)
        self.on_change()
        asyncio.get_running_loop().create_task(self._notify())

    def promote(self, object_id: bytes) -> None:
        """The head made our secondary copy the primary (its node died): keep it like our own."""
        self.index.promote(object_id)

    def held(self) -> tuple[list[tuple[bytes, int]], list[bytes]]:
        """(primary copies with their sizes, secondary copies) whose bytes are complete."""
        done = [(oid, e) for oid, e in self.index.entries.items() if not e.pinned]
        return [(oid, e.size) for oid, e in done if e.primary], [oid for oid, e in done if not e.primary]

    def readable_path(self, object_id: bytes) -> str | None:
        """Where to read an object's bytes from right now (shared memory or disk)."""
        for folder in (self.store_dir, self.spill_dir):
            path = store.object_path(folder, object_id)
            if os.path.lexists(path):
                return path
        return None

    def close(self) -> None:
        self._io.shutdown(wait=False)
        self.arena.close()
        store.remove_dir(self.store_dir)
        shutil.rmtree(self.spill_dir, ignore_errors=True)


OWNER_FILE = ".owner"  # "<daemon pid> <spill dir>": lets a later daemon sweep a killed one's store


def sweep_stale_stores(root: str) -> list[str]:
    """Removes the stores (and spill folders) of worker daemons that died without cleaning up.

    A daemon killed with SIGKILL leaves its shared-memory folder behind; the next
    daemon on the machine removes it. Folders without an owner file are not ours.
    """
    removed: list[str] = []
    if not os.path.isdir("/proc"):
        return removed  # no way to tell a live owner from a dead one here
    try:
        names = os.listdir(root)
    except OSError:
        return removed
    for name in names:
        if not name.startswith("raylite-"):
            continue
        folder = os.path.join(root, name)
        try:
            with open(os.path.join(folder, OWNER_FILE)) as f:
                pid_text, _, spill_dir = f.read().partition(" ")
            pid = int(pid_text)
        except (OSError, ValueError):
            continue
        if _is_worker_daemon(pid):
            continue
        store.remove_dir(folder)
        if spill_dir:
            shutil.rmtree(spill_dir, ignore_errors=True)
        removed.append(folder)
    return removed


def _is_worker_daemon(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"raylite.worker.daemon" in f.read()
    except OSError:
        return False


def _move_file(oid: bytes, src_dir: str, dst_dir: str, into: Range | None) -> None:
    src = store.object_path(src_dir, oid)
    dst = store.object_path(dst_dir, oid)
    where = store.locate(src)
    if into is not None:  # back into the arena
        size = os.stat(src).st_size
        _copy(src, 0, os.path.join(dst_dir, store.ARENA_FILE), into.offset, size)
        store.seal(dst_dir, oid, into.offset, size)
    elif where is not None:  # out of the arena, into a file
        offset, size = where
        _copy(os.path.join(src_dir, store.ARENA_FILE), offset, f"{dst}.moving.tmp", 0, size, create=True)
        os.rename(f"{dst}.moving.tmp", dst)
    else:
        shutil.copyfile(src, f"{dst}.moving.tmp")
        os.rename(f"{dst}.moving.tmp", dst)
    os.unlink(src)


def _copy(src: str, src_offset: int, dst: str, dst_offset: int, size: int, create: bool = False) -> None:
    """Copies size bytes between files inside the kernel (sendfile: shared memory and disk are
    different file systems, which copy_file_range refuses), no user-space buffer."""
    flags = os.O_WRONLY | (os.O_CREAT | os.O_TRUNC if create else 0)
    with open(src, "rb") as fin:
        out = os.open(dst, flags, 0o600)
        try:
            os.lseek(out, dst_offset, os.SEEK_SET)
            done = 0
            while done < size:
                n = os.sendfile(out, fin.fileno(), src_offset + done, size - done)
                if n == 0:
                    raise OSError(f"{src} ended after {done} of {size} bytes")
                done += n
        finally:
            os.close(out)


def _alive(pid: int) -> bool:
    """Whether process pid exists (a peer's writer_pid may be any uint32: past the pid range, none does)."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        return True
    return True


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


__all__ = ["NodeStore", "StoreFull"]
