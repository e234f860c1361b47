"""docker-compose.yml run for real: the walkthrough, scaled workers, a worker killed mid-workload.

The commands are the README's (`up -d`, `up -d --scale worker=N`, `run --rm
driver`), on an engine of the tests' own (tests/docker/engine.py).
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import threading
import time
from collections.abc import Iterator

import pytest

from tests.cluster.test_walkthrough import check_walkthrough_output
from tests.docker.engine import Compose, Engine

pytestmark = [pytest.mark.docker, pytest.mark.timeout(1200)]

HEAD_IP = "10.77.0.10"


@pytest.fixture(scope="module")
def cluster(engine: Engine, image: str) -> Iterator[Compose]:
    compose = Compose(engine, project=f"rlt{os.getpid()}", token=secrets.token_hex(32))
    try:
        compose.compose("up", "-d")
        yield compose
    finally:
        compose.down()


def hostnames(cluster: Compose) -> dict[str, str]:
    """Container hostname (what a task sees as its machine's name) -> container id, for every node."""
    ids = cluster.containers("head") + cluster.containers("worker")
    return {cluster.inspect(c, "{{.Config.Hostname}}"): c for c in ids}


def test_compose_refuses_to_start_a_cluster_without_a_token(engine: Engine) -> None:
    tokenless = Compose(engine, project=f"rlt{os.getpid()}notoken", token=None)
    result = tokenless.compose("up", "-d", check=False)
    assert result.returncode != 0
    assert "set RAYLITE_TOKEN to a secret of your own" in result.stderr + result.stdout
    assert not tokenless.containers("head") and not tokenless.containers("worker")


def test_walkthrough_from_the_driver_container(cluster: Compose) -> None:
    # as the README says: `run` waits for the head and every worker to be healthy
    result = cluster.compose("run", "--rm", "-T", "driver", timeout=600)
    check_walkthrough_output(result.stdout)
    # head (1 CPU) and two workers (2 each), all at their own addresses
    alive = cluster.wait_for_nodes(3)
    assert HEAD_IP in alive and len(set(alive)) == 3


def test_scaled_workers_join_at_their_own_addresses_and_all_run_tasks(cluster: Compose) -> None:
    cluster.compose("up", "-d", "--scale", "worker=3")
    alive = cluster.wait_for_nodes(4)
    workers = cluster.containers("worker")
    assert len(workers) == 3
    container_ips = {cluster.inspect(w, "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}") for w in workers}
    # each worker advertises the address Docker gave its container, none the head's or another's
    assert sorted(alive) == sorted(container_ips | {HEAD_IP})
    result = cluster.driver(
        """
import json, socket, time
import raylite as ray
ray.init(address="head:6380")

@ray.remote
def where():
    time.sleep(0.2)
    return socket.gethostname()

print(json.dumps(sorted(set(ray.get([where.options(scheduling_strategy="SPREAD").remote() for _ in range(40)])))))
"""
    )
    assert json.loads(result.stdout.splitlines()[-1]) == sorted(hostnames(cluster))


KILL_DRIVER = """
import json, socket, time
import raylite as ray
ray.init(address="head:6380")

@ray.remote(max_retries=5)
def work(i):
    started = time.time()
    time.sleep(1.0)
    return i, socket.gethostname(), started, time.time()

refs = [work.options(scheduling_strategy="SPREAD").remote(i) for i in range(28)]
ray.wait(refs, num_returns=1)
print("RUNNING", flush=True)
print(json.dumps(ray.get(refs, timeout=240)), flush=True)
"""


def test_tasks_of_a_killed_worker_finish_on_the_others(cluster: Compose) -> None:
    cluster.compose("up", "-d", "--scale", "worker=3")
    cluster.wait_for_nodes(4)
    names = hostnames(cluster)
    victim = cluster.containers("worker")[-1]
    victim_name = next(name for name, cid in names.items() if cid == victim)

    driver = cluster.popen_driver(KILL_DRIVER)
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert driver.stdout is not None
        for line in driver.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    try:
        deadline = time.monotonic() + 240

        def next_line() -> str:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError("the driver printed nothing more within 240s") from None
            if line is None:
                assert driver.stderr is not None
                raise AssertionError(f"the driver ended early (exit {driver.wait()}):\n{driver.stderr.read()}")
            return line

        while next_line() != "RUNNING":
            pass
        # a machine dying without warning: SIGKILL to everything in the container
        cluster.engine.docker("kill", victim)
        assert cluster.inspect(victim, "{{.State.Running}}") == "false"
        dead_at = time.time()  # containers share this machine's clock
        results = json.loads(next_line())
        assert driver.wait(timeout=60) == 0
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()

    assert sorted(r[0] for r in results) == list(range(28))
    finished_after = [r for r in results if r[3] > dead_at]
    assert finished_after, "every task had finished before the worker was killed: nothing was tested"
    assert all(r[1] != victim_name for r in finished_after), "a task finished on the dead worker"
    assert {r[1] for r in results} <= set(names)
    # the head notices the loss: three nodes left alive
    assert len(cluster.wait_for_nodes(3)) == 3
