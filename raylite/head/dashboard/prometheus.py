"""The head's /metrics: the cluster and the user metrics in Prometheus' text format.

Theory of operation
-------------------
Each head has its own CollectorRegistry (never prometheus_client's global
one) holding one collector, which computes every family from the head at
the moment of the scrape: tasks and actors by state from HeadState's tables
(one pass over the tasks in the table; finished ones from the history's
running totals), nodes, object store use per node (the node's own report
when it sent one, else the head's object directory), the counters the
servicer keeps as events pass (raylite/head/metrics.py), and the user
metrics. Nothing on the task path waits for a scrape or does work for one.

Names follow Ray's with the `raylite_` prefix: `raylite_tasks{State,Name}`
as `ray_tasks` (the states of the state API, FINISHED and FAILED counting
every task that ended), `raylite_actors{State,Name}`, and a user metric
`x` is `raylite_x` as Ray's is `ray_x`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from raylite import metrics_wire as mw
from raylite.head.dashboard.views import actor_state, ray_task_state
from raylite.head.metrics import Buckets

if TYPE_CHECKING:
    from raylite.head.service import HeadServicer

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PREFIX = "raylite_"
_BAD_LABEL_CHARS = re.compile(r"[^a-zA-Z0-9_]")


class HeadCollector:
    def __init__(self, servicer: HeadServicer) -> None:
        self.servicer = servicer

    def collect(self) -> Iterator[Metric]:
        yield from cluster_families(self.servicer)
        yield from user_families(self.servicer.metrics.user)


def registry_for(servicer: HeadServicer) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HeadCollector(servicer))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)


# ---- the cluster -----------------------------------------------------------------


def cluster_families(servicer: HeadServicer) -> Iterator[Metric]:
    state, metrics = servicer.state, servicer.metrics
    yield from _tasks(state)
    yield _histogram(
        PREFIX + "task_scheduling_delay_seconds",
        "Time from a task's submission to its first dispatch to a node.",
        metrics.scheduling_delay,
    )
    actors: dict[tuple[str, str], int] = {}
    for actor in state.actors.values():
        creation = actor.creation
        name = creation.name.removesuffix(".__init__") if creation is not None else ""
        key = (actor_state(actor), name)
        actors[key] = actors.get(key, 0) + 1
    family = GaugeMetricFamily(PREFIX + "actors", "Actors by state and class name.", labels=["State", "Name"])
    for (st, name), n in sorted(actors.items()):
        family.add_metric([st, name], n)
    yield family
    yield from _nodes(servicer)


def _tasks(state: Any) -> Iterator[Metric]:
    counts: dict[tuple[str, str], int] = {}
    live: dict[str, int] = {}
    for task in state.tasks.values():
        name = task.name
        key = (ray_task_state(task), name)
        counts[key] = counts.get(key, 0) + 1
        live[name] = live.get(name, 0) + 1
    history = state.finished_tasks
    for st, ended in (("FINISHED", history.finished), ("FAILED", history.failed)):
        for name, n in ended.items():
            counts[(st, name)] = counts.get((st, name), 0) + n
    family = GaugeMetricFamily(
        PREFIX + "tasks",
        "Tasks (remote functions and actor calls) by state and name; FINISHED and FAILED count every task "
        "that ended since the head started.",
        labels=["State", "Name"],
    )
    for (st, name), n in sorted(counts.items()):
        family.add_metric([st, name], n)
    yield family
    # every task the head took in is in its table or has ended (computed here rather than
    # counted on the task path; a task rerun from lineage counts again)
    submitted = CounterMetricFamily(PREFIX + "tasks_submitted", "Tasks submitted, by function name.", labels=["Name"])
    for name in sorted({*live, *history.finished, *history.failed}):
        submitted.add_metric([name], live.get(name, 0) + history.finished.get(name, 0) + history.failed.get(name, 0))
    yield submitted


def _nodes(servicer: HeadServicer) -> Iterator[Metric]:
    from raylite.head.dashboard.views import store_use

    nodes = servicer.state.nodes
    alive = sum(1 for n in nodes.values() if n.alive)
    yield GaugeMetricFamily(PREFIX + "cluster_active_nodes", "Nodes alive.", value=alive)
    yield GaugeMetricFamily(PREFIX + "cluster_dead_nodes", "Nodes the head lost.", value=len(nodes) - alive)
    labels = ["NodeId", "NodeAddress"]
    memory = GaugeMetricFamily(
        PREFIX + "object_store_memory",
        "Bytes of objects in a node's store, in shared memory (MMAP_SHM) or spilled to disk (SPILLED).",
        labels=[*labels, "Location"],
    )
    capacity = GaugeMetricFamily(PREFIX + "object_store_capacity", "A node's store size in bytes.", labels=labels)
    transfer = CounterMetricFamily(
        PREFIX + "object_transfer_bytes",
        "Object bytes a node sent to peers and clients, or received from them.",
        labels=[*labels, "Direction"],
    )
    reports = servicer.metrics.nodes
    known = store_use(servicer.state) if any(n not in reports for n in nodes) else {}
    for node_id, node in nodes.items():
        ids = [node_id.hex(), getattr(node.info, "address", "") or ""]
        report = reports.get(node_id)
        if node.alive:
            used = report.store_used if report is not None else known.get(node_id, (0, 0))[0]
            memory.add_metric([*ids, "MMAP_SHM"], used)
            memory.add_metric([*ids, "SPILLED"], report.store_spilled if report is not None else 0)
            capacity.add_metric(ids, node.total.get("object_store_memory", 0.0))
        if report is not None:
            transfer.add_metric([*ids, "sent"], report.bytes_sent)
            transfer.add_metric([*ids, "received"], report.bytes_received)
    yield memory
    yield capacity
    yield transfer


def _histogram(name: str, doc: str, buckets: Buckets, labels: list[str] | None = None) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, doc, labels=labels)
    family.add_metric([], buckets.cumulative(), sum_value=buckets.sum)
    return family


# ---- user metrics ----------------------------------------------------------------


def label(key: str) -> str:
    """A tag key as a Prometheus label name (Ray accepts any string as a key)."""
    out = _BAD_LABEL_CHARS.sub("_", key)
    if not out or out[0].isdigit() or out.startswith("__") or out == "le":
        out = "tag_" + out
    return out


# the families above: a user metric of one of these names is not exported (it would clash)
SYSTEM_NAMES = frozenset(
    {
        "tasks",
        "tasks_submitted",
        "task_scheduling_delay_seconds",
        "actors",
        "cluster_active_nodes",
        "cluster_dead_nodes",
        "object_store_memory",
        "object_store_capacity",
        "object_transfer_bytes",
        "user_metric_reports_dropped",
    }
)


def user_families(user: Any) -> Iterator[Metric]:
    by_name: dict[str, list[tuple[dict[str, str], Any]]] = {}
    for (name, tags), entry in user.series.items():
        if name.removesuffix("_total") in SYSTEM_NAMES:
            continue
        by_name.setdefault(name, []).append(({label(k): v for k, v in tags}, entry))
    for name in sorted(by_name):
        d = user.defs[name]
        full = PREFIX + name
        if d.kind == mw.HISTOGRAM:
            family: Metric = Metric(full, d.description, "histogram")
            for tags, buckets in by_name[name]:
                for le, n in buckets.cumulative():
                    family.add_sample(full + "_bucket", {**tags, "le": le}, n)
                family.add_sample(full + "_count", tags, buckets.cumulative()[-1][1])
                family.add_sample(full + "_sum", tags, buckets.sum)
        elif d.kind == mw.COUNTER:
            base = full.removesuffix("_total")  # Prometheus' counters end in _total once
            family = Metric(base, d.description, "counter")
            for tags, entry in by_name[name]:
                family.add_sample(base + "_total", tags, entry[0])
        else:
            family = Metric(full, d.description, "gauge")
            for tags, entry in by_name[name]:
                family.add_sample(full, tags, entry[0])
        yield family
    dropped = CounterMetricFamily(
        PREFIX + "user_metric_reports_dropped",
        "Reports of user metrics the head dropped: past its cap on series, or disagreeing with the kind "
        "a name was first reported with.",
    )
    dropped.add_metric([], user.dropped)
    yield dropped
