"""The workload of one chaos round: a raylite driver run on the namespace cluster's `drv` host.

    python scripts/chaos_driver.py --seed N --max-faults K      (started by scripts/chaos.py)

It submits, in waves paced by its own seeded RNG, independent tasks, chains
of tasks passing multi-MB arrays from host to host, tasks reading a large
object made on another host, tasks that submit tasks, actors (restartable)
called with small and large arguments, and `put` objects made from inside
tasks placed on chosen hosts, streaming generators (tasks and actor methods)
whose items are taken at the end, and tasks and an actor in a placement group of
two SPREAD bundles (a killed host takes its bundle with it: the group is
placed again and its tasks retried; the group is removed once their results
are in, since a bundle on the 1-CPU head keeps the tasks placed near the head
waiting, as in Ray). Every expected value is computed here, in the
driver, from the same pure functions the tasks run, so a result is either
exactly right or wrong.

It also cancels work (raylite.cancel), a wave after submitting it, so that
the cancel finds it queued, waiting for an argument or running: tasks that
never end on their own (gently or with force), tasks waiting for one of
those, parents blocked on such children (recursive), async actor calls that
never end, and calls of the Keyed actors cancelled at once. Each of the
first kinds must raise TaskCancelledError, whatever the faults did meanwhile
(a cancelled task is never retried, and one retried before its cancel is
cancelled where it is then); a call cancelled at once may also have finished
first, and then its value must be right.

Meanwhile scripts/chaos.py SIGKILLs executors and one worker host. Tasks,
actors and their calls are given more retries than the round has faults
(--max-faults), so each of their results must come back right. A `put`
object cannot be rebuilt: the driver reads every put at the end, after the
host kill (it waits on stdin for "go"), and reports which ones it could not
read and on which node each one lived; chaos.py expects exactly those on the
killed host to be lost.

It talks to chaos.py in lines on stdout: `CHAOS {"event": ...}` (JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import sys
import time
import traceback
from typing import Any

import numpy as np

import raylite as ray
from raylite import exceptions
from raylite.util.placement_group import placement_group, placement_group_table, remove_placement_group
from raylite.util.scheduling_strategies import NodeAffinitySchedulingStrategy as Affinity
from raylite.util.scheduling_strategies import PlacementGroupSchedulingStrategy

HOST_IPS = {"head": "10.77.0.10", "w1": "10.77.0.11", "w2": "10.77.0.12"}
GET_TIMEOUT_S = 90.0
HANG_S = 600.0  # how long an uncancelled `hang` would run: longer than any round
_ODD = np.uint64(6364136223846793005)

# ---- pure functions: run by the tasks, and by the driver for the expected values ----


def mix(*parts: Any) -> int:
    return int.from_bytes(hashlib.blake2b(repr(parts).encode(), digest_size=8).digest(), "big")


def big_array(key: Any, n: int) -> np.ndarray:
    """n uint64 values that depend on key (a few MB for the n used here)."""
    a = np.arange(n, dtype=np.uint64)
    a *= _ODD
    a ^= np.uint64(mix("array", key))
    return a


def step_array(a: np.ndarray, k: int) -> np.ndarray:
    """One link of a chain: a new array from the previous one (uint64 arithmetic wraps)."""
    out = a * _ODD
    out += np.uint64(mix("step", k))
    return out


def digest(a: np.ndarray) -> str:
    return hashlib.blake2b(memoryview(np.ascontiguousarray(a)).cast("B"), digest_size=16).hexdigest()


# ---- remote functions and actors ------------------------------------------------------


@ray.remote
def compute(i: int, nap: float) -> int:
    time.sleep(nap)  # keeps the executor busy, so that a kill can land mid-task
    return mix("compute", i)


@ray.remote
def make_big(key: Any, n: int, nap: float) -> np.ndarray:
    time.sleep(nap)
    return big_array(key, n)


@ray.remote
def chain_step(a: np.ndarray, k: int, nap: float) -> np.ndarray:
    time.sleep(nap)
    return step_array(a, k)


@ray.remote
def digest_task(a: np.ndarray, nap: float) -> str:
    time.sleep(nap)
    return digest(a)


@ray.remote
def fan(i: int, width: int, retries: int) -> int:
    """A task that submits tasks and waits for them (its CPU is lent out meanwhile)."""
    refs = [compute.options(max_retries=retries).remote(i * 100 + j, 0.05) for j in range(width)]
    return sum(ray.get(refs, timeout=GET_TIMEOUT_S))


@ray.remote(num_returns=2)
def halves(key: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    a = big_array(key, n)
    return a[: n // 2].copy(), a[n // 2 :].copy()


@ray.remote
def joined_digest(parts: list[Any]) -> str:
    """Refs nested in an argument: this task fetches them itself."""
    return digest(np.concatenate(ray.get(parts, timeout=GET_TIMEOUT_S)))


@ray.remote
def wrapped_big(key: Any, n: int, retries: int) -> list[Any]:
    """Returns a ref made by a task it submits (the value lives where that task ran)."""
    return [make_big.options(scheduling_strategy="SPREAD", max_retries=retries).remote(key, n, 0.0)]


@ray.remote
def make_put(key: Any, n: int) -> tuple[str, list[Any]]:
    """A put object stored on the node this task runs on; returns the node and the ref."""
    ref = ray.put(big_array(key, n))
    return ray.get_runtime_context().get_node_id(), [ref]


@ray.remote
def hang(seconds: float) -> str:
    """Runs until cancelled (or for `seconds`, so that a leak ends: never within a round)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.02)
    return "hung to the end"


@ray.remote
def after(x: Any) -> str:
    return f"ran after {x}"


@ray.remote
def hang_parent(width: int, retries: int) -> str:
    """Blocks on children that never end: a recursive cancel of it must stop them too."""
    children = [hang.options(max_retries=retries).remote(HANG_S) for _ in range(width)]
    ray.get(children)
    return "children ended"


@ray.remote
class Napper:
    """An async actor whose calls never end on their own: cancelled as asyncio tasks."""

    async def nap(self, seconds: float) -> str:
        await asyncio.sleep(seconds)
        return "woke up"


@ray.remote
def stream_items(key: Any, count: int, n: int, nap: float) -> Any:
    """A streaming generator: items of alternating sizes (inline and in the store), one by one."""
    for i in range(count):
        time.sleep(nap)
        yield big_array((key, i), n if i % 2 else 1_000)


@ray.remote
class Keyed:
    """Its answers depend only on its constructor argument, so they survive restarts."""

    def __init__(self, key: int) -> None:
        self.key = key

    def mixed(self, i: int) -> int:
        time.sleep(0.05)
        return mix("actor", self.key, i)

    def digest_of(self, a: np.ndarray) -> str:
        return digest(a)

    def fan(self, i: int, width: int, retries: int) -> int:
        refs = [compute.options(max_retries=retries).remote(i * 100 + j, 0.05) for j in range(width)]
        return self.key + sum(ray.get(refs, timeout=GET_TIMEOUT_S))

    def stream(self, i: int, count: int) -> Any:
        for j in range(count):
            time.sleep(0.02)
            yield mix("actor stream", self.key, i, j)


# ---- the driver -------------------------------------------------------------------------


def emit(event: str, **facts: Any) -> None:
    print("CHAOS " + json.dumps({"event": event, **facts}), flush=True)


CANCELLED = object()  # (expect_cancelled: no value is right)


class Checks:
    """What the driver submitted and what each result must be."""

    def __init__(self) -> None:
        self.items: list[tuple[str, Any, Any]] = []  # (what, ref, expected value or a checker)
        self.wrong: list[str] = []
        self.errors: list[dict[str, str]] = []
        self.checked = 0
        self.cancelled: list[tuple[str, Any, Any]] = []
        self.cancels_seen = 0

    def expect(self, what: str, ref: Any, expected: Any) -> None:
        self.items.append((what, ref, expected))

    def expect_cancelled(self, what: str, ref: Any, or_value: Any = CANCELLED) -> None:
        """ref was cancelled: its get raises TaskCancelledError (or, given or_value, returns that)."""
        self.cancelled.append((what, ref, or_value))

    def read(self, what: str, ref: Any, deadline: float, transform: Any = None) -> tuple[bool, Any]:
        """(True, value) or (False, None) after recording the error."""
        self.checked += 1
        try:
            value = ray.get(ref, timeout=max(1.0, deadline - time.monotonic()))
            return True, transform(value) if transform else value
        except exceptions.RayError as exc:
            text = str(exc)  # a task's error: its traceback, then the cause at the end
            text = text if len(text) < 1200 else f"{text[:400]} [...] {text[-800:]}"
            self.errors.append({"what": what, "object": ref.hex(), "type": type(exc).__name__, "message": text})
            return False, None

    def settle(self, deadline: float) -> None:
        for what, ref, expected in self.items:
            ok, value = self.read(what, ref, deadline, transform=_comparable)
            if ok and value != expected:
                self.wrong.append(f"{what}: got {_short(value)}, expected {_short(expected)}")
        self.items.clear()
        for what, ref, or_value in self.cancelled:
            self.checked += 1
            try:
                value = ray.get(ref, timeout=max(1.0, deadline - time.monotonic()))
            except exceptions.TaskCancelledError:
                self.cancels_seen += 1
                continue
            except exceptions.RayError as exc:
                self.wrong.append(f"{what}: cancelled, yet it raised {type(exc).__name__}: {_short(str(exc))}")
                continue
            if or_value is CANCELLED or value != or_value:
                self.wrong.append(f"{what}: cancelled, yet it returned {_short(value)}")
        self.cancelled.clear()


def _comparable(value: Any) -> Any:
    return digest(value) if isinstance(value, np.ndarray) else value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 80 else text[:77] + "..."


def run(seed: int, max_faults: int, gate: Any) -> dict[str, Any]:
    rng = random.Random(f"workload-{seed}")
    retries = max_faults + 1  # more than the faults of a round: no task may run out of them
    ray.init()
    alive = {n["NodeManagerAddress"]: n["NodeID"] for n in ray.nodes() if n["Alive"]}
    missing = [h for h, ip in HOST_IPS.items() if ip not in alive]
    if missing:
        raise SystemExit(f"chaos driver: hosts {missing} have no live node (alive: {sorted(alive)})")
    nodes = {h: alive[ip] for h, ip in HOST_IPS.items()}
    hosts = list(nodes)
    emit("started", nodes=nodes)

    def near(host: str) -> Affinity:
        return Affinity(nodes[host], soft=True)

    task = {"max_retries": retries}
    checks, group_checks = Checks(), Checks()
    actors = []
    for _ in range(rng.randint(2, 3)):
        key = rng.randrange(1 << 30)
        handle = Keyed.options(max_restarts=retries, max_task_retries=retries, scheduling_strategy="SPREAD").remote(key)
        actors.append((key, handle))
    # A group whose bundles take half a CPU each; its tasks take a whole bundle, its actor a quarter.
    group = placement_group([{"CPU": 0.5}, {"CPU": 0.5}], strategy="SPREAD")
    in_group = PlacementGroupSchedulingStrategy(group)
    member_key = rng.randrange(1 << 30)
    member = Keyed.options(
        num_cpus=0.25, max_restarts=retries, max_task_retries=retries, scheduling_strategy=in_group
    ).remote(member_key)
    chains = []
    for c in range(rng.randint(2, 3)):
        n = rng.choice([250_000, 400_000])
        chains.append(
            {
                "expected": big_array(("chain", seed, c), n),
                "steps": 0,
                "ref": make_big.options(scheduling_strategy="SPREAD", **task).remote(
                    ("chain", seed, c), n, rng.uniform(0, 0.2)
                ),
            }
        )
    napper = Napper.options(max_restarts=retries, max_task_retries=retries).remote()
    to_cancel: list[tuple[str, Any, bool, bool]] = []  # (what, ref, force, recursive), cancelled next wave
    wrapped: list[tuple[Any, int, Any]] = []
    streams: list[tuple[str, Any, list[Any]]] = []  # (what, ObjectRefGenerator, expected items)
    puts: list[tuple[str, str, Any, int, Any]] = []  # (what, host asked for, task ref, n, key)

    def cancel_submitted() -> None:
        """Cancels what the previous wave submitted to be cancelled (queued, waiting or running by now)."""
        for what, ref, force, recursive in to_cancel:
            ray.cancel(ref, force=force, recursive=recursive)
            checks.expect_cancelled(what, ref)
        to_cancel.clear()

    waves = rng.randint(7, 9)
    for w in range(waves):
        cancel_submitted()
        if rng.random() < 0.7:
            force = rng.random() < 0.4
            long = hang.options(scheduling_strategy="SPREAD", **task).remote(HANG_S)
            to_cancel.append((f"hang of wave {w} (force={force})", long, force, True))
            if rng.random() < 0.5:  # waits for its argument, which never comes: cancelled first
                to_cancel.insert(0, (f"task after a hang of wave {w}", after.options(**task).remote(long), False, True))
        if rng.random() < 0.4:
            to_cancel.append(
                (f"parent of hanging children of wave {w}", hang_parent.options(**task).remote(2, retries), False, True)
            )
        if rng.random() < 0.4:
            to_cancel.append((f"async actor nap of wave {w}", napper.nap.remote(HANG_S), False, True))
        for _ in range(rng.randint(4, 8)):
            i = rng.randrange(1 << 40)
            checks.expect(
                f"compute {i}",
                compute.options(scheduling_strategy="SPREAD", **task).remote(i, rng.uniform(0.05, 0.4)),
                mix("compute", i),
            )
        for chain in chains:  # each wave adds one link; only the last ref is kept (lineage keeps the rest)
            k = rng.randrange(1 << 30)
            chain["expected"] = step_array(chain["expected"], k)
            chain["ref"] = chain_step.options(scheduling_strategy="SPREAD", **task).remote(
                chain["ref"], k, rng.uniform(0, 0.2)
            )
            chain["steps"] += 1
        key, n = ("big", seed, w), rng.choice([200_000, 500_000])
        src = rng.choice(hosts)
        big = make_big.options(scheduling_strategy=near(src), **task).remote(key, n, rng.uniform(0, 0.2))
        big_digest = digest(big_array(key, n))
        for dst in rng.sample(hosts, rng.randint(1, 3)):  # readers on other hosts pull copies
            checks.expect(
                f"digest on {dst} of big {key} made on {src}",
                digest_task.options(scheduling_strategy=near(dst), **task).remote(big, rng.uniform(0, 0.2)),
                big_digest,
            )
        akey, actor = rng.choice(actors)
        checks.expect(f"actor {akey} digest of big {key}", actor.digest_of.remote(big), big_digest)
        if rng.random() < 0.6:
            key, n = ("halves", seed, w), rng.choice([200_000, 400_000])
            h0, h1 = halves.options(scheduling_strategy="SPREAD", **task).remote(key, n)
            whole = big_array(key, n)
            checks.expect(f"first half of {key}", h0, digest(whole[: n // 2]))
            checks.expect(
                f"nested halves of {key}",
                joined_digest.options(scheduling_strategy="SPREAD", **task).remote([h0, h1]),
                digest(whole),
            )
            del h0, h1
        if rng.random() < 0.4:
            key, n = ("wrapped", seed, w), 300_000
            wrapped.append((key, n, wrapped_big.options(scheduling_strategy="SPREAD", **task).remote(key, n, retries)))
        if rng.random() < 0.6:  # generators: items taken at the end, long after they were yielded
            key, count, n = ("stream", seed, w), rng.randint(2, 5), rng.choice([100_000, 300_000])
            gen = stream_items.options(scheduling_strategy="SPREAD", **task).remote(key, count, n, rng.uniform(0, 0.1))
            expected = [digest(big_array((key, i), n if i % 2 else 1_000)) for i in range(count)]
            streams.append((f"stream {key}", gen, expected))
        if rng.random() < 0.4:
            akey, actor = rng.choice(actors)
            i, count = rng.randrange(1 << 30), rng.randint(2, 4)
            expected = [mix("actor stream", akey, i, j) for j in range(count)]
            streams.append((f"actor {akey} stream {i}", actor.stream.remote(i, count), expected))
        if w and rng.random() < 0.5:  # a read while the faults go on
            # what this wave submitted to hang until cancelled is cancelled first: with a host
            # killed and the placement group's bundles reserved, the hanging tasks can hold every
            # CPU left that fits the chain's next step, and the read would wait for the next
            # wave's cancels, which it holds back (seeds 2 and 3 waited for ever)
            cancel_submitted()
            c = rng.randrange(len(chains))
            ok, value = checks.read(
                f"chain {c} at step {chains[c]['steps']}",
                chains[c]["ref"],
                time.monotonic() + GET_TIMEOUT_S,
                transform=digest,
            )
            if ok and value != digest(chains[c]["expected"]):
                checks.wrong.append(f"chain {c} at step {chains[c]['steps']}: got digest {value}")
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(1 << 40)
            group_checks.expect(
                f"compute {i} in the placement group",
                compute.options(num_cpus=0.5, scheduling_strategy=in_group, **task).remote(i, rng.uniform(0.05, 0.3)),
                mix("compute", i),
            )
        i = rng.randrange(1 << 30)
        group_checks.expect(f"group member mixed {i}", member.mixed.remote(i), mix("actor", member_key, i))
        for _ in range(rng.randint(2, 5)):
            akey, actor = rng.choice(actors)
            i = rng.randrange(1 << 30)
            checks.expect(f"actor {akey} mixed {i}", actor.mixed.remote(i), mix("actor", akey, i))
        if rng.random() < 0.5:  # a call cancelled at once: dropped if it has not run, else its value stands
            akey, actor = rng.choice(actors)
            i = rng.randrange(1 << 30)
            ref = actor.mixed.remote(i)
            ray.cancel(ref)
            checks.expect_cancelled(f"actor {akey} mixed {i}, cancelled at once", ref, mix("actor", akey, i))
        i, width = rng.randrange(1 << 20), rng.randint(2, 4)
        fan_sum = sum(mix("compute", i * 100 + j) for j in range(width))
        checks.expect(f"fan {i}", fan.options(**task).remote(i, width, retries), fan_sum)
        if rng.random() < 0.5:
            akey, actor = rng.choice(actors)
            checks.expect(f"actor {akey} fan {i}", actor.fan.remote(i, width, retries), akey + fan_sum)
        for _ in range(rng.randint(0, 2)):
            host, n = rng.choice(hosts), rng.choice([20_000, 100_000])  # 160 KB or 800 KB: in the store
            key = ("put", seed, len(puts))
            puts.append(
                (
                    f"put {len(puts)} near {host}",
                    host,
                    make_put.options(scheduling_strategy=near(host), **task).remote(key, n),
                    n,
                    key,
                )
            )
        del big
        time.sleep(rng.uniform(0.5, 1.3))  # pacing: the faults land while waves are in flight
    cancel_submitted()
    for c, chain in enumerate(chains):
        expected = digest(chain["expected"])
        checks.expect(f"chain {c} ({chain['steps']} steps)", chain["ref"], expected)
        checks.expect(
            f"chain {c} digest in a task",
            digest_task.options(scheduling_strategy="SPREAD", **task).remote(chain["ref"], 0.0),
            expected,
        )
    deadline = time.monotonic() + GET_TIMEOUT_S
    group_checks.settle(deadline)
    if not group.wait(timeout_seconds=max(1.0, deadline - time.monotonic())):
        checks.wrong.append(f"placement group: {placement_group_table(group)['state']} at the end, not CREATED")
    remove_placement_group(group)
    deadline = time.monotonic() + GET_TIMEOUT_S
    for what, gen, expected in streams:
        taken = 0
        try:
            for value in expected:
                ref = gen._next_sync(timeout_s=max(1.0, deadline - time.monotonic()))
                if ref.is_nil():
                    checks.wrong.append(f"{what}: item {taken} did not come within the deadline")
                    break
                checks.expect(f"{what} item {taken}", ref, value)
                taken += 1
            else:
                gen._next_sync(timeout_s=max(1.0, deadline - time.monotonic()))
                checks.wrong.append(f"{what}: more items than the {taken} it yielded")
        except StopIteration:
            if taken < len(expected):
                checks.wrong.append(f"{what}: ended after {taken} of its {len(expected)} items")
    for key, n, ref in wrapped:
        ok, value = checks.read(f"wrapped {key} (outer task)", ref, deadline)
        if ok:
            checks.expect(f"wrapped {key} (inner task)", value[0], digest(big_array(key, n)))
    checks.settle(deadline)
    made = []
    for what, _host, ref, n, key in puts:
        ok, value = checks.read(f"{what} (its task)", ref, deadline)
        if ok:
            node, [put_ref] = value
            made.append((what, node, put_ref, n, key))
    emit("workload_done", checked=checks.checked + group_checks.checked)
    if gate.readline().strip() != "go":  # chaos.py has killed its host by now
        raise SystemExit("chaos driver: the injector closed the gate without saying go")
    deadline = time.monotonic() + GET_TIMEOUT_S
    put_report = []
    for what, node, put_ref, n, key in made:
        ok, value = checks.read(what, put_ref, deadline, transform=digest)
        if ok and value != digest(big_array(key, n)):
            checks.wrong.append(f"{what}: its content differs")
        put_report.append({"what": what, "node": node, "lost": not ok})
    return {
        "checked": checks.checked + group_checks.checked,
        "cancelled": checks.cancels_seen,
        "wrong": checks.wrong + group_checks.wrong,
        "errors": checks.errors + group_checks.errors,
        "puts": put_report,
        "nodes": nodes,
        "actors": len(actors),
        "chains": len(chains),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--max-faults", type=int, required=True, help="faults the round injects at most")
    opts = parser.parse_args()
    try:
        report = run(opts.seed, opts.max_faults, sys.stdin)
    except BaseException as exc:  # noqa: BLE001 - reported to chaos.py, which fails the round
        emit("crashed", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
        return 1
    emit("report", **report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
