"""The executor's side of its output: markers that tell its worker daemon who prints.

stdout and stderr are pipes its daemon reads (raylite/worker/executor_logs.py);
before a task runs or an actor is built, `mark()` writes a marker line on both
(raylite/worker/state/log_lines.py), after flushing what Python still buffers
so that earlier lines keep their owner. Writing on the file descriptors
attributes what C extensions and subprocesses print as well.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from raylite.worker.state import log_lines


def mark(source: log_lines.Source) -> None:
    line = log_lines.marker(source)
    for stream, fd in ((sys.stdout, 1), (sys.stderr, 2)):
        try:
            stream.flush()
            os.write(fd, line)
        except (OSError, ValueError, AttributeError):  # a closed or replaced stream: nothing to attribute
            pass


def repr_or(instance: Any, fallback: str) -> str:
    """The actor's own repr, which Ray shows in the prefix; fallback when it raises."""
    try:
        return repr(instance)
    except Exception:  # noqa: BLE001 - a broken __repr__ must not fail the actor
        return fallback
