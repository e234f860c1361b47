#!/usr/bin/env python3
"""What @remote(max_calls=n) costs: CPU and wall time per call of a max_calls=1 function
against an unlimited one, on a 1-CPU local cluster, and the pool state's own cost per task.

    python scripts/bench_max_calls.py               # both
    python scripts/bench_max_calls.py --calls 40    # more calls per measurement

CPU is read with psutil for every process of the cluster: an executor that exited is
counted through its daemon's children_user/children_system once the daemon reaped it.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import psutil


def tree_cpu() -> float:
    total = 0.0
    for p in psutil.Process().children(recursive=True):
        try:
            t = p.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except psutil.NoSuchProcess:
            pass
    own = psutil.Process().cpu_times()
    return total + own.user + own.system


def cluster(calls: int) -> None:
    import raylite as ray

    ray.init(num_cpus=1)

    @ray.remote(max_calls=1)
    def once() -> int:
        return os.getpid()

    @ray.remote
    def reused() -> int:
        return os.getpid()

    def measure(fn: Any) -> tuple[float, float, int]:
        ray.get(fn.remote())  # warm: the function is exported, an executor is up
        cpu, wall = tree_cpu(), time.monotonic()
        pids = [ray.get(fn.remote(), timeout=120) for _ in range(calls)]
        return (tree_cpu() - cpu) / calls * 1000, (time.monotonic() - wall) / calls * 1000, len(set(pids))

    for name, fn in (("unlimited", reused), ("max_calls=1", once)) * 2:
        cpu_ms, wall_ms, distinct = measure(fn)
        print(f"{name:12s} {cpu_ms:8.1f} ms CPU/call {wall_ms:8.1f} ms wall/call  processes {distinct}")
    ray.shutdown()


def pool_state(tasks: int) -> None:
    from raylite.worker.state import pool

    def run() -> float:
        state = pool.PoolState(2)
        state.handle(pool.PoolStarted())
        for ex in (1, 2):
            state.handle(pool.ExecutorStarted(ex, ex), pool.ExecutorSaidHello(ex))
        start = time.process_time()
        for i in range(tasks):
            out = state.handle(pool.TaskAssigned(b"t%d" % i, 0, b"f", b"", "payload"))
            state.handle(pool.ResultReported(out[0].executor, b"r"))  # type: ignore[attr-defined]
        return (time.process_time() - start) / tasks * 1e6

    print(f"PoolState: {min(run() for _ in range(3)):.2f} us per task (TaskAssigned + ResultReported, best of 3)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--tasks", type=int, default=200_000, help="tasks through PoolState")
    args = parser.parse_args()
    pool_state(args.tasks)
    cluster(args.calls)


if __name__ == "__main__":
    main()
