"""Generator tasks on a real cluster: streaming, errors, retries, backpressure, dynamic, refcounts."""

from __future__ import annotations

import asyncio
import os

import numpy as np
import pytest

import raylite as ray
from raylite import exceptions
from tests.cluster.test_refcount import BIG, settle, store_files


@ray.remote
class Log:
    """Records what a generator and its caller did, in order; lets one wait for the other."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int]] = []
        self.changed = asyncio.Condition()

    async def add(self, kind: str, i: int) -> None:
        async with self.changed:
            self.events.append((kind, i))
            self.changed.notify_all()

    async def wait_for(self, kind: str, count: int) -> int:
        async with self.changed:
            await self.changed.wait_for(lambda: sum(1 for k, _ in self.events if k == kind) >= count)
        return count

    async def all(self) -> list[tuple[str, int]]:
        return list(self.events)


def test_items_reach_the_caller_while_the_generator_runs(cluster) -> None:
    log = Log.remote()

    @ray.remote
    def paced(log, n):
        for i in range(n):
            yield i
            # the next item waits until the caller has this one: only a stream gets past here
            ray.get(log.wait_for.remote("took", i + 1))

    gen = paced.remote(log, 3)
    assert type(gen).__name__ == "ObjectRefGenerator"
    for i in range(3):
        assert ray.get(next(gen), timeout=60) == i
        ray.get(log.add.remote("took", i))
    with pytest.raises(StopIteration):
        next(gen)
    assert gen.is_finished()
    assert ray.get(gen.completed(), timeout=60) is None


def test_an_error_arrives_after_the_items_before_it(cluster) -> None:
    @ray.remote(max_retries=0)
    def breaks(n):
        for i in range(n):
            if i == 2:
                raise KeyError("at two")
            yield i

    gen = breaks.remote(5)
    assert [ray.get(next(gen), timeout=60) for _ in range(2)] == [0, 1]
    failed = next(gen)
    with pytest.raises(KeyError) as info:
        ray.get(failed, timeout=60)
    assert isinstance(info.value, exceptions.RayTaskError)
    with pytest.raises(StopIteration):
        next(gen)
    assert ray.get(gen.completed(), timeout=60) is None  # as Ray's: the stream itself ended


def test_a_generator_whose_worker_dies_is_retried_from_where_it_left(cluster, tmp_path) -> None:
    marker = tmp_path / "died-once"

    @ray.remote(max_retries=1)
    def dies_once(path, n):
        for i in range(n):
            if i == 2 and not os.path.exists(path):
                open(path, "w").close()
                os._exit(1)
            yield i * 10

    assert [ray.get(r, timeout=60) for r in dies_once.remote(str(marker), 4)] == [0, 10, 20, 30]
    assert marker.exists()


def test_a_retryable_error_runs_the_generator_again(cluster, tmp_path) -> None:
    marker = tmp_path / "raised-once"

    @ray.remote(max_retries=2, retry_exceptions=[ValueError])
    def raises_once(path):
        yield "a"
        if not os.path.exists(path):
            open(path, "w").close()
            raise ValueError("first attempt")
        yield "b"

    assert [ray.get(r, timeout=60) for r in raises_once.remote(str(marker))] == ["a", "b"]


def test_a_retry_skips_the_items_reported_before_and_yields_the_rest(cluster) -> None:
    log = Log.remote()

    @ray.remote(max_retries=2, retry_exceptions=True)
    def flaky(log):
        ray.get(log.add.remote("attempt", 0))
        attempt = sum(1 for kind, _ in ray.get(log.all.remote()) if kind == "attempt")
        for i in range(3):
            if attempt == 1 and i == 1:
                ray.get(log.wait_for.remote("took", 1))
            if attempt == 1 and i == 2:
                raise ValueError("fails once")
            yield (attempt, i)

    gen = flaky.remote(log)
    first = ray.get(next(gen), timeout=60)
    ray.get(log.add.remote("took", 0))
    # as Ray 2.60 does: items the first attempt reported stay; the retry's only add to them
    assert [first] + [ray.get(r, timeout=60) for r in gen] == [(1, 0), (1, 1), (2, 2)]


def test_a_generator_whose_worker_dies_with_no_retries_left_ends_with_the_error(cluster) -> None:
    log = Log.remote()

    @ray.remote(max_retries=0)
    def dies(log):
        yield 1
        ray.get(log.wait_for.remote("took", 1))  # (an item still in the executor's outbox dies with it)
        os._exit(1)

    gen = dies.remote(log)
    assert ray.get(next(gen), timeout=60) == 1
    ray.get(log.add.remote("took", 0))
    with pytest.raises(exceptions.WorkerCrashedError):
        ray.get(next(gen), timeout=60)
    with pytest.raises(StopIteration):
        next(gen)


def test_backpressure_keeps_the_generator_at_most_n_items_ahead(cluster) -> None:
    log = Log.remote()

    @ray.remote(_generator_backpressure_num_objects=2)
    def eager(log, n):
        for i in range(n):
            ray.get(log.add.remote("made", i))
            yield i

    gen = eager.remote(log, 6)
    for i in range(6):
        ray.get(log.wait_for.remote("made", min(i + 2, 6)), timeout=60)  # as far as it may run ahead
        assert ray.get(next(gen), timeout=60) == i
        ray.get(log.add.remote("took", i))
    with pytest.raises(StopIteration):
        next(gen)
    ahead = 0
    for kind, _ in ray.get(log.all.remote()):
        ahead += 1 if kind == "made" else -1
        assert ahead <= 3, "the generator ran more than 2 items ahead of its caller (+1 being made)"


def test_a_dropped_generator_no_longer_holds_back_its_task(cluster) -> None:
    log = Log.remote()

    @ray.remote(_generator_backpressure_num_objects=1)
    def many(log, n):
        yield from range(n)
        ray.get(log.add.remote("done", n))

    gen = many.remote(log, 10)
    assert ray.get(next(gen), timeout=60) == 0
    del gen
    assert ray.get(log.wait_for.remote("done", 1), timeout=60) == 1


def test_items_are_freed_once_the_generator_and_their_refs_are_gone(cluster) -> None:
    @ray.remote
    def arrays(n):
        for i in range(n):
            yield np.full(BIG, i, dtype=np.uint8)

    settle()
    before = len(store_files(cluster))
    gen = arrays.remote(4)
    first = next(gen)
    assert ray.get(first, timeout=60)[0] == 0
    ray.get(gen.completed(), timeout=60)
    del gen  # three items were never taken
    settle()
    assert len(store_files(cluster)) == before + 1  # only the one still referenced
    del first
    settle()
    assert len(store_files(cluster)) == before


def test_an_async_generator_function_streams_as_a_task(cluster) -> None:
    @ray.remote
    async def ticks(n):
        for i in range(n):
            await asyncio.sleep(0)
            yield i

    assert [ray.get(r, timeout=60) for r in ticks.remote(3)] == [0, 1, 2]


def test_item_refs_can_be_passed_to_other_tasks(cluster) -> None:
    @ray.remote
    def chunks(n):
        for i in range(n):
            yield np.arange(i + 1)

    @ray.remote
    def total(chunk):
        return int(chunk.sum())

    assert ray.get([total.remote(r) for r in chunks.remote(4)], timeout=60) == [0, 1, 3, 6]


def test_dynamic_returns_a_ref_to_the_refs(cluster) -> None:
    @ray.remote(num_returns="dynamic")
    def split(n):
        for i in range(n):
            yield np.full(BIG // 4, i, dtype=np.uint8) if i == 0 else i

    ref = split.remote(3)
    assert isinstance(ref, ray.ObjectRef)
    gen = ray.get(ref, timeout=60)
    assert isinstance(gen, ray.DynamicObjectRefGenerator) and len(gen) == 3
    refs = list(gen)
    del gen, ref
    values = ray.get(refs, timeout=60)
    assert values[0][0] == 0 and values[1:] == [1, 2]


def test_a_generator_with_a_fixed_number_of_returns(cluster) -> None:
    @ray.remote(num_returns=2)
    def pair():
        yield "x"
        yield "y"

    @ray.remote(num_returns=2)
    def three():
        yield from range(3)

    @ray.remote(num_returns=2)
    def one():
        yield 1

    assert ray.get(list(pair.remote()), timeout=60) == ["x", "y"]
    assert ray.get(list(three.remote()), timeout=60) == [0, 1]  # as Ray's: the rest is reported, not raised
    with pytest.raises(exceptions.RayTaskError, match="num_returns=2"):
        ray.get(list(one.remote()), timeout=60)


def test_streaming_is_refused_for_a_function_that_is_not_a_generator() -> None:
    def plain():
        return 1

    with pytest.raises(ValueError, match="generator"):
        ray.remote(num_returns="streaming")(plain)


def test_actor_generators_sync_async_and_waited_on(cluster) -> None:
    @ray.remote
    class Source:
        def count(self, n):
            yield from range(n)

        async def ticks(self, n):
            for i in range(n):
                await asyncio.sleep(0)
                yield f"t{i}"

    s = Source.remote()
    gen = s.count.remote(3)
    ready, _ = ray.wait([gen], timeout=60)
    assert ready == [gen]
    assert [ray.get(r, timeout=60) for r in gen] == [0, 1, 2]

    async def consume():
        return [await r async for r in s.ticks.remote(3)]

    assert asyncio.run(consume()) == ["t0", "t1", "t2"]


def test_a_generator_cannot_be_passed_to_a_task(cluster) -> None:
    @ray.remote
    def g():
        yield 1

    @ray.remote
    def take(x):
        return x

    gen = g.remote()
    with pytest.raises(Exception, match="ObjectRefGenerator"):
        take.remote(gen)
    assert [ray.get(r, timeout=60) for r in gen] == [1]
