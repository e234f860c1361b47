"""raylite.util.queue.Queue with Ray's semantics, on a local cluster."""

from __future__ import annotations

import asyncio
import pickle
import queue as stdlib_queue
import time

import pytest

import raylite as ray
from raylite import exceptions
from raylite.util.queue import Empty, Full, Queue


def test_fifo_with_sizes(cluster):
    q = Queue(maxsize=3)
    assert (len(q), q.size(), q.qsize(), q.empty(), q.full()) == (0, 0, 0, True, False)
    for item in ["a", {"b": 1}, 3]:
        q.put(item)
    assert (len(q), q.size(), q.qsize(), q.empty(), q.full()) == (3, 3, 3, False, True)
    assert [q.get(), q.get(), q.get()] == ["a", {"b": 1}, 3]
    assert q.maxsize == 3
    unbounded = Queue()
    unbounded.put_nowait_batch(range(500))
    assert not unbounded.full() and unbounded.qsize() == 500


def test_empty_and_full_are_the_standard_librarys_errors():
    assert issubclass(Empty, stdlib_queue.Empty) and issubclass(Full, stdlib_queue.Full)


def test_get_from_an_empty_queue_raises_empty(cluster):
    q = Queue()
    with pytest.raises(Empty):
        q.get_nowait()
    with pytest.raises(Empty):
        q.get(block=False)
    started = time.monotonic()
    with pytest.raises(Empty):
        q.get(timeout=0.3)
    assert time.monotonic() - started >= 0.3
    with pytest.raises(Empty):
        q.get(timeout=0)
    q.put(1)
    assert q.get(timeout=0) == 1  # an item that is there is taken even with no time to wait


def test_put_into_a_full_queue_raises_full(cluster):
    q = Queue(maxsize=1)
    q.put("only")
    with pytest.raises(Full):
        q.put_nowait("more")
    with pytest.raises(Full):
        q.put("more", block=False)
    started = time.monotonic()
    with pytest.raises(Full):
        q.put("more", timeout=0.3)
    assert time.monotonic() - started >= 0.3
    assert q.get() == "only" and q.empty()


def test_negative_timeouts_are_refused(cluster):
    q = Queue()
    with pytest.raises(ValueError, match="'timeout' must be a non-negative number"):
        q.get(timeout=-1)
    with pytest.raises(ValueError, match="'timeout' must be a non-negative number"):
        q.put(1, timeout=-1)


def test_batches_are_all_or_nothing(cluster):
    q = Queue(maxsize=3)
    q.put_nowait_batch([1, 2])
    with pytest.raises(Full, match="cannot put 2 items into a queue holding 2 of at most 3"):
        q.put_nowait_batch([3, 4])
    assert q.qsize() == 2
    with pytest.raises(Empty, match="cannot get 3 items from a queue holding 2"):
        q.get_nowait_batch(3)
    assert q.qsize() == 2
    assert q.get_nowait_batch(0) == []
    assert q.get_nowait_batch(2) == [1, 2]
    with pytest.raises(TypeError, match="Argument 'items' must be an Iterable"):
        q.put_nowait_batch(5)
    with pytest.raises(TypeError, match="Argument 'num_items' must be an int"):
        q.get_nowait_batch("2")
    with pytest.raises(ValueError, match="'num_items' must be nonnegative"):
        q.get_nowait_batch(-1)


@ray.remote
def consume(q, n):
    return [q.get(timeout=60) for _ in range(n)]


@ray.remote
def produce(q, items):
    for item in items:
        q.put(item)
    return "done"


def test_a_blocked_get_wakes_when_an_item_arrives(cluster):
    q = Queue()
    ref = consume.remote(q, 1)
    ready, _ = ray.wait([ref], timeout=0.5)
    assert not ready  # waiting for an item
    q.put("hello")
    assert ray.get(ref) == ["hello"]


def test_a_blocked_put_waits_for_room(cluster):
    q = Queue(maxsize=1)
    q.put("first")
    ref = produce.remote(q, ["second"])
    ready, _ = ray.wait([ref], timeout=0.5)
    assert not ready  # waiting for room
    assert q.get() == "first"
    assert ray.get(ref) == "done"
    assert q.get() == "second"


def test_producer_and_consumer_tasks_through_a_small_queue(cluster):
    q = Queue(maxsize=2)
    consumer = consume.remote(q, 20)
    producer = produce.remote(q, list(range(20)))
    assert ray.get([producer, consumer]) == ["done", list(range(20))]


@ray.remote
class Holder:
    def __init__(self, q):
        self.q = q

    def put(self, item):
        self.q.put(item)
        return self.q.qsize()

    async def get_async(self):
        return await self.q.get_async(timeout=60)


def test_actors_use_a_queue_given_to_them(cluster):
    q = Queue()
    holder = Holder.remote(q)
    assert ray.get(holder.put.remote("x")) == 1
    assert q.get() == "x"
    waiting = holder.get_async.remote()
    q.put("y")
    assert ray.get(waiting) == "y"


def test_a_queue_made_in_a_task_can_be_returned(cluster):
    @ray.remote
    def make():
        q = Queue(maxsize=5)
        q.put(42)
        return q

    q = ray.get(make.remote())
    assert q.maxsize == 5 and q.get(timeout=30) == 42
    assert pickle.loads(pickle.dumps(q)).qsize() == 0


def test_async_put_and_get(cluster):
    q = Queue(maxsize=1)

    async def main():
        await q.put_async("a")
        with pytest.raises(Full):
            await q.put_async("b", block=False)
        with pytest.raises(Full):
            await q.put_async("b", timeout=0.2)
        got = await q.get_async()
        with pytest.raises(Empty):
            await q.get_async(block=False)
        with pytest.raises(Empty):
            await q.get_async(timeout=0.2)
        waiting = asyncio.ensure_future(q.get_async())  # blocks without blocking the loop
        await q.put_async("c")
        return got, await waiting

    assert asyncio.run(main()) == ("a", "c")


def test_actor_options_reach_the_queue_actor(cluster):
    total = ray.cluster_resources()["CPU"]
    q = Queue(actor_options={"num_cpus": 1})
    q.put(1)  # the actor exists once it answered
    assert ray.available_resources().get("CPU", 0) == total - 1
    q.shutdown()


def test_shutdown_ends_the_actor(cluster):
    q = Queue()
    waiting = consume.remote(q, 1)
    q.put_nowait_batch([])  # the actor exists
    q.shutdown()
    with pytest.raises(RuntimeError, match="shut down"):
        q.put(1)
    q.shutdown()  # a second time does nothing
    with pytest.raises(exceptions.ActorDiedError):
        ray.get(waiting)
