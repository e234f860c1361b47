"""How fast does the head's pure state apply work? HeadState alone, no gRPC.

    python scripts/bench_head_state.py                  # 20,000 tasks, best of 5
    python scripts/bench_head_state.py --tasks 100000 --repeat 3

Two workloads, fed in batches the way the servicer applies a client's and a
node's messages (new refs first, then submissions; results; released refs):

- tasks: submit, dispatch (the scheduling pass) and finish of small tasks with
  inline results, then their refs released.
- churn: the same with reference counting at work: each task takes a put
  object as its argument and returns a stored result (kept in lineage), and
  every ref is released afterwards, so objects, pins and lineage entries are
  made and freed all the time.

Only HeadState.handle() is timed; the records are made before each batch and
dropped after it, as the servicer decodes and forgets them. Prints
microseconds of CPU time per task for each (the best run; CPU time rather
than wall time, so that other load on the machine counts less), and one line
``BENCH_RESULT_JSON {...}``.
"""

from __future__ import annotations

import argparse
import inspect
import json
import time
from typing import Any

from raylite.head.state import HeadState
from raylite.head.state.model import (
    ClientConnected,
    NodeAdded,
    ObjectInfo,
    ObjectsPut,
    RefsChanged,
    TaskFinished,
    TaskRecord,
    TaskSubmitted,
)
from raylite.ids import object_id

DRIVER = b"driver\0\0"
JOB = b"job\0\0\0\0\0"
NODE = b"n1".ljust(16, b"\0")
BATCH = 100


def _tid(i: int) -> bytes:
    return DRIVER + i.to_bytes(8, "big")


def _handler(state: HeadState) -> Any:
    takes_now = "now" in inspect.signature(state.handle).parameters
    if takes_now:
        return lambda *events: state.handle(*events, now=time.time())
    return state.handle


def _new_state() -> HeadState:
    state = HeadState()
    state.handle(ClientConnected(DRIVER, JOB, True), NodeAdded(NODE, {"CPU": 1e9}))
    return state


def _timed(handle: Any, *events: Any) -> float:
    start = time.process_time()
    handle(*events)
    return time.process_time() - start


def run_tasks(n: int) -> float:
    state = _new_state()
    handle = _handler(state)
    elapsed = 0.0
    for lo in range(0, n, BATCH):
        # records made per batch and dropped after it, as the servicer decodes them
        batch = [TaskRecord(_tid(i), JOB, DRIVER, "f", resources={"CPU": 1.0}) for i in range(lo, min(n, lo + BATCH))]
        outs = [object_id(t.task_id, 0) for t in batch]
        submitted = [RefsChanged(DRIVER, [(o, True) for o in outs]), *(TaskSubmitted(t) for t in batch)]
        done = [
            TaskFinished(NODE, t.task_id, [ObjectInfo(o, value=b"v", size=1)]) for t, o in zip(batch, outs, strict=True)
        ]
        released = RefsChanged(DRIVER, [(o, False) for o in outs])
        del batch
        elapsed += _timed(handle, *submitted)
        elapsed += _timed(handle, *done)
        elapsed += _timed(handle, released)
    assert not state.tasks and not state.objects
    return elapsed / n * 1e6


def run_churn(n: int) -> float:
    state = _new_state()
    handle = _handler(state)
    elapsed = 0.0
    for lo in range(0, n, BATCH):
        ids = range(lo, min(n, lo + BATCH))
        args = [ObjectInfo(_tid(10 * n + i) + b"\0\0\0\0", value=b"p", node_id=NODE, size=1000) for i in ids]
        batch = [
            TaskRecord(_tid(i), JOB, DRIVER, "f", resources={"CPU": 1.0}, deps=(p.object_id,))
            for i, p in zip(ids, args, strict=True)
        ]
        outs = [object_id(t.task_id, 0) for t in batch]
        held = [(p.object_id, True) for p in args] + [(o, True) for o in outs]
        submitted = [RefsChanged(DRIVER, held), ObjectsPut(args), *(TaskSubmitted(t) for t in batch)]
        args_released = RefsChanged(DRIVER, [(p.object_id, False) for p in args])
        done = [
            TaskFinished(NODE, t.task_id, [ObjectInfo(o, value=b"v", node_id=NODE, size=1000)])
            for t, o in zip(batch, outs, strict=True)
        ]
        released = RefsChanged(DRIVER, [(o, False) for o in outs])
        del batch, args
        elapsed += _timed(handle, *submitted)
        elapsed += _timed(handle, args_released)
        elapsed += _timed(handle, *done)
        elapsed += _timed(handle, released)
    assert not state.tasks and not state.objects and not state.lineage and not state.pins
    return elapsed / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    opts = parser.parse_args()
    results = {}
    for name, workload in (("tasks", run_tasks), ("churn", run_churn)):
        runs = [workload(opts.tasks) for _ in range(opts.repeat)]
        results[name] = min(runs)
        print(f"{name:6s} {min(runs):7.2f} us/task (best of {opts.repeat}; runs {', '.join(f'{r:.2f}' for r in runs)})")
    print("BENCH_RESULT_JSON " + json.dumps({"tasks": opts.tasks, "us_per_task": results}))


if __name__ == "__main__":
    main()
