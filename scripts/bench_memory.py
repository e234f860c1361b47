"""Does memory stay flat? Head RSS and node store bytes before and after churn.

    python scripts/bench_memory.py                      # 100k tasks, 1,000 puts of 10 MB
    python scripts/bench_memory.py --tasks 1000000 --puts 10000

Runs on a local cluster made by raylite.init(): many small tasks submitted in
batches, each batch gathered and dropped; then 10 MB objects put, read back
and dropped one after another. Prints the head's RSS and the bytes in the
node's shared-memory store at the start, after the tasks and after the puts.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import psutil

import raylite as ray


def head_process() -> psutil.Process:
    for p in psutil.Process().children(recursive=True):
        if "raylite.head.server" in " ".join(p.cmdline()):
            return p
    raise RuntimeError("no head process among this driver's children")


def store_bytes(node_id: str) -> int:
    folder = Path(f"/dev/shm/raylite-{node_id[:16]}")
    return sum(f.stat().st_size for f in folder.iterdir() if f.is_file())


@ray.remote
def tiny(i: int) -> int:
    return i


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--puts", type=int, default=1_000)
    parser.add_argument("--put-mb", type=int, default=10)
    opts = parser.parse_args()
    info = ray.init(num_cpus=2)
    head = head_process()
    ray.get([tiny.remote(i) for i in range(opts.batch)])  # warm up: executors, imports, caches

    def sample(label: str) -> None:
        print(
            f"{label:<28} head RSS {head.memory_info().rss / 2**20:8.1f} MiB   store {store_bytes(info['node_id']) / 2**20:8.1f} MiB"
        )

    sample("start")
    t = time.perf_counter()
    done = 0
    while done < opts.tasks:
        n = min(opts.batch, opts.tasks - done)
        assert ray.get([tiny.remote(done + i) for i in range(n)]) == list(range(done, done + n))
        done += n
    print(f"{opts.tasks} tasks in {time.perf_counter() - t:.1f}s")
    sample(f"after {opts.tasks} tasks")
    t = time.perf_counter()
    size = opts.put_mb * 2**20
    for i in range(opts.puts):
        ref = ray.put(np.full(size, i % 251, dtype=np.uint8))
        assert ray.get(ref)[-1] == i % 251
        del ref
    print(f"{opts.puts} puts of {opts.put_mb} MB in {time.perf_counter() - t:.1f}s")
    ray.get(tiny.remote(0))  # the node has carried out every deletion before this runs
    sample(f"after {opts.puts} puts")
    ray.shutdown()


if __name__ == "__main__":
    main()
