"""Light notes of objects arriving at a client, for `ClientObjects.arrivals()` (raylite.util.progress).

A `Waiter` carries a threading.Event each; following 100,000 objects with one
apiece would cost an Event (a Condition and a lock) per object. An `Arrival`
is two slots: the client's reader calls its `hit` like a Waiter's, and it
appends the id to one shared `ArrivalSink`, whose one Event wakes the reader of
the batch.
"""

from __future__ import annotations

import collections
import threading


class Arrival:
    """Notes one object's arrival for `arrivals()`: lighter than a Waiter (no Event per object)."""

    __slots__ = ("oid", "sink")

    def __init__(self, oid: bytes, sink: ArrivalSink) -> None:
        self.oid = oid
        self.sink = sink

    def hit(self, is_error: bool = False) -> None:
        self.sink.note(self.oid)

    def fail(self) -> None:
        self.sink.note(b"")  # the head is gone: the empty id makes arrivals() raise


class ArrivalSink:
    __slots__ = ("arrived", "event")

    def __init__(self) -> None:
        self.arrived: collections.deque[bytes] = collections.deque()
        self.event = threading.Event()

    def note(self, oid: bytes) -> None:  # (on the client's loop thread, under its lock)
        self.arrived.append(oid)
        self.event.set()

    def take(self) -> list[bytes]:
        self.event.clear()
        out = []
        arrived = self.arrived
        while arrived:
            out.append(arrived.popleft())
        return out
