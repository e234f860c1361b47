"""How the head's pure state scales: deep queues, many nodes, many drivers. No sockets.

    python scripts/bench_scale.py queued                 # 1k, 100k, 1M queued tasks
    python scripts/bench_scale.py queued --depths 1000,100000 --memory-tasks 100000
    python scripts/bench_scale.py simulate               # 1,000 nodes, 100 drivers
    python scripts/bench_scale.py simulate --nodes 1000 --profile

`queued` (docs/performance.md, "Scale", part 1):

- memory: tracemalloc of HeadState after submitting --memory-tasks tasks
  that cannot run (they ask for a resource no node has), per task. The
  records are made as the servicer makes them (one TaskRecord, its
  resources dict and deps tuple); the opaque wire spec the real head keeps
  in `TaskRecord.spec` is left out here (the live measurement in
  scripts/bench_scale_live.py counts it).
- cost per task at each queue depth: a node of 100 CPUs is kept full while
  `depth` more tasks wait behind it; each round finishes 100 running tasks
  (which places 100 from the queue) and submits 100 new ones (the depth
  stays put). CPU time of HeadState.handle per task (submit + place +
  finish + release), the median of --rounds rounds; flat means the head
  does not slow down as work piles up. Also the CPU time of one full
  garbage collection at that depth: a pause of the whole head.
- a second curve with one scheduling class per placement group (as many
  short-lived groups make), to show the pass does not walk classes that
  were used once and are empty.

`simulate` (part 4): synthetic events of a cluster of --nodes nodes and
--drivers drivers, each kind timed on its own (CPU time of handle() per
event, median of batches), and the whole mix under cProfile with --profile.
See the "Scale" section of docs/performance.md for what the figures mean.
Prints a table and one line ``BENCH_RESULT_JSON {...}``.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_scale_sim  # noqa: E402  (a sibling script, found through sys.path above)

from raylite.head.state import HeadState  # noqa: E402
from raylite.head.state.model import (  # noqa: E402
    DEFAULT_STRATEGY,
    ClientConnected,
    Dispatch,
    NodeAdded,
    ObjectInfo,
    RefsChanged,
    Strategy,
    TaskFinished,
    TaskRecord,
    TaskSubmitted,
)
from raylite.ids import object_id  # noqa: E402

DRIVER = b"driver\0\0"
JOB = b"job\0\0\0\0\0"
NODE = b"n1".ljust(16, b"\0")
BATCH = 100
NODE_CPUS = 100


def tid(client: bytes, i: int) -> bytes:
    return client + i.to_bytes(8, "big")


def timed(state: HeadState, *events: Any, out: list[Any] | None = None) -> float:
    """CPU seconds of one handle() call; its effects go to `out` if given."""
    start = time.process_time()
    effects = state.handle(*events, now=0.0)
    cpu = time.process_time() - start
    if out is not None:
        out.extend(effects)
    return cpu


class Driver:
    """Makes batches of tasks of one client the way the servicer decodes a ClientBatch."""

    def __init__(self, client: bytes, resources: dict[str, float]) -> None:
        self.client = client
        self.resources = resources
        self.next = 0

    def tasks(self, n: int, strategy: Strategy | None = None) -> list[TaskRecord]:
        lo, self.next = self.next, self.next + n
        how = strategy or DEFAULT_STRATEGY
        return [
            TaskRecord(tid(self.client, i), JOB, self.client, "f", resources=dict(self.resources), strategy=how)
            for i in range(lo, lo + n)
        ]

    def submitted(self, batch: list[TaskRecord]) -> list[Any]:
        held = RefsChanged(self.client, [(object_id(t.task_id, 0), True) for t in batch])
        return [held, *(TaskSubmitted(t) for t in batch)]


def queued_state(depth: int, resources: dict[str, float]) -> tuple[HeadState, Driver, list[bytes]]:
    """A node of NODE_CPUS CPUs, all busy, and `depth` tasks queued behind them."""
    state = HeadState()
    state.handle(ClientConnected(DRIVER, JOB, True), NodeAdded(NODE, {"CPU": float(NODE_CPUS)}), now=0.0)
    driver = Driver(DRIVER, resources)
    running: list[bytes] = []
    total = depth + NODE_CPUS
    while driver.next < total:
        batch = driver.tasks(min(10_000, total - driver.next))
        state.handle(*driver.submitted(batch), now=0.0)
    running = [t.task_id for t in state.tasks.values() if t.state == "RUNNING"]
    return state, driver, running


def steady_rounds(state: HeadState, driver: Driver, running: list[bytes], rounds: int) -> list[float]:
    """Each round: BATCH running tasks finish (BATCH queued ones are placed), BATCH new ones queue."""
    per_task = []
    for _ in range(rounds):
        done, running[:] = running[:BATCH], running[BATCH:]
        finished = [TaskFinished(NODE, t, [ObjectInfo(object_id(t, 0), value=b"v", size=1)]) for t in done]
        released = RefsChanged(DRIVER, [(object_id(t, 0), False) for t in done])
        fresh = driver.submitted(driver.tasks(BATCH))
        depth = len(state.tasks)
        effects: list[Any] = []
        cpu = timed(state, *finished, out=effects) + timed(state, released) + timed(state, *fresh)
        assert len(state.tasks) == depth, "the queue depth must stay put"
        placed = [e.task.task_id for e in effects if isinstance(e, Dispatch)]
        assert len(placed) == BATCH, f"{len(placed)} placed, expected {BATCH}"
        running.extend(placed)
        per_task.append(cpu / BATCH * 1e6)
    return per_task


def queue_curve(depths: list[int], rounds: int) -> dict[int, float]:
    out = {}
    for depth in depths:
        state, driver, running = queued_state(depth, {"CPU": 1.0})
        gc.collect()
        started = time.process_time()
        gc.collect()  # what a full collection costs (a pause of the head) at this depth
        pause_ms = (time.process_time() - started) * 1e3
        runs = steady_rounds(state, driver, running, rounds)
        out[depth] = statistics.median(runs)
        print(
            f"  depth {depth:>9,}: {out[depth]:7.2f} us/task (median of {rounds} rounds of {BATCH}); "
            f"a full garbage collection {pause_ms:.0f} ms",
            flush=True,
        )
        del state, driver, running
        gc.collect()
    return out


def class_curve(classes: list[int], rounds: int) -> dict[int, float]:
    """After `n` scheduling classes were used once (one per placement-group-like strategy) and emptied."""
    out = {}
    for n in classes:
        state = HeadState()
        state.handle(ClientConnected(DRIVER, JOB, True), NodeAdded(NODE, {"CPU": 1e9}), now=0.0)
        old = Driver(b"olddrvr\0", {"CPU": 1.0})
        state.handle(ClientConnected(old.client, JOB, True), now=0.0)
        for lo in range(0, n, 1000):
            batch = [
                old.tasks(1, Strategy("NODE_AFFINITY", tid(b"gone\0\0\0\0", i), soft=True))[0]
                for i in range(lo, min(n, lo + 1000))
            ]
            state.handle(*old.submitted(batch), now=0.0)
            state.handle(
                *[
                    TaskFinished(NODE, t.task_id, [ObjectInfo(object_id(t.task_id, 0), value=b"v", size=1)])
                    for t in batch
                ],
                now=0.0,
            )
            state.handle(RefsChanged(old.client, [(object_id(t.task_id, 0), False) for t in batch]), now=0.0)
        driver = Driver(DRIVER, {"CPU": 1.0})
        runs = []
        for _ in range(rounds):
            batch = driver.tasks(BATCH)
            cpu = timed(state, *driver.submitted(batch))
            cpu += timed(
                state,
                *[
                    TaskFinished(NODE, t.task_id, [ObjectInfo(object_id(t.task_id, 0), value=b"v", size=1)])
                    for t in batch
                ],
            )
            cpu += timed(state, RefsChanged(DRIVER, [(object_id(t.task_id, 0), False) for t in batch]))
            runs.append(cpu / BATCH * 1e6)
        out[n] = statistics.median(runs)
        print(f"  {n:>9,} classes used before: {out[n]:7.2f} us/task", flush=True)
    return out


def queued_memory(n: int) -> dict[str, float]:
    """Bytes per queued task of the pure state (tracemalloc), and the CPU time to submit them."""
    gc.collect()
    tracemalloc.start()
    state = HeadState()
    state.handle(ClientConnected(DRIVER, JOB, True), NodeAdded(NODE, {"CPU": 1.0}), now=0.0)
    base = tracemalloc.get_traced_memory()[0]
    driver = Driver(DRIVER, {"CPU": 1.0, "later": 1.0})
    while driver.next < n:
        state.handle(*driver.submitted(driver.tasks(min(10_000, n - driver.next))), now=0.0)
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - base
    snapshot = tracemalloc.take_snapshot()
    tracemalloc.stop()
    assert len(state.tasks) == n
    top = snapshot.statistics("lineno")[:6]
    for stat in top:
        frame = stat.traceback[0]
        print(f"    {stat.size / n:7.1f} B/task  {Path(frame.filename).name}:{frame.lineno}")
    return {"tasks": n, "bytes_per_task": used / n}


class GcPauses:
    """Times every collection (CPU time of this thread) through gc.callbacks while installed: the head's stalls."""

    def __init__(self) -> None:
        self.pauses: list[list[float]] = [[], [], []]
        self._t0 = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._t0 = time.thread_time()
        else:
            self.pauses[info["generation"]].append(time.thread_time() - self._t0)

    def __enter__(self) -> GcPauses:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)

    def summary(self) -> dict[str, float]:
        full = self.pauses[2]
        return {
            "full_collections": len(full),
            "full_max_ms": max(full, default=0.0) * 1e3,
            "full_total_ms": sum(full) * 1e3,
            "young_max_ms": max(self.pauses[0] + self.pauses[1], default=0.0) * 1e3,
        }


def submit_cost(depths: list[int], gc_budget: float = 0.0) -> dict[Any, Any]:
    """CPU time per submitted task while the queue grows, per slice ending at each depth; the
    garbage collections on the way (the longest is the head's longest stall), and how many
    objects the collector tracks per queued task. With gc_budget, the head's freeze policy
    (raylite/gc_watch.py) acts on the collections as in the head."""
    policy = None
    if gc_budget > 0:
        from raylite.gc_watch import FreezePolicy, GcWatch

        policy = GcWatch(float("inf"), None, FreezePolicy(gc_budget)).install()  # type: ignore[arg-type]
    gc.collect()
    tracked_before = len(gc.get_objects())
    state = HeadState()
    state.handle(ClientConnected(DRIVER, JOB, True), NodeAdded(NODE, {"CPU": 1.0}), now=0.0)
    driver = Driver(DRIVER, {"CPU": 1.0, "later": 1.0})
    out: dict[int, Any] = {}
    with GcPauses() as watch:
        for depth in sorted(depths):
            slice_cpu, slice_n = 0.0, 0
            while driver.next < depth:
                batch = driver.tasks(min(BATCH, depth - driver.next))
                slice_cpu += timed(state, *driver.submitted(batch))
                slice_n += len(batch)
                if depth - driver.next < 10_000 and slice_n >= 10_000:
                    out[depth] = slice_cpu / slice_n * 1e6
                    slice_cpu, slice_n = 0.0, 0
            out.setdefault(depth, slice_cpu / max(slice_n, 1) * 1e6)
            print(f"  submitting, around depth {depth:>9,}: {out[depth]:7.2f} us/task (gc included)", flush=True)
    if policy is not None:
        policy.remove()
        out["frozen"] = gc.get_freeze_count()
        gc.unfreeze()
    gc.collect()
    out["tracked_per_task"] = (len(gc.get_objects()) - tracked_before) / len(state.tasks)
    out["gc"] = watch.summary()
    print(
        f"  garbage collector: {out['tracked_per_task']:.2f} tracked objects per queued task; while submitting "
        f"{len(state.tasks):,} tasks {out['gc']['full_collections']} full collections, the longest "
        f"{out['gc']['full_max_ms']:.0f} ms of CPU (the head's longest stall), {out['gc']['full_total_ms']:.0f} ms in all; "
        f"the longest young collection {out['gc']['young_max_ms']:.1f} ms",
        flush=True,
    )
    return out


def cmd_queued(opts: argparse.Namespace) -> dict[str, Any]:
    depths = [int(d) for d in opts.depths.split(",")]
    parts = set(opts.parts.split(","))
    out: dict[str, Any] = {}
    if "memory" in parts:
        print(f"memory: {opts.memory_tasks:,} queued tasks under tracemalloc")
        out["memory"] = queued_memory(opts.memory_tasks)
        print(f"  {out['memory']['bytes_per_task']:.0f} bytes per queued task")
    if "submit" in parts:
        print("submission while the queue grows")
        out["submit_us"] = submit_cost(depths, opts.gc_budget)
    if "steady" in parts:
        print("steady state at a fixed depth: finish 100, place 100 from the queue, submit 100")
        out["steady_us"] = queue_curve(depths, opts.rounds)
    if "classes" in parts:
        print("classes used once and emptied before (dead placement groups, node affinities)")
        out["classes_us"] = class_curve([int(c) for c in opts.classes.split(",")], opts.rounds)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    q = sub.add_parser("queued", help="memory and scheduling cost with deep queues")
    q.add_argument("--depths", default="1000,100000,1000000")
    q.add_argument("--memory-tasks", type=int, default=1_000_000)
    q.add_argument("--rounds", type=int, default=200)
    q.add_argument("--classes", default="1,10000,100000")
    q.add_argument("--parts", default="memory,submit,steady,classes", help="which of them to run")
    q.add_argument("--gc-budget", type=float, default=0.0, help="submit: apply the head's freeze policy (s)")
    s = sub.add_parser("simulate", help="a synthetic cluster of many nodes and drivers")
    bench_scale_sim.add_arguments(s)
    opts = parser.parse_args()
    commands: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
        "queued": cmd_queued,
        "simulate": bench_scale_sim.run,
    }
    result = commands[opts.command](opts)
    print("BENCH_RESULT_JSON " + json.dumps({opts.command: result}))


if __name__ == "__main__":
    main()
