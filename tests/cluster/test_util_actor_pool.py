"""raylite.util.ActorPool with Ray's semantics, on a local cluster."""

from __future__ import annotations

import asyncio
import os

import pytest

import raylite as ray
from raylite import exceptions
from raylite.util import ActorPool


@ray.remote
class Signal:
    """Calls of wait() return once send() was called: lets a test hold a call back."""

    def __init__(self):
        self.event = asyncio.Event()

    async def wait(self):
        await self.event.wait()
        return True

    async def send(self):
        self.event.set()


@ray.remote
class Worker:
    def double(self, v):
        if v == "bad":
            raise ValueError("cannot double 'bad'")
        return 2 * v

    def held(self, signal, v):
        ray.get(signal.wait.remote())
        return v

    def pair(self, v):
        return v, -v

    def die(self, _):
        os._exit(1)


def double(actor, v):
    return actor.double.remote(v)


def test_map_returns_results_in_order_of_values(cluster):
    pool = ActorPool([Worker.remote(), Worker.remote()])
    assert list(pool.map(double, [1, 2, 3, 4, 5])) == [2, 4, 6, 8, 10]
    assert not pool.has_next() and pool.has_free()
    assert ray.util.ActorPool is ActorPool  # ray.util.ActorPool after `import raylite as ray`


def test_map_unordered_yields_the_first_finished_first(cluster):
    signal = Signal.remote()
    pool = ActorPool([Worker.remote(), Worker.remote()])
    results = pool.map_unordered(
        lambda a, v: a.held.remote(signal, v) if v == "slow" else a.double.remote(v), ["slow", 5]
    )
    assert next(results) == 10
    signal.send.remote()
    assert list(results) == ["slow"]


def test_submitted_values_wait_for_a_free_actor_and_come_back_in_order(cluster):
    pool = ActorPool([Worker.remote(), Worker.remote()])
    for v in range(6):
        pool.submit(double, v)
    assert not pool.has_free()  # both actors busy, four values waiting
    assert pool.has_next()
    assert [pool.get_next() for _ in range(6)] == [0, 2, 4, 6, 8, 10]
    assert not pool.has_next()
    assert pool.has_free()


def test_get_next_with_nothing_pending_raises_stop_iteration(cluster):
    pool = ActorPool([Worker.remote()])
    with pytest.raises(StopIteration, match="No more results to get"):
        pool.get_next()
    with pytest.raises(StopIteration, match="No more results to get"):
        pool.get_next_unordered()


def test_get_next_timeout_leaves_the_call_pending(cluster):
    signal = Signal.remote()
    pool = ActorPool([Worker.remote()])
    pool.submit(lambda a, v: a.held.remote(signal, v), "late")
    with pytest.raises(TimeoutError, match="^Timed out waiting for result$"):
        pool.get_next(timeout=0.2)
    with pytest.raises(TimeoutError, match="^Timed out waiting for result$"):
        pool.get_next_unordered(timeout=0.2)
    assert pool.has_next() and not pool.has_free()
    signal.send.remote()
    assert pool.get_next() == "late"
    assert pool.has_free()


def test_get_next_ignore_if_timedout_drops_the_call_and_frees_its_actor(cluster):
    signal = Signal.remote()
    pool = ActorPool([Worker.remote()])
    pool.submit(lambda a, v: a.held.remote(signal, v), "late")
    pool.submit(double, 4)  # waits for the only actor
    with pytest.raises(TimeoutError, match="has been ignored"):
        pool.get_next(timeout=0.2, ignore_if_timedout=True)
    # the actor went back to the pool, which started the waiting value on it
    assert pool.has_next()
    signal.send.remote()
    assert pool.get_next() == 8
    assert not pool.has_next() and pool.has_free()


def test_get_next_unordered_ignore_if_timedout_drops_the_oldest_call(cluster):
    signal = Signal.remote()
    pool = ActorPool([Worker.remote(), Worker.remote()])
    pool.submit(lambda a, v: a.held.remote(signal, v), "first")
    pool.submit(lambda a, v: a.held.remote(signal, v), "second")
    with pytest.raises(TimeoutError, match="has been ignored"):
        pool.get_next_unordered(timeout=0.2, ignore_if_timedout=True)
    signal.send.remote()
    assert pool.get_next_unordered() == "second"
    assert not pool.has_next()


def test_an_error_in_a_call_raises_at_its_get_next_and_the_pool_goes_on(cluster):
    pool = ActorPool([Worker.remote(), Worker.remote()])
    results = pool.map(double, [1, "bad", 3, 4])
    assert next(results) == 2
    with pytest.raises(ValueError, match="cannot double 'bad'") as info:
        next(results)
    assert isinstance(info.value, exceptions.RayTaskError)
    # map's generator ends with the error (as any generator does); the rest can still be taken
    assert [pool.get_next(), pool.get_next()] == [6, 8]
    assert pool.has_free()
    assert list(pool.map(double, [7])) == [14]


def test_an_error_in_get_next_unordered_is_raised_too(cluster):
    pool = ActorPool([Worker.remote()])
    pool.submit(double, "bad")
    with pytest.raises(ValueError, match="cannot double 'bad'"):
        pool.get_next_unordered()
    assert pool.has_free()


def test_a_dead_actor_raises_and_leaves_the_pool(cluster):
    pool = ActorPool([Worker.remote()])
    pool.submit(lambda a, v: a.die.remote(v), None)
    with pytest.raises(exceptions.ActorDiedError):
        pool.get_next()
    assert not pool.has_free() and pool.pop_idle() is None
    pool.push(Worker.remote())
    assert list(pool.map(double, [1, 2])) == [2, 4]


def test_get_next_after_get_next_unordered_went_past_it_is_refused(cluster):
    signal = Signal.remote()
    pool = ActorPool([Worker.remote(), Worker.remote()])
    pool.submit(lambda a, v: a.held.remote(signal, v), "held")
    pool.submit(double, 5)
    assert pool.get_next_unordered() == 10  # the second call's result, taken before the first's
    with pytest.raises(ValueError, match=r"not allowed to call get_next\(\) after get_next_unordered\(\)"):
        pool.get_next()
    signal.send.remote()
    assert pool.get_next_unordered() == "held"
    assert not pool.has_next()


def test_pop_idle_and_push(cluster):
    signal = Signal.remote()
    a, b = Worker.remote(), Worker.remote()
    pool = ActorPool([a, b])
    pool.submit(lambda actor, v: actor.held.remote(signal, v), "x")
    idle = pool.pop_idle()
    assert idle in (a, b)
    assert pool.pop_idle() is None  # the other one is busy
    with pytest.raises(ValueError, match="Actor already belongs to current ActorPool"):
        pool.push(b if idle == a else a)  # the busy one
    pool.push(idle)
    with pytest.raises(ValueError, match="Actor already belongs to current ActorPool"):
        pool.push(idle)
    signal.send.remote()
    assert pool.get_next() == "x"


def test_push_starts_a_waiting_value_at_once(cluster):
    pool = ActorPool([])
    pool.submit(double, 21)
    assert not pool.has_next() and not pool.has_free()  # nothing can run it yet
    pool.push(Worker.remote())
    assert pool.get_next() == 42


def test_a_call_with_several_returns_gives_a_list(cluster):
    pool = ActorPool([Worker.remote()])
    pool.submit(lambda a, v: a.pair.options(num_returns=2).remote(v), 3)
    assert pool.get_next() == [3, -3]


def test_map_drops_results_of_earlier_submissions_nobody_took(cluster):
    pool = ActorPool([Worker.remote(), Worker.remote()])
    pool.submit(double, 100)
    pool.submit(double, "bad")
    assert list(pool.map(double, [1, 2, 3])) == [2, 4, 6]
    assert list(pool.map_unordered(double, [])) == []


def test_fn_that_raises_keeps_the_actor_and_a_waiting_one_raises_at_its_get(cluster):
    def broken(actor, v):
        raise RuntimeError(f"broken fn on {v}")

    pool = ActorPool([Worker.remote()])
    with pytest.raises(RuntimeError, match="broken fn on 0"):
        pool.submit(broken, 0)
    assert pool.has_free()  # the actor was not lost
    pool.submit(double, 1)
    pool.submit(broken, 2)  # waits for the actor; fn runs when the first result is taken
    pool.submit(double, 3)
    assert pool.get_next() == 2
    with pytest.raises(RuntimeError, match="broken fn on 2"):
        pool.get_next()
    assert pool.get_next() == 6
    assert not pool.has_next() and pool.has_free()
