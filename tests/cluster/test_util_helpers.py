"""ray.util.as_completed and map_unordered (raylite/util/helpers.py), as Ray 2.60's."""

from __future__ import annotations

import pytest

import raylite as ray
from raylite.util import as_completed, map_unordered


@ray.remote
def double(x):
    return 2 * x


@ray.remote
class Gate:
    """open() lets every wait_open() return (no sleeps: the test decides when a task finishes)."""

    def __init__(self):
        import asyncio

        self.opened = asyncio.Event()

    async def open(self):
        self.opened.set()

    async def wait_open(self):
        await self.opened.wait()


@ray.remote
def after(gate, value):
    ray.get(gate.wait_open.remote())
    return value


def test_as_completed_yields_what_finished_first_and_each_batch_in_given_order(cluster):
    gate = Gate.remote()
    slow, quick = after.remote(gate, "slow"), double.remote(21)
    results = as_completed([slow, quick], chunk_size=1)
    assert next(results) == 42  # slow's task is still held by the gate
    ray.get(gate.open.remote())
    assert list(results) == ["slow"]
    refs = [ray.put(i) for i in range(7)]
    assert list(as_completed(refs, chunk_size=3)) == list(range(7))  # all ready: batches keep the order
    assert list(as_completed(refs, yield_obj_refs=True)) == refs
    assert list(as_completed([])) == []


def test_as_completed_raises_a_tasks_error_when_its_batch_comes_and_checks_its_arguments_lazily(cluster):
    @ray.remote
    def fails():
        raise ValueError("from the task")

    with pytest.raises(ValueError, match="from the task"):
        list(as_completed([fails.remote()]))
    bad = as_completed([ray.put(1)], chunk_size=0)  # a generator, as Ray's: nothing checked until used
    with pytest.raises(ValueError, match="chunk_size must be >= 1"):
        next(bad)
    with pytest.raises(ValueError, match="pass chunk_size, not num_returns"):
        next(as_completed([ray.put(1)], num_returns=1))


def test_map_unordered_submits_no_more_than_backpressure_size_before_it_yields(cluster):
    consumed = []

    def items():
        for i in range(6):
            consumed.append(i)
            yield i

    results = map_unordered(double, items(), backpressure_size=2, chunk_size=1)
    first = next(results)
    assert len(consumed) == 2 and first in (0, 2)
    assert sorted([first, *results]) == [0, 2, 4, 6, 8, 10]
    assert sorted(map_unordered(double, range(25), backpressure_size=None)) == [2 * i for i in range(25)]
    refs = list(map_unordered(double, [5], yield_obj_refs=True))
    assert ray.get(refs) == [10]
    with pytest.raises(ValueError, match="backpressure_size must be positive"):
        next(map_unordered(double, [1], backpressure_size=0))
