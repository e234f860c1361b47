"""What the head keeps for /metrics beyond its state: user metrics, scheduling delays, node traffic.

Theory of operation
-------------------
Most cluster metrics are read from HeadState when /metrics is scraped
(raylite/head/dashboard/prometheus.py): tasks and actors by state, nodes,
object store use. This module keeps the few things the state does not hold,
each updated by the servicer as the event passes, at the cost of a dict or
list update:

- `UserMetrics`: the user metrics (raylite.util.metrics) every process
  reports on its ClientBatch. Counters and histograms arrive as increases
  and are added up across processes; a gauge arrives as its value, and the
  latest report of a series wins, whichever process sent it. A name keeps
  the kind (and a histogram its boundaries) it was first reported with; a
  report that disagrees is dropped with one warning per name. The number of
  series is capped (config.METRICS_MAX_SERIES): past it new series are
  dropped, counted in `dropped`, with one warning in the head's log, so a
  tag explosion in user code cannot eat the head's memory.
- `Buckets`: the scheduling delay of tasks (submission to first dispatch),
  observed by the servicer for each Dispatch effect.
- `nodes`: each worker daemon's last NodeMetrics (bytes it sent and
  received, its store's use), reported on its NodeBatch.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from raylite import metrics_wire as mw

log = logging.getLogger("raylite.head")

# seconds; scheduling delays run from well under a millisecond to a queue of minutes
DELAY_BOUNDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

SeriesKey = tuple[str, tuple[tuple[str, str], ...]]


class Buckets:
    """A histogram: counts per bucket (the last one past every bound), their sum."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value

    def add(self, counts: Sequence[int], total: float) -> None:
        mine = self.counts
        for i, n in enumerate(counts):
            mine[i] += n
        self.sum += total

    def cumulative(self) -> list[tuple[str, int]]:
        """(le, count of observations <= le) per bound and +Inf, as Prometheus states them."""
        out, running = [], 0
        for bound, n in zip((*self.bounds, float("inf")), self.counts, strict=True):
            running += n
            out.append(("+Inf" if bound == float("inf") else repr(float(bound)), running))
        return out


class MetricDef:
    __slots__ = ("kind", "description", "boundaries")

    def __init__(self, kind: int, description: str, boundaries: tuple[float, ...]) -> None:
        self.kind, self.description, self.boundaries = kind, description, boundaries


class UserMetrics:
    def __init__(self, max_series: int) -> None:
        self.max_series = max_series
        self.defs: dict[str, MetricDef] = {}
        self.series: dict[SeriesKey, Any] = {}  # [value] for counters and gauges, Buckets for histograms
        self.dropped = 0  # reports of series past the cap, or that disagree with their name's kind
        self._warned: set[str] = set()

    def merge(self, reports: Iterable[Any]) -> None:
        """Applies MetricReports (validated by raylite/head/validate.py)."""
        for r in reports:
            d = self.defs.get(r.name)
            if d is None:
                if len(self.defs) >= self.max_series:
                    self._drop(r.name, f"more than {self.max_series} user metrics are defined")
                    continue
                d = self.defs[r.name] = MetricDef(r.kind, r.description, tuple(r.boundaries))
            elif d.kind != r.kind or (r.kind == mw.HISTOGRAM and tuple(r.boundaries) != d.boundaries):
                self._drop(
                    r.name,
                    f"it was reported as a {mw.KIND_NAMES.get(d.kind)} "
                    + (f"with boundaries {list(d.boundaries)} " if d.kind == mw.HISTOGRAM else "")
                    + "first and another process reports it differently",
                )
                continue
            key = (r.name, tuple(zip(r.tag_keys, r.tag_values, strict=True)))
            entry: Any = self.series.get(key)
            if entry is None:
                if len(self.series) >= self.max_series:
                    self._drop(
                        r.name,
                        f"the head keeps at most {self.max_series} series of user metrics "
                        "(RAYLITE_METRICS_MAX_SERIES); use tag values from a small set, not ids",
                    )
                    continue
                entry = self.series[key] = Buckets(d.boundaries) if d.kind == mw.HISTOGRAM else [0.0]
            if d.kind == mw.COUNTER:
                entry[0] += r.value
            elif d.kind == mw.GAUGE:
                entry[0] = r.value
            else:
                entry.add(r.bucket_counts, r.sum)

    def _drop(self, name: str, why: str) -> None:
        self.dropped += 1
        if name not in self._warned and len(self._warned) < 100:
            self._warned.add(name)
            log.warning("user metric %r: reports dropped: %s", name, why)


class HeadMetrics:
    def __init__(self, max_series: int) -> None:
        self.user = UserMetrics(max_series)
        self.scheduling_delay = Buckets(DELAY_BOUNDS)
        self.nodes: dict[bytes, Any] = {}  # node id -> its last NodeMetrics

    def dispatched(self, task: Any, now: float) -> None:
        """A Dispatch effect: the delay from the task's submission to its first dispatch."""
        story = task.story
        if task.attempt <= 1 and story:
            self.scheduling_delay.observe(max(0.0, now - story[0]))

    def node_reported(self, node_id: bytes, reports: Sequence[Any]) -> None:
        self.nodes[node_id] = reports[-1]
