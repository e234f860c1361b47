"""The node's object store: the I/O around StoreIndex (raylite/worker/state).

Files live in a shared-memory folder (`store_dir`), one per object; spilled
primaries move to `spill_dir` on disk. Writers on this node reserve room
first (the Reserve RPC, or `reserve` here for the daemon's own transfers), then
write the file themselves. Readers map files directly; one that finds a file
gone asks the daemon (Pull), which restores it from disk. Room reserved for
another process lapses if its file has not appeared within `lease_s`.

StoreIndex keeps the books and makes every decision (what to spill or evict,
which reservations ended, what a dead writer leaves); this shell looks at
files, moves and deletes them, and makes reservations wait for room.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import shutil
import time
from collections.abc import Callable

from raylite import config, store
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

    async def reserve(
        self, object_id: bytes, size: int, primary: bool, for_other: bool = False, writer: int = 0
    ) -> None:
        """Makes room for object_id in shared memory; raises StoreFull if it can never fit.

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
        self.on_change()
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self._space:
            self._space.notify_all()

    def _settle(self) -> None:
        """Reservations made over RPC end when the writer's file appears, or when their lease lapses."""
        found = {}
        for oid in self.index.unwritten_leases():
            size = store.size_of(self.store_dir, oid)
            if size is not None:
                found[oid] = size
        for oid in self.index.settle(time.monotonic(), found):
            log.warning(
                "the reservation of object %s lapsed: nothing was written within %.0fs", oid.hex()[:16], self.lease_s
            )

    def writer_died(self, pid: int) -> None:
        """A process that reserved room died: what it had not written yet will never come."""
        on_disk = {oid for oid in self.index.writes_of(pid) if store.contains(self.store_dir, oid)}
        for oid in self.index.writer_died(pid, on_disk):
            _unlink(f"{store.object_path(self.store_dir, oid)}.{pid}.tmp")  # its half-written bytes
        asyncio.get_running_loop().create_task(self._notify())

    async def _carry_out(self, action: Evict | Spill) -> None:
        # The actions of one reservation run one after the other: by the time one
        # runs, its object may have been freed (and even written again) meanwhile.
        if not self.index.due(action):
            return
        oid = action.object_id
        if isinstance(action, Evict):
            await asyncio.get_running_loop().run_in_executor(self._io, _unlink, store.object_path(self.store_dir, oid))
            self.on_copy_removed(oid)
            return
        await self._move(oid, self.store_dir, self.spill_dir)
        log.info("spilled %s to %s", oid.hex()[:16], self.spill_dir)

    async def _move(self, oid: bytes, src_dir: str, dst_dir: str) -> None:
        """Moves an object's file between shared memory and disk, off the loop.

        At every moment one of the two files exists (copy, rename, unlink), and
        `_moving` lets readers and deleters wait for the move to finish.
        """
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        self._moving[oid] = done
        self.index.move_started(oid)
        try:
            await loop.run_in_executor(self._io, _move_file, oid, src_dir, dst_dir)
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
        await self.reserve(object_id, entry.size, primary=True)
        await self._move(object_id, self.spill_dir, self.store_dir)
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
            if os.path.exists(path):
                return path
        return None

    def close(self) -> None:
        self._io.shutdown(wait=False)
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


def _move_file(oid: bytes, src_dir: str, dst_dir: str) -> None:
    src = store.object_path(src_dir, oid)
    dst = store.object_path(dst_dir, oid)
    shutil.copyfile(src, f"{dst}.moving.tmp")
    os.rename(f"{dst}.moving.tmp", dst)
    os.unlink(src)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


__all__ = ["NodeStore", "StoreFull"]
