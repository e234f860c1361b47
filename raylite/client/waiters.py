"""Where user threads wait for objects: `Waiter` (woken by the client's reader as objects
arrive) and `wait_event`, the one call a thread blocked in get or wait sits in.

Kept apart from raylite/client/objects.py, which loads grpc, because an executor names
`wait_event` at start (raylite/worker/executor_main.py: a cancel's interrupt may land
only there) and makes its client, and with it grpc, only once user code calls the API.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class Waiter:
    """Wakes a user thread (or calls `on_done`) once `needed` of the objects it waits for arrived,
    or at the first error among them if `stop_on_error` (get raises it without waiting for the rest).

    `fail` ends the wait early (the head is gone): `needed` stays above zero and no error was seen.
    """

    __slots__ = ("needed", "event", "on_done", "stop_on_error", "saw_error")

    def __init__(self, needed: int, on_done: Callable[[], None] | None = None, stop_on_error: bool = False) -> None:
        self.needed = needed
        self.event = threading.Event()
        self.on_done = on_done
        self.stop_on_error = stop_on_error
        self.saw_error = False

    def hit(self, is_error: bool = False) -> None:
        self.needed -= 1
        if self.needed == 0 or (is_error and self.stop_on_error and not self.saw_error):
            self.saw_error = self.saw_error or is_error
            self._done()

    def fail(self) -> None:
        if not self.event.is_set():
            self._done()

    def _done(self) -> None:
        if self.event.is_set():
            return
        self.event.set()
        if self.on_done is not None:
            self.on_done()


def wait_event(event: threading.Event, timeout: float | None) -> bool:
    """Where a thread blocked in get or wait waits: the one place in the client where the
    interrupt of a cancelled task may land (raylite/worker/cancels.py), since everything
    around it is undone by wait_for's finally."""
    return event.wait(timeout)
