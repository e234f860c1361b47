"""Plumbing shared by the head and worker daemon processes."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Callable
from typing import Any


def setup_logging(name: str) -> logging.Logger:
    logging.basicConfig(
        stream=sys.stderr,
        level=os.environ.get("RAYLITE_LOG_LEVEL", "INFO"),
        format=f"%(asctime)s {name}[%(process)d] %(levelname)s %(message)s",
    )
    return logging.getLogger(f"raylite.{name}")


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
