"""A node's store has a capacity: secondary copies are evicted, primaries spill to disk."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

import raylite as ray
from raylite import exceptions

CAPACITY = 1 << 30
OBJECT = 100 * (1 << 20)


@pytest.fixture(scope="module")
def small_store():
    info = ray.init(num_cpus=1, object_store_memory=CAPACITY)
    yield Path(f"/dev/shm/raylite-{info.address_info['node_id'][:16]}")
    ray.shutdown()


def shm_bytes(store_dir: Path) -> int:
    """Shared memory holding objects: allocated blocks of the arena (sparse past what it pre-faulted) and of
    objects in files of their own; not the bookkeeping files (.owner, arena.lock) or the links naming objects."""
    return sum(
        f.lstat().st_blocks * 512
        for f in store_dir.iterdir()
        if not f.is_symlink() and not f.name.startswith(".") and f.name != "arena.lock"
    )


def test_three_gib_through_a_one_gib_store(small_store) -> None:
    refs = []
    peak = 0
    for i in range(30):  # 3 GB of distinct arrays
        refs.append(ray.put(np.full(OBJECT, i, dtype=np.uint8)))
        peak = max(peak, shm_bytes(small_store))
    assert peak <= CAPACITY, f"store held {peak} bytes in shared memory, capacity {CAPACITY}"
    spill_dir = Path(os.environ.get("RAYLITE_TMPDIR", f"/tmp/raylite-{os.getuid()}")) / "spill"
    assert any(spill_dir.rglob("*")), "nothing was spilled to disk"
    for i, ref in enumerate(refs):  # read back, restoring from disk
        arr = ray.get(ref)
        assert (
            arr.shape == (OBJECT,) and arr[0] == i and arr[-1] == i and int(arr[::4096].sum()) == i * len(arr[::4096])
        )
        del arr
        peak = max(peak, shm_bytes(small_store))
    assert peak <= CAPACITY


def test_tasks_read_spilled_arguments(small_store) -> None:
    @ray.remote
    def first_last(a):
        return int(a[0]), int(a[-1])

    refs = [ray.put(np.full(OBJECT, i, dtype=np.uint8)) for i in range(12)]
    assert ray.get([first_last.remote(r) for r in refs]) == [(i, i) for i in range(12)]


HOW_TO_FIT = (
    r"larger than the node's object store \(1073741824 bytes\), so it can never be stored there: give the node a "
    r"larger store \(`raylite start --object-store-memory BYTES`, or `ray.init\(object_store_memory=BYTES\)`"
)


def test_object_larger_than_the_store_is_refused(small_store) -> None:
    with pytest.raises(exceptions.ObjectStoreFullError, match=HOW_TO_FIT):
        ray.put(np.zeros(CAPACITY + 1, dtype=np.uint8))


def test_task_result_larger_than_the_store_raises_at_get(small_store) -> None:
    @ray.remote
    def too_big():
        return np.zeros(CAPACITY + 1, dtype=np.uint8)

    with pytest.raises(
        exceptions.ObjectStoreFullError, match="the value .*too_big returned cannot be stored: "
    ) as info:
        ray.get(too_big.remote(), timeout=60)
    assert re.search(HOW_TO_FIT, str(info.value))


def test_room_reserved_by_an_executor_that_died_before_writing_is_given_back(small_store, tmp_path) -> None:
    """An executor reserves room for a result or a put, then is SIGKILLed before its
    bytes are written: the reservation must not hold the store's room for ever."""
    import signal
    import time

    pid_file = tmp_path / "pid"

    @ray.remote(max_retries=0)
    def reserve_then_hang(path):
        from raylite.client import context

        context.current().reserve(b"never-written".ljust(20, b"."), CAPACITY - OBJECT // 2)
        with open(path, "w") as f:
            f.write(str(os.getpid()))
        time.sleep(600)  # killed here, its bytes never written

    ref = reserve_then_hang.remote(str(pid_file))
    deadline = time.monotonic() + 60
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline, "the task never reserved its room"
        time.sleep(0.05)
    os.kill(int(pid_file.read_text()), signal.SIGKILL)
    with pytest.raises(exceptions.WorkerCrashedError):
        ray.get(ref, timeout=60)
    # needs the room the dead executor had reserved
    assert ray.get(ray.put(np.full(OBJECT, 7, dtype=np.uint8)), timeout=60)[-1] == 7
