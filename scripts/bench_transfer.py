#!/usr/bin/env python3
"""Object movement between hosts, raylite vs Ray, on a multi-host cluster made of network namespaces.

    sudo python3 scripts/bench_transfer.py --ray-python /path/to/rayvenv/bin/python   # both backends
    sudo python3 scripts/bench_transfer.py --backend raylite --repeat 5

Ray's interpreter is --ray-python, else $RAYLITE_BENCH_RAY_PYTHON; without either only raylite runs.
Needs root (`ip netns`). raylite runs on scripts/netns_cluster.py's cluster with prefix "rlb" (head, w1, w2, and
the driver on drv, which has no object store). Ray runs as two nodes in namespaces "rlr-w1" (head, 10.77.0.11) and
"rlr-w2" (10.77.0.12), the driver on w1. Every node gets a 3 GiB object store. Workloads, each result checked
(checksum, size, and which node ran the consumer):
  bw_1g     a task on w2 takes a 1 GiB ndarray made on w1 as argument (GiB/s = 1 GiB / latency of that task)
  lat_100m  the same with 100 MiB: latency of the consuming task (ms)
  get_1g    ray.get of a 1 GiB ndarray made on w2, from the driver (GiB/s)
  make_1g   side metric: a task on w1 makes and returns 1 GiB, until ray.wait sees it (s)
Each backend's driver prints one JSON line; the script prints a table with the ratio raylite/ray. `--rounds N` brings
up a fresh cluster per backend N times, alternating (raylite ray, ray raylite, ...), and reports per workload the
median of the rounds with each round's value; `--markdown` adds a table for docs/performance.md (the command, the
date, the machine, its load; scripts/bench_table.py). For each workload the driver also sums the CPU time of every
process in each host's namespace (/proc, so the driver needs root) around the transfer and prints it per GiB moved,
per host: less disturbed by other load on the machine than wall time. Everything it
starts is torn down; Ray is stopped by killing the processes of its namespaces, never `ray stop` (which kills by
name machine-wide).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_table  # noqa: E402
from netns_cluster import HOST_IPS, Cluster  # noqa: E402

RAY_PORT = 6379
STORE_BYTES = 3 << 30
RESULT_PREFIX = "BENCH_TRANSFER_JSON "
METRICS = {
    "bw_1g": bench_table.Metric("1 GiB task argument w1 -> w2", "GiB/s", "higher"),
    "lat_100m": bench_table.Metric("100 MiB task argument w1 -> w2", "ms", "lower"),
    "get_1g": bench_table.Metric("get 1 GiB from driver (object on w2)", "GiB/s", "higher"),
    "make_1g": bench_table.Metric("task on w1 returns 1 GiB (until ready)", "s", "lower"),
}

# Runs on the driver host, the same for both backends; argv[1] is a JSON config.
DRIVER = r"""
import importlib, json, os, statistics, sys, time
import numpy as np

cfg = json.loads(sys.argv[1])
ray = importlib.import_module(cfg["module"])
Affinity = importlib.import_module(cfg["module"] + ".util.scheduling_strategies").NodeAffinitySchedulingStrategy
STRIDE, GIB, MIB, TIMEOUT = 8192, 1 << 30, 1 << 20, cfg["op_timeout"]
ray.init(address=cfg["address"])
ids = {n["NodeManagerAddress"]: n["NodeID"] for n in ray.nodes() if n["Alive"]}
W1, W2 = cfg["w1"], cfg["w2"]
assert W1 in ids and W2 in ids, f"nodes {sorted(ids)} lack {W1} or {W2}"
out = {"errors": [], "source": ray.__file__, "driver_node": {v: k for k, v in ids.items()}.get(ray.get_runtime_context().get_node_id())}

def on(ip):
    return Affinity(ids[ip], soft=False)

@ray.remote(num_cpus=1)
def where():
    return ray.get_runtime_context().get_node_id()

@ray.remote(num_cpus=1)
def make(nbytes, fill):
    return np.full(nbytes // 8, fill)

@ray.remote(num_cpus=1)
def consume(a):
    return ray.get_runtime_context().get_node_id(), float(a[::STRIDE].sum() + a[-1]), a.nbytes

def expected(nbytes, fill):
    return fill * (len(range(0, nbytes // 8, STRIDE)) + 1), nbytes

made = []
TCK = os.sysconf("SC_CLK_TCK")
NETNS = {h: os.stat(f"/run/netns/{n}").st_ino for h, n in cfg.get("netns", {}).items()}
cpu = {}  # workload -> [{host: CPU seconds of its processes during one sample}]

def host_cpu(first):
    # CPU seconds so far of every process in each host's network namespace (and of children it reaped);
    # this driver's own is read before a closing scan and after an opening one: the scans are not counted
    own = time.process_time()
    out, hosts, me, mine = dict.fromkeys(NETNS, 0.0), {v: k for k, v in NETNS.items()}, str(os.getpid()), None
    for pid in os.listdir("/proc"):
        try:
            host = hosts.get(int(os.readlink(f"/proc/{pid}/ns/net")[5:-1]))
            if host is not None and pid != me:
                f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
                out[host] += sum(int(x) for x in f[11:15]) / TCK
            elif host is not None:
                mine = host
        except (OSError, ValueError):
            pass
    if mine is not None:
        out[mine] += time.process_time() if first else own
    return out

def cpu_of(key, before):
    after = host_cpu(False)
    cpu.setdefault(key, []).append({h: after[h] - before[h] for h in after})

def produce(nbytes, src, fill):
    t0 = time.perf_counter()
    ref = make.options(scheduling_strategy=on(src)).remote(nbytes, fill)
    ready, _ = ray.wait([ref], timeout=TIMEOUT, fetch_local=False)
    assert ready, f"object on {src} not ready in {TIMEOUT}s"
    if nbytes == GIB and src == W1:
        made.append(time.perf_counter() - t0)
    return ref

def task_arg(nbytes, fill, key=None):
    ref = produce(nbytes, W1, fill)
    c0 = host_cpu(True)
    t0 = time.perf_counter()
    node, total, size = ray.get(consume.options(scheduling_strategy=on(W2)).remote(ref), timeout=TIMEOUT)
    elapsed = time.perf_counter() - t0
    if key:
        cpu_of(key, c0)
    assert node == ids[W2], f"consumer ran on {node}, not on w2"
    assert (total, size) == expected(nbytes, fill), f"checksum {(total, size)} != {expected(nbytes, fill)}"
    return elapsed

def driver_get(nbytes, fill, key=None):
    ref = produce(nbytes, W2, fill)
    c0 = host_cpu(True)
    t0 = time.perf_counter()
    a = ray.get(ref, timeout=TIMEOUT)
    total, size = float(a[::STRIDE].sum() + a[-1]), a.nbytes
    elapsed = time.perf_counter() - t0
    if key:
        cpu_of(key, c0)
    assert (total, size) == expected(nbytes, fill), f"checksum {(total, size)} != {expected(nbytes, fill)}"
    return elapsed

for ip in (W1, W2, W1, W2):
    assert ray.get(where.options(scheduling_strategy=on(ip)).remote(), timeout=TIMEOUT) == ids[ip], f"affinity {ip}"
task_arg(MIB, 0.5)  # warm-up: workers and connections

runs = [("lat_100m", task_arg, 100 * MIB, lambda s: s * 1000), ("bw_1g", task_arg, GIB, lambda s: GIB / s / GIB),
        ("get_1g", driver_get, GIB, lambda s: GIB / s / GIB)]
for key, fn, nbytes, convert in runs:
    samples = []
    try:
        for i in range(cfg["repeat"]):
            samples.append(convert(fn(nbytes, float(i + 2), key)))
        out[key] = statistics.median(samples)
        if cpu.get(key):  # CPU seconds per GiB moved, per host, median over the samples
            out[key + "_cpu_s_per_gib"] = {
                h: round(statistics.median(c[h] for c in cpu[key]) * GIB / nbytes, 3) for h in cpu[key][0]
            }
    except Exception as exc:
        out["errors"].append(f"{key}: {type(exc).__name__}: {exc}")
    out[key + "_samples"] = [round(s, 3) for s in samples]
if made:
    out["make_1g"], out["make_1g_samples"] = statistics.median(made), [round(s, 3) for s in made]
print("BENCH_TRANSFER_JSON " + json.dumps(out), flush=True)
"""


def driver_argv(
    python: str, module: str, address: str, repeat: int, op_timeout: float, netns: dict[str, str]
) -> list[str]:
    cfg = {
        "netns": netns,
        "module": module,
        "address": address,
        "w1": HOST_IPS["w1"],
        "w2": HOST_IPS["w2"],
        "repeat": repeat,
        "op_timeout": op_timeout,
    }
    return [python, "-c", DRIVER, json.dumps(cfg)]


def parse(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX) :])
    tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
    return {"errors": [f"driver exited {proc.returncode} without results:\n{tail}"]}


def run_raylite(repeat: int, timeout: float, prefix: str = "rlb", tls: bool = False) -> dict[str, Any]:
    cluster = Cluster(prefix=prefix)
    started = time.monotonic()
    try:
        cluster.up(object_store_memory=STORE_BYTES, tls=tls)
        up_s = time.monotonic() - started
        netns = {h: cluster.ns(h) for h in ("w1", "w2", "drv")}
        argv = driver_argv(sys.executable, "raylite", cluster.head_address, repeat, timeout / 4, netns)
        proc = cluster.run("drv", argv, capture_output=True, timeout=timeout)
        return {**parse(proc), "up_s": up_s, "run_s": time.monotonic() - started - up_s}
    except (subprocess.TimeoutExpired, RuntimeError) as exc:
        return {"errors": [failure(exc)]}
    finally:
        cluster.down()


def failure(exc: Exception) -> str:
    if isinstance(exc, subprocess.TimeoutExpired):
        return f"driver timed out after {exc.timeout:.0f}s"
    return f"{type(exc).__name__}: {exc}"


def ray_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_ADDRESS")}
    if (Path.home() / ".ray" / "auth_token").exists():  # Ray 2.60 wrote one on its first init()
        env["RAY_AUTH_MODE"] = "token"
    return env


def ray_start(net: Cluster, host: str, ray_python: str) -> None:
    ip = HOST_IPS[host]
    role = (
        ["--head", "--port", str(RAY_PORT), "--include-dashboard=false"]
        if host == "w1"
        else ["--address", f"{HOST_IPS['w1']}:{RAY_PORT}"]
    )
    temp_dir, store = f"/tmp/ray-{net.ns(host)}", STORE_BYTES
    opts = (
        f"--node-ip-address {ip} --num-cpus 2 --disable-usage-stats --temp-dir {temp_dir} --object-store-memory {store}"
    )
    argv = [str(Path(ray_python).parent / "ray"), "start", *role, *opts.split()]
    proc = subprocess.run(net.exec_argv(host, argv), env=ray_env(), capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"ray start on {host} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")


def ray_teardown(net: Cluster) -> None:
    """Like `ray stop --force`, but only for the processes in the Ray namespaces: SIGKILL them by pid (Ray's
    gcs_server and raylet ignore SIGTERM), delete the namespaces, wait up to 10 s for the processes to be gone."""
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
    pids = [
        pid
        for ns in (net.ns(h) for h in net.hosts if net.ns(h) in listed)
        for pid in subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.split()
    ]
    net.destroy_network()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in pids):
        time.sleep(0.1)
    for host in net.hosts:
        shutil.rmtree(f"/tmp/ray-{net.ns(host)}", ignore_errors=True)


def run_ray(ray_python: str, repeat: int, timeout: float, prefix: str = "rlr") -> dict[str, Any]:
    net = Cluster(prefix=prefix, hosts=("w1", "w2"))
    started = time.monotonic()
    try:
        net.create_network()
        ray_start(net, "w1", ray_python)
        ray_start(net, "w2", ray_python)
        up_s = time.monotonic() - started
        netns = {h: net.ns(h) for h in ("w1", "w2")}
        argv = driver_argv(ray_python, "ray", f"{HOST_IPS['w1']}:{RAY_PORT}", repeat, timeout / 4, netns)
        proc = subprocess.run(net.exec_argv("w1", argv), env=ray_env(), capture_output=True, text=True, timeout=timeout)
        return {**parse(proc), "up_s": up_s, "run_s": time.monotonic() - started - up_s}
    except (subprocess.TimeoutExpired, RuntimeError) as exc:
        return {"errors": [failure(exc)]}
    finally:
        ray_teardown(net)


DRIVERS = "raylite's driver on drv (a third host, no store: get_1g reads w2's object over w2's bulk port into its own memory); Ray's on w1 (its head node: get_1g has w1's raylet pull the object into w1's store, then maps it)"


def print_report(results: dict[str, list[dict[str, Any]]], opts: argparse.Namespace, info: bench_table.RunInfo) -> None:
    print("Object transfer between hosts (network namespaces over a veth bridge, one machine); " + DRIVERS)
    for name, rounds in results.items():
        for i, res in enumerate(rounds):
            print(
                f"  {name} round {i + 1}: cluster up {bench_table.fmt(res.get('up_s'))} s, driver run "
                f"{bench_table.fmt(res.get('run_s'))} s, driver node {res.get('driver_node')}, samples "
                + json.dumps({k: res[k + "_samples"] for k in METRICS if k + "_samples" in res})
            )
            used = {k: res[k + "_cpu_s_per_gib"] for k in METRICS if k + "_cpu_s_per_gib" in res}
            print(f"  {name} round {i + 1} CPU s per GiB moved, by host's processes: {json.dumps(used)}")
            for err in res.get("errors", []):
                print(f"  {name} round {i + 1} ERROR {err}")
    names = list(results)
    ratios = [("raylite", "ray")] if names == ["raylite", "ray"] else []
    rows = bench_table.summarize(METRICS, results)
    print(f"each value: the median of {opts.repeat} samples in one driver; per side the median of {opts.rounds} rounds")
    print(bench_table.text_table(rows, names, ratios))
    if opts.markdown:
        print()
        print(bench_table.markdown_table(rows, names, ratios, info, opts.rounds))
        print(f"\n{DRIVERS}.")


def leftovers(prefix: str = "rlb", ray_prefix: str = "rlr") -> list[str]:
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
    problems = [f"namespace left: {n}" for n in names if n.startswith((f"{prefix}-", f"{ray_prefix}-"))]
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if (
            f"/tmp/ray-{ray_prefix}-" in cmdline or f"raylite-netns/{prefix}/".encode() in environ
        ):  # Ray's --temp-dir, RAYLITE_TMPDIR
            problems.append(f"process left: {proc.name} {cmdline[:100]}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--ray-python",
        default=os.environ.get("RAYLITE_BENCH_RAY_PYTHON"),
        help="the interpreter of a virtualenv with Ray installed (default: $RAYLITE_BENCH_RAY_PYTHON)",
    )
    parser.add_argument("--backend", choices=("raylite", "ray", "both"), default=None, help="default: both with Ray")
    parser.add_argument("--repeat", type=int, default=3, help="samples per workload (median reported)")
    parser.add_argument("--rounds", type=int, default=1, help="fresh clusters per backend, alternating (median)")
    parser.add_argument("--markdown", action="store_true", help="also print a table for docs/performance.md")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds for one backend's driver")
    parser.add_argument("--prefix", default="rlb", help="namespace prefix of the raylite cluster (default: rlb)")
    parser.add_argument("--ray-prefix", default="rlr", help="namespace prefix of the Ray cluster (default: rlr)")
    parser.add_argument("--tls", action="store_true", help="raylite's cluster speaks TLS only (netns_cluster up --tls)")
    opts = parser.parse_args()
    backend = opts.backend or ("both" if opts.ray_python else "raylite")
    if backend != "raylite" and not opts.ray_python:
        parser.error("running Ray needs its interpreter: --ray-python PATH or RAYLITE_BENCH_RAY_PYTHON")
    if os.geteuid() != 0:
        print("bench_transfer.py needs root for network namespaces", file=sys.stderr)
        return 1
    # raylite's daemons (`python -m`) and driver (`python -c`) put their cwd first on sys.path:
    # run from this checkout so that every process of the raylite side runs its code.
    os.chdir(Path(__file__).resolve().parent.parent)
    names = ["raylite", "ray"] if backend == "both" else [backend]
    load_start, started = bench_table.load_average(), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for i, order in enumerate(bench_table.round_orders(names, opts.rounds)):
        for name in order:
            print(f"round {i + 1}: running {name} ...", file=sys.stderr, flush=True)
            if name == "raylite":
                res = run_raylite(opts.repeat, opts.timeout, opts.prefix, opts.tls)
            else:
                res = run_ray(opts.ray_python, opts.repeat, opts.timeout, opts.ray_prefix)
            results[name].append(res)
            print(f"{name}: {json.dumps(res)}", file=sys.stderr, flush=True)
    sides = {
        name: f"{rounds[0].get('source', '?')} ({opts.ray_python if name == 'ray' else sys.executable})"
        for name, rounds in results.items()
    }
    info = bench_table.RunInfo(
        " ".join(["python", *sys.argv]),
        started,
        bench_table.machine(),
        load_start,
        bench_table.load_average(),
        sides,
    )
    print_report(results, opts, info)
    problems = leftovers(opts.prefix, opts.ray_prefix)
    for problem in problems:
        print(f"CLEANUP {problem}", file=sys.stderr)
    return 1 if problems or any(res.get("errors") for rounds in results.values() for res in rounds) else 0


if __name__ == "__main__":
    sys.exit(main())
