"""Direct actor calls between hosts: the caller on the driver host, the actor on a worker host,
each in its own network namespace (the cluster's daemons run with RAYLITE_DIRECT_ACTOR_CALLS on)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from raylite import config
from tests.multihost.conftest import Hosts, namespace_cluster

CODE = """
import raylite as ray
from raylite.client import context
from raylite.util.scheduling_strategies import NodeAffinitySchedulingStrategy as Affinity

ray.init()
by_ip = {n["NodeManagerAddress"]: n["NodeID"] for n in ray.nodes()}

@ray.remote
class Counter:
    def __init__(self):
        self.n = 0
    def add(self, k):
        self.n += k
        return self.n
    def where(self):
        return ray.get_runtime_context().get_node_id()

c = Counter.options(scheduling_strategy=Affinity(by_ip["10.77.0.11"], soft=False)).remote()
assert ray.get(c.where.remote()) == by_ip["10.77.0.11"]
total = sum(ray.get(c.add.remote(1)) for _ in range(200))
channel = context.current()._channels[c._actor_id]
print(total, channel.state.value, channel.address.split(":")[0])
"""


@pytest.fixture(scope="module")
def direct_hosts(request: pytest.FixtureRequest) -> Iterator[Hosts]:
    """Hosts whose daemons and drivers make direct actor calls: the session's cluster when they are
    on by default (RAYLITE_DIRECT_ACTOR_CALLS unset or on here, which its daemons inherit), else a
    cluster of its own with them turned on."""
    if config.DIRECT_ACTOR_CALLS:
        yield request.getfixturevalue("hosts")
        return
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAYLITE_DIRECT_ACTOR_CALLS", "1")
        yield from namespace_cluster("d")


def test_a_caller_on_another_host_calls_the_actor_directly(direct_hosts: Hosts) -> None:
    result = direct_hosts.python(CODE)
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    # 1 + 2 + ... + 200, in order, over the worker host's own address
    assert result.stdout.split()[-3:] == [str(200 * 201 // 2), "OPEN", "10.77.0.11"]


CUT = """
import os, subprocess, time
os.environ["RAYLITE_CALL_LIVENESS_S"] = "2"  # (read at import)
import raylite as ray
from raylite.client import context
from raylite.util.scheduling_strategies import NodeAffinitySchedulingStrategy as Affinity

ray.init()
by_ip = {n["NodeManagerAddress"]: n["NodeID"] for n in ray.nodes()}

@ray.remote
class Counter:
    def __init__(self):
        self.n = 0
    def add(self, k):
        self.n += k
        return self.n

c = Counter.options(scheduling_strategy=Affinity(by_ip["10.77.0.11"], soft=False)).remote()
channels = context.current()._channels
while c._actor_id not in channels or channels[c._actor_id].state.value != "OPEN":
    ray.get(c.add.remote(0), timeout=60)
# this host loses its way to the actor's host (not to the head): the call sent next goes unanswered
subprocess.run(["ip", "route", "add", "blackhole", "10.77.0.11/32"], check=True)
try:
    start = time.monotonic()
    value = ray.get(c.add.remote(5), timeout=60)
    print(value, round(time.monotonic() - start, 1), channels[c._actor_id].state.value)
finally:
    subprocess.run(["ip", "route", "del", "blackhole", "10.77.0.11/32"], check=False)
"""


def test_a_caller_cut_off_from_the_actors_host_breaks_the_channel_and_calls_by_the_head(direct_hosts: Hosts) -> None:
    try:
        result = direct_hosts.python(CUT, timeout=150)
    finally:
        direct_hosts.cluster.run("drv", ["ip", "route", "del", "blackhole", "10.77.0.11/32"], capture_output=True)
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    value, seconds, state = result.stdout.split()[-3:]
    # the kernel gave up on the unacknowledged call after the 2 s bound; it was resent through the
    # head, which still reaches the actor (without the check: the get times out after 60 s)
    assert value == "5" and float(seconds) < 30 and state != "OPEN", result.stdout
