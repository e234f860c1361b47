"""Direct actor calls between hosts: the caller on the driver host, the actor on a worker host,
each in its own network namespace (the cluster's daemons run with RAYLITE_DIRECT_ACTOR_CALLS on)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

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
def direct_hosts() -> Iterator[Hosts]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAYLITE_DIRECT_ACTOR_CALLS", "1")
        yield from namespace_cluster("d")


def test_a_caller_on_another_host_calls_the_actor_directly(direct_hosts: Hosts) -> None:
    result = direct_hosts.python(CODE)
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    # 1 + 2 + ... + 200, in order, over the worker host's own address
    assert result.stdout.split()[-3:] == [str(200 * 201 // 2), "OPEN", "10.77.0.11"]
