"""Task leases across hosts: a driver on the driver host (no daemon of its own) runs tasks on a
lease on another host's daemon; a lease's node dying: its lost outputs are rebuilt from the
records, the task it was running goes through the head."""

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


LOST = """
import os, time
import numpy as np
from raylite.client import context

@ray.remote
def hold(seconds):
    time.sleep(seconds)
    return 0

@ray.remote
def make(n):
    return np.arange(n, dtype=np.int64)

# the head host and w2 are busy for a while: the only room for a lease is on w1
blockers = [hold.options(scheduling_strategy=Affinity(n)).remote(10) for n in (HEAD, W2, W2)]
time.sleep(1)
ray.get(make.remote(10))  # the first task goes through the head while the lease is asked for
ref = make.remote(1_000_000)  # 8 MB: stored on the lease's node, its record keeps it in lineage
ray.wait([ref])
link = context.current()._leases
assert [s.grant.node_id.hex() for s in link.streams.values()] == [W1], "the lease is not on w1"
context.current().flush()  # the head applied the record
print("READY", flush=True)
open(os.environ["RL_GATE"]).read()  # w1 dies meanwhile
out = ray.get(ref, timeout=120)
print(int(out[-1]) == 999_999, flush=True)
"""


BOUNCED = """
import os, time
from raylite.client import context

@ray.remote
def hold(seconds):
    time.sleep(seconds)
    return 0

@ray.remote(max_retries=2)
def slow(marker):
    node = ray.get_runtime_context().get_node_id()
    if node == W1:
        open(marker, "w").close()
        time.sleep(600)
    return node

blockers = [hold.options(scheduling_strategy=Affinity(n)).remote(10) for n in (HEAD, W2, W2)]
time.sleep(1)
ray.get(hold.remote(0))  # the first task goes through the head while the lease is asked for
marker = f"/tmp/rlt-lease-running-{os.getpid()}"
ref = slow.remote(marker)
while not os.path.exists(marker):
    time.sleep(0.05)
os.unlink(marker)
assert [s.grant.node_id.hex() for s in context.current()._leases.streams.values()] == [W1]
print("READY", flush=True)
open(os.environ["RL_GATE"]).read()  # w1 dies meanwhile
print(ray.get(ref, timeout=120) != W1, flush=True)
"""


def run_through_w1_death(hosts, code: str) -> list[str]:
    """Runs code in a leasing driver on drv; SIGKILLs w1's daemon when it prints READY."""
    import os

    from tests.multihost.test_multihost import PRELUDE

    cluster = hosts.cluster
    gate = f"/tmp/rlt-lease-gate-{os.getpid()}"
    os.mkfifo(gate)
    program = "import os\nos.environ['RAYLITE_TASK_LEASES'] = '1'\n" + PRELUDE + code
    proc = cluster.popen("drv", program, env={"RL_GATE": gate})
    try:
        assert proc.stdout.readline().strip() == "READY", proc.stderr.read()
        cluster.kill_worker("w1")
        with open(gate, "w") as f:
            f.write("go")
        stdout, stderr = proc.communicate(timeout=180)
        assert proc.returncode == 0, stderr
        return stdout.split()
    finally:
        os.unlink(gate)
        if proc.poll() is None:
            proc.kill()
        cluster.restart_host("w1")


def test_a_lost_output_of_a_leased_task_is_rebuilt_from_its_record(hosts) -> None:
    assert run_through_w1_death(hosts, LOST) == ["True"]


def test_a_task_running_on_a_lease_whose_node_dies_goes_through_the_head(hosts) -> None:
    assert run_through_w1_death(hosts, BOUNCED) == ["True"]
