"""The worker daemon's end of its executors' stdout and stderr pipes.

Each executor writes to two pipes (raylite/worker/executor_pool.py makes
them); this module reads them on the daemon's event loop as soon as they are
readable (never blocking it, so an executor never waits long on a full pipe),
appends every byte to the executor's files in the node's log folder
(`executor-<pid>.out` and `.err`, markers included: `raylite logs --task`
reads them), and hands complete lines, attributed by the markers
(raylite/worker/state/log_lines.py), to the head in batches: every
FLUSH_S, on the node's stream (NodeBatch.log_batches). When the stream is
backed up the lines wait in a bounded buffer that drops, and says so, rather
than grow.
"""

from __future__ import annotations

import asyncio
import logging
import os
import select
from collections.abc import Callable

from raylite import config
from raylite.log_rotation import needs_rotation, rotate_file
from raylite.rpc import head_pb2
from raylite.worker.state.log_lines import MAX_PENDING_LINES, LineSplitter, Pending

log = logging.getLogger("raylite.worker")

FLUSH_S = 0.1  # how long a line may wait for company before it leaves for the head
READ_BYTES = 64 * 1024


def default_log_dir(node_id: bytes) -> str:
    """A daemon started without --log-dir: a folder of its own under the runtime folder."""
    return os.path.join(config.runtime_dir(), "logs", f"node-{node_id.hex()[:12]}")


def executor_file(log_dir: str, pid: int, is_err: bool) -> str:
    return os.path.join(log_dir, f"executor-{pid}.{'err' if is_err else 'out'}")


class _Pipe:
    __slots__ = ("fd", "pid", "is_err", "path", "file", "size", "splitter")

    def __init__(self, fd: int, pid: int, is_err: bool, path: str) -> None:
        self.fd, self.pid, self.is_err, self.path = fd, pid, is_err, path
        self.file = open(path, "ab", buffering=0)  # noqa: SIM115 - closed when the pipe ends
        self.size = os.fstat(self.file.fileno()).st_size
        self.splitter = LineSplitter()

    def rotate(self) -> None:
        """Moves the file to <name>.1 (and older backups along) and goes on in a fresh one."""
        self.file.close()
        try:
            rotate_file(self.path, config.LOGGING_ROTATE_BACKUP_COUNT)
        finally:  # whatever failed (and is logged by the caller), writing goes on
            self.file = open(self.path, "ab", buffering=0)  # noqa: SIM115
            self.size = os.fstat(self.file.fileno()).st_size


class ExecutorLogs:
    """Reads executors' pipes into log files and batches for the head."""

    def __init__(
        self,
        log_dir: str,
        send: Callable[[list[head_pb2.WorkerLogBatch]], None],
        backlog: Callable[[], int],
    ) -> None:
        """send: puts batches on the node's stream; backlog: how many lines sent there are not yet written."""
        self.log_dir = log_dir
        os.makedirs(log_dir, mode=0o700, exist_ok=True)
        self.send, self.backlog = send, backlog
        self.pending = Pending()
        self._pipes: dict[int, _Pipe] = {}
        self._fds_of: dict[int, tuple[int, int]] = {}  # executor pid -> its two read fds
        self._polls: dict[int, select.poll] = {}  # executor pid -> a poll of its open pipes (drain)
        self._flush_handle: asyncio.TimerHandle | None = None
        self._written: list[asyncio.Future[None]] = []

    def attach(self, pid: int, out_r: int, err_r: int) -> None:
        """Starts reading a spawned executor's pipes (their write ends closed here already)."""
        loop = asyncio.get_running_loop()
        self._fds_of[pid] = (out_r, err_r)
        poller = self._polls[pid] = select.poll()
        for fd, is_err in ((out_r, False), (err_r, True)):
            os.set_blocking(fd, False)
            self._pipes[fd] = _Pipe(fd, pid, is_err, executor_file(self.log_dir, pid, is_err))
            loop.add_reader(fd, self._readable, fd)
            poller.register(fd, select.POLLIN)

    def drain(self, pid: int) -> None:
        """Takes what an executor printed so far and sends it now: called before its result goes to
        the head, so that a driver prints a task's lines before its get() returns."""
        poller = self._polls.get(pid)
        # one poll for both pipes: most results find nothing new there (the marker was read
        # when it came), and a read that finds nothing costs a system call and an exception
        for fd, _ in poller.poll(0) if poller is not None else ():
            for _ in range(64):  # at most 4 MiB now; the rest follows as usual
                if self._pipe_of(fd, pid) is None or not self._readable(fd):
                    break
        if self.pending.groups:
            if self._flush_handle is not None:
                self._flush_handle.cancel()
            self.flush()

    def _pipe_of(self, fd: int, pid: int) -> _Pipe | None:
        """The open pipe fd of executor pid (fd numbers are reused once a pipe closes)."""
        pipe = self._pipes.get(fd)
        return pipe if pipe is not None and pipe.pid == pid else None

    def _readable(self, fd: int) -> bool:
        """Reads once; whether there was data."""
        pipe = self._pipes[fd]
        try:
            data = os.read(fd, READ_BYTES)
        except BlockingIOError:
            return False
        except OSError as exc:
            log.warning("reading the output of executor pid %d: %s", pipe.pid, exc)
            data = b""
        if data:
            self._write(pipe, data)
            lines = pipe.splitter.feed(data)
        else:
            lines = pipe.splitter.close()
            self._close(pipe)
        add = self.pending.add
        for source, line in lines:
            add(pipe.pid, pipe.is_err, source, line)
        if self.pending.groups and self._flush_handle is None:
            self._flush_handle = asyncio.get_running_loop().call_later(FLUSH_S, self.flush)
        return bool(data)

    def _write(self, pipe: _Pipe, data: bytes) -> None:
        try:
            if needs_rotation(pipe.size, len(data), config.LOGGING_ROTATE_BYTES):
                pipe.rotate()
            pipe.file.write(data)
            pipe.size += len(data)
        except OSError as exc:  # a full disk: the lines still reach the driver
            log.warning("writing the log of executor pid %d: %s", pipe.pid, exc)
        written, self._written = self._written, []
        for waiter in written:
            if not waiter.done():
                waiter.set_result(None)

    def _close(self, pipe: _Pipe) -> None:
        asyncio.get_running_loop().remove_reader(pipe.fd)
        del self._pipes[pipe.fd]
        poller = self._polls.get(pipe.pid)
        if poller is not None:
            poller.unregister(pipe.fd)
        os.close(pipe.fd)
        if not any(self._pipe_of(fd, pipe.pid) for fd in self._fds_of.get(pipe.pid, ())):
            self._fds_of.pop(pipe.pid, None)
            self._polls.pop(pipe.pid, None)
        pipe.file.close()

    def flush(self) -> None:
        """Sends what waits, unless the node's stream is still busy with earlier lines."""
        self._flush_handle = None
        if self.backlog() >= MAX_PENDING_LINES:
            self._flush_handle = asyncio.get_running_loop().call_later(FLUSH_S, self.flush)
            return
        batches = []
        for group in self.pending.take():
            source = group.source
            batches.append(
                head_pb2.WorkerLogBatch(
                    job_id=source.job_id,
                    pid=group.pid,
                    name=source.name,
                    is_err=group.is_err,
                    lines=group.lines,
                    task_id=source.task_id,
                    actor_id=source.actor_id,
                )
            )
        if batches:
            self.send(batches)

    async def written(self, timeout: float) -> None:
        """Returns when any executor log grows, or after timeout (for files others write)."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._written.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), timeout)
        except asyncio.TimeoutError:
            if waiter in self._written:
                self._written.remove(waiter)

    def close(self) -> None:
        for pipe in list(self._pipes.values()):
            for source, line in pipe.splitter.close():
                self.pending.add(pipe.pid, pipe.is_err, source, line)
            self._close(pipe)
        if self._flush_handle is not None:
            self._flush_handle.cancel()
        self.flush()
