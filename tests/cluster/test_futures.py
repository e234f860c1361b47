"""ObjectRefs as futures: ref.future(), `await ref`, asyncio.gather over refs (Ray's semantics)."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

import raylite as ray


@ray.remote
def double(x: int) -> int:
    return 2 * x


@ray.remote
def fail() -> None:
    raise ValueError("it failed")


@ray.remote
class Adder:
    async def add_one(self, refs: list) -> int:
        return await refs[0] + 1


def test_future_resolves_to_the_value(cluster: dict) -> None:
    assert double.remote(21).future().result(timeout=30) == 42


def test_future_of_a_dropped_put_keeps_the_object_alive(cluster: dict) -> None:
    future = ray.put(np.arange(100_000)).future()  # the ref is gone at once; the future holds it
    assert future.result(timeout=30).sum() == np.arange(100_000).sum()


def test_future_raises_the_task_error(cluster: dict) -> None:
    future = fail.remote().future()
    with pytest.raises(ValueError, match="it failed") as info:
        future.result(timeout=30)
    assert isinstance(info.value, ray.exceptions.RayTaskError)


def test_future_does_not_block_a_thread_while_pending(cluster: dict) -> None:
    before = threading.active_count()
    futures = [double.remote(i).future() for i in range(50)]
    assert [f.result(timeout=30) for f in futures] == [2 * i for i in range(50)]
    assert threading.active_count() - before <= 4  # the resolver threads, not one per future


def test_await_and_gather_in_a_coroutine(cluster: dict) -> None:
    async def main() -> tuple:
        one = await double.remote(1)
        many = await asyncio.gather(*[double.remote(i) for i in range(5)])
        with pytest.raises(ValueError):
            await fail.remote()
        return one, many

    assert asyncio.run(main()) == (2, [0, 2, 4, 6, 8])


def test_await_inside_an_async_actor(cluster: dict) -> None:
    adder = Adder.remote()
    assert ray.get(adder.add_one.remote([double.remote(5)]), timeout=30) == 11
