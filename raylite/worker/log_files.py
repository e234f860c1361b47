"""Reading a node's log folder for `raylite logs`, the state API and the dashboard.

The worker daemon serves its own folder (WorkerService.ListLogFiles and
ReadLogFile, raylite/worker/service.py): file names only, never a path, and a
name that resolves out of the folder (a symlink) is refused too. A followed
file is read again whenever an executor log grows (ExecutorLogs.written()),
or every FOLLOW_CHECK_S for the files the daemons themselves write.
"""

from __future__ import annotations

import fnmatch
import itertools
import os
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import BinaryIO

from raylite.rpc import worker_pb2
from raylite.worker.state.log_lines import MarkerFilter, safe_file_name

READ_BYTES = 1024 * 1024
FOLLOW_CHECK_S = 0.5


class LogFileError(Exception):
    """A request for a file the folder does not have, or may not give."""


def list_files(log_dir: str, glob: str = "") -> list[worker_pb2.LogFileInfo]:
    files = []
    try:
        entries = sorted(os.scandir(log_dir), key=lambda e: e.name)
    except FileNotFoundError:
        return []
    for entry in entries:
        if entry.is_file() and (not glob or fnmatch.fnmatch(entry.name, glob)):
            st = entry.stat()
            files.append(worker_pb2.LogFileInfo(name=entry.name, size=st.st_size, mtime=st.st_mtime))
    return files


def resolve(log_dir: str, name: str) -> str:
    """The path of a file of the folder; LogFileError for anything else."""
    problem = safe_file_name(name)
    if problem is not None:
        raise LogFileError(problem)
    root = os.path.realpath(log_dir)
    path = os.path.realpath(os.path.join(root, name))
    if os.path.dirname(path) != root:
        raise LogFileError(f"{name!r} leads out of the log folder {log_dir}")
    if not os.path.isfile(path):
        raise LogFileError(f"no log file {name!r} in {log_dir} (list them with `raylite logs`)")
    return path


class _Cursor:
    """Where a reader is in one file, and which lines it keeps.

    It reads through a descriptor it keeps open, so a rotation (the name moved to name.1 and
    a fresh file made under the name: raylite/log_rotation.py) never pulls the file away from
    under it. At the end of its file it checks whether the name still leads there; if not, it
    reads to the end what was written before the move, then the files rotated after it (name.k-1
    ... name.1, when more than one rotation came between two reads), each whole, then the fresh
    file from its start: every line once, in order. (A file that shrank under the same name was
    truncated: read again from its start.)
    """

    def __init__(self, name: str, path: str, keep: MarkerFilter) -> None:
        self.name, self.path, self.keep = name, path, keep
        self.file: BinaryIO = open(path, "rb")  # noqa: SIM115 - closed by close()
        self.offset = 0
        # when self.file was rotated away: the files after it, oldest first, the current one last
        self.after: list[BinaryIO] = []

    def close(self) -> None:
        for f in (self.file, *self.after):
            f.close()

    def read(self, final: bool) -> tuple[bytes, bool]:
        """The kept text of the next whole lines (all that is left when final), and whether more waits."""
        finished = bool(self.after)  # rotated away: nothing more is written to it, its last line is whole
        data, more = self._read(final or finished)
        if more:
            return data, True
        if finished:  # read to its end: on to the next file
            self.file.close()
            self.file = self.after.pop(0)
            self.offset = 0
            return data, True
        if self._rotated():
            self.after = self._files_after()
            return data, bool(self.after)  # (its rest, written before the move, then the others)
        return data, False

    def _read(self, final: bool) -> tuple[bytes, bool]:
        f = self.file
        if os.fstat(f.fileno()).st_size < self.offset:  # truncated: the file starts afresh
            self.offset = 0
        f.seek(self.offset)
        data = f.read(READ_BYTES)
        more = len(data) == READ_BYTES
        end = len(data) if (final and not more) else data.rfind(b"\n") + 1
        if end == 0 and more:  # a line longer than a read: cut it
            end = len(data)
        self.offset += end
        return self.keep.feed(data[:end]), more

    def _rotated(self) -> bool:
        """Whether the name leads to another file now (not while a rotation has it missing)."""
        try:
            return not _same(os.stat(self.path), os.fstat(self.file.fileno()))
        except FileNotFoundError:
            return False

    def _files_after(self) -> list[BinaryIO]:
        """The files made after self.file under the name, oldest first: the backups newer than it
        (all there are if it is not among them: it was the oldest, dropped) and the current one."""
        mine = os.fstat(self.file.fileno())
        newer = []
        for k in itertools.count(1):
            try:
                st = os.stat(f"{self.path}.{k}")
            except FileNotFoundError:
                break
            if _same(st, mine):
                break
            newer.append(f"{self.path}.{k}")
        files: list[BinaryIO] = []
        for path in [*reversed(newer), self.path]:
            try:
                files.append(open(path, "rb"))  # noqa: SIM115 - closed by close() or read()
            except FileNotFoundError:  # (rotated on meanwhile)
                continue
        return files


def _same(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


async def read(
    log_dir: str, request: worker_pb2.ReadLogFileRequest, written: Callable[[float], Awaitable[None]]
) -> AsyncIterator[worker_pb2.LogFileChunk]:
    """The chunks answering a ReadLogFile request; raises LogFileError before the first."""
    if request.name:
        names = [request.name]
    else:
        names = [f.name for f in list_files(log_dir, "executor-*")]
    cursors: list[_Cursor] = []
    try:
        for name in names:
            cursor = _Cursor(name, resolve(log_dir, name), MarkerFilter(request.task_id, request.actor_id))
            cursors.append(cursor)
            if not request.tail:
                cursor.offset = min(request.offset, os.fstat(cursor.file.fileno()).st_size)
        async for chunk in _read(log_dir, request, written, cursors):
            yield chunk
    finally:
        for cursor in cursors:
            cursor.close()


async def _read(
    log_dir: str,
    request: worker_pb2.ReadLogFileRequest,
    written: Callable[[float], Awaitable[None]],
    cursors: list[_Cursor],
) -> AsyncIterator[worker_pb2.LogFileChunk]:
    following = []
    for cursor in cursors:
        async for chunk in _drain(cursor, request.tail, final=not request.follow):
            yield chunk
        if cursor.keep.matched:
            following.append(cursor)
    if not request.name and not following:
        raise LogFileError(f"no executor log in {log_dir} has output of that {_what(request)}")
    while request.follow:
        await written(FOLLOW_CHECK_S)
        for cursor in following or cursors:
            async for chunk in _drain(cursor, 0, final=False):
                yield chunk


async def _drain(cursor: _Cursor, tail: int, final: bool) -> AsyncIterator[worker_pb2.LogFileChunk]:
    last: deque[bytes] = deque(maxlen=tail or None)
    while True:
        text, more = cursor.read(final)
        if tail:
            last.extend(text.splitlines(keepends=True))
        elif text:
            yield worker_pb2.LogFileChunk(name=cursor.name, data=text, end_offset=cursor.offset)
        if not more:
            break
    if tail and last:
        yield worker_pb2.LogFileChunk(name=cursor.name, data=b"".join(last), end_offset=cursor.offset)


def _what(request: worker_pb2.ReadLogFileRequest) -> str:
    return f"task {request.task_id.hex()}" if request.task_id else f"actor {request.actor_id.hex()}"
