"""A node's object store as every process on the host sees it: one arena file, and a name per object.

The store folder holds `arena`, one shared-memory file of the store's
capacity that the worker daemon pre-faults as it fills (raylite/worker/arena.py),
and one name per sealed object, `<object id hex>`:

- a symlink whose target is `arena:<offset>:<size>`: the object's bytes are
  that range of the arena. Writers pwrite into the range the daemon reserved
  for them, then create the link (`seal`); the link is the seal, so a reader
  never sees a half-written object. Creating a link is one syscall, and the
  bytes go into pages the daemon touched already: no page fault per page.
- a plain file (the fallback when the arena has no hole large enough, and the
  layout of spilled objects on disk): written as `<id>.<pid>.tmp`, renamed.

Readers take read-only views of an object out of one map of the whole arena per
process and unpickle straight from them: numpy arrays and other pickle-5
buffers stay backed by shared memory (zero-copy, read-only, as in Ray). A
reader pins the range it reads with a shared `fcntl` lock on the same range of
`arena.lock`, held while any view of it lives (a `weakref.finalize` on the
views' owner, a ctypes array over the range, releases it) and dropped by the
kernel if the reader dies. Reading an object this process pins already costs
no syscall: the range it was found at is remembered while pinned. The daemon reuses a freed range only once it can
take an exclusive lock on it: until then the free is deferred
(raylite/worker/arena.py). After taking its pin a reader reads the link
again: a link gone or changed meanwhile means the object was freed before
the pin held, and the read fails as for a missing object (FileNotFoundError).

fcntl locks belong to a process, not to a file descriptor or a thread, and
closing any descriptor of the lock file drops them all; so each process opens
the lock file once (`_Handle`) and counts its own pins per range.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import mmap
import os
import shutil
import sys
import threading
import weakref
from collections.abc import Callable
from typing import Any

from raylite import libc
from raylite.serialization import CONTAINED_ID_BYTES, HEADER_BYTES, Serialized, contained_count, deserialize

ARENA_FILE = "arena"
LOCK_FILE = "arena.lock"
_PAGE = mmap.PAGESIZE


def object_path(store_dir: str, object_id: bytes) -> str:
    return os.path.join(store_dir, object_id.hex())


def link_target(offset: int, size: int) -> str:
    return f"{ARENA_FILE}:{offset}:{size}"


def locate(path: str) -> tuple[int, int] | None:
    """(offset, size) of an object in the arena; None if it is a plain file.

    Raises FileNotFoundError if there is no such object.
    """
    try:
        target = _readlink(path)
    except OSError as exc:
        if exc.errno == errno.EINVAL:
            return None  # a plain file
        raise FileNotFoundError(path) from exc
    _, offset, size = target.split(":")
    return int(offset), int(size)


def locate_or_none(path: str) -> tuple[int, int] | None:
    """locate(), with None for a missing object as for a plain file."""
    try:
        return locate(path)
    except FileNotFoundError:
        return None


# --- writing -----------------------------------------------------------------------------------------------------


def write(store_dir: str, object_id: bytes, value: Serialized, offset: int | None = None) -> int:
    """Writes a serialized value into the store; returns its size in bytes.

    offset: where the daemon reserved room in the arena; None writes a file of its own.
    """
    if offset is None:
        final = object_path(store_dir, object_id)
        tmp = f"{final}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        try:
            value.write_to_fd(fd)
        finally:
            os.close(fd)
        os.rename(tmp, final)
        return value.size
    value.write_at(_handle(store_dir).fd, offset)
    seal(store_dir, object_id, offset, value.size)
    return value.size


def seal(store_dir: str, object_id: bytes, offset: int, size: int) -> None:
    """Publishes an object written into the arena: readers find it from now on."""
    final = object_path(store_dir, object_id)
    tmp = f"{final}.{os.getpid()}.{threading.get_ident()}.link"
    os.symlink(link_target(offset, size), tmp)
    os.rename(tmp, final)  # replaces an earlier copy's name atomically


def writable(store_dir: str, offset: int, size: int) -> memoryview:
    """A writable view of a reserved range of the arena (one map per process, pages kept mapped)."""
    return _handle(store_dir).writable()[offset : offset + size]


def pwrite_all(store_dir: str, offset: int, data: bytes | memoryview) -> None:
    view = memoryview(data).cast("B")
    fd = _handle(store_dir).fd
    while view.nbytes:
        n = os.pwrite(fd, view, offset)
        view = view[n:]
        offset += n


# --- reading -----------------------------------------------------------------------------------------------------


def map_readonly(store_dir: str, object_id: bytes) -> memoryview:
    """Maps an object's bytes read-only. Raises FileNotFoundError if absent."""
    return map_path(object_path(store_dir, object_id))


def map_path(path: str) -> memoryview:
    """Maps an object (an arena link or a plain file) read-only; the view pins it while it lives."""
    store_dir = os.path.dirname(path)
    known = _handles.get(store_dir)
    if known is not None:
        view = known.view_if_pinned(path)
        if view is not None:  # this process pins it already: no syscall
            return view
    where = locate(path)
    if where is None:
        return _map_file(path)
    offset, size = where
    handle = _handle(store_dir)
    handle.pin(offset, size, path)
    try:
        if locate(path) != where:  # freed (and maybe reused) before the pin held
            raise FileNotFoundError(path)
        return handle.view(offset, size, path)
    except BaseException:
        handle.unpin(offset, size)
        raise


def _map_file(path: str) -> memoryview:
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        mapped = mmap.mmap(fd, size, prot=mmap.PROT_READ)
    finally:
        os.close(fd)
    return memoryview(mapped)


def read(store_dir: str, object_id: bytes) -> Any:
    return deserialize(map_readonly(store_dir, object_id))


def contained_of(path: str) -> list[bytes]:
    """The ids of the refs pickled inside a stored object (its last bytes); [] if it is gone."""
    try:
        view = map_path(path)
    except (FileNotFoundError, OSError, ValueError):
        return []  # freed, or moved by a spill, meanwhile
    try:
        count = contained_count(view[:HEADER_BYTES])
        tail = bytes(view[view.nbytes - count * CONTAINED_ID_BYTES :]) if count else b""
    finally:
        view.release()
    return [tail[i : i + CONTAINED_ID_BYTES] for i in range(0, len(tail), CONTAINED_ID_BYTES)]


def contains(store_dir: str, object_id: bytes) -> bool:
    return os.path.lexists(object_path(store_dir, object_id))


def size_of(store_dir: str, object_id: bytes) -> int | None:
    """The size of a stored object, or None if there is none."""
    path = object_path(store_dir, object_id)
    try:
        where = locate(path)
        return where[1] if where is not None else os.stat(path).st_size
    except FileNotFoundError:
        return None


# --- pins --------------------------------------------------------------------------------------------------------


class _Handle:
    """This process's descriptors of one store's arena and lock file, and its pins on ranges."""

    def __init__(self, store_dir: str) -> None:
        arena = os.path.join(store_dir, ARENA_FILE)
        try:
            self.fd = os.open(arena, os.O_RDWR)
        except PermissionError:
            self.fd = os.open(arena, os.O_RDONLY)
        self.lock_fd = os.open(os.path.join(store_dir, LOCK_FILE), os.O_RDWR)
        self.lock = threading.RLock()  # a finalizer may run while this thread pins
        self.pins: dict[int, int] = {}
        self.known: dict[str, tuple[int, int]] = {}  # path -> (offset, size) of ranges pinned now
        self.known_at: dict[int, str] = {}
        self._base: int | None = None  # the reader map's address (ctypes: mmap objects hide it)
        self._mapped = 0
        self.forked = False  # a forked child may hold its parent's views: it never unmaps
        self.on_unpinned: dict[int, Callable[[], None]] = {}
        self._writable: memoryview | None = None
        self.closed = False

    def pin(self, offset: int, size: int, path: str) -> None:
        with self.lock:
            count = self.pins.get(offset, 0)
            if count == 0:
                try:
                    _setlk(self.lock_fd, _F_RDLCK, offset, size)
                except OSError as exc:  # the daemon is freeing this range
                    raise FileNotFoundError(path) from exc
            self.pins[offset] = count + 1

    def view(self, offset: int, size: int, path: str) -> memoryview:
        """A read-only view of a range this process has just pinned (one pin, dropped with the view).

        The view's owner is a ctypes array over this process's one read-only map of the arena:
        the finalizer of that small object, which every slice of the view keeps alive, is when
        the reader lets go; no map per read, so no syscall and no page fault on a page read before."""
        owner = (ctypes.c_char * size).from_address(self._reader(offset + size) + offset)
        weakref.finalize(owner, self.unpin, offset, size)
        with self.lock:
            self.known[path] = (offset, size)
            self.known_at[offset] = path
        return memoryview(owner).cast("B").toreadonly()

    def view_if_pinned(self, path: str) -> memoryview | None:
        """Another view of an object this process pins now (its range cannot have been reused
        meanwhile, so the name need not be read again); None if it pins none."""
        with self.lock:
            where = self.known.get(path)
            if where is None or not self.pins.get(where[0]) or self.closed:
                return None
            self.pins[where[0]] += 1
        try:
            return self.view(where[0], where[1], path)
        except BaseException:
            self.unpin(where[0], where[1])
            raise

    def _reader(self, end: int) -> int:
        """The address of this process's read-only shared map of the whole arena (made once)."""
        if self._base is None or end > self._mapped:
            with self.lock:
                if self._base is None:
                    size = os.fstat(self.fd).st_size
                    self._base, self._mapped = _mmap_readonly(self.fd, size), size
        if end > self._mapped:
            raise ValueError(f"a range ending at byte {end} lies past the arena's {self._mapped} bytes")
        return self._base

    def unpin(self, offset: int, size: int) -> None:
        with self.lock:
            count = self.pins.get(offset, 0) - 1
            if count > 0:
                self.pins[offset] = count
                return
            self.pins.pop(offset, None)
            path = self.known_at.pop(offset, None)
            if path is not None and self.known.get(path, (None,))[0] == offset:
                del self.known[path]
            if self.closed:
                self._unmap_if_unused()
                return  # the store is gone (shut down): nothing to give back
            _setlk(self.lock_fd, _F_UNLCK, offset, size)
            callback = self.on_unpinned.pop(offset, None)
        if callback is not None:
            callback()

    def _unmap_if_unused(self) -> None:
        """(under the lock, the store closed) Gives the reader map back once no view can use it:
        it would keep the pages of a removed arena allocated."""
        if self._base is not None and not self.pins and not self.forked:
            _munmap(self._base, self._mapped)
            self._base = None

    def try_exclusive(self, offset: int, size: int) -> str | None:
        """Whether no process pins the range now: None if free, else who pins it ("here" or "other")."""
        with self.lock:
            if self.pins.get(offset):
                return "here"
            try:
                fcntl.lockf(self.lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB, size, offset)
            except OSError:
                return "other"
            fcntl.lockf(self.lock_fd, fcntl.LOCK_UN, size, offset)
            return None

    def wait_exclusive(self, offset: int, size: int) -> None:
        """Blocks until no other process pins the range (run in a thread of its own)."""
        fcntl.lockf(self.lock_fd, fcntl.LOCK_EX, size, offset)
        fcntl.lockf(self.lock_fd, fcntl.LOCK_UN, size, offset)

    def writable(self) -> memoryview:
        if self._writable is None:
            size = os.fstat(self.fd).st_size
            self._writable = memoryview(mmap.mmap(self.fd, size, flags=mmap.MAP_SHARED))
        return self._writable


_handles: dict[str, _Handle] = {}
_handles_lock = threading.Lock()


def _handle(store_dir: str) -> _Handle:
    handle = _handles.get(store_dir)
    if handle is None:
        with _handles_lock:
            handle = _handles.get(store_dir)
            if handle is None:
                handle = _handles[store_dir] = _Handle(store_dir)
    return handle


def _after_fork_in_child() -> None:
    # fcntl locks are not inherited: a forked child holds no pins, whatever its parent's counts say
    for h in _handles.values():
        h.pins.clear()
        h.known.clear()
        h.known_at.clear()
        h.on_unpinned.clear()
        h.forked = True


os.register_at_fork(after_in_child=_after_fork_in_child)


def handle(store_dir: str) -> _Handle:
    """This process's handle on a store's arena (the daemon frees ranges through it)."""
    return _handle(store_dir)


def forget(store_dir: str) -> None:
    """Closes this process's descriptors of a store that goes away."""
    with _handles_lock:
        gone = _handles.pop(store_dir, None)
    if gone is not None:
        with gone.lock:
            gone.closed = True
            os.close(gone.lock_fd)
            os.close(gone.fd)
            gone._unmap_if_unused()


_libc = libc.libc  # (raylite/libc.py: one handle, its prototypes declared there)
_MAP_FAILED = libc.MAP_FAILED


def _mmap_readonly(fd: int, size: int) -> int:
    address = _libc.mmap(None, max(size, 1), mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
    if address in (None, _MAP_FAILED):
        err = ctypes.get_errno()
        raise OSError(err, f"could not map the object store's arena read-only: {os.strerror(err)}")
    return int(address)


def _munmap(address: int, size: int) -> None:
    _libc.munmap(address, max(size, 1))


# A get's few syscalls (readlink, a non-blocking fcntl lock) take microseconds on tmpfs and never
# block, but os.readlink and fcntl.lockf release the GIL around them: right after a put the client's
# loop thread is busy sending it and takes the GIL, and the get waits for it to finish (200-1,500 us
# measured in a loop of put-then-get of 100 MiB). Calls through ctypes.PyDLL keep the GIL.
_held = libc.held
_F_SETLK, _F_RDLCK, _F_UNLCK = fcntl.F_SETLK, fcntl.F_RDLCK, fcntl.F_UNLCK


class _Flock(ctypes.Structure):
    _fields_ = (
        ("l_type", ctypes.c_short),
        ("l_whence", ctypes.c_short),
        ("l_start", ctypes.c_int64),
        ("l_len", ctypes.c_int64),
        ("l_pid", ctypes.c_int),
    )


_FAST = sys.platform == "linux" and ctypes.sizeof(ctypes.c_long) == 8  # struct flock as above (64-bit Linux)
_link = ctypes.create_string_buffer(4096)
_link_lock = threading.Lock()


def _readlink(path: str) -> str:
    if not _FAST:
        return os.readlink(path)
    with _link_lock:
        n = _held.readlink(os.fsencode(path), _link, 4096)
        if n < 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), path)
        return _link.raw[:n].decode()


def _setlk(fd: int, kind: int, offset: int, size: int) -> None:
    """fcntl(F_SETLK) of [offset, offset+size): as fcntl.lockf(fd, LOCK_SH | LOCK_NB or LOCK_UN, size, offset)."""
    if not _FAST:
        fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB if kind == _F_RDLCK else fcntl.LOCK_UN, size, offset)
        return
    lock = _Flock(kind, os.SEEK_SET, offset, size, 0)
    if _held.fcntl(fd, _F_SETLK, ctypes.byref(lock)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


# --- chunked writes ----------------------------------------------------------------------------------------------


class ChunkWriter:
    """Writes an object of `size` bytes arriving in chunks, in order, straight into the store.

    offset: the range reserved in the arena; None writes a file of its own.
    A chunk that does not start where the previous one ended, or that runs past
    `size`, and a commit before all `size` bytes arrived, raise BadChunk: the
    sender's sizes or offsets lie, and the half-written object must be aborted.
    """

    def __init__(self, store_dir: str, object_id: bytes, size: int, offset: int | None = None) -> None:
        self.store_dir = store_dir
        self.object_id = object_id
        self.final = object_path(store_dir, object_id)
        self.size = size
        self.received = 0
        self.base = offset
        if offset is None:
            self.tmp = f"{self.final}.{os.getpid()}.{id(self)}.tmp"
            self.fd = os.open(self.tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        else:
            self.fd = _handle(store_dir).fd

    def write(self, offset: int, data: bytes) -> None:
        if offset != self.received:
            raise BadChunk(f"a chunk at offset {offset} arrived where offset {self.received} was expected")
        if offset + len(data) > self.size:
            raise BadChunk(f"a chunk ends at byte {offset + len(data)}, past the object's size of {self.size} bytes")
        view = memoryview(data)
        at = offset + (self.base or 0)
        while view.nbytes:
            n = os.pwrite(self.fd, view, at)
            view = view[n:]
            at += n
        self.received = offset + len(data)

    def commit(self) -> None:
        if self.received != self.size:
            raise BadChunk(f"the object ended after {self.received} of its {self.size} bytes")
        if self.base is not None:
            seal(self.store_dir, self.object_id, self.base, self.size)
            return
        os.close(self.fd)
        os.rename(self.tmp, self.final)

    def abort(self) -> None:
        if self.base is not None:
            return  # the range stays reserved until the store abandons it
        os.close(self.fd)
        try:
            os.unlink(self.tmp)
        except FileNotFoundError:
            pass


class BadChunk(ValueError):
    """Chunks of an object that do not add up to it."""


def create_dir(store_dir: str) -> None:
    os.makedirs(store_dir, mode=0o700, exist_ok=True)


def remove_dir(store_dir: str) -> None:
    shutil.rmtree(store_dir, ignore_errors=True)
