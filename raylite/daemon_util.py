"""Plumbing shared by the head and worker daemon processes."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import stat
import sys
from collections.abc import Callable
from typing import Any

from raylite import config
from raylite.log_rotation import needs_rotation, rotate_file


def setup_logging(name: str) -> logging.Logger:
    logging.basicConfig(
        handlers=[RotatingStderr(sys.stderr)],
        level=os.environ.get("RAYLITE_LOG_LEVEL", "INFO"),
        format=f"%(asctime)s {name}[%(process)d] %(levelname)s %(message)s",
    )
    return logging.getLogger(f"raylite.{name}")


class RotatingStderr(logging.StreamHandler):
    """A daemon logs to its stderr, which its starter pointed at a file (stdout too, and gRPC's C
    core writes there as well). After a record leaves that file past config.LOGGING_ROTATE_BYTES,
    the file is rotated under its name (raylite/log_rotation.py) and the descriptors that wrote
    to it are pointed at a fresh one. A terminal or a pipe is left alone."""

    def __init__(self, stream: Any, fds: tuple[int, ...] = (1, 2)) -> None:
        super().__init__(stream)
        self.fds = fds

    def emit(self, record: logging.LogRecord) -> None:
        super().emit(record)
        try:
            self._rotate_if_full()
        except OSError as exc:  # logging must go on whatever the disk says
            sys.stderr.write(f"raylite: rotating the daemon's log failed: {exc}\n")

    def _rotate_if_full(self) -> None:
        st = os.fstat(self.fds[-1])
        if not stat.S_ISREG(st.st_mode) or not needs_rotation(st.st_size, 1, config.LOGGING_ROTATE_BYTES):
            return
        path = os.readlink(f"/proc/self/fd/{self.fds[-1]}")
        if not os.path.isabs(path) or not os.path.exists(path):
            return  # deleted, or no /proc: nothing to rotate under a name
        same = [fd for fd in self.fds if _same_file(os.fstat(fd), st)]
        rotate_file(path, config.LOGGING_ROTATE_BACKUP_COUNT)
        fresh = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            for fd in same:
                os.dup2(fresh, fd)
        finally:
            os.close(fresh)


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def new_event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop

        return uvloop.new_event_loop()
    except ImportError:  # uvloop is a hard dependency; this keeps odd platforms working
        return asyncio.new_event_loop()


def watch_parent(loop: asyncio.AbstractEventLoop, fd: int, on_exit: Callable[[], None]) -> None:
    """Calls on_exit when the write end of pipe fd closes: the parent process is gone.

    A pipe notices the parent's death however it died (SIGKILL included), with
    no polling and no dependence on which thread started us.
    """
    os.set_blocking(fd, False)

    def readable() -> None:
        try:
            data = os.read(fd, 64)
        except BlockingIOError:
            return
        if not data:
            loop.remove_reader(fd)
            on_exit()

    loop.add_reader(fd, readable)


def stop_on_signals(loop: asyncio.AbstractEventLoop, on_stop: Callable[[], None]) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_stop)


def report_ready(fd: int | None, info: dict[str, Any]) -> None:
    """Tells whoever started us that we serve, as one JSON line on fd (then closes it)."""
    line = (json.dumps(info) + "\n").encode()
    if fd is None:
        sys.stdout.write(line.decode())
        sys.stdout.flush()
        return
    os.write(fd, line)
    os.close(fd)
