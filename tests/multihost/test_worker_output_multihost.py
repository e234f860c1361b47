"""What tasks and actors on other hosts print reaches a driver in its own namespace, prefixed with
their host's ip; `raylite logs` run on the driver's host reads those hosts' files."""

from __future__ import annotations

import re
import sys

from tests.output_driver import Driver

PROGRAM = """
import sys
import raylite as ray
from raylite.util.scheduling_strategies import NodeAffinitySchedulingStrategy as Affinity

ray.init()
by_ip = {n["NodeManagerAddress"]: n["NodeID"] for n in ray.nodes()}

@ray.remote
def far(i):
    print("far task on w1 says", i)
    print("far task err", file=sys.stderr)
    return ray.get_runtime_context().get_task_id()

@ray.remote
class Remote:
    def __init__(self):
        print("actor built on w2")
    def call(self):
        print("actor called on w2")
        return ray.get_runtime_context().get_actor_id()

task_id = ray.get(far.options(scheduling_strategy=Affinity(by_ip["10.77.0.11"], soft=False)).remote(7))
actor = Remote.options(scheduling_strategy=Affinity(by_ip["10.77.0.12"], soft=False)).remote()
actor_id = ray.get(actor.call.remote())
print("IDS", task_id, actor_id, flush=True)
sys.stdin.readline()
"""


def test_output_of_other_hosts_reaches_the_driver_with_their_ip(hosts) -> None:
    cluster = hosts.cluster
    driver = Driver(cluster.exec_argv("drv", [sys.executable, "-c", PROGRAM]), {**cluster.env("drv")})
    try:
        _, task_id, actor_id = driver.line(r"IDS \w+ \w+").split()
        driver.line(r"\(far pid=\d+, ip=10\.77\.0\.11\) far task on w1 says 7")
        driver.line(r"\(far pid=\d+, ip=10\.77\.0\.11\) far task err", err=True)
        driver.line(r"\(Remote pid=\d+, ip=10\.77\.0\.12\) actor built on w2")
        driver.line(r"\(Remote pid=\d+, ip=10\.77\.0\.12\) actor called on w2")
    finally:
        driver.finish()

    def logs(*args: str) -> str:
        got = cluster.run("drv", [sys.executable, "-m", "raylite.cli", "logs", *args], capture_output=True, timeout=120)
        assert got.returncode == 0, got.stderr
        return got.stdout

    assert "far task on w1 says 7" in logs("--task", task_id)
    assert "actor called on w2" in logs("--actor", actor_id)
    listing = logs()
    assert all(f"({ip})" in listing for ip in ("10.77.0.10", "10.77.0.11", "10.77.0.12")), listing
    w1_log = logs("worker-*.log", "--node", "10.77.0.11")
    assert re.search(r"serving at 10\.77\.0\.11:\d+", w1_log), w1_log
