"""A driver program run as a subprocess whose stdout and stderr lines the test waits on, with a deadline
(the worker-output tests of tests/cluster and tests/multihost)."""

from __future__ import annotations

import re
import subprocess
import threading
from collections.abc import Callable

DEADLINE_S = 60
ANSI = re.compile(r"\x1b\[[0-9;]*m")


class Driver:
    """A driver subprocess whose stdout and stderr lines are collected as they come."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self.changed = threading.Condition()
        self.readers = [
            threading.Thread(target=self._read, args=(stream, lines), daemon=True)
            for stream, lines in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))
        ]
        for reader in self.readers:
            reader.start()

    def _read(self, stream: object, lines: list[str]) -> None:
        for line in stream:  # type: ignore[attr-defined]
            with self.changed:
                lines.append(ANSI.sub("", line.rstrip("\n")))
                self.changed.notify_all()
        with self.changed:
            self.changed.notify_all()

    def wait_for(self, what: str, found: Callable[[], bool]) -> None:
        with self.changed:
            ok = self.changed.wait_for(lambda: found() or self.proc.poll() is not None, timeout=DEADLINE_S)
            assert ok and found(), f"{what}: not seen within {DEADLINE_S}s\nstdout: {self.out}\nstderr: {self.err}"

    def line(self, pattern: str, err: bool = False) -> str:
        lines = self.err if err else self.out
        self.wait_for(pattern, lambda: any(re.fullmatch(pattern, x) for x in lines))
        return next(x for x in lines if re.fullmatch(pattern, x))

    def finish(self) -> None:
        try:
            self.proc.communicate("\n", timeout=DEADLINE_S)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        for reader in self.readers:
            reader.join(timeout=DEADLINE_S)
        assert self.proc.returncode == 0, self.err
