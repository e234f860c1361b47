"""/metrics on a running two-node cluster: cluster metrics move with a workload, user metrics
from a driver, tasks on both nodes and an actor add up, and the token rule holds.

(Bytes moving between nodes need two hosts: tests/multihost/test_multihost.py.)
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.cluster.state_cluster import StateCluster, state_cluster
from tests.conftest import run_python

DRIVER = """
import sys
import numpy as np
import raylite as ray
from raylite.util.metrics import Counter, Gauge, Histogram
from raylite.util.scheduling_strategies import NodeAffinitySchedulingStrategy as Affinity

ray.init(address="auto")
nodes = sorted(n["NodeID"] for n in ray.nodes() if n["Alive"])
assert len(nodes) == 2, nodes

@ray.remote(num_cpus=1)
def bump(i):
    Counter("test_bumps", "bumps by tasks", tag_keys=("kind",)).inc(tags={"kind": "task"})
    return ray.get_runtime_context().get_node_id()

@ray.remote
class Meter:
    def __init__(self):
        self.level = Gauge("test_level", tag_keys=("who",)).set_default_tags({"who": "meter"})
        self.sizes = Histogram("test_sizes", boundaries=[1, 10, 100])
        self.calls = Counter("test_bumps", tag_keys=("kind",))

    def record(self, n):
        self.level.set(n)
        self.sizes.observe(n)
        self.calls.inc(2, tags={"kind": "actor"})
        return n

for line in sys.stdin:
    if line.startswith("work"):
        ran_on = ray.get([bump.options(scheduling_strategy=Affinity(nodes[i % 2])).remote(i) for i in range(20)])
        assert set(ran_on) == set(nodes), ran_on
        meter = Meter.remote()
        ray.get([meter.record.remote(n) for n in (5, 50)])
        Counter("test_driver_runs").inc(3)
        big = ray.put(np.zeros(3_000_000, dtype=np.uint8))
        print("WORKED", flush=True)
    elif line.startswith("stop"):
        break
print("DONE", flush=True)
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StateCluster]:
    # on every interface: the dashboard, /metrics included, asks for the token
    with state_cluster(tmp_path_factory.mktemp("metrics"), [{"cpus": 1}], head_cpus=1, dashboard_host="0.0.0.0") as c:
        yield c


def scrape(
    cluster: StateCluster, token: str | None = "cluster"
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The samples of /metrics, by (name, sorted labels)."""
    request = urllib.request.Request(f"http://127.0.0.1:{cluster.dashboard_port}/metrics")
    if token:
        request.add_header("Authorization", f"Bearer {cluster.token if token == 'cluster' else token}")
    with urllib.request.urlopen(request, timeout=30) as reply:
        assert reply.headers["Content-Type"].startswith("text/plain")
        text = reply.read().decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def total(samples: dict[Any, float], name: str, **labels: str) -> float:
    """The sum of a metric's samples whose labels include `labels`."""
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= set(ls))


def eventually(cluster: StateCluster, check: Callable[[dict[Any, float]], bool], what: str) -> dict[Any, float]:
    deadline = time.monotonic() + 30
    while True:
        samples = scrape(cluster)
        if check(samples):
            return samples
        if time.monotonic() > deadline:
            raise AssertionError(f"/metrics never showed {what}; last scrape: {samples}")
        time.sleep(0.2)  # polling an HTTP endpoint from outside: there is nothing to wait on


def test_metrics_follow_a_workload(cluster: StateCluster) -> None:
    before = scrape(cluster)
    assert total(before, "raylite_cluster_active_nodes") == 2
    assert total(before, "raylite_tasks", Name="bump") == 0
    driver = cluster.driver(DRIVER)
    try:
        driver.stdin.write("work\n")  # type: ignore[union-attr]
        driver.stdin.flush()  # type: ignore[union-attr]
        line = driver.stdout.readline()  # type: ignore[union-attr]
        assert line.startswith("WORKED"), driver.stderr.read()  # type: ignore[union-attr]
        # the tasks' and the actor's increments left with their results: counted already
        after = scrape(cluster)
        assert total(after, "raylite_tasks", Name="bump", State="FINISHED") == 20
        assert total(after, "raylite_tasks_submitted_total", Name="bump") == 20
        assert total(after, "raylite_tasks", Name="Meter.record", State="FINISHED") == 2
        delays = "raylite_task_scheduling_delay_seconds_count"
        assert total(after, delays) >= total(before, delays) + 23  # 20 tasks, the actor, its 2 calls
        assert total(after, "raylite_actors", Name="Meter", State="ALIVE") == 1
        assert total(after, "raylite_test_bumps_total", kind="task") == 20  # on two nodes, summed
        assert total(after, "raylite_test_bumps_total", kind="actor") == 4
        assert total(after, "raylite_test_level", who="meter") == 50
        assert total(after, "raylite_test_sizes_bucket", le="10.0") == 1
        assert total(after, "raylite_test_sizes_bucket", le="100.0") == 2
        assert total(after, "raylite_test_sizes_sum") == 55
        # the driver's own report leaves within about a second; the put's bytes with the node's
        eventually(
            cluster,
            lambda s: (
                total(s, "raylite_test_driver_runs_total") == 3
                and total(s, "raylite_object_store_memory", Location="MMAP_SHM") >= 3_000_000
            ),
            "the driver's counter and the put in a store",
        )
        per_node = [v for (n, ls), v in scrape(cluster).items() if n == "raylite_object_store_memory"]
        assert len(per_node) == 4  # two nodes, in memory and spilled
    finally:
        stdout, stderr = driver.communicate("stop\n", timeout=120)
    assert driver.returncode == 0 and "DONE" in stdout, stderr
    # the driver left: its actor died with it
    eventually(cluster, lambda s: total(s, "raylite_actors", Name="Meter", State="DEAD") == 1, "the actor dead")


def test_metrics_ask_for_the_token_beyond_loopback(cluster: StateCluster) -> None:
    for token in (None, "not-the-token"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            scrape(cluster, token)
        assert refused.value.code == 401
    assert total(scrape(cluster), "raylite_cluster_active_nodes") == 2


def test_init_metrics_export_port_serves_metrics_alone() -> None:
    result = run_python(
        """
import urllib.request, urllib.error, raylite as ray
ctx = ray.init(num_cpus=1, include_dashboard=False, _metrics_export_port=0)
port = ctx.address_info["metrics_export_port"]
text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30).read().decode()
print("NODES", [l for l in text.splitlines() if l.startswith("raylite_cluster_active_nodes")])
try:
    urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=30)
except urllib.error.HTTPError as exc:
    print("API", exc.code)
ray.shutdown()
"""
    )
    assert result.returncode == 0, result.stderr
    assert "NODES ['raylite_cluster_active_nodes 1.0']" in result.stdout
    assert "API 404" in result.stdout  # the metrics port serves nothing else
