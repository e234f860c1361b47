"""A synthetic cluster driven through HeadState: the `simulate` command of scripts/bench_scale.py.

Nodes join one at a time, drivers connect, then each kind of event is fed in
the batches the servicer would make of it and timed on its own (CPU time of
HeadState.handle, microseconds per event, median over --batches batches):

- node-join: one NodeAdded (a node's hello).
- submit+dispatch: a driver's batch of tasks (held refs, TaskSubmitted) while
  the cluster has room, so each task is placed (the scheduling pass, the
  placement policy over every node, the Dispatch).
- submit-queued: the same while every CPU is busy: the tasks only queue.
- finish+dispatch: a node's batch of results for all it runs while tasks are
  queued, so each result frees a CPU that the pass fills again.
- finish: a node's results with nothing queued.
- release: a driver drops the refs of results it got (RefsChanged).
- put: a driver's ObjectsPut (objects in some node's store) with its held refs.
- copy: a node reports copies it pulled (ObjectCopiesChanged), the object
  locations the head keeps for later readers.
- subscribe: another driver's get of objects it does not own (ObjectsSubscribed).
- actor-call: a driver's batch of calls to live actors, and their results
  from the actors' nodes (submission, routing, finish), per call.

There is no heartbeat or resource-report event: a node's liveness is the
HTTP/2 keepalive of its stream, answered inside gRPC's C core, and the head
counts resources itself from what it places; part 3 of the Scale section
measures that cost on live daemons instead.

--profile runs the steady mix (submit, finish+dispatch, release, actor calls)
under cProfile and prints the functions with the most own time.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from raylite.head.state import HeadState
from raylite.head.state.model import (
    ACTOR_CREATION,
    ACTOR_METHOD,
    ClientConnected,
    Dispatch,
    NodeAdded,
    ObjectCopiesChanged,
    ObjectInfo,
    ObjectsPut,
    ObjectsSubscribed,
    RefsChanged,
    TaskFinished,
    TaskRecord,
    TaskSubmitted,
)
from raylite.ids import object_id

JOB = b"simjob\0\0"
BATCH = 100  # a driver's batch of submissions, as the client's outbox makes under load


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--drivers", type=int, default=100)
    parser.add_argument("--cpus", type=int, default=16, help="CPUs per node")
    parser.add_argument("--actors", type=int, default=2000)
    parser.add_argument("--batches", type=int, default=30, help="timed batches per kind of event")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--seed", type=int, default=0)


class Sim:
    def __init__(self, opts: argparse.Namespace) -> None:
        self.opts = opts
        self.rng = random.Random(opts.seed)
        self.state = HeadState()
        self.nodes = [i.to_bytes(4, "big").rjust(16, b"N") for i in range(opts.nodes)]
        self.drivers = [b"D" + i.to_bytes(7, "big") for i in range(opts.drivers)]
        self.counter = {d: 0 for d in self.drivers}
        self.running: dict[bytes, list[tuple[bytes, bytes]]] = {n: [] for n in self.nodes}  # node -> (task, client)
        self.actors: list[tuple[bytes, bytes]] = []  # (actor id, node)
        self.now = 0.0
        self.placed_last = 0  # tasks the last finish_node() placed from the queue
        self.profiler: cProfile.Profile | None = None  # profiles handle() only, not the harness

    def handle(self, *events: Any) -> tuple[float, list[Any]]:
        self.now += 0.001
        profiler = self.profiler
        if profiler is not None:
            profiler.enable()
        start = time.process_time()
        effects = self.state.handle(*events, now=self.now)
        cpu = time.process_time() - start
        if profiler is not None:
            profiler.disable()
        for e in effects:
            if isinstance(e, Dispatch):
                self.running[e.node_id].append((e.task.task_id, e.task.client_id))
        return cpu, effects

    def ids(self, driver: bytes, n: int) -> list[bytes]:
        lo = self.counter[driver]
        self.counter[driver] = lo + n
        return [driver + i.to_bytes(8, "big") for i in range(lo, lo + n)]

    # ---- batches of each kind, each returning (cpu seconds, events in it) --------------------

    def join(self, node: bytes) -> tuple[float, int]:
        return self.handle(NodeAdded(node, {"CPU": float(self.opts.cpus)}))[0], 1

    def submit(self) -> tuple[float, int]:
        driver = self.rng.choice(self.drivers)
        tasks = [TaskRecord(t, JOB, driver, "f", resources={"CPU": 1.0}) for t in self.ids(driver, BATCH)]
        held = RefsChanged(driver, [(object_id(t.task_id, 0), True) for t in tasks])
        return self.handle(held, *(TaskSubmitted(t) for t in tasks))[0], BATCH

    def finish_node(self) -> tuple[float, int, list[tuple[bytes, bytes]]]:
        """All the tasks of one busy node report; returns (cpu, results, the finished (task, client))."""
        node = self.rng.choice([n for n in self.nodes if self.running[n]])
        done, self.running[node] = self.running[node], []
        results = [TaskFinished(node, t, [ObjectInfo(object_id(t, 0), value=b"v", size=8)]) for t, _ in done]
        cpu, effects = self.handle(*results)
        self.placed_last = sum(isinstance(e, Dispatch) for e in effects)
        return cpu, len(done), done

    def drain(self) -> None:
        """Results come in until one places nothing: the queue is empty."""
        self.placed_last = 1
        while self.placed_last:
            _, _, done = self.finish_node()
            self.release(done)

    def release(self, done: list[tuple[bytes, bytes]]) -> tuple[float, int]:
        by_client: dict[bytes, list[tuple[bytes, bool]]] = {}
        for t, client in done:
            by_client.setdefault(client, []).append((object_id(t, 0), False))
        events = [RefsChanged(c, refs) for c, refs in by_client.items()]
        return self.handle(*events)[0], len(done)

    def put(self) -> tuple[float, int, list[bytes]]:
        driver = self.rng.choice(self.drivers)
        node = self.rng.choice(self.nodes)
        oids = [t + b"\0\0\0\1" for t in self.ids(driver, BATCH)]
        infos = [ObjectInfo(o, value=b"loc", node_id=node, size=1 << 20) for o in oids]
        cpu = self.handle(RefsChanged(driver, [(o, True) for o in oids]), ObjectsPut(infos))[0]
        return cpu, BATCH, oids

    def copy(self, oids: list[bytes]) -> tuple[float, int]:
        return self.handle(ObjectCopiesChanged(self.rng.choice(self.nodes), list(oids), []))[0], len(oids)

    def subscribe(self, oids: list[bytes]) -> tuple[float, int]:
        return self.handle(ObjectsSubscribed(self.rng.choice(self.drivers), list(oids)))[0], len(oids)

    def make_actors(self, n: int) -> None:
        for lo in range(0, n, BATCH):
            driver = self.rng.choice(self.drivers)
            creations = [
                TaskRecord(a, JOB, driver, "A.__init__", kind=ACTOR_CREATION, placement={"CPU": 1.0}, actor_id=a)
                for a in self.ids(driver, min(BATCH, n - lo))
            ]
            held = RefsChanged(driver, [(object_id(a.task_id, 0), True) for a in creations])
            self.handle(held, *(TaskSubmitted(a) for a in creations))
            made = {a.task_id for a in creations}
            for node in self.nodes:
                done = [(t, c) for t, c in self.running[node] if t in made]
                if done:
                    self.running[node] = [x for x in self.running[node] if x not in done]
                    ready = [TaskFinished(node, t, [ObjectInfo(object_id(t, 0), value=b"a", size=8)]) for t, _ in done]
                    self.handle(*ready)
                    self.actors.extend((t, node) for t, _ in done)

    def actor_calls(self) -> tuple[float, int]:
        driver = self.rng.choice(self.drivers)
        targets = [self.rng.choice(self.actors) for _ in range(BATCH)]
        calls = [
            TaskRecord(t, JOB, driver, "m", kind=ACTOR_METHOD, actor_id=a, borrowed=(object_id(a, 0),))
            for t, (a, _) in zip(self.ids(driver, BATCH), targets, strict=True)
        ]
        held = RefsChanged(driver, [(object_id(c.task_id, 0), True) for c in calls])
        cpu, effects = self.handle(held, *(TaskSubmitted(c) for c in calls))
        routed = {e.task.task_id: e.node_id for e in effects if isinstance(e, Dispatch)}
        assert len(routed) == BATCH, f"{len(routed)} of {BATCH} calls were routed to their actor's node"
        by_node: dict[bytes, list[TaskFinished]] = {}
        for c in calls:
            node = routed[c.task_id]
            self.running[node].remove((c.task_id, driver))
            result = ObjectInfo(object_id(c.task_id, 0), value=b"r", size=8)
            by_node.setdefault(node, []).append(TaskFinished(node, c.task_id, [result]))
        for results in by_node.values():
            cpu += self.handle(*results)[0]
        cpu += self.handle(RefsChanged(driver, [(object_id(c.task_id, 0), False) for c in calls]))[0]
        return cpu, BATCH

    def busy(self) -> int:
        return sum(len(v) for v in self.running.values())


def _per_event(samples: list[tuple[float, int]]) -> float:
    return statistics.median(cpu / n * 1e6 for cpu, n in samples if n)


def run(opts: argparse.Namespace) -> dict[str, Any]:
    sim = Sim(opts)
    costs: dict[str, float] = {}
    joins = [sim.join(n) for n in sim.nodes]
    costs["node-join"] = _per_event(joins[-100:])
    sim.handle(*(ClientConnected(d, JOB, True) for d in sim.drivers))
    sim.make_actors(opts.actors)
    slots = opts.nodes * opts.cpus  # (actors hold no CPU once placed: Ray's default)
    costs.update(_task_costs(sim, slots, opts.batches))
    costs.update(_object_costs(sim, opts.batches))
    costs["actor-call"] = _per_event([sim.actor_calls() for _ in range(opts.batches)])
    print(f"{opts.nodes} nodes x {opts.cpus} CPUs, {opts.drivers} drivers, {len(sim.actors)} actors")
    for kind, us in costs.items():
        print(f"  {kind:16s} {us:8.2f} us per event")
    per_task = costs["submit+dispatch"] + costs["finish"] + costs["release"]
    print(f"  a task's whole life in HeadState: {per_task:.1f} us -> {1e6 / per_task:,.0f} tasks/s of one core")
    out: dict[str, Any] = {"nodes": opts.nodes, "drivers": opts.drivers, "us_per_event": costs, "us_per_task": per_task}
    if opts.profile:
        out["profile"] = _profile(sim, opts.batches)
    return out


def _task_costs(sim: Sim, slots: int, batches: int) -> dict[str, float]:
    placed = [sim.submit() for _ in range(min(batches, slots // BATCH - 1))]
    while sim.busy() < slots:  # fill every CPU
        sim.submit()
    queued = [sim.submit() for _ in range(batches)]
    finishing, releasing = [], []
    for _ in range(batches):
        cpu, n, done = sim.finish_node()
        finishing.append((cpu, n))
        releasing.append(sim.release(done))
    sim.drain()
    finishing_only = []
    for _ in range(batches):
        cpu, n, done = sim.finish_node()
        finishing_only.append((cpu, n))
        sim.release(done)
    return {
        "submit+dispatch": _per_event(placed),
        "submit-queued": _per_event(queued),
        "finish+dispatch": _per_event(finishing),
        "finish": _per_event(finishing_only),
        "release": _per_event(releasing),
    }


def _object_costs(sim: Sim, batches: int) -> dict[str, float]:
    puts, copies, subs = [], [], []
    for _ in range(batches):
        cpu, n, oids = sim.put()
        puts.append((cpu, n))
        copies.append(sim.copy(oids))
        subs.append(sim.subscribe(oids))
    return {"put": _per_event(puts), "copy": _per_event(copies), "subscribe": _per_event(subs)}


def _profile(sim: Sim, batches: int) -> list[tuple[str, float]]:
    mix: list[Callable[[], Any]] = [sim.submit, sim.actor_calls]
    sim.drain()
    sim.profiler = profiler = cProfile.Profile()
    for _ in range(batches * 5):
        for step in mix:
            step()
        for _ in range(BATCH // sim.opts.cpus + 1):  # results of about as many tasks as were submitted
            _, _, done = sim.finish_node()
            sim.release(done)
    sim.profiler = None
    stats = pstats.Stats(profiler)
    # (the harness's own clock reads fall inside the profiled span: left out)
    own = {k: v[2] for k, v in stats.stats.items() if k[2] != "<built-in method time.process_time>"}  # type: ignore[attr-defined]
    total = sum(own.values())
    rows = []
    print("profile of the steady mix (own time, share of HeadState.handle's total):")
    for (path, line, name), tottime in sorted(own.items(), key=lambda kv: -kv[1])[:15]:
        where = f"{path.rsplit('/', 1)[-1]}:{line} {name}"
        rows.append((where, tottime / total))
        print(f"  {100 * tottime / total:5.1f} %  {where}")
    return rows
