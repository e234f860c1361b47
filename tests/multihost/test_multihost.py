"""A driver in its own namespace against a head and two worker hosts."""

from __future__ import annotations

import json
import time

PRELUDE = """
import hashlib, time
import numpy as np
import raylite as ray
from raylite.util.scheduling_strategies import NodeAffinitySchedulingStrategy as Affinity

ray.init()
by_ip = {n["NodeManagerAddress"]: n["NodeID"] for n in ray.nodes()}
HEAD, W1, W2 = by_ip["10.77.0.10"], by_ip["10.77.0.11"], by_ip["10.77.0.12"]

@ray.remote
def where():
    return ray.get_runtime_context().get_node_id()
"""


def run_ok(hosts, code: str, timeout: float = 180) -> str:
    result = hosts.python(PRELUDE + code, timeout=timeout)
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result.stdout


def test_walkthrough_from_driver_host(hosts) -> None:
    result = hosts.script("examples/walkthrough.py")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == "8"
    assert "((6, 'Machine'), (7, 'Learning'))" in lines


def test_three_nodes_at_their_own_addresses(hosts) -> None:
    out = run_ok(hosts, "print(sorted(by_ip), ray.cluster_resources()['CPU'])")
    assert "['10.77.0.10', '10.77.0.11', '10.77.0.12'] 5.0" in out


def test_spread_uses_all_three_hosts(hosts) -> None:
    out = run_ok(
        hosts,
        "seen = set(ray.get([where.options(scheduling_strategy='SPREAD').remote() for _ in range(12)]))\n"
        "print(seen == {HEAD, W1, W2})",
    )
    assert out.strip().endswith("True")


def test_argument_living_on_another_host(hosts) -> None:
    out = run_ok(
        hosts,
        """
@ray.remote
def make(n):
    return np.arange(n, dtype=np.int64)

@ray.remote
def total(a):
    return int(a.sum()), ray.get_runtime_context().get_node_id()

ref = make.options(scheduling_strategy=Affinity(W1)).remote(5_000_000)
s, node = ray.get(total.options(scheduling_strategy=Affinity(W2)).remote(ref))
print(s == sum(range(5_000_000)), node == W2)
# the driver host has no store: it fetches straight from w1
print(int(ray.get(ref)[-1]) == 4_999_999)
""",
    )
    assert out.split() == ["True", "True", "True"]


def test_tasks_go_where_their_big_arguments_are(hosts) -> None:
    out = run_ok(
        hosts,
        """
@ray.remote
def make():
    return np.ones(2_000_000)

@ray.remote
def consume(a):
    return ray.get_runtime_context().get_node_id()

for target in (W1, W2):
    ref = make.options(scheduling_strategy=Affinity(target)).remote()
    ray.wait([ref])
    print(ray.get(consume.remote(ref)) == target)
""",
    )
    assert out.split() == ["True", "True"]


def test_one_gib_object_between_hosts_keeps_its_checksum(hosts) -> None:
    out = run_ok(
        hosts,
        """
N = (1 << 30) // 8

@ray.remote
def make():
    a = np.arange(N, dtype=np.uint64)
    a *= 2654435761
    return a

@ray.remote
def digest(a):
    return hashlib.blake2b(memoryview(a).cast("B")).hexdigest(), ray.get_runtime_context().get_node_id()

ref = make.options(scheduling_strategy=Affinity(W1)).remote()
here, node1 = ray.get(digest.options(scheduling_strategy=Affinity(W1)).remote(ref))
t = time.perf_counter()
there, node2 = ray.get(digest.options(scheduling_strategy=Affinity(W2)).remote(ref))
print(node1 == W1, node2 == W2, here == there, f"{time.perf_counter() - t:.2f}s")
""",
        timeout=300,
    )
    fields = out.split()
    assert fields[:3] == ["True", "True", "True"], out


def run_through_w1_death(hosts, before: str, after: str, timeout: float = 180) -> list[str]:
    """Runs `before` in a driver on drv, SIGKILLs w1's worker daemon, then runs
    `after` in the same driver and returns what it printed. w1 is started
    again afterwards (as a new node) for the tests that follow."""
    import os

    cluster = hosts.cluster
    gate = f"/tmp/rlt-gate-{os.getpid()}"
    os.mkfifo(gate)
    code = (
        PRELUDE
        + "import os\n"
        + before
        + '\nprint("READY", flush=True)\nopen(os.environ["RL_GATE"]).read()  # w1 dies meanwhile\n'
        + after
    )
    proc = cluster.popen("drv", code, env={"RL_GATE": gate})
    try:
        assert proc.stdout.readline().strip() == "READY", proc.stderr.read()
        cluster.kill_worker("w1")
        with open(gate, "w") as f:
            f.write("go")
        stdout, stderr = proc.communicate(timeout=timeout)
        assert proc.returncode == 0, stderr
        return stdout.split()
    finally:
        os.unlink(gate)
        if proc.poll() is None:
            proc.kill()
        cluster.restart_host("w1")


def test_copy_survives_when_the_primary_host_dies(hosts) -> None:
    """w2 pulls a copy and registers it; after w1's daemon is killed, readers use w2's copy."""
    out = run_through_w1_death(
        hosts,
        before="""
@ray.remote
def make():
    return np.arange(3_000_000, dtype=np.int64)

@ray.remote
def total(a):
    return int(a.sum())

ref = make.options(scheduling_strategy=Affinity(W1)).remote()
expect = sum(range(3_000_000))
assert ray.get(total.options(scheduling_strategy=Affinity(W2)).remote(ref)) == expect  # w2 now has a copy
""",
        after="""
print(ray.get(total.options(scheduling_strategy=Affinity(HEAD)).remote(ref), timeout=60) == expect)
alive = {n["NodeManagerAddress"]: n["Alive"] for n in ray.nodes()}
print(alive["10.77.0.11"], alive["10.77.0.12"])
""",
        timeout=120,
    )
    assert out == ["True", "False", "True"], out


def test_cut_link_marks_node_dead_and_its_task_runs_elsewhere(hosts) -> None:
    """A real network fault: w2's cable is cut while it runs a task."""
    import os

    cluster = hosts.cluster
    fifo = f"/tmp/rlt-started-{os.getpid()}"
    os.mkfifo(fifo)
    proc = cluster.popen(
        "drv",
        PRELUDE
        + f"""
import time

@ray.remote(max_retries=3)
def work():
    node = ray.get_runtime_context().get_node_id()
    if node == W2:
        with open({fifo!r}, "w") as f:  # tell the test we run on w2, then keep running
            f.write("on w2")
        time.sleep(600)
    return node

start = time.monotonic()
ref = work.options(scheduling_strategy=Affinity(W2, soft=True)).remote()
node = ray.get(ref, timeout=120)
alive = {{n["NodeManagerAddress"]: n["Alive"] for n in ray.nodes()}}
print(node != W2, alive["10.77.0.12"], round(time.monotonic() - start, 1))
""",
    )
    try:
        with open(fifo) as f:
            assert f.read() == "on w2"
        cluster.set_link("w2", up=False)
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr
        retried_elsewhere, w2_alive, seconds = stdout.split()
        assert (retried_elsewhere, w2_alive) == ("True", "False"), stdout
    finally:
        os.unlink(fifo)
        if proc.poll() is None:
            proc.kill()
        cluster.set_link("w2", up=True)
        cluster.restart_host("w2")


def test_lost_objects_are_rebuilt_from_lineage_and_puts_are_reported_lost(hosts) -> None:
    """w1's daemon is SIGKILLed after making a chain of objects there."""
    out = run_through_w1_death(
        hosts,
        before="""
from raylite import exceptions

@ray.remote
def make(n):
    return np.arange(n, dtype=np.int64)

@ray.remote
def double(a):
    return a * 2

@ray.remote
def put_here():
    return [ray.put(np.ones(1_000_000))]  # a put object living on w1

soft_w1 = Affinity(W1, soft=True)
base = make.options(scheduling_strategy=soft_w1).remote(1_000_000)
doubled = double.options(scheduling_strategy=soft_w1).remote(base)
del base  # only the lineage of `doubled` keeps it
[put_ref] = ray.get(put_here.options(scheduling_strategy=Affinity(W1)).remote())
ray.wait([doubled])
""",
        after="""
out = ray.get(doubled, timeout=120)
print(int(out[-1]) == 2 * 999_999, flush=True)
try:
    ray.get(put_ref, timeout=120)
    print("not lost")
except exceptions.ObjectLostError as exc:
    print("lost", "put" in str(exc))
""",
    )
    assert out == ["True", "lost", "True"], out


def test_promoted_copy_is_kept_as_the_primary_when_its_store_fills(hosts) -> None:
    """A put made on w1 is copied to w2; w1 dies, so w2's copy becomes the only one.
    w2's store (40 MB) then fills up: the object must be spilled like a primary,
    not evicted like a spare copy, and stay readable."""
    hosts.cluster.restart_host("w2", object_store_memory=40_000_000)
    try:
        out = run_through_w1_death(
            hosts,
            before="""
@ray.remote
def put_here():
    return [ray.put(np.full(1_000_000, 7, dtype=np.int64))]  # 8 MB, on w1

@ray.remote
def total(refs):
    return int(ray.get(refs[0]).sum())

by_ip = {n["NodeManagerAddress"]: n["NodeID"] for n in ray.nodes() if n["Alive"]}
W2 = by_ip["10.77.0.12"]
[put_ref] = ray.get(put_here.options(scheduling_strategy=Affinity(W1)).remote())
assert ray.get(total.options(scheduling_strategy=Affinity(W2)).remote([put_ref])) == 7_000_000  # w2 has a copy
""",
            after="""
deadline = time.monotonic() + 60
while any(n["Alive"] for n in ray.nodes() if n["NodeID"] == W1):  # the head has seen w1 go
    assert time.monotonic() < deadline, "the head did not notice w1's death"
    time.sleep(0.1)

@ray.remote
def fill(i):
    return np.full(1_000_000, i, dtype=np.int64)  # 8 MB each, made on w2: 48 MB in a 40 MB store

fillers = [fill.options(scheduling_strategy=Affinity(W2)).remote(i) for i in range(6)]
ray.wait(fillers, num_returns=len(fillers), timeout=60)
print(int(ray.get(put_ref, timeout=60).sum()) == 7_000_000)
""",
        )
    finally:
        hosts.cluster.restart_host("w2")
    assert out == ["True"], out


SCRAPE = """
import json, urllib.request
from prometheus_client.parser import text_string_to_metric_families
text = urllib.request.urlopen("http://127.0.0.1:8265/metrics", timeout=30).read().decode()
out = {}
for family in text_string_to_metric_families(text):
    for s in family.samples:
        if s.name == "raylite_object_transfer_bytes_total":
            out[s.labels["NodeId"] + " " + s.labels["Direction"]] = s.value
print(json.dumps(out))
"""


def test_metrics_count_the_bytes_an_object_moves_between_hosts(hosts) -> None:
    def transferred() -> dict[str, float]:
        # the head's dashboard listens on the head host's loopback (no token there)
        result = hosts.python(SCRAPE, host="head", timeout=60)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    before = transferred()
    out = run_ok(
        hosts,
        """
@ray.remote
def make(n):
    return np.arange(n, dtype=np.int64)

@ray.remote
def total(a):
    return int(a.sum())

ref = make.options(scheduling_strategy=Affinity(W1)).remote(5_000_000)  # 40 MB on w1
assert ray.get(total.options(scheduling_strategy=Affinity(W2)).remote(ref)) == sum(range(5_000_000))
print(W1, W2)
""",
    )
    w1, w2 = out.split()
    # reported within about a second of the transfer, batched with what the nodes send anyway
    deadline = time.monotonic() + 30
    while True:
        after = transferred()
        sent = after.get(f"{w1} sent", 0) - before.get(f"{w1} sent", 0)
        received = after.get(f"{w2} received", 0) - before.get(f"{w2} received", 0)
        if sent >= 40_000_000 and received >= 40_000_000:
            break
        assert time.monotonic() < deadline, f"/metrics did not count the 40 MB moved w1 -> w2: {before} {after}"
        time.sleep(0.2)  # scraping from outside: nothing to wait on
