"""The state API (raylite.util.state) and `raylite status/list/summary/timeline` against a
running three-node cluster (`raylite start --head` and two `raylite start --address`) with a
workload in a known state: finished, failed, blocked and infeasible tasks, an actor, an object."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import yaml

from tests.cluster.state_cluster import StateCluster, state_cluster

WORKLOAD = """
import sys
import numpy as np
import raylite as ray

ray.init(address="auto")

@ray.remote
class Gate:
    def __init__(self):
        import asyncio
        self.opened = asyncio.Event()
        self.arrived = 0
        self.all_in = asyncio.Event()
    async def arrive(self, expected):
        self.arrived += 1
        if self.arrived >= expected:
            self.all_in.set()
    async def wait_all(self):
        await self.all_in.wait()
    async def wait(self):
        await self.opened.wait()
    async def open(self):
        self.opened.set()

@ray.remote(num_cpus=1)
class Counter:
    def __init__(self):
        self.n = 0
    def add(self):
        self.n += 1
        return self.n

@ray.remote
def square(x):
    return x * x

@ray.remote
def boom():
    raise ValueError("boom on purpose")

@ray.remote
def hold(gate):
    ray.get(gate.arrive.remote(2))
    return ray.get(gate.wait.remote())

@ray.remote(num_cpus=64)
def huge():
    return 0

gate = Gate.remote()
counter = Counter.options(name="the-counter").remote()
assert ray.get([square.remote(i) for i in range(3)]) == [0, 1, 4]
assert ray.get(counter.add.remote()) == 1
failed = boom.remote()
try:
    ray.get(failed)
except ValueError:
    pass
held = [hold.remote(gate) for _ in range(2)]
ray.get(gate.wait_all.remote())
never = huge.remote()
big = ray.put(np.zeros(2_000_000, dtype=np.uint8))
print("READY", failed.task_id().hex(), ray.get_runtime_context().get_job_id(), flush=True)
sys.stdin.readline()
ray.get(gate.open.remote())
ray.get(held)
print("DONE", flush=True)
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StateCluster]:
    workers = [{"cpus": 1, "resources": {"special": 2}}, {"cpus": 1}]
    with state_cluster(tmp_path_factory.mktemp("state"), workers) as c, pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAYLITE_TOKEN", c.token)  # for the state API called from this process
        driver = c.driver(WORKLOAD)
        try:
            line = driver.stdout.readline()  # type: ignore[union-attr]
            assert line.startswith("READY"), driver.stderr.read()  # type: ignore[union-attr]
            c.failed_task = line.split()[1]  # type: ignore[attr-defined]
            yield c
        finally:
            driver.communicate("go\n", timeout=60)
            assert driver.returncode == 0


def test_status_shows_nodes_resources_and_demand(cluster: StateCluster) -> None:
    out = cluster.cli("status")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert f"cluster at {cluster.address}" in text and "Alive: 3" in text and "Dead: 0" in text
    assert f"Dashboard: http://127.0.0.1:{cluster.dashboard_port}" in text
    assert "1/4 CPU" in text  # the Counter actor holds the one CPU it asked for; blocked tasks give theirs back
    assert "0/2 special" in text
    assert "{'CPU': 64}: 1 task(s)/actor(s) no node can ever run (infeasible)" in text


def test_list_nodes(cluster: StateCluster) -> None:
    from raylite.util.state import list_nodes

    nodes = list_nodes(address=cluster.address)
    assert len(nodes) == 3 and all(n.state == "ALIVE" for n in nodes)
    assert sum(n.is_head_node for n in nodes) == 1
    assert [n.resources_total.get("special") for n in nodes].count(2.0) == 1
    heads = list_nodes(address=cluster.address, filters=[("is_head_node", "=", "true")], detail=True)
    assert len(heads) == 1 and heads[0].resources_total["CPU"] == 2.0 and "resources_available" in heads[0]
    out = cluster.cli("list", "nodes")
    assert out.returncode == 0 and out.stdout.startswith("nodes: 3") and "IS_HEAD_NODE" in out.stdout


def test_list_tasks_with_filters_formats_and_limit(cluster: StateCluster) -> None:
    from raylite.util.state import list_tasks

    failed = list_tasks(address=cluster.address, filters=[("state", "=", "FAILED")], detail=True)
    assert [(t.name, t.error_type) for t in failed] == [("boom", "TASK_EXECUTION_EXCEPTION")]
    assert "boom on purpose" in failed[0].error_message
    squares = list_tasks(address=cluster.address, filters=[("name", "=", "square")])
    assert len(squares) == 3 and {t.state for t in squares} == {"FINISHED"}
    holding = list_tasks(address=cluster.address, filters=[("name", "=", "hold"), ("state", "!=", "FINISHED")])
    assert len(holding) == 2 and {t.state for t in holding} <= {"RUNNING", "RUNNING_IN_RAY_GET"}
    pending = list_tasks(address=cluster.address, filters=[("name", "=", "huge")])
    assert [t.state for t in pending] == ["PENDING_NODE_ASSIGNMENT"]

    out = cluster.cli("list", "tasks", "--filter", "state=failed", "--format", "json")
    assert out.returncode == 0, out.stderr
    assert [t["name"] for t in json.loads(out.stdout)] == ["boom"]
    out = cluster.cli("list", "tasks", "-f", "name=square", "--format", "yaml", "--detail")
    records = yaml.safe_load(out.stdout)
    assert len(records) == 3 and all(r["events"][-1]["state"] == "FINISHED" for r in records)
    out = cluster.cli("list", "tasks", "--limit", "1")
    assert "(showing 1; --limit shows more)" in out.stdout
    out = cluster.cli("list", "tasks", "--filter", "colour=red")
    assert out.returncode == 2 and "cannot be filtered by 'colour'" in out.stderr and "Traceback" not in out.stderr


def test_get_task_and_its_story(cluster: StateCluster) -> None:
    from raylite.util.state import get_task

    task = get_task(cluster.failed_task, address=cluster.address)  # type: ignore[attr-defined]
    assert task is not None and task.name == "boom" and task.state == "FAILED"
    assert [e["state"] for e in task.events][-2:] == ["RUNNING", "FINISHED"]
    assert task.start_time_ms <= task.end_time_ms
    assert get_task("00" * 16, address=cluster.address) is None


def test_actors(cluster: StateCluster) -> None:
    from raylite.util.state import get_actor, list_actors, summarize_actors

    actors = list_actors(address=cluster.address, filters=[("class_name", "=", "Counter")], detail=True)
    assert len(actors) == 1
    counter = actors[0]
    assert (counter.name, counter.state, counter.required_resources) == ("the-counter", "ALIVE", {"CPU": 1.0})
    assert get_actor(counter.actor_id, address=cluster.address).class_name == "Counter"
    summary = summarize_actors(address=cluster.address)["cluster"]
    assert summary["summary"]["Counter"]["state_counts"] == {"ALIVE": 1} and summary["total_actors"] == 2
    out = cluster.cli("summary", "actors")
    assert out.returncode == 0 and "Counter" in out.stdout and "ALIVE: 1" in out.stdout
    out = cluster.cli("list", "actors")
    assert "the-counter" in out.stdout and "Gate" in out.stdout


def test_objects(cluster: StateCluster) -> None:
    from raylite.util.state import list_objects

    big = [o for o in list_objects(address=cluster.address, limit=1000, detail=True) if o.object_size >= 2_000_000]
    assert len(big) == 1
    assert big[0].reference_type == "LOCAL_REFERENCE" and big[0].ip == "127.0.0.1" and len(big[0].locations) == 1
    out = cluster.cli("list", "objects", "--format", "json", "--limit", "1000")
    assert any(o["object_size"] >= 2_000_000 for o in json.loads(out.stdout))


def test_summary_tasks(cluster: StateCluster) -> None:
    from raylite.util.state import summarize_tasks

    summary = summarize_tasks(address=cluster.address)["cluster"]
    assert summary["summary"]["square"]["state_counts"] == {"FINISHED": 3}
    assert summary["summary"]["boom"]["state_counts"] == {"FAILED": 1}
    assert summary["total_actor_scheduled"] == 2
    out = cluster.cli("summary", "tasks")
    assert out.returncode == 0 and "FINISHED: 3" in out.stdout and "FAILED: 1" in out.stdout


def test_placement_groups_list_is_empty_not_an_error(cluster: StateCluster) -> None:
    from raylite.util.state import list_placement_groups

    assert list_placement_groups(address=cluster.address) == []
    out = cluster.cli("list", "placement-groups")
    assert out.returncode == 0 and out.stdout.startswith("placement groups: 0")


def test_timeline_from_the_cli_and_from_python(cluster: StateCluster, tmp_path) -> None:
    out = cluster.cli("timeline", str(tmp_path / "t.json"))
    assert out.returncode == 0, out.stderr
    events = json.loads((tmp_path / "t.json").read_text())
    spans = [e for e in events if e["ph"] == "X"]
    assert sum(e["name"] == "square" for e in spans) == 3
    assert all(e["dur"] >= 0 and e["ts"] > 0 for e in spans)
    assert sum(e["ph"] == "M" for e in events) == 3  # one trace process per node
    driver = cluster.driver(
        f"import json, raylite as ray\nray.init(address='auto')\nray.timeline({str(tmp_path / 'p.json')!r})\n"
        "print(len(ray.timeline()))\n"
    )
    stdout, stderr = driver.communicate(timeout=120)
    assert driver.returncode == 0, stderr
    assert int(stdout.split()[-1]) >= len(events)
    assert any(e["name"] == "boom" for e in json.loads((tmp_path / "p.json").read_text()))


def test_a_second_head_on_the_port_is_told_what_runs_there(cluster: StateCluster) -> None:
    out = cluster.cli("start", "--head", "--port", str(cluster.port), "--host", "127.0.0.1")
    assert out.returncode == 1
    assert f"a raylite head already runs on port {cluster.port}" in out.stderr and "raylite stop" in out.stderr
    assert "Traceback" not in out.stderr and "Failed to bind" not in out.stderr


def test_without_a_cluster_the_cli_says_how_to_start_one(tmp_path) -> None:
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = {**os.environ, "RAYLITE_TMPDIR": str(tmp_path)}
    for name in ("RAYLITE_ADDRESS", "RAY_ADDRESS"):
        env.pop(name, None)
    for args in (["status"], ["list", "tasks"], ["summary", "actors"]):
        out = subprocess.run(
            [sys.executable, "-m", "raylite.cli", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60
        )
        assert out.returncode == 1, out.stderr
        assert "raylite start --head" in out.stderr and "Traceback" not in out.stderr


def test_the_compose_healthcheck_passes_for_a_live_node_only(cluster: StateCluster) -> None:
    """docker-compose.yml's node healthcheck, run as the container would (its address and IP
    put in): it holds for a node the head lists alive, and not for an IP no node has."""
    import shlex
    import subprocess
    import sys

    import yaml

    from tests.conftest import ROOT

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    shell, command = compose["x-node"]["healthcheck"]["test"]
    assert shell == "CMD-SHELL"
    command = command.replace("raylite ", f"{shlex.quote(sys.executable)} -m raylite.cli ", 1)
    command = command.replace("head:6380", cluster.address)

    def check(ip: str) -> int:
        run = subprocess.run(["sh", "-c", command.replace("$$(hostname -i)", ip)], env=cluster.env, timeout=60)
        return run.returncode

    assert check("127.0.0.1") == 0
    assert check("10.255.255.254") != 0
