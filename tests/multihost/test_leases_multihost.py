"""Task leases across hosts: a driver on the driver host (no daemon of its own) runs tasks on a
lease on another host's daemon."""

from __future__ import annotations

CODE = """
import os
os.environ["RAYLITE_TASK_LEASES"] = "1"
import raylite as ray
from raylite.client import context

ray.init()

@ray.remote
def where(x):
    return ray.get_runtime_context().get_node_id(), x

@ray.remote
def inc(x):
    return x + 1

assert [ray.get(where.remote(i))[1] for i in range(20)] == list(range(20))
link = context.current()._leases
grants = [s.grant for s in link.streams.values()]
assert grants, "no lease: every task went through the head"
ips = {n["NodeID"]: n["NodeManagerAddress"] for n in ray.nodes()}
out = ray.get([where.remote(i) for i in range(200)])
assert [x for _, x in out] == list(range(200))
x = inc.remote(0)
for _ in range(29):
    x = inc.remote(x)
assert ray.get(x) == 30
print("LEASE-NODES", sorted({ips[g.node_id.hex()] for g in grants}))
print("RAN-ON", sorted({ips[n] for n, _ in out}))
"""


def test_a_driver_on_another_host_runs_tasks_on_a_lease(hosts) -> None:
    result = hosts.python(CODE, timeout=180)
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    lines = {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in result.stdout.splitlines() if " " in line}
    lease_nodes = lines["LEASE-NODES"]
    assert "10.77.0.13" not in lease_nodes  # the driver host runs no daemon: its lease is elsewhere
    assert lines["RAN-ON"] != "[]"
