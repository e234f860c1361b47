#!/usr/bin/env python3
"""Micro-benchmarks of the head servicer's hot path, without sockets.

    python scripts/bench_head_servicer.py [--rounds 2000] [--repeat 7]

Prints the median (and the spread) over --repeat runs, in microseconds of CPU
time, of:

- apply: the effect loop on a prepared mix of Deliver and Dispatch effects
  (HeadState.handle is stubbed to return it), per effect;
- apply-idle: the same mix addressed to a client and a node with no stream, so
  that handling them does nothing: what choosing the branch costs, per effect;
- apply-tail: likewise for an effect of the last branches (PromoteObject);
- client-decode: _on_client_batch turning a batch (held refs, tasks, released
  refs) into events, with apply stubbed out, per task;
- node-decode: _on_node_batch likewise for a batch of results, per result;
- round-trip: a client batch of tasks and the node batch of their results
  through the real HeadState, per task.

It uses only what the servicer has had since 9fb48be, so that the same script
measures an older checkout (run it with that checkout's interpreter).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Any

from raylite.batching import Outbox
from raylite.head import service, wire
from raylite.head.service import HeadServicer
from raylite.head.state import ClientConnected, Deliver, Dispatch, NodeAdded, ObjectInfo, PromoteObject
from raylite.rpc import common_pb2, head_pb2

CLIENT = b"c" * 8
NODE = b"n" * 16
BATCH = 100


def task_id(i: int) -> bytes:
    return i.to_bytes(16, "big")


def oid(i: int) -> bytes:
    return task_id(i) + (0).to_bytes(4, "big")


def servicer() -> HeadServicer:
    svc = HeadServicer("bench")
    svc.clients[CLIENT] = Outbox(head_pb2.HeadToClient)
    svc.nodes[NODE] = Outbox(head_pb2.HeadToNode)
    svc.node_functions[NODE] = set()
    info = common_pb2.NodeInfo(node_id=NODE, address="127.0.0.1:1", alive=True)
    info.total.update({"CPU": 1e9})
    svc.apply(NodeAdded(NODE, {"CPU": 1e9}, info), ClientConnected(CLIENT, b"job", True))
    return svc


def client_batch_applier(svc: HeadServicer) -> Callable[[head_pb2.ClientBatch], None]:
    """svc._on_client_batch for CLIENT's stream (it took (client_id, batch, out) before
    the stream's session was one argument)."""
    out = svc.clients[CLIENT]
    session_type = getattr(service, "_ClientSession", None)
    if session_type is None:
        return lambda batch: svc._on_client_batch(CLIENT, batch, out)  # type: ignore[arg-type]
    session = session_type(svc, CLIENT, out)
    return lambda batch: svc._on_client_batch(session, batch)


def drain(svc: HeadServicer) -> None:
    svc.clients[CLIENT].msg = head_pb2.HeadToClient()
    svc.nodes[NODE].msg = head_pb2.HeadToNode()


def spec(i: int) -> common_pb2.TaskSpec:
    s = common_pb2.TaskSpec(task_id=task_id(i), job_id=b"job", name="f", num_returns=1, payload=b"p" * 64)
    s.resources["CPU"] = 1.0
    return s


def bench_apply(rounds: int) -> tuple[float, float, float]:
    """(a Deliver/Dispatch mix, the same with nothing to do, an effect of the last branch)."""
    svc = servicer()
    value = common_pb2.ObjectValue(object_id=oid(1), data=b"v" * 32, size=32)
    info = ObjectInfo(oid(1), value=value, size=32)
    record = wire.task_record(spec(2), CLIENT)  # keeps the spec in the form the checkout's head keeps it
    record.attempt = 1
    mix: list[Any] = [Deliver(CLIENT, info), Dispatch(NODE, record, [])] * (BATCH // 2)
    # to a client and a node with no stream: what choosing the branch costs
    idle: list[Any] = [Deliver(b"x" * 8, info), Dispatch(b"x" * 16, record, [])] * (BATCH // 2)
    tail: list[Any] = [PromoteObject(b"x" * 16, oid(3))] * BATCH
    handle = svc.state.handle
    results = []
    for effects in (mix, idle, tail):
        svc.state.handle = lambda *events, now=None, effects=effects: effects  # type: ignore[method-assign]
        results.append(timed(lambda: apply_and_drain(svc), rounds) / BATCH)
    svc.state.handle = handle  # type: ignore[method-assign]
    return results[0], results[1], results[2]


def apply_and_drain(svc: HeadServicer) -> None:
    svc.apply()
    drain(svc)


def bench_decode(rounds: int) -> tuple[float, float]:
    svc = servicer()
    on_client_batch = client_batch_applier(svc)
    client = head_pb2.ClientBatch()
    for i in range(BATCH):
        client.ref_changes.add(object_id=oid(i), held=True)
        client.tasks.append(spec(i))
    for i in range(BATCH, 2 * BATCH):
        client.ref_changes.add(object_id=oid(i), held=False)
    node = head_pb2.NodeBatch()
    for i in range(BATCH):
        node.results.add(task_id=task_id(i)).results.add(object_id=oid(i), data=b"r", size=1)
    svc.apply = lambda *events: None  # type: ignore[method-assign]
    per_task = timed(lambda: on_client_batch(client), rounds) / BATCH
    per_result = timed(lambda: svc._on_node_batch(NODE, node), rounds) / BATCH
    return per_task, per_result


def bench_round_trip(rounds: int) -> float:
    svc = servicer()
    on_client_batch = client_batch_applier(svc)
    counter = iter(range(10**9))
    previous: list[bytes] = []

    def one() -> None:
        nonlocal previous
        ids = [next(counter) for _ in range(BATCH)]
        client = head_pb2.ClientBatch()
        for i in ids:
            client.ref_changes.add(object_id=oid(i), held=True)
            client.tasks.append(spec(i))
        for o in previous:
            client.ref_changes.add(object_id=o, held=False)
        on_client_batch(client)
        node = head_pb2.NodeBatch()
        for i in ids:
            node.results.add(task_id=task_id(i)).results.add(object_id=oid(i), data=b"r", size=1)
        svc._on_node_batch(NODE, node)
        drain(svc)
        previous = [oid(i) for i in ids]

    return timed(one, max(1, rounds // 4)) / BATCH


def timed(fn: Callable[[], Any], rounds: int) -> float:
    """Microseconds of this process's CPU time per call of fn (CPU time: on a machine
    shared with other work, wall time mostly measures the others)."""
    fn()
    start = time.process_time()
    for _ in range(rounds):
        fn()
    return (time.process_time() - start) / rounds * 1e6


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    opts = parser.parse_args()
    runs: dict[str, list[float]] = {}
    for _ in range(opts.repeat):
        apply_mix, apply_idle, apply_tail = bench_apply(opts.rounds)
        client, node = bench_decode(opts.rounds)
        trip = bench_round_trip(opts.rounds)
        for name, value in [
            ("apply (Deliver/Dispatch mix), us/effect", apply_mix),
            ("apply-idle (same, nothing to do), us/effect", apply_idle),
            ("apply-tail (PromoteObject, no-op), us/effect", apply_tail),
            ("client-decode, us/task", client),
            ("node-decode, us/result", node),
            ("round-trip through HeadState, us/task", trip),
        ]:
            runs.setdefault(name, []).append(value)
    for name, values in runs.items():
        print(f"{name:45s} median {statistics.median(values):7.3f}  min {min(values):7.3f}  max {max(values):7.3f}")


if __name__ == "__main__":
    asyncio.run(main())
