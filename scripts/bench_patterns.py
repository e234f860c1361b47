#!/usr/bin/env python3
"""Ordinary Ray programs, timed on raylite and on Ray: where is raylite far slower?

    python scripts/bench_patterns.py --backend raylite               # this tree, one table
    /path/to/rayvenv/bin/python scripts/bench_patterns.py --backend ray
    python scripts/bench_patterns.py --ray-python /work/rayenv/bin/python --rounds 3 [--markdown]
    python scripts/bench_patterns.py --ray-python RAYPY --patterns wait_loop,fib   # a subset

scripts/bench.py measures the hot paths (tasks/s, calls/s); this script runs the programs users
write (ray.wait loops, actor pools, async actors, generators, retries, placement groups, queues,
...), each a whole small program of 0.2-5 s on Ray, timed from its first line (actor creation
included) to its last, and checked: a pattern whose result is wrong reports an error, not a time.
A cliff (a pattern many times slower than on Ray) hurts users far more than 20 % on a hot path.

Conventions are scripts/bench.py's: with --ray-python, each side runs in a fresh driver per round
(own process group, RAY_ADDRESS removed, `ray.init(num_cpus=2)`, a local cluster), the sides
alternating (raylite ray, ray raylite, ...); a row gives per side the median of the rounds, every
round's value and the ratio; --markdown prints the table for docs/performance.md. The raylite side
imports the tree this script is in (--tree), run from that directory. Within one driver the
patterns run in order after a warm-up (executors started, functions exported), each `--repeat`
times (median), each under a timeout (--pattern-timeout): a pattern that hangs reports "timed
out" and the driver goes on with the next one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_table  # noqa: E402
from bench import describe_tree, import_backend  # noqa: E402  (sibling scripts, through sys.path above)
from bench_table import Metric  # noqa: E402

try:
    import numpy as np
except ImportError:  # pragma: no cover - both interpreters this is run with have it
    np = None  # type: ignore[assignment]

RESULT_PREFIX = "BENCH_RESULT_JSON "
REPO_ROOT = Path(__file__).resolve().parent.parent
MIB = 2**20

PatternFn = Callable[[ModuleType], None]
PATTERNS: dict[str, tuple[str, PatternFn]] = {}  # name -> (label, fn)


def pattern(label: str) -> Callable[[PatternFn], PatternFn]:
    def register(fn: PatternFn) -> PatternFn:
        PATTERNS[fn.__name__.removeprefix("p_")] = (label, fn)
        return fn

    return register


def check(ok: bool, what: str) -> None:
    if not ok:
        raise AssertionError(f"wrong result: {what}")


# Each pattern is a whole small program: it defines its remote functions and actors (closures over
# `ray`, so that a task that uses the API imports the same backend), runs, checks what it got and
# cleans up after itself (kills its actors), so that the next pattern starts from an idle cluster.


# --- ray.wait -----------------------------------------------------------------------------------
def _sleepers(ray: ModuleType, n: int) -> list[Any]:
    @ray.remote
    def work(i: int, delay: float) -> int:
        time.sleep(delay)
        return i

    rng = random.Random(0)
    return [work.remote(i, rng.uniform(0, 0.004)) for i in range(n)]


@pattern("wait(num_returns=1) loop over 300 tasks")
def p_wait_loop(ray: ModuleType) -> None:
    pending, done = _sleepers(ray, 300), []
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        done.append(ray.get(ready[0]))
    check(sorted(done) == list(range(300)), "every task's value once")


@pattern("wait(num_returns=1, timeout=0.1) loop over 300 tasks")
def p_wait_loop_timeout(ray: ModuleType) -> None:
    pending, done = _sleepers(ray, 300), []
    while pending:
        ready, pending = ray.wait(pending, num_returns=1, timeout=0.1)
        done += ray.get(ready)
    check(sorted(done) == list(range(300)), "every task's value once")


@pattern("wait(fetch_local=False) batches of 10 over 300 tasks")
def p_wait_batches(ray: ModuleType) -> None:
    pending, done = _sleepers(ray, 300), []
    while pending:
        ready, pending = ray.wait(pending, num_returns=min(10, len(pending)), fetch_local=False)
        done += ray.get(ready)
    check(sorted(done) == list(range(300)), "every task's value once")


@pattern("wait(num_returns=1) over 20 tasks returning 8 MiB arrays")
def p_wait_arrays(ray: ModuleType) -> None:
    @ray.remote
    def make(i: int) -> Any:
        return np.full(MIB, i, dtype=np.int64)

    pending, total = [make.remote(i) for i in range(20)], 0
    while pending:
        ready, pending = ray.wait(pending, num_returns=1, fetch_local=True)
        total += int(ray.get(ready[0])[-1])
    check(total == sum(range(20)), "sum of the arrays' last items")


# --- objects ------------------------------------------------------------------------------------
@pattern("40 tasks make 4 MiB arrays, 40 tasks consume them")
def p_array_pipeline(ray: ModuleType) -> None:
    @ray.remote
    def make(i: int) -> Any:
        return np.full(MIB // 2, i, dtype=np.int64)

    @ray.remote
    def total(a: Any) -> int:
        return int(a.sum())

    out = ray.get([total.remote(make.remote(i)) for i in range(40)])
    check(out == [i * (MIB // 2) for i in range(40)], "sums of the arrays")


@pattern("chain of 10 tasks passing a 10 MiB array on")
def p_array_chain(ray: ModuleType) -> None:
    @ray.remote
    def step(a: Any) -> Any:
        return a + 1

    x = ray.put(np.zeros(10 * MIB // 8, dtype=np.int64))
    for _ in range(10):
        x = step.remote(x)
    out = ray.get(x)
    check(out.shape == (10 * MIB // 8,) and bool((out == 10).all()), "array after 10 steps")


@pattern("200 tasks take one 50 MiB put object")
def p_big_arg(ray: ModuleType) -> None:
    @ray.remote
    def pick(a: Any, i: int) -> int:
        return int(a[i * 1000])

    ref = ray.put(np.arange(50 * MIB // 8, dtype=np.int64))
    out = ray.get([pick.remote(ref, i) for i in range(200)])
    check(out == [i * 1000 for i in range(200)], "items of the shared array")


@pattern("ray.get of 10,000 refs (100 tasks, num_returns=100)")
def p_get_10k(ray: ModuleType) -> None:
    @ray.remote(num_returns=100)
    def hundred(base: int) -> tuple[int, ...]:
        return tuple(range(base, base + 100))

    refs = [r for i in range(100) for r in hundred.remote(i * 100)]
    check(ray.get(refs) == list(range(10_000)), "10,000 values in order")


@pattern("put 3,000 small dicts, then get them in one call")
def p_put_many(ray: ModuleType) -> None:
    refs = [ray.put({"i": i, "name": f"item-{i}"}) for i in range(3000)]
    out = ray.get(refs)
    check([d["i"] for d in out] == list(range(3000)), "dicts back in order")


@pattern("300 tasks with num_returns=4")
def p_num_returns(ray: ModuleType) -> None:
    @ray.remote(num_returns=4)
    def four(i: int) -> tuple[int, int, int, int]:
        return i, i + 1, i + 2, i + 3

    refs = [four.remote(i) for i in range(300)]
    out = ray.get([r for group in refs for r in group])
    check(out == [i + k for i in range(300) for k in range(4)], "four values per task")


@pattern("a task submits 500 children and returns their refs")
def p_return_refs(ray: ModuleType) -> None:
    @ray.remote
    def child(i: int) -> int:
        return i * 2

    @ray.remote
    def parent(n: int) -> list[Any]:
        return [child.remote(i) for i in range(n)]

    refs = ray.get(parent.remote(500))
    check(ray.get(refs) == [i * 2 for i in range(500)], "children's values")


@pattern("a task gets a list of 200 refs passed inside a list")
def p_refs_in_list(ray: ModuleType) -> None:
    @ray.remote
    def leaf(i: int) -> int:
        return i

    @ray.remote
    def gather(refs: list[Any]) -> int:
        return sum(ray.get(refs))

    check(ray.get(gather.remote([leaf.remote(i) for i in range(200)])) == sum(range(200)), "sum of the leaves")


@pattern("reduce tree: 256 leaves summed pairwise (255 tasks)")
def p_reduce_tree(ray: ModuleType) -> None:
    @ray.remote
    def leaf(i: int) -> int:
        return i

    @ray.remote
    def add(a: int, b: int) -> int:
        return a + b

    level = [leaf.remote(i) for i in range(256)]
    while len(level) > 1:
        level = [add.remote(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    check(ray.get(level[0]) == sum(range(256)), "sum of 0..255")


# --- nested tasks -------------------------------------------------------------------------------
@pattern("fib(8) as tasks that get their children (67 tasks)")
def p_fib(ray: ModuleType) -> None:
    @ray.remote
    def fib(n: int) -> int:
        if n < 2:
            return n
        return sum(ray.get([fib.remote(n - 1), fib.remote(n - 2)]))

    check(ray.get(fib.remote(8)) == 21, "fib(8)")


@pattern("tree of depth 3, fan-out 6, each level gets its children (259 tasks)")
def p_tree3(ray: ModuleType) -> None:
    @ray.remote
    def node(depth: int) -> int:
        if depth == 0:
            return 1
        return sum(ray.get([node.remote(depth - 1) for _ in range(6)]))

    check(ray.get(node.remote(3)) == 216, "leaves counted")


@pattern("200 tasks raise, the driver catches each error")
def p_errors(ray: ModuleType) -> None:
    @ray.remote
    def bad(i: int) -> int:
        raise ValueError(f"bad {i}")

    caught = 0
    for ref in [bad.remote(i) for i in range(200)]:
        try:
            ray.get(ref)
        except ValueError as e:  # Ray's RayTaskError is also an instance of the cause's class
            caught += "bad " in str(e)
    check(caught == 200, f"caught {caught} of 200 ValueErrors")


@pattern("20 tasks fail twice, then succeed (max_retries=3, retry_exceptions)")
def p_retries(ray: ModuleType) -> None:
    @ray.remote(max_retries=3, retry_exceptions=True)
    def flaky(path: str) -> int:
        with open(path, "a+") as f:
            f.write("x")
            f.seek(0)
            tries = len(f.read())
        if tries < 3:
            raise RuntimeError(f"try {tries} fails")
        return tries

    with tempfile.TemporaryDirectory() as d:
        out = ray.get([flaky.remote(os.path.join(d, str(i))) for i in range(20)])
    check(out == [3] * 20, "every task succeeded on its third try")


@pattern("cancel 200 queued tasks behind 2 running ones")
def p_cancel(ray: ModuleType) -> None:
    @ray.remote
    def slow(i: int) -> int:
        time.sleep(0.5)
        return i

    refs = [slow.remote(i) for i in range(202)]
    for r in refs[2:]:
        ray.cancel(r)
    cancelled = 0
    for r in refs[2:]:
        try:
            ray.get(r)
        except ray.exceptions.TaskCancelledError:
            cancelled += 1
    check(cancelled >= 190, f"{cancelled} of 200 queued tasks cancelled")
    check(ray.get(refs[:2]) == [0, 1], "the running tasks' values")


@pattern("100 tasks each get one child (another function)")
def p_nested_get(ray: ModuleType) -> None:
    @ray.remote
    def child(i: int) -> int:
        return i + 1

    @ray.remote
    def parent(i: int) -> int:
        return ray.get(child.remote(i)) * 2

    check(ray.get([parent.remote(i) for i in range(100)]) == [(i + 1) * 2 for i in range(100)], "parents' values")


@pattern("300 tasks submitted with .options(...) on each call")
def p_options_each_call(ray: ModuleType) -> None:
    @ray.remote
    def f(i: int) -> int:
        return i

    refs = [f.options(num_cpus=1, name=f"f-{i % 3}").remote(i) for i in range(300)]
    check(ray.get(refs) == list(range(300)), "values")


@pattern("30 distinct remote functions, each called 10 times")
def p_many_functions(ray: ModuleType) -> None:
    def make(k: int) -> Any:
        def f(i: int) -> int:
            return i + k

        f.__name__ = f"f{k}"
        return ray.remote(f)

    fns = [make(k) for k in range(30)]
    out = ray.get([fn.remote(i) for fn in fns for i in range(10)])
    check(out == [i + k for k in range(30) for i in range(10)], "values")


@pattern("100 tasks each given a 1 MiB array by value")
def p_array_args(ray: ModuleType) -> None:
    @ray.remote
    def first(a: Any) -> int:
        return int(a[0])

    arrays = [np.full(MIB // 8, i, dtype=np.int64) for i in range(100)]
    check(ray.get([first.remote(a) for a in arrays]) == list(range(100)), "first items")


@pattern("wait(num_returns=1) loop over 1,000 finished refs")
def p_wait_many(ray: ModuleType) -> None:
    refs = [ray.put(i) for i in range(1000)]
    pending, done = refs, 0
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        done += 1
    check(done == 1000, "1,000 waits")


@pattern("50 tasks print 100 lines each")
def p_print_lines(ray: ModuleType) -> None:
    @ray.remote
    def chatty(i: int) -> int:
        for k in range(100):
            print(f"task {i} line {k}")
        return i

    check(ray.get([chatty.remote(i) for i in range(50)]) == list(range(50)), "values")


@pattern("a task waits on its 100 children as they finish")
def p_nested_wait(ray: ModuleType) -> None:
    @ray.remote
    def child(i: int) -> int:
        time.sleep(0.002)
        return i

    @ray.remote
    def parent(n: int) -> int:
        pending, total = [child.remote(i) for i in range(n)], 0
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            total += ray.get(ready[0])
        return total

    check(ray.get(parent.remote(100)) == sum(range(100)), "sum of the children")


@pattern("an asyncio driver awaits 500 task refs")
def p_asyncio_driver(ray: ModuleType) -> None:
    @ray.remote
    def f(i: int) -> int:
        return i

    async def main() -> list[int]:
        return list(await asyncio.gather(*[f.remote(i) for i in range(500)]))

    check(asyncio.run(main()) == list(range(500)), "values")


@pattern("5 tasks kill their own process once and are retried")
def p_worker_crash_retry(ray: ModuleType) -> None:
    @ray.remote(max_retries=2)
    def crash_once(path: str) -> str:
        if not os.path.exists(path):
            open(path, "w").close()
            os._exit(1)
        return "ok"

    with tempfile.TemporaryDirectory() as d:
        out = ray.get([crash_once.remote(os.path.join(d, str(i))) for i in range(5)])
    check(out == ["ok"] * 5, "every task succeeded on its retry")


# --- actors -------------------------------------------------------------------------------------
@pattern("ActorPool of 2 actors, map over 400 items")
def p_actor_pool(ray: ModuleType) -> None:
    from importlib import import_module

    ActorPool = import_module(ray.__name__ + ".util").ActorPool

    @ray.remote
    class Squarer:
        def sq(self, x: int) -> int:
            return x * x

    actors = [Squarer.remote() for _ in range(2)]
    out = list(ActorPool(actors).map(lambda a, v: a.sq.remote(v), range(400)))
    check(out == [x * x for x in range(400)], "squares in order")
    for a in actors:
        ray.kill(a)


@pattern("an actor's method calls another actor (300 calls)")
def p_actor_calls_actor(ray: ModuleType) -> None:
    @ray.remote
    class Store:
        def __init__(self) -> None:
            self.data: dict[int, int] = {}

        def put(self, k: int, v: int) -> None:
            self.data[k] = v

        def size(self) -> int:
            return len(self.data)

    @ray.remote
    class Front:
        def __init__(self, store: Any) -> None:
            self.store = store

        def handle(self, k: int) -> bool:
            ray.get(self.store.put.remote(k, k * k))
            return True

    store = Store.remote()
    front = Front.remote(store)
    check(all(ray.get([front.handle.remote(k) for k in range(300)])), "handled")
    check(ray.get(store.size.remote()) == 300, "300 keys stored")
    ray.kill(front)
    ray.kill(store)


@pattern("async actor, 1,000 concurrent calls that await 10 ms")
def p_async_actor(ray: ModuleType) -> None:
    @ray.remote
    class Async:
        async def f(self, i: int) -> int:
            await asyncio.sleep(0.01)
            return i

    a = Async.remote()
    check(ray.get([a.f.remote(i) for i in range(1000)]) == list(range(1000)), "values in order")
    ray.kill(a)


@pattern("threaded actor (max_concurrency=8), 400 calls that sleep 10 ms")
def p_threaded_actor(ray: ModuleType) -> None:
    @ray.remote(max_concurrency=8)
    class Threaded:
        def f(self, i: int) -> int:
            time.sleep(0.01)
            return i

    a = Threaded.remote()
    check(ray.get([a.f.remote(i) for i in range(400)]) == list(range(400)), "values in order")
    ray.kill(a)


@pattern("50 actor calls with a 5 MiB array argument")
def p_actor_big_args(ray: ModuleType) -> None:
    @ray.remote
    class Summer:
        def total(self, a: Any) -> int:
            return int(a[-1])

    s = Summer.remote()
    arrays = [np.full(5 * MIB // 8, i, dtype=np.int64) for i in range(50)]
    check(ray.get([s.total.remote(a) for a in arrays]) == list(range(50)), "last items")
    ray.kill(s)


@pattern("200 tasks call one actor through its handle")
def p_tasks_call_actor(ray: ModuleType) -> None:
    @ray.remote
    class Counter:
        def __init__(self) -> None:
            self.n = 0

        def add(self, k: int) -> int:
            self.n += k
            return self.n

    @ray.remote
    def work(c: Any, i: int) -> int:
        return ray.get(c.add.remote(i))

    c = Counter.remote()
    ray.get([work.remote(c, i) for i in range(200)])
    check(ray.get(c.add.remote(0)) == sum(range(200)), "the counter's total")
    ray.kill(c)


@pattern("an actor method submits 100 tasks and gets them, 3 times")
def p_actor_submits(ray: ModuleType) -> None:
    @ray.remote
    def sq(i: int) -> int:
        return i * i

    @ray.remote
    class Coordinator:
        def run(self, n: int) -> int:
            return sum(ray.get([sq.remote(i) for i in range(n)]))

    c = Coordinator.remote()
    check(ray.get([c.run.remote(100) for _ in range(3)]) == [sum(i * i for i in range(100))] * 3, "sums")
    ray.kill(c)


@pattern("an actor returns a 20 MiB array, 20 times")
def p_actor_returns_array(ray: ModuleType) -> None:
    @ray.remote
    class Maker:
        def make(self, i: int) -> Any:
            return np.full(20 * MIB // 8, i, dtype=np.int64)

    m = Maker.remote()
    out = [int(ray.get(m.make.remote(i))[-1]) for i in range(20)]
    check(out == list(range(20)), "last items")
    ray.kill(m)


@pattern("an actor crashes and restarts (max_restarts), 3 times")
def p_actor_restart(ray: ModuleType) -> None:
    @ray.remote(max_restarts=5, max_task_retries=0)
    class Fragile:
        def pid(self) -> int:
            return os.getpid()

        def crash(self) -> None:
            os._exit(1)

    a = Fragile.remote()
    pids = {ray.get(a.pid.remote())}
    for _ in range(3):
        try:
            ray.get(a.crash.remote())
        except ray.exceptions.ActorUnavailableError:  # Ray 2.60's for a call in flight at a restart
            pass
        while True:  # calls fail while the actor restarts (Ray's: ActorUnavailableError / ActorDiedError)
            try:
                pids.add(ray.get(a.pid.remote()))
                break
            except ray.exceptions.RayActorError:
                time.sleep(0.01)
    check(len(pids) == 4, f"4 processes, one per restart: {len(pids)}")
    ray.kill(a)


@pattern("kill an actor and create a new one, 5 times")
def p_kill_recreate(ray: ModuleType) -> None:
    @ray.remote
    class Box:
        def __init__(self, v: int) -> None:
            self.v = v

        def get(self) -> int:
            return self.v

    for i in range(5):
        a = Box.remote(i)
        check(ray.get(a.get.remote()) == i, f"actor {i}'s value")
        ray.kill(a)


@pattern("8 actors, 50 calls each")
def p_many_actors(ray: ModuleType) -> None:
    @ray.remote(num_cpus=0)
    class Counter:
        def __init__(self) -> None:
            self.n = 0

        def inc(self) -> int:
            self.n += 1
            return self.n

    actors = [Counter.remote() for _ in range(8)]
    out = ray.get([a.inc.remote() for _ in range(50) for a in actors])
    check(sorted(out) == sorted(list(range(1, 51)) * 8), "counts")
    for a in actors:
        ray.kill(a)


@pattern("get_actor by name 500 times, a call each 10")
def p_named_actor(ray: ModuleType) -> None:
    @ray.remote
    class Registry:
        def ping(self) -> str:
            return "pong"

    a = Registry.options(name="patterns-registry").remote()
    ray.get(a.ping.remote())
    pongs = 0
    for i in range(500):
        h = ray.get_actor("patterns-registry")
        if i % 10 == 0:
            pongs += ray.get(h.ping.remote()) == "pong"
    check(pongs == 50, "50 pongs")
    ray.kill(a)


@pattern("streaming generator of 1,000 items")
def p_generator(ray: ModuleType) -> None:
    @ray.remote(num_returns="streaming")
    def gen(n: int) -> Any:
        for i in range(n):  # noqa: UP028  (Ray 2.60 cannot stream `yield from range(n)`: a range has no .send)
            yield i

    out = [ray.get(r) for r in gen.remote(1000)]
    check(out == list(range(1000)), "items in order")


@pattern("ray.util.queue.Queue: a task puts 500 items, the driver gets them")
def p_queue(ray: ModuleType) -> None:
    from importlib import import_module

    Queue = import_module(ray.__name__ + ".util.queue").Queue
    q = Queue()

    @ray.remote
    def produce(q: Any, n: int) -> int:
        for i in range(n):
            q.put(i)
        return n

    done = produce.remote(q, 500)
    out = [q.get(timeout=30) for _ in range(500)]
    check(out == list(range(500)) and ray.get(done) == 500, "items in order")
    q.shutdown()


@pattern("ray.util.multiprocessing.Pool: map over 2,000 items")
def p_mp_pool(ray: ModuleType) -> None:
    from importlib import import_module

    Pool = import_module(ray.__name__ + ".util.multiprocessing").Pool
    pool = Pool(processes=2)
    try:
        out = pool.map(_square, range(2000))
    finally:
        pool.terminate()
    check(out == [x * x for x in range(2000)], "squares in order")


def _square(x: int) -> int:
    return x * x


# --- scheduling features ------------------------------------------------------------------------
@pattern("placement group of 2 x 1 CPU, 100 tasks in it, removed; 5 times")
def p_placement_group(ray: ModuleType) -> None:
    from importlib import import_module

    util = import_module(ray.__name__ + ".util")
    strategies = import_module(ray.__name__ + ".util.scheduling_strategies")

    @ray.remote(num_cpus=1)
    def inc(i: int) -> int:
        return i + 1

    for _ in range(5):
        pg = util.placement_group([{"CPU": 1}, {"CPU": 1}], strategy="PACK")
        ray.get(pg.ready(), timeout=30)
        strategy = strategies.PlacementGroupSchedulingStrategy(placement_group=pg)
        out = ray.get([inc.options(scheduling_strategy=strategy).remote(i) for i in range(100)])
        check(out == list(range(1, 101)), "values from the group")
        util.remove_placement_group(pg)


@pattern("20 tasks with runtime_env env_vars")
def p_runtime_env(ray: ModuleType) -> None:
    @ray.remote(runtime_env={"env_vars": {"PATTERN_VAR": "on"}})
    def read(i: int) -> str:
        return f"{os.environ.get('PATTERN_VAR')}-{i}"

    check(ray.get([read.remote(i) for i in range(20)]) == [f"on-{i}" for i in range(20)], "env seen")


@pattern("ray.get(ref, timeout=0.01) polling loop until a 1 s task ends")
def p_get_poll(ray: ModuleType) -> None:
    @ray.remote
    def slow() -> int:
        time.sleep(1.0)
        return 7

    ref, polls = slow.remote(), 0
    while True:
        try:
            value = ray.get(ref, timeout=0.01)
            break
        except ray.exceptions.GetTimeoutError:
            polls += 1
    check(value == 7 and polls > 10, f"value {value} after {polls} polls")


@pattern("100 tasks sleeping 20 ms, 2 at a time")
def p_sleep_tasks(ray: ModuleType) -> None:
    @ray.remote
    def nap(i: int) -> int:
        time.sleep(0.02)
        return i

    check(ray.get([nap.remote(i) for i in range(100)]) == list(range(100)), "values")


# --- single-backend runner ----------------------------------------------------------------------
class PatternTimeout(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise PatternTimeout()


def warm_up(ray: ModuleType) -> None:
    """Workers started, a function exported, numpy imported and a large result stored in each (not timed).

    Without it the first pattern that uses numpy or returns a large value pays those once-per-worker
    costs (about 0.3 s of CPU per raylite executor: numpy, and the client it makes to store a result).
    """

    @ray.remote
    def echo(x: int) -> int:
        return x

    check(ray.get([echo.remote(i) for i in range(500)]) == list(range(500)), "warm-up")

    @ray.remote
    def array(i: int) -> Any:  # every executor imports numpy and stores a large result once
        return np.full(MIB // 8, i, dtype=np.int64)

    check([int(a[0]) for a in ray.get([array.remote(i) for i in range(8)])] == list(range(8)), "warm-up arrays")


def run_backend(backend: str, repeat: int, num_cpus: int, only: list[str], timeout: float) -> dict[str, Any]:
    ray = import_backend(backend)
    metrics: dict[str, float] = {}
    errors: dict[str, str] = {}
    ray.init(num_cpus=num_cpus)
    signal.signal(signal.SIGALRM, _alarm)
    try:
        warm_up(ray)
        for name, (_label, fn) in PATTERNS.items():
            if only and name not in only:
                continue
            times = []
            try:
                for _ in range(repeat):
                    signal.setitimer(signal.ITIMER_REAL, timeout)
                    t0 = time.perf_counter()
                    try:
                        fn(ray)
                    finally:
                        signal.setitimer(signal.ITIMER_REAL, 0)
                    times.append(time.perf_counter() - t0)
            except PatternTimeout:
                errors[name] = f"timed out after {timeout:g}s"
            except Exception as e:  # a broken pattern reports an error, not a time
                errors[name] = f"{type(e).__name__}: {e}"[:300]
            else:
                metrics[name] = statistics.median(times)
            print(f"{name:22s} {metrics.get(name, float('nan')):8.3f} s  {errors.get(name, '')}", flush=True)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        ray.shutdown()
    return {
        "backend": backend,
        "version": getattr(ray, "__version__", "?"),
        "source": str(Path(ray.__file__).resolve().parent.parent),
        "python": sys.version.split()[0],
        "repeat": repeat,
        "num_cpus": num_cpus,
        "metrics": metrics,
        "errors": errors,
    }


# --- subprocess driver --------------------------------------------------------------------------
def run_child(side: str, python: str, tree: Path | None, args: argparse.Namespace) -> dict[str, Any]:
    """One fresh driver of one side; its result line, or {"errors": ...} saying why there is none."""
    cmd = [python, str(Path(__file__).resolve()), "--backend", side, "--repeat", str(args.repeat)]
    cmd += ["--num-cpus", str(args.num_cpus), "--pattern-timeout", str(args.pattern_timeout)]
    if args.patterns:
        cmd += ["--patterns", args.patterns]
    env = dict(os.environ)
    env.pop("RAY_ADDRESS", None)
    if tree is not None:  # first on the path; run from the tree, as the daemons start with `python -m`
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(tree), env.get("PYTHONPATH")) if p)
    print(f"running {side} with {python} ...", file=sys.stderr, flush=True)
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=env, cwd=tree, start_new_session=True
        )
        try:
            stdout, _ = proc.communicate(timeout=args.timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # takes the backend's daemons too
            stdout, _ = proc.communicate()
            sys.stderr.write(stdout[-3000:])
            return {"errors": {"run": f"timed out after {args.timeout}s"}}
        err.seek(0)
        stderr = err.read()
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            res: dict[str, Any] = json.loads(line[len(RESULT_PREFIX) :])
            if tree is not None and Path(res.get("source", "")) != tree:
                res.setdefault("errors", {})["source"] = f"raylite from {res.get('source')}, not {tree}"
            return res
    sys.stderr.write(stdout[-3000:] + stderr[-3000:])
    return {"errors": {"run": f"exit code {proc.returncode}, no result line"}}


def compare(args: argparse.Namespace) -> None:
    tree = Path(args.tree).resolve()
    sides = {"raylite": (sys.executable, tree), "ray": (args.ray_python, None)}
    load_start, started = bench_table.load_average(), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    results: dict[str, list[dict[str, Any]]] = {s: [] for s in sides}
    for i, order in enumerate(bench_table.round_orders(list(sides), args.rounds)):
        for side in order:
            python, side_tree = sides[side]
            res = run_child(side, python, side_tree, args)
            results[side].append(res)
            for k, e in res.get("errors", {}).items():
                print(f"[{side} round {i + 1}] ERROR in {k}: {e}", flush=True)
    load_end = bench_table.load_average()
    names = list(sides)
    selected = {k: v for k, v in PATTERNS.items() if not args.patterns or k in args.patterns.split(",")}
    metrics = {k: Metric(label, "s", "lower") for k, (label, _) in selected.items()}
    rows = bench_table.summarize(metrics, {s: [r.get("metrics", {}) for r in rs] for s, rs in results.items()})
    print(f"num_cpus={args.num_cpus}; seconds per pattern, median of {args.rounds} rounds (order alternating)")
    print(bench_table.text_table(rows, names, [("raylite", "ray")]))
    slow = [
        f"{r.key} {r.medians['raylite'] / r.medians['ray']:.1f}x"
        for r in rows
        if isinstance(r.medians.get("raylite"), float)
        and isinstance(r.medians.get("ray"), float)
        and r.medians["raylite"] > 2 * r.medians["ray"]  # type: ignore[operator]
    ]
    print(f"raylite more than 2x slower than Ray: {', '.join(slow) or 'none'}")
    if args.markdown:
        what = {
            "raylite": f"{results['raylite'][0].get('version', '?')}, {describe_tree(tree)}",
            "ray": f"{results['ray'][0].get('version', '?')}, {args.ray_python}",
        }
        info = bench_table.RunInfo(
            " ".join(["python", *sys.argv]), started, bench_table.machine(), load_start, load_end, what
        )
        print()
        print(bench_table.markdown_table(rows, names, [("raylite", "ray")], info, args.rounds))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", choices=["ray", "raylite"], default=None, help="run one side in this process")
    ap.add_argument(
        "--ray-python",
        default=os.environ.get("RAYLITE_BENCH_RAY_PYTHON"),
        help="the interpreter of a virtualenv with Ray installed: compare against it (default: "
        "$RAYLITE_BENCH_RAY_PYTHON)",
    )
    ap.add_argument("--rounds", type=int, default=1, help="fresh drivers per side, alternating (median)")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each pattern in one driver (median)")
    ap.add_argument("--tree", default=str(REPO_ROOT), help="the raylite source tree (default: this one)")
    ap.add_argument("--markdown", action="store_true", help="also print a table for docs/performance.md")
    ap.add_argument("--num-cpus", type=int, default=2)
    ap.add_argument("--pattern-timeout", type=float, default=60, help="seconds one pattern may take")
    ap.add_argument("--timeout", type=float, default=1200, help="seconds one driver may take")
    ap.add_argument("--patterns", default="", help=f"comma-separated subset (of {', '.join(PATTERNS)})")
    args = ap.parse_args()
    only = [p for p in args.patterns.split(",") if p]
    unknown = [p for p in only if p not in PATTERNS]
    if unknown:
        ap.error(f"unknown patterns {unknown}; choose from {', '.join(PATTERNS)}")
    if np is None:
        ap.error("numpy is needed (pip install numpy)")

    if args.backend:
        res = run_backend(args.backend, args.repeat, args.num_cpus, only, args.pattern_timeout)
        print(RESULT_PREFIX + json.dumps(res), flush=True)
        return
    if not args.ray_python:
        ap.error("give --backend, or Ray's interpreter (--ray-python PATH or RAYLITE_BENCH_RAY_PYTHON)")
    compare(args)


if __name__ == "__main__":
    main()
