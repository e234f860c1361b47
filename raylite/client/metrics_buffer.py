"""What this process's user metrics (raylite.util.metrics) recorded since its last report.

Theory of operation
-------------------
Recording a metric is a dictionary update under a lock, never a message: the
buffer keeps, per series (a metric's name and its tags), the increase of a
counter, the last value of a gauge and the new bucket counts and sum of a
histogram. `drain()` turns what accumulated into MetricReport messages and
starts afresh, so the head receives deltas (counters, histograms), which it
adds up across processes, and latest values (gauges).

The client (raylite/client/core.py) drains the buffer onto its ClientBatch
at most about once a second (`on_dirty` tells it that something is waiting),
with an executor's task result (so a task's increments reach the head before
its result does), and when it closes. A process that records before it has a
client keeps its values here until one exists.

The number of series waiting is capped (`MAX_PENDING_SERIES`): a tag
explosion drops the new series, with one warning, rather than growing the
process without bound; the head caps what it keeps too.
"""

from __future__ import annotations

import bisect
import math
import threading
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from raylite import metrics_wire as mw
from raylite.rpc import head_pb2

MAX_PENDING_SERIES = 10_000

Tags = tuple[tuple[str, str], ...]  # sorted by key
Key = tuple[str, Tags]


class MetricsBuffer:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kinds: dict[str, tuple[int, str, tuple[float, ...]]] = {}  # name -> (kind, description, bounds)
        self._counters: dict[Key, float] = {}
        self._gauges: dict[Key, float] = {}
        self._histograms: dict[Key, tuple[list[int], list[float]]] = {}  # counts per bucket, [sum]
        self._warned = False
        self.on_dirty: Callable[[], None] | None = None  # called when the buffer stops being empty

    def define(self, name: str, kind: int, description: str, boundaries: Sequence[float] = ()) -> None:
        with self._lock:
            # increasing and finite, as Prometheus' buckets are (Ray accepts them unsorted)
            bounds = tuple(sorted({b for b in boundaries if 0 < b < math.inf}))
            self._kinds.setdefault(name, (kind, description, bounds))

    def inc(self, name: str, tags: Tags, value: float) -> None:
        key = (name, tags)
        with self._lock:
            was_empty = self._empty()
            if key in self._counters or self._room(key):
                self._counters[key] = self._counters.get(key, 0.0) + value
        self._notify(was_empty)

    def set(self, name: str, tags: Tags, value: float) -> None:
        key = (name, tags)
        with self._lock:
            was_empty = self._empty()
            if key in self._gauges or self._room(key):
                self._gauges[key] = value
        self._notify(was_empty)

    def observe(self, name: str, tags: Tags, value: float) -> None:
        key = (name, tags)
        with self._lock:
            was_empty = self._empty()
            bounds = self._kinds[name][2]
            entry = self._histograms.get(key)
            if entry is None:
                if not self._room(key):
                    return
                entry = self._histograms[key] = ([0] * (len(bounds) + 1), [0.0])
            # a value equal to a bound falls in that bound's bucket (Prometheus' le)
            entry[0][bisect.bisect_left(bounds, value)] += 1
            entry[1][0] += value
        self._notify(was_empty)

    def pending(self) -> bool:
        with self._lock:
            return not self._empty()

    def drain(self) -> list[head_pb2.MetricReport]:
        """The reports of everything recorded since the last drain; the buffer is empty after."""
        with self._lock:
            counters, self._counters = self._counters, {}
            gauges, self._gauges = self._gauges, {}
            histograms, self._histograms = self._histograms, {}
            kinds = dict(self._kinds)
        out = []
        for (name, tags), value in counters.items():
            out.append(self._report(kinds, name, tags, value))
        for (name, tags), value in gauges.items():
            out.append(self._report(kinds, name, tags, value))
        for (name, tags), (counts, total) in histograms.items():
            if not 0 < len(kinds[name][2]) <= mw.MAX_BOUNDARIES:
                continue  # no finite boundary, or too many: nothing Prometheus could show
            report = self._report(kinds, name, tags, 0.0)
            report.sum = total[0]
            report.boundaries.extend(kinds[name][2])
            report.bucket_counts.extend(counts)
            out.append(report)
        return out

    @staticmethod
    def _report(
        kinds: dict[str, tuple[int, str, tuple[float, ...]]], name: str, tags: Tags, value: float
    ) -> head_pb2.MetricReport:
        kind, description, _ = kinds[name]
        report = head_pb2.MetricReport(name=name, kind=kind, description=description[: mw.MAX_DESCRIPTION], value=value)
        report.tag_keys.extend(k for k, _ in tags)
        report.tag_values.extend(v for _, v in tags)
        return report

    def _empty(self) -> bool:
        return not (self._counters or self._gauges or self._histograms)

    def _room(self, key: Key) -> bool:
        if len(self._counters) + len(self._gauges) + len(self._histograms) < MAX_PENDING_SERIES:
            return True
        if not self._warned:
            self._warned = True
            warnings.warn(
                f"raylite.util.metrics: more than {MAX_PENDING_SERIES} series of user metrics recorded within "
                f"one report interval in this process; dropping new series such as {key[0]} {dict(key[1])}. "
                "Use tag values from a small set (not ids or timestamps)",
                UserWarning,
                stacklevel=4,
            )
        return False

    def _notify(self, was_empty: bool) -> None:
        hook = self.on_dirty
        if was_empty and hook is not None:
            hook()


BUFFER = MetricsBuffer()  # this process's: every metric object records into it


class MetricsLink:
    """Carries the buffer onto one client's stream: a report at most every
    config.METRICS_REPORT_S while something is recorded (a timer armed by the first
    record after a report, so an idle process sends nothing), and at once on `now()`."""

    def __init__(
        self,
        loop: Any,
        send: Callable[[list[head_pb2.MetricReport]], None],
        enqueue: Callable[[head_pb2.MetricReport], None],
        interval: float,
    ) -> None:
        self._loop = loop
        self._send = send  # on the loop: into the batch being built
        self._enqueue = enqueue  # any thread: in order with the client's other items
        self._interval = interval
        self._timer: Any = None

    def attach(self) -> None:
        BUFFER.on_dirty = self.waiting
        if BUFFER.pending():
            self.waiting()

    def detach(self) -> None:
        if BUFFER.on_dirty == self.waiting:
            BUFFER.on_dirty = None

    def waiting(self) -> None:
        try:
            self._loop.call_soon_threadsafe(self._arm)
        except RuntimeError:  # the loop is closed: the values stay in the buffer
            pass

    def _arm(self) -> None:
        if self._timer is None:
            self._timer = self._loop.call_later(self._interval, self._fire)

    def _fire(self) -> None:
        self._timer = None
        reports = BUFFER.drain()
        if reports:
            self._send(reports)

    def now(self) -> bool:
        """Queues what the buffer holds after everything queued so far; whether there was any."""
        reports = BUFFER.drain()
        for report in reports:
            self._enqueue(report)
        return bool(reports)
