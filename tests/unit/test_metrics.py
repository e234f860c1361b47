"""User metrics as Ray's (validation errors checked against Ray 2.60), the process buffer, the
head's merge and cap, the head's validator for reports, and the Prometheus text /metrics gives."""

from __future__ import annotations

import pickle
import time
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from raylite import metrics_wire as mw
from raylite.batching import Outbox
from raylite.client import metrics_buffer
from raylite.client.metrics_buffer import MetricsBuffer
from raylite.head import validate
from raylite.head.dashboard import prometheus
from raylite.head.metrics import HeadMetrics, UserMetrics
from raylite.head.service import HeadServicer
from raylite.head.state import ClientConnected, NodeAdded, TaskSubmitted
from raylite.rpc import common_pb2, head_pb2
from raylite.util.metrics import Counter, Gauge, Histogram
from tests.unit.test_head_state import DRIVER, JOB, finished, task


@pytest.fixture(autouse=True)
def fresh_buffer(monkeypatch: pytest.MonkeyPatch) -> MetricsBuffer:
    buffer = MetricsBuffer()
    monkeypatch.setattr(metrics_buffer, "BUFFER", buffer)
    monkeypatch.setattr("raylite.util.metrics.BUFFER", buffer)
    return buffer


# ---- validation, as Ray 2.60 does it ----------------------------------------------------


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: Counter(""), ValueError, "Empty name is not allowed. Please provide a metric name."),
        (lambda: Counter("c", tag_keys="a"), TypeError, "tag_keys should be a tuple type, got: <class 'str'>"),
        (lambda: Counter("c", tag_keys=["a"]), TypeError, "tag_keys should be a tuple type, got: <class 'list'>"),
        (lambda: Gauge("g", tag_keys=(1,)), TypeError, "Tag keys must be str, got <class 'int'>."),
        (lambda: Histogram("h"), ValueError, "boundaries argument should be provided when using the Histogram class"),
        (lambda: Histogram("h", boundaries=[]), ValueError, "boundaries argument should be provided"),
        (
            lambda: Histogram("h", boundaries=[-1, 2]),
            ValueError,
            "Invalid `boundaries` argument at index 0, [-1, 2]. Use positive values for the arguments.",
        ),
        (lambda: Histogram("h", boundaries=[1, 0]), ValueError, "Invalid `boundaries` argument at index 1"),
    ],
)
def test_constructors_refuse_what_ray_refuses(make: Any, error: type, message: str) -> None:
    with pytest.raises(error) as raised:
        make()
    assert message in str(raised.value)


def test_records_refuse_what_ray_refuses() -> None:
    c = Counter("c", tag_keys=("k",))
    with pytest.raises(ValueError, match=r"^Missing value for tag key\(s\): k\.$"):
        c.inc(1.0)
    with pytest.raises(ValueError, match=r"^value must be >0, got -1$"):
        c.inc(-1, tags={"k": "x"})
    with pytest.raises(ValueError, match=r"^value must be >0, got 0$"):
        c.inc(0, tags={"k": "x"})
    with pytest.raises(TypeError, match=r"^value must be int or float, got <class 'str'>\.$"):
        c.inc("1", tags={"k": "x"})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^Tag values must be str, got <class 'int'>\.$"):
        c.inc(1, tags={"k": 3})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match=r"^Unrecognized tag key zz\.$"):
        c.set_default_tags({"zz": "1"})
    with pytest.raises(TypeError, match=r"^Tag values must be str"):
        c.set_default_tags({"k": 1})  # type: ignore[dict-item]
    g = Gauge("g", tag_keys=("a", "b"))
    with pytest.raises(ValueError, match=r"^Missing value for tag key\(s\): a,b\.$"):
        g.set(1)
    with pytest.raises(TypeError, match="value must be int or float"):
        Histogram("h", boundaries=[1]).observe("x")  # type: ignore[arg-type]


def test_an_invalid_name_warns_and_records_nothing(fresh_buffer: MetricsBuffer) -> None:
    for name in ("bad name", "a-b", "1ab"):
        with pytest.warns(UserWarning, match=f"Invalid metric name: {name}"):
            c = Counter(name)
        c.inc()
    assert fresh_buffer.drain() == []


def test_defaults_tags_undeclared_tags_none_and_pickling(fresh_buffer: MetricsBuffer) -> None:
    c = Counter("hits", "desc", tag_keys=("route", "code")).set_default_tags({"code": "200"})
    assert isinstance(c, Counter) and c.info["default_tags"] == {"code": "200"}
    c.inc(tags={"route": "/a"})
    c.inc(2.5, tags={"route": "/a", "code": "500", "undeclared": "ignored"})  # Ray accepts and drops it
    Gauge("g").set(None)  # Ray's no-op
    copy = pickle.loads(pickle.dumps(Histogram("h", "d", boundaries=[2, 1], tag_keys=("x",))))
    assert copy.info == {"name": "h", "description": "d", "tag_keys": ("x",), "default_tags": {}, "boundaries": [2, 1]}
    reports = {(r.name, tuple(r.tag_values)): r for r in fresh_buffer.drain()}
    assert reports[("hits", ("200", "/a"))].value == 1.0
    assert list(reports[("hits", ("500", "/a"))].tag_keys) == ["code", "route"]  # sorted by key
    assert reports[("hits", ("500", "/a"))].value == 2.5
    assert ("g", ()) not in reports


# ---- the process buffer -----------------------------------------------------------------


def test_the_buffer_sends_deltas_and_last_values_and_says_when_it_fills(fresh_buffer: MetricsBuffer) -> None:
    woken: list[int] = []
    fresh_buffer.on_dirty = lambda: woken.append(1)
    c, g = Counter("c"), Gauge("g")
    h = Histogram("h", boundaries=[10, 1, 1, float("nan")])  # unsorted and repeated: Ray takes them
    c.inc()
    c.inc(2)
    g.set(5)
    g.set(-3)
    for v in (0.5, 1, 3, 100):
        h.observe(v)
    assert woken == [1]  # once per report, not per record
    out = {r.name: r for r in fresh_buffer.drain()}
    assert out["c"].value == 3 and out["c"].kind == mw.COUNTER
    assert out["g"].value == -3 and out["g"].kind == mw.GAUGE
    assert list(out["h"].boundaries) == [1.0, 10.0]
    assert list(out["h"].bucket_counts) == [2, 1, 1] and out["h"].sum == 104.5  # 1 falls in le=1
    assert fresh_buffer.drain() == [] and not fresh_buffer.pending()
    c.inc()
    assert woken == [1, 1]
    for report in out.values():
        assert validate._metric_report(report, 0) is None  # what a process sends, the head accepts


def test_the_buffer_caps_its_series_with_a_warning(
    fresh_buffer: MetricsBuffer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metrics_buffer, "MAX_PENDING_SERIES", 5)
    c = Counter("ids", tag_keys=("id",))
    with pytest.warns(UserWarning, match="more than 5 series"):
        for i in range(50):
            c.inc(tags={"id": str(i)})
    assert len(fresh_buffer.drain()) == 5


# ---- the head: merging, capping --------------------------------------------------------


def report(name: str, kind: int, value: float = 0.0, tags: dict[str, str] | None = None, **hist: Any) -> Any:
    r = head_pb2.MetricReport(name=name, kind=kind, value=value, **hist)
    for k, v in sorted((tags or {}).items()):
        r.tag_keys.append(k)
        r.tag_values.append(v)
    return r


def test_the_head_sums_counters_and_histograms_and_keeps_a_gauges_last_value() -> None:
    user = UserMetrics(max_series=100)
    for process in range(3):  # three processes report
        user.merge(
            [
                report("c", mw.COUNTER, 2.0, {"k": "v"}),
                report("g", mw.GAUGE, float(process)),
                report("h", mw.HISTOGRAM, boundaries=[1.0], bucket_counts=[1, 2], sum=7.0),
            ]
        )
    assert user.series[("c", (("k", "v"),))] == [6.0]
    assert user.series[("g", ())] == [2.0]
    h = user.series[("h", ())]
    assert h.counts == [3, 6] and h.sum == 21.0


def test_the_head_drops_disagreeing_reports_and_caps_series(caplog: pytest.LogCaptureFixture) -> None:
    user = UserMetrics(max_series=3)
    user.merge([report("x", mw.COUNTER, 1.0), report("x", mw.GAUGE, 5.0)])
    user.merge([report("h", mw.HISTOGRAM, boundaries=[1.0], bucket_counts=[1, 0])])
    user.merge([report("h", mw.HISTOGRAM, boundaries=[2.0], bucket_counts=[1, 0])])
    assert user.series[("x", ())] == [1.0] and user.dropped == 2
    user.merge([report("y", mw.COUNTER, 1.0, {"id": str(i)}) for i in range(1000)])
    assert len(user.series) == 3 and user.dropped == 2 + 999
    assert "at most 3 series" in caplog.text and caplog.text.count("user metric 'y'") == 1


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (report("bad name", mw.COUNTER), "name"),
        (report("n", 9), "kind"),
        (report("n", mw.COUNTER, -1.0), "value"),
        (head_pb2.MetricReport(name="n", kind=mw.GAUGE, tag_keys=["b", "a"], tag_values=["1", "2"]), "tag_keys"),
        (head_pb2.MetricReport(name="n", kind=mw.GAUGE, tag_keys=["a"]), "tag_keys"),
        (head_pb2.MetricReport(name="n", kind=mw.GAUGE, tag_keys=["a", "a"], tag_values=["1", "2"]), "tag_keys"),
        (report("n", mw.GAUGE, tags={"a": "v" * (mw.MAX_TAG_VALUE + 1)}), "tag_values"),
        (report("n", mw.HISTOGRAM, boundaries=[2.0, 1.0], bucket_counts=[0, 0, 0]), "boundaries"),
        (report("n", mw.HISTOGRAM, boundaries=[float("inf")], bucket_counts=[0, 0]), "boundaries"),
        (report("n", mw.HISTOGRAM, bucket_counts=[0]), "boundaries"),
        (report("n", mw.HISTOGRAM, boundaries=[1.0], bucket_counts=[0]), "bucket_counts"),
        (report("n", mw.COUNTER, 1.0, boundaries=[1.0]), "histograms only"),
    ],
)
def test_the_head_refuses_malformed_reports(bad: Any, field: str) -> None:
    batch = head_pb2.ClientBatch()
    batch.metrics.append(bad)
    reason = validate.client_batch(batch, first=False)
    assert reason is not None and field in reason


def test_nan_and_infinite_values_are_a_users_right() -> None:
    batch = head_pb2.ClientBatch()
    batch.metrics.extend([report("g", mw.GAUGE, float("nan")), report("c", mw.COUNTER, float("inf"))])
    assert validate.client_batch(batch, first=False) is None


# ---- the Prometheus text ----------------------------------------------------------------


def parse(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text.decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_the_text_names_user_metrics_as_ray_does_with_raylite_prefix() -> None:
    servicer = HeadServicer("t")
    servicer.metrics.user.merge(
        [
            report("requests_total", mw.COUNTER, 4.0, {"route": "/a", "bad-key": "x", "le": "y"}),
            report("tasks", mw.GAUGE, 1.0),  # would clash with raylite_tasks: left out
            report("lat", mw.HISTOGRAM, boundaries=[0.5], bucket_counts=[1, 1], sum=2.0),
        ]
    )
    samples = parse(prometheus.render(prometheus.registry_for(servicer)))
    labels = (("bad_key", "x"), ("route", "/a"), ("tag_le", "y"))
    assert samples[("raylite_requests_total", labels)] == 4.0
    assert samples[("raylite_lat_bucket", (("le", "0.5"),))] == 1
    assert samples[("raylite_lat_bucket", (("le", "+Inf"),))] == 2
    assert samples[("raylite_lat_count", ())] == 2 and samples[("raylite_lat_sum", ())] == 2.0
    assert ("raylite_tasks", ()) not in samples


NODE = b"n" * 16


def head_with_tasks(n: int) -> HeadServicer:
    """A servicer whose node (4 CPUs) ran 4 of n tasks (10 names) and runs 4 more."""
    servicer = HeadServicer("t")
    servicer.nodes[NODE] = Outbox(head_pb2.HeadToNode)  # dispatches are written (and observed)
    servicer.apply(ClientConnected(DRIVER, JOB, True), NodeAdded(NODE, {"CPU": 4.0}))
    tasks = [task(f"t{i}") for i in range(n)]
    for i, t in enumerate(tasks):
        t.name = f"f{i % 10}"
        t.spec = common_pb2.TaskSpec(task_id=t.task_id).SerializeToString()
    servicer.apply(*[TaskSubmitted(t) for t in tasks])
    servicer.apply(*[finished(t, node=NODE) for t in tasks[:4]])
    return servicer


def test_cluster_families_from_the_state() -> None:
    servicer = head_with_tasks(10)
    samples = parse(prometheus.render(prometheus.registry_for(servicer)))
    assert samples[("raylite_tasks", (("Name", "f0"), ("State", "FINISHED")))] == 1
    assert sum(v for (n, ls), v in samples.items() if n == "raylite_tasks" and ("State", "RUNNING") in ls) == 4
    assert sum(v for (n, ls), v in samples.items() if n == "raylite_tasks_submitted_total") == 10
    assert samples[("raylite_task_scheduling_delay_seconds_count", ())] == 8  # 4 CPUs: 4 ran, 4 more placed
    assert samples[("raylite_cluster_active_nodes", ())] == 1


def test_a_scrape_of_a_head_with_100k_tasks_is_quick() -> None:
    servicer = head_with_tasks(100_000)
    registry = prometheus.registry_for(servicer)
    began = time.process_time()
    text = prometheus.render(registry)
    took = time.process_time() - began
    print(f"scrape of 100k tasks: {took * 1000:.0f} ms CPU, {len(text)} bytes")
    assert b'raylite_tasks{Name="f3",State="PENDING_NODE_ASSIGNMENT"} 9999.0' in text


def test_node_metrics_win_over_the_heads_estimate() -> None:
    servicer = HeadServicer("t")
    servicer.apply(NodeAdded(NODE, {"CPU": 1.0}))
    servicer._on_node_batch(NODE, head_pb2.NodeBatch(metrics=[head_pb2.NodeMetrics(store_used=7, bytes_sent=3)]))
    samples = parse(prometheus.render(prometheus.registry_for(servicer)))
    node = NODE.hex()
    assert [
        v
        for (n, ls), v in samples.items()
        if n == "raylite_object_store_memory" and ("Location", "MMAP_SHM") in ls and ("NodeId", node) in ls
    ] == [7]
    assert [
        v
        for (n, ls), v in samples.items()
        if n == "raylite_object_transfer_bytes_total" and ("Direction", "sent") in ls
    ] == [3]


def test_head_metrics_scheduling_delay() -> None:
    m = HeadMetrics(10)

    class Task:
        attempt, story = 1, (100.0, "NEW", "e", "c")

    m.dispatched(Task(), 100.003)
    retry = Task()
    retry.attempt = 2
    m.dispatched(retry, 200.0)  # a retry is no scheduling delay of the submission
    assert sum(m.scheduling_delay.counts) == 1 and m.scheduling_delay.counts[3] == 1  # le=0.005
