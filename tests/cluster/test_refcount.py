"""Objects are freed once no reference remains anywhere, and not before."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import raylite as ray
from raylite.client import context

BIG = 20_000_000  # bytes: lives in the node's store, not inline


def store_files(cluster) -> list[Path]:
    """The objects in the node's store: a name each (a link into the arena, or a file of its own)."""
    folder = Path(f"/dev/shm/raylite-{cluster.address_info['node_id'][:16]}")
    return [p for p in folder.iterdir() if p.is_symlink() or (p.is_file() and len(p.name) == 40)]


@ray.remote
def noop():
    return None


def settle() -> None:
    """Returns once the head has applied this driver's ref changes and the node
    has carried out the resulting deletions (the node handles a message's frees
    before its tasks, so a task finishing afterwards proves they are done)."""
    context.current().flush()
    ray.get(noop.remote())


def test_dropped_objects_leave_the_store(cluster) -> None:
    settle()
    before = len(store_files(cluster))
    for i in range(10):
        ref = ray.put(np.full(BIG, i, dtype=np.uint8))
        assert ray.get(ref)[0] == i
        del ref
    settle()
    assert len(store_files(cluster)) == before


def test_results_nobody_holds_are_freed(cluster) -> None:
    @ray.remote
    def make(i):
        return np.full(BIG, i, dtype=np.uint8)

    settle()
    before = len(store_files(cluster))
    assert [int(ray.get(make.remote(i))[0]) for i in range(5)] == list(range(5))
    settle()
    assert len(store_files(cluster)) == before


def test_ref_kept_by_an_actor_outlives_the_driver_ref(cluster) -> None:
    @ray.remote
    class Keeper:
        def keep(self, refs):
            self.refs = refs  # nested refs arrive as refs
            return len(refs)

        def total(self):
            return int(ray.get(self.refs[0]).sum())

    keeper = Keeper.remote()
    ref = ray.put(np.ones(BIG, dtype=np.uint8))
    assert ray.get(keeper.keep.remote([ref])) == 1
    del ref
    settle()
    assert ray.get(keeper.total.remote()) == BIG


def test_refs_inside_a_stored_value_keep_their_objects(cluster) -> None:
    inner = ray.put(np.arange(BIG // 8))
    outer = ray.put({"inner": inner})
    del inner
    settle()
    assert int(ray.get(ray.get(outer)["inner"])[-1]) == BIG // 8 - 1


def test_task_argument_survives_the_callers_drop(cluster) -> None:
    @ray.remote
    def slow_sum(a):
        return int(a.sum())

    ref = ray.put(np.ones(BIG, dtype=np.uint8))
    result = slow_sum.remote(ref)
    del ref
    settle()
    assert ray.get(result) == BIG
