"""CPU time of the calling thread per `.remote()` of a task and of an actor call (no get timed).

    python scripts/bench_remote_cpu.py            # from the tree to measure (daemons start as python -m)

Starts a local cluster (2 CPUs), warms up, then for each kind of call makes 2,000 calls three
times and prints the median microseconds of `time.thread_time()` per call: argument packing,
the TaskSpec, the return refs and the enqueue, which the driver pays on its user thread. CPU
time of one thread is far less disturbed by other load than wall time; compare two trees by
running this from each in turn, alternating.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import raylite as ray

CALLS = 2000


def measure(make: Callable[[int], Any]) -> float:
    out = []
    for _ in range(3):
        refs = []
        t = time.thread_time()
        for i in range(CALLS):
            refs.append(make(i))
        out.append((time.thread_time() - t) / CALLS * 1e6)
        ray.get(refs)
    return statistics.median(out)


def main() -> None:
    ray.init(num_cpus=2)
    try:

        @ray.remote
        def echo(*args: Any, **kwargs: Any) -> None:
            return None

        @ray.remote
        def one(x: Any) -> Any:
            return x

        @ray.remote
        class Actor:
            def m(self, *args: Any, **kwargs: Any) -> None:
                return None

        actor = Actor.remote()  # type: ignore[attr-defined]
        ray.get([echo.remote(1) for _ in range(200)] + [actor.m.remote() for _ in range(200)])
        rows: dict[str, Callable[[int], Any]] = {
            "task f(i)": lambda i: one.remote(i),
            "task f(i, 'x', [1, 2], k={'a': i})": lambda i: echo.remote(i, "x", [1, 2], k={"a": i}),
            "actor a.m()": lambda i: actor.m.remote(),
            "actor a.m(i)": lambda i: actor.m.remote(i),
        }
        for name, make in rows.items():
            print(f"{name:40s} {measure(make):7.1f} us of CPU per .remote()", flush=True)
        print(f"raylite from {ray.__file__}")
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
