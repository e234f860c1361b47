"""Scale measured on live daemons: a deep queue, many actors, many nodes (docs/performance.md, "Scale").

    python scripts/bench_scale_live.py queued --depths 1000,100000,1000000  # a real head, 1M queued
    python scripts/bench_scale_live.py actors --steps 50,100,200  # 200 live actors on one node
    python scripts/bench_scale_live.py profile                  # where the head's CPU per task goes
    sudo python scripts/bench_scale_live.py nodes --workers 20  # 20 daemons in network namespaces

Costs are read from /proc (CPU time of a process: utime + stime; memory:
VmRSS, and Pss from smaps_rollup where processes share pages), not from the
wall clock: the machine is shared.

queued: a local cluster of 1 CPU; the driver submits tasks that ask for a
resource no node has ("later"), so they stay queued in the head. At each
checkpoint (1k, 100k, 1M by default) it waits until the head has applied
everything (a feasible task's result comes back behind them on the same
stream), then prints the head's RSS and CPU per queued task, and the head's
CPU per task for --probe feasible tasks run at that depth (flat = the deep
queue costs the others nothing).

actors: creates --actors actors in steps, each its own executor process;
checks every one answers (distinct pids) and every call returns the right
value; prints each actor process's RSS and PSS (median), and the head's and
the worker daemon's growth per actor.

profile: py-spy samples the head of a local cluster of 2 CPUs while it runs
--tasks small tasks; prints the head's CPU per task and the share of its
samples in the pure state, in the servicer's decoding and effects, and the
leaf functions with the most samples.

nodes: a head host (0 CPUs) and --workers worker hosts of 1 CPU each, each
in its own network namespace (scripts/netns_cluster.py's topology, prefix
--prefix). Measures the head's idle CPU with no worker and then with all of
them joined (keepalive and stream upkeep per idle node), runs --tasks tasks
with SPREAD and as many with the default policy from a driver host, checks
every node ran some, and prints the head's CPU per task. Every process is
stopped by pid and the namespaces are deleted at the end, also on failure.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import netns_cluster  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def pss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    raise RuntimeError(f"no Pss for pid {pid}")


def children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        out += [int(c) for c in (task / "children").read_text().split()]
    return out


def wait_for(what: str, check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not true after {timeout:.0f}s")
        time.sleep(0.2)


# ---- queued --------------------------------------------------------------------------------


# Loaded by every Python process started with the probe's folder on PYTHONPATH; acts only in the
# head: each full garbage collection's length, wall and CPU time of the thread it stops (and a
# young one's over 5 ms), goes to a file, the same way whatever the tree under test does.
GC_PROBE = """
import gc, os, time
_path = os.environ.get("RAYLITE_BENCH_GC_LOG")
if _path and b"raylite.head.server" in open("/proc/self/cmdline", "rb").read():
    _out, _t0 = open(_path, "a", buffering=1), [0.0, 0.0]
    def _probe(phase, info):
        if phase == "start":
            _t0[:] = time.perf_counter(), time.thread_time()
            return
        took, cpu = time.perf_counter() - _t0[0], time.thread_time() - _t0[1]
        if info["generation"] == 2 or took > 0.005:
            _out.write(f"{info['generation']} {took:.6f} {cpu:.6f}\\n")
    gc.callbacks.append(_probe)
"""


def gc_probe(folder: Path) -> Path:
    """Puts the probe on PYTHONPATH (after the tree under test) for the daemons init() starts."""
    (folder / "sitecustomize.py").write_text(GC_PROBE)
    log = folder / "head-gc.txt"
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"), str(folder)) if p)
    os.environ["RAYLITE_BENCH_GC_LOG"] = str(log)
    return log


def gc_pauses(log: Path, skip: int) -> tuple[list[tuple[float, float]], int]:
    """The head's full collections (wall, CPU seconds) logged after the first `skip` lines, and the lines read."""
    lines = log.read_text().splitlines() if log.exists() else []
    return [(float(t), float(c)) for g, t, c in (line.split() for line in lines[skip:]) if g == "2"], len(lines)


def cmd_queued(opts: argparse.Namespace) -> dict[str, Any]:
    import tempfile

    import raylite as ray
    from raylite.client import api

    probe_dir = tempfile.TemporaryDirectory(prefix="raylite-gc-probe-")
    gc_log = gc_probe(Path(probe_dir.name))
    ray.init(num_cpus=1, include_dashboard=False)
    cluster = api._cluster
    assert cluster is not None
    head, worker = cluster.head.proc.pid, cluster.worker.proc.pid

    @ray.remote(resources={"later": 1.0})
    def later(i: int) -> int:
        return i

    @ray.remote
    def now(i: int) -> int:
        return i

    refs: list[Any] = []
    rows: list[dict[str, Any]] = []
    ray.get([now.remote(i) for i in range(opts.probe)])  # every code path warm before the baseline
    base = {"head_rss": rss_kib(head), "head_cpu": cpu_s(head), "driver_rss": rss_kib(os.getpid())}
    _, gc_seen = gc_pauses(gc_log, 0)
    for depth in [int(d) for d in opts.depths.split(",")]:
        started = time.process_time()
        while len(refs) < depth:
            refs.append(later.remote(len(refs)))
        driver_cpu = time.process_time() - started
        assert ray.get(now.remote(-1), timeout=600) == -1  # behind every submission on the stream
        head_cpu, head_rss = cpu_s(head), rss_kib(head)
        full, gc_seen = gc_pauses(gc_log, gc_seen)
        probe_cpu = cpu_s(head)
        results = ray.get([now.remote(i) for i in range(opts.probe)], timeout=600)
        assert results == list(range(opts.probe))
        probe_us = (cpu_s(head) - probe_cpu) / opts.probe * 1e6
        row = {
            "queued": depth,
            "head_rss_mib": head_rss / 1024,
            "head_bytes_per_queued": (head_rss - base["head_rss"]) * 1024 / depth,
            "head_cpu_us_per_queued": (head_cpu - base["head_cpu"]) / depth * 1e6,
            "driver_bytes_per_queued": (rss_kib(os.getpid()) - base["driver_rss"]) * 1024 / depth,
            "driver_cpu_us_per_submit": driver_cpu / max(1, depth - (rows[-1]["queued"] if rows else 0)) * 1e6,
            "head_cpu_us_per_probe_task": probe_us,
            "worker_rss_mib": rss_kib(worker) / 1024,
            "head_full_gcs": len(full),  # while the queue grew to this depth
            "head_full_gc_max_ms": max((t for t, _ in full), default=0.0) * 1e3,  # wall: the stall
            "head_full_gc_max_cpu_ms": max((c for _, c in full), default=0.0) * 1e3,
            "head_full_gc_total_cpu_ms": sum(c for _, c in full) * 1e3,
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    ray.shutdown()
    probe_dir.cleanup()
    return {"rows": rows}


# ---- actors --------------------------------------------------------------------------------


def cmd_actors(opts: argparse.Namespace) -> dict[str, Any]:
    import raylite as ray
    from raylite.client import api

    ray.init(num_cpus=2, include_dashboard=False)
    cluster = api._cluster
    assert cluster is not None
    head, worker = cluster.head.proc.pid, cluster.worker.proc.pid

    class Counter:
        def __init__(self) -> None:
            self.n = 0

        def pid(self) -> int:
            return os.getpid()

        def add(self, x: int) -> int:
            self.n += x
            return self.n

    actor_class: Any = ray.remote(Counter)
    pooled = set(children(worker))
    base = {"head": rss_kib(head), "worker": rss_kib(worker), "head_cpu": cpu_s(head)}
    actors: list[Any] = []
    counts: list[int] = []  # what each actor's counter should say
    rows: list[dict[str, Any]] = []
    for target in [int(s) for s in opts.steps.split(",")]:
        started = time.monotonic()
        actors += [actor_class.remote() for _ in range(target - len(actors))]
        pids = ray.get([a.pid.remote() for a in actors], timeout=900)
        created_s = time.monotonic() - started
        assert len(set(pids)) == len(actors), f"{len(set(pids))} distinct processes for {len(actors)} actors"
        started = time.monotonic()
        counts += [0] * (len(actors) - len(counts))
        for _ in range(opts.rounds):
            counts = [c + 1 for c in counts]
            got = ray.get([a.add.remote(1) for a in actors], timeout=600)
            assert got == counts, (
                f"wrong counts: {[(i, g, c) for i, (g, c) in enumerate(zip(got, counts, strict=True)) if g != c][:5]}"
            )
        calls_per_s = opts.rounds * len(actors) / (time.monotonic() - started)
        mine = [p for p in pids if p not in pooled]
        row = {
            "actors": len(actors),
            "create_s": round(created_s, 1),
            "calls_per_s": round(calls_per_s),
            "actor_rss_mib": statistics.median(rss_kib(p) for p in mine) / 1024,
            "actor_pss_mib": statistics.median(pss_kib(p) for p in mine) / 1024,
            "head_kib_per_actor": (rss_kib(head) - base["head"]) / len(actors),
            "worker_kib_per_actor": (rss_kib(worker) - base["worker"]) / len(actors),
            "head_cpu_s": round(cpu_s(head) - base["head_cpu"], 2),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    pids = ray.get([a.pid.remote() for a in actors])
    for a in actors:
        ray.kill(a)
    wait_for("every killed actor's process exited", lambda: not any(Path(f"/proc/{p}").exists() for p in pids), 120)
    print(f"all {len(actors)} actors killed, their processes gone")
    ray.shutdown()
    return {"rows": rows}


# ---- profile -------------------------------------------------------------------------------

# frames whose inclusive share of the head's samples is printed: the state, and the servicer around it
_PARTS = {
    "HeadState.handle (the pure state)": "handle (raylite/head/state/head_state.py",
    "servicer: client batches in": "_on_client_batch (raylite/head/service.py",
    "servicer: node batches in": "_on_node_batch (raylite/head/service.py",
    "servicer: effects out (apply)": "apply (raylite/head/service.py",
    "edge validation": "raylite/head/validate.py",
    "outboxes (batching.py)": "raylite/batching.py",
}


def cmd_profile(opts: argparse.Namespace) -> dict[str, Any]:
    import raylite as ray
    from raylite.client import api

    ray.init(num_cpus=2, include_dashboard=False)
    cluster = api._cluster
    assert cluster is not None
    head = cluster.head.proc.pid

    @ray.remote
    def noop(i: int) -> int:
        return i

    ray.get([noop.remote(i) for i in range(200)])
    raw = Path(opts.out)
    spy = str(Path(sys.executable).with_name("py-spy"))
    native = ["--native"] if opts.native else []
    argv = [spy, "record", "--pid", str(head), "--rate", "250", "--format", "raw", "-o", str(raw), *native]
    sampler = subprocess.Popen(argv)
    before = cpu_s(head)
    for lo in range(0, opts.tasks, opts.batch):
        assert ray.get([noop.remote(i) for i in range(lo, lo + opts.batch)], timeout=600) == list(
            range(lo, lo + opts.batch)
        )
    head_us = (cpu_s(head) - before) / opts.tasks * 1e6
    sampler.send_signal(signal.SIGINT)
    sampler.wait(timeout=120)
    ray.shutdown()
    stacks = [line.rsplit(" ", 1) for line in raw.read_text().splitlines() if line.strip()]
    total = sum(int(n) for _, n in stacks)
    shares = {part: sum(int(n) for stack, n in stacks if marker in stack) / total for part, marker in _PARTS.items()}
    leaves: dict[str, int] = {}
    for stack, n in stacks:
        leaf = stack.split(";")[-1]
        leaves[leaf] = leaves.get(leaf, 0) + int(n)
    print(f"head CPU per task: {head_us:.0f} us ({opts.tasks} tasks in batches of {opts.batch}); {total} samples")
    for part, share in shares.items():
        print(f"  {100 * share:5.1f} %  {part}")
    print("  leaf functions (own time):")
    for leaf, samples in sorted(leaves.items(), key=lambda kv: -kv[1])[:12]:
        print(f"  {100 * samples / total:5.1f} %  {leaf}")
    return {"head_us_per_task": head_us, "shares": shares}


# ---- nodes ---------------------------------------------------------------------------------


class ScaleCluster(netns_cluster.Cluster):
    """netns_cluster's topology with a head host, --workers worker hosts and a driver host."""

    def ip(self, host: str) -> str:
        if host in netns_cluster.HOST_IPS:
            return netns_cluster.HOST_IPS[host]
        return f"{netns_cluster.SUBNET}.{100 + int(host[1:])}"  # w1 -> .101

    def start(self, host: str, cpus: int) -> None:
        role = ["--head", "--port", str(netns_cluster.HEAD_PORT), "--include-dashboard", "false"]
        if host != "head":
            role = ["--address", self.head_address]
        argv = [sys.executable, "-m", "raylite.cli", "start", *role, "--host", "0.0.0.0"]
        argv += ["--node-ip-address", self.ip(host), "--num-cpus", str(cpus)]
        result = self.run(host, argv, capture_output=True)
        if result.returncode != 0:
            raise RuntimeError(f"starting raylite on {host} failed:\n{result.stdout}\n{result.stderr}")

    def daemon_pid(self, host: str, role: str) -> int:
        (path,) = (self.runtime_root / self.prefix / host / "daemons").glob(f"{role}-*.json")
        return int(json.loads(path.read_text())["pid"])

    def stop_daemons(self) -> None:
        for host in reversed(self.hosts):
            if host != "drv" and (self.runtime_root / self.prefix / host / "daemons").exists():
                self.run(host, [sys.executable, "-m", "raylite.cli", "stop"], capture_output=True)


SPREAD_DRIVER = """
import collections, json, raylite as ray
ray.init()  # RAYLITE_ADDRESS names the head

@ray.remote(num_cpus=1)
def where(i):
    return ray.get_runtime_context().get_node_id()

alive = [x for x in ray.nodes() if x["Alive"]]
spread = ray.get([where.options(scheduling_strategy="SPREAD").remote(i) for i in range({tasks})], timeout=900)
default = ray.get([where.remote(i) for i in range({tasks})], timeout=900)
print("RESULT " + json.dumps({{"nodes": len(alive), "spread": collections.Counter(spread),
                              "default": collections.Counter(default)}}))
ray.shutdown()
"""


def idle_cpu(pids: list[int], seconds: float) -> list[float]:
    before = [cpu_s(p) for p in pids]
    time.sleep(seconds)  # a measurement window, not synchronisation
    return [(cpu_s(p) - b) / seconds for p, b in zip(pids, before, strict=True)]


def cmd_nodes(opts: argparse.Namespace) -> dict[str, Any]:
    reason = netns_cluster.namespaces_available()
    if reason:
        raise SystemExit(f"cannot build the namespace cluster: {reason}")
    workers = [f"w{i}" for i in range(1, opts.workers + 1)]
    cluster = ScaleCluster(prefix=opts.prefix, hosts=("head", *workers, "drv"))
    cluster.create_network()
    try:
        return _nodes(cluster, workers, opts)
    finally:
        cluster.down()
        left = [ns for ns in os.popen("ip netns list").read().split() if ns.startswith(f"{opts.prefix}-")]
        print(f"torn down; namespaces left: {left or 'none'}")


def _nodes(cluster: ScaleCluster, workers: list[str], opts: argparse.Namespace) -> dict[str, Any]:
    cluster.start("head", 0)
    head = cluster.daemon_pid("head", "head")
    environ = Path(f"/proc/{head}/environ").read_bytes().split(b"\0")
    print("head imports from", [e.decode() for e in environ if e.startswith(b"PYTHONPATH=")])
    (alone,) = idle_cpu([head], opts.idle_s)
    for host in workers:
        cluster.start(host, 1)
    daemons = [cluster.daemon_pid(h, "worker") for h in workers]
    count = "import raylite as ray; ray.init(); print(sum(n['Alive'] for n in ray.nodes())); ray.shutdown()"

    def joined() -> bool:
        out = cluster.run("drv", [sys.executable, "-c", count], capture_output=True, timeout=120)
        return out.returncode == 0 and out.stdout.strip().endswith(str(len(workers) + 1))

    wait_for(f"{len(workers)} workers joined", joined, 180)
    idle = idle_cpu([head, *daemons], opts.idle_s)
    per_node_ms = (idle[0] - alone) / len(workers) * 1e3
    print(
        f"head idle: {alone * 1e3:.2f} ms/s alone, {idle[0] * 1e3:.2f} ms/s with {len(workers)} idle nodes "
        f"({per_node_ms:.3f} ms/s per node); a worker daemon idle: {statistics.median(idle[1:]) * 1e3:.2f} ms/s"
    )
    before = cpu_s(head)
    out = cluster.run(
        "drv", [sys.executable, "-c", SPREAD_DRIVER.format(tasks=opts.tasks)], capture_output=True, timeout=1800
    )
    head_cpu = cpu_s(head) - before
    line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"the driver failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    result = json.loads(line[len("RESULT ") :])
    assert result["nodes"] == len(workers) + 1, result
    for policy in ("spread", "default"):
        ran = result[policy]
        assert len(ran) == len(workers), f"{policy}: tasks ran on {len(ran)} of {len(workers)} nodes: {ran}"
        print(f"{policy}: every one of {len(ran)} nodes ran tasks, {min(ran.values())}-{max(ran.values())} each")
    per_task_us = head_cpu / (2 * opts.tasks) * 1e6
    print(f"head CPU per task (driver connect included): {per_task_us:.0f} us")
    return {
        "workers": len(workers),
        "head_idle_ms_per_s_alone": alone * 1e3,
        "head_idle_ms_per_s": idle[0] * 1e3,
        "head_idle_ms_per_s_per_node": per_node_ms,
        "worker_idle_ms_per_s": statistics.median(idle[1:]) * 1e3,
        "head_cpu_us_per_task": per_task_us,
        "tasks_per_node": {p: sorted(result[p].values()) for p in ("spread", "default")},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    q = sub.add_parser("queued")
    q.add_argument("--depths", default="1000,100000,1000000")
    q.add_argument("--probe", type=int, default=1000, help="feasible tasks timed at each depth")
    a = sub.add_parser("actors")
    a.add_argument("--steps", default="50,100,200")
    a.add_argument("--rounds", type=int, default=5, help="rounds of one call to every actor")
    p = sub.add_parser("profile")
    p.add_argument("--tasks", type=int, default=20_000)
    p.add_argument("--batch", type=int, default=1000, help="tasks submitted before each get")
    p.add_argument("--out", default="/tmp/raylite-head-profile.txt", help="py-spy's raw stacks")
    p.add_argument("--native", action="store_true", help="sample C frames too (gRPC's core, protobuf, the loop)")
    n = sub.add_parser("nodes")
    n.add_argument("--workers", type=int, default=20)
    n.add_argument("--tasks", type=int, default=2000, help="tasks per policy (SPREAD, default)")
    n.add_argument("--idle-s", type=float, default=30.0, help="length of each idle CPU window")
    n.add_argument("--prefix", default=f"rls{os.getpid() % 10000}")
    opts = parser.parse_args()
    # Daemons start as `python -m`, which puts their cwd first on sys.path: run from the tree this
    # driver imported, so that they run the same code as it whatever the caller's directory.
    import raylite

    os.chdir(Path(raylite.__file__).resolve().parent.parent)
    print(f"raylite from {os.getcwd()}", file=sys.stderr, flush=True)
    commands = {"queued": cmd_queued, "actors": cmd_actors, "nodes": cmd_nodes, "profile": cmd_profile}
    print("BENCH_RESULT_JSON " + json.dumps({opts.command: commands[opts.command](opts)}))


if __name__ == "__main__":
    main()
