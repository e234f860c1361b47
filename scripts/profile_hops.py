#!/usr/bin/env python3
"""CPU time per task in each process of a local raylite cluster, and optional py-spy profiles.

    python scripts/profile_hops.py                       # CPU ms per task per process, each workload
    python scripts/profile_hops.py --repeat 3            # medians of 3 runs of each workload
    python scripts/profile_hops.py --pyspy /tmp/prof     # also a py-spy profile of every process, per workload
    python scripts/profile_hops.py --only actor_sync     # one workload

CPU time is read from /proc/<pid>/stat (utime + stime, all threads) before and after each
workload, for the driver, the head, the worker daemon and the executors together; it is far
less disturbed by other load on the machine than wall time. With --pyspy, `py-spy record
--format raw` samples each process during the workload, and the script prints the share of
samples in each of the hops named in HOPS (a frame whose file and function match), so that the
per-hop table in docs/performance.md can be made again.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def processes() -> dict[str, list[int]]:
    """The driver, the head, the worker daemon and the executors, by role."""
    import psutil

    me = psutil.Process()
    roles: dict[str, list[int]] = {"driver": [me.pid], "head": [], "daemon": [], "executors": []}
    for p in me.children(recursive=True):
        try:
            cmd = " ".join(p.cmdline())
        except psutil.Error:
            continue
        if "executor_main" in cmd:
            roles["executors"].append(p.pid)
        elif "raylite.head" in cmd:
            roles["head"].append(p.pid)
        elif "raylite.worker" in cmd:
            roles["daemon"].append(p.pid)
    return roles


def snapshot(roles: dict[str, list[int]]) -> dict[str, float]:
    return {role: sum(cpu_seconds(pid) for pid in pids) for role, pids in roles.items()}


def workloads(
    ray: Any, scale: int = 1, nested_too: bool = True, api_warmup: bool = False
) -> dict[str, tuple[int, Callable[[], Any]]]:
    @ray.remote
    def echo(x: Any) -> Any:
        return x

    @ray.remote
    def inc(x: int) -> int:
        return x + 1

    @ray.remote
    def nested(x: int) -> int:
        return ray.get(echo.remote(x))

    @ray.remote
    def fan_out(n: int) -> int:
        """scripts/bench.py's tasks_nested: a task that submits n children and gathers them."""
        return sum(ray.get([echo.remote(i) for i in range(n)]))

    @ray.remote
    def uses_api(x: int) -> int:
        ray.put(x)  # makes the executor's client, which then carries its results
        return x

    @ray.remote
    class Counter:
        def __init__(self) -> None:
            self.n = 0

        def m(self) -> int:
            self.n += 1
            return self.n

    actor = Counter.remote()

    def chain(k: int) -> int:
        x = inc.remote(0)
        for _ in range(k - 1):
            x = inc.remote(x)
        return ray.get(x)

    # warm up: executors started, functions exported everywhere
    ray.get([echo.remote(i) for i in range(500)])
    if nested_too:  # blocked nested tasks make the pool start more executors
        ray.get([nested.remote(i) for i in range(20)])
    ray.get([actor.m.remote() for _ in range(50)])
    chain(20)
    if api_warmup:  # every executor makes a client, as after any task that used the API
        ray.get([uses_api.remote(i) for i in range(200)])
    b, s, n, c, a = 2000 * scale, 500 * scale, 300 * scale, 500 * scale, 1000 * scale
    return {
        "tasks_batch": (b, lambda: ray.get([echo.remote(i) for i in range(b)])),
        "tasks_sync": (s, lambda: [ray.get(echo.remote(i)) for i in range(s)]),
        "tasks_nested": (n, lambda: ray.get([nested.remote(i) for i in range(n)])),
        "tasks_chain": (c, lambda: chain(c)),
        # bench.py's shape: 2 parents of 250 children each (tasks_nested above is 300 parents of 1)
        "tasks_fanout": (2 * 250 * scale, lambda: ray.get([fan_out.remote(250 * scale) for _ in range(2)])),
        "actor_sync": (a, lambda: [ray.get(actor.m.remote()) for _ in range(a)]),
        "actor_batch": (b, lambda: ray.get([actor.m.remote() for _ in range(b)])),
    }


def start_pyspy(out_dir: Path, name: str, pids: dict[int, str]) -> list[subprocess.Popen[bytes]]:
    """py-spy on each pid, sampling only the thread that holds the GIL (a proxy for Python CPU time)."""
    exe = str(Path(sys.executable).with_name("py-spy"))
    procs = []
    for pid, role in pids.items():
        out = out_dir / f"{name}.{role}.{pid}.txt"
        argv = [exe, "record", "--pid", str(pid), "--gil", "--format", "raw", "-r", "200", "-o", str(out)]
        procs.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    time.sleep(1.0)  # py-spy attaches asynchronously; a profile that misses the start is useless
    return procs


def stop_pyspy(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        p.send_signal(signal.SIGINT)
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()


def summarize_raw(path: Path, top: int) -> list[tuple[str, float]]:
    """Each function's inclusive share of the samples (counted once per sample)."""
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        names = {f.split(" (")[0] + " " + f.rsplit("/", 1)[-1].split(":")[0] for f in stack.split(";") if f}
        for name in names:
            inclusive[name] += n
    return [(k, v / total) for k, v in inclusive.most_common(top)] if total else []


def busy_pids(roles: dict[str, list[int]], before: dict[int, float], share: float) -> dict[int, str]:
    """The pids that used at least `share` of the CPU time spent since `before`."""
    used = {pid: cpu_seconds(pid) - before.get(pid, 0.0) for pids in roles.values() for pid in pids}
    total = sum(used.values()) or 1.0
    return {pid: role for role, pids in roles.items() for pid in pids if used[pid] / total >= share}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--num-cpus", type=int, default=2)
    parser.add_argument("--only", action="append", default=[])
    parser.add_argument("--pyspy", type=Path, default=None, help="folder for py-spy raw profiles")
    parser.add_argument("--scale", type=int, default=1, help="multiply each workload's size")
    parser.add_argument("--api-warmup", action="store_true", help="first run tasks that use the API everywhere")
    parser.add_argument("--top", type=int, default=30, help="functions listed per profile")
    args = parser.parse_args()
    import raylite as ray

    ray.init(num_cpus=args.num_cpus)
    try:
        table = workloads(ray, args.scale, not args.only or "tasks_nested" in args.only, args.api_warmup)
        roles = processes()
        print(f"processes: {roles}  load: {os.getloadavg()}", flush=True)
        for name, (n, fn) in table.items():
            if args.only and name not in args.only:
                continue
            runs: list[dict[str, float]] = []
            spied: dict[int, str] = {}
            for run_index in range(args.repeat):
                roles = processes()
                per_pid = {pid: cpu_seconds(pid) for pids in roles.values() for pid in pids}
                spies = start_pyspy(args.pyspy, f"{name}.{run_index}", spied) if spied else []
                before, t0 = snapshot(roles), time.perf_counter()
                fn()
                wall, after = time.perf_counter() - t0, snapshot(roles)
                stop_pyspy(spies)
                if args.pyspy and not spied:  # the first run finds the processes worth profiling
                    spied = busy_pids(roles, per_pid, 0.03)
                    continue
                run = {role: (after[role] - before[role]) * 1e3 / n for role in before}
                run["wall"] = wall * 1e3 / n
                runs.append(run)
            med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            cells = "  ".join(f"{k} {v:6.3f}" for k, v in med.items())
            print(f"{name:13s} ms/task  {cells}  (total cpu {sum(v for k, v in med.items() if k != 'wall'):.3f})")
        if args.pyspy:
            for path in sorted(args.pyspy.glob("*.txt")):
                print(f"--- {path.name}")
                for frame, share in summarize_raw(path, args.top):
                    print(f"   {share * 100:5.1f}%  {frame}")
    finally:
        ray.shutdown()
    sys.exit(0)


if __name__ == "__main__":
    main()
