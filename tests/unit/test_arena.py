"""The node's arena through NodeStore: ranges, seals, pins that defer frees, spills (asyncio, a temporary folder)."""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from raylite import store
from raylite.serialization import serialize
from raylite.worker.object_store import NodeStore
from raylite.worker.state.store_index import DISK

MiB = 1 << 20


def oid(n: int) -> bytes:
    return n.to_bytes(20, "big")


@pytest.fixture
def node_store(tmp_path: Path):
    made = []

    def make(capacity: int = 64 * MiB) -> NodeStore:
        made.append(NodeStore(str(tmp_path / "shm"), str(tmp_path / "spill"), capacity, on_copy_removed=lambda _: None))
        return made[-1]

    yield make
    for s in made:
        s.close()


async def put(node_store: NodeStore, n: int, value: object) -> int:
    s = serialize(value)
    got = await node_store.reserve(oid(n), s.size, primary=True)
    assert got is not None
    store.write(node_store.store_dir, oid(n), s, got.offset)
    node_store.written(oid(n))
    return got.offset


async def until(condition, what: str) -> None:
    for _ in range(2000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"timed out waiting until {what}")


async def test_an_array_is_written_once_and_read_in_place_read_only_and_aligned(node_store) -> None:
    s = node_store()
    await put(s, 1, np.arange(1 << 18, dtype=np.float64))
    out = store.read(s.store_dir, oid(1))
    assert np.array_equal(out, np.arange(1 << 18)) and not out.flags.writeable and out.ctypes.data % 64 == 0
    assert sorted(os.listdir(s.store_dir)) == sorted([".owner", "arena", "arena.lock", oid(1).hex()])


async def test_a_reserved_object_is_invisible_until_sealed(node_store) -> None:
    s = node_store()
    data = serialize(np.ones(100_000))
    got = await s.reserve(oid(1), data.size, primary=True)
    assert got is not None
    data.write_at(store.handle(s.store_dir).fd, got.offset)
    assert not store.contains(s.store_dir, oid(1))
    with pytest.raises(FileNotFoundError):
        store.read(s.store_dir, oid(1))
    store.seal(s.store_dir, oid(1), got.offset, data.size)
    assert store.read(s.store_dir, oid(1)).sum() == 100_000


async def test_open_for_write_and_seal(node_store) -> None:
    s = node_store()
    payload = serialize(b"z" * 300_000).to_bytes()
    await s.reserve(oid(1), len(payload), primary=True)
    view = s.open_for_write(oid(1), len(payload))
    view[:] = payload
    s.seal(oid(1), len(payload))
    assert store.read(s.store_dir, oid(1)) == b"z" * 300_000
    assert not s.index.entries[oid(1)].pinned


async def test_a_transfer_cut_halfway_leaves_nothing_readable_and_the_next_holder_fills_the_range(
    node_store,
) -> None:
    """What a bulk pull does (raylite/worker/service.py: Transfers._fetch_bulk): write into the view,
    abort_write on a failure, try again, publish; the object appears only at publish."""
    s = node_store()
    payload = serialize(b"q" * 500_000).to_bytes()
    await s.reserve(oid(1), len(payload), primary=False)
    view = s.open_for_write(oid(1), len(payload))
    view[:1000] = payload[:1000]
    view.release()
    s.abort_write(oid(1))
    assert not store.contains(s.store_dir, oid(1))
    view = s.open_for_write(oid(1), len(payload))
    view[:] = payload
    view.release()
    s.publish(oid(1), len(payload))
    s.written(oid(1))
    assert store.read(s.store_dir, oid(1)) == b"q" * 500_000


async def test_a_range_a_reader_maps_is_not_reused_until_its_views_go(node_store) -> None:
    s = node_store()
    first = await put(s, 1, np.full(MiB, 7, dtype=np.uint8))
    held = store.read(s.store_dir, oid(1))
    s.delete(oid(1))
    assert not store.contains(s.store_dir, oid(1)) and s.arena.deferred
    assert await put(s, 2, np.zeros(MiB, dtype=np.uint8)) != first  # the held range is not handed out
    assert held[0] == 7 and held[-1] == 7  # the reader still sees its object
    del held
    gc.collect()
    await until(lambda: not s.arena.deferred, "the last view went and the range was freed")
    s.delete(oid(2))
    assert await put(s, 3, np.zeros(MiB, dtype=np.uint8)) == first
    s.arena.allocator.validate()


async def test_a_second_read_of_a_pinned_object_reuses_the_pin_and_the_last_view_lets_go(node_store) -> None:
    s = node_store()
    await put(s, 1, np.full(MiB, 5, dtype=np.uint8))
    handle = store.handle(s.store_dir)
    first = store.read(s.store_dir, oid(1))
    path = store.object_path(s.store_dir, oid(1))
    offset = store.locate(path)[0]
    os.unlink(path)  # the name is not read again while this process pins the range
    second = store.read(s.store_dir, oid(1))
    assert handle.pins[offset] == 2 and second[0] == 5 and not second.flags.writeable
    del first, second
    gc.collect()
    assert offset not in handle.pins and path not in handle.known  # pin and cached name both gone
    with pytest.raises(FileNotFoundError):
        store.read(s.store_dir, oid(1))


def test_a_closed_store_gives_its_reader_map_back_once_the_last_view_goes(tmp_path: Path) -> None:
    s = NodeStore(str(tmp_path / "shm"), str(tmp_path / "spill"), 8 * MiB, on_copy_removed=lambda _: None)
    held = None
    try:

        async def fill() -> object:
            await put(s, 1, np.full(MiB, 9, dtype=np.uint8))
            return store.read(s.store_dir, oid(1))

        held = asyncio.run(fill())
        handle = store.handle(s.store_dir)
    finally:
        s.close()
    assert handle.closed and handle._base is not None  # a view still uses the map
    assert held is not None and held[-1] == 9
    del held
    gc.collect()
    assert handle._base is None


READER = """
import sys
from raylite import store
view = store.map_readonly(sys.argv[1], bytes.fromhex(sys.argv[2]))
print(view[0], flush=True)
sys.stdin.read()
"""


async def test_a_reader_in_another_process_defers_the_free_until_it_exits(node_store) -> None:
    s = node_store()
    await put(s, 1, np.full(MiB, 3, dtype=np.uint8))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, s.store_dir, oid(1).hex()],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
    )
    try:
        assert reader.stdout is not None and reader.stdout.readline().strip()  # it holds its view
        s.delete(oid(1))
        assert s.arena.deferred
        reader.kill()  # SIGKILL: the kernel drops its lock
        await until(lambda: not s.arena.deferred, "the dead reader's pin was let go")
    finally:
        reader.kill()
        reader.wait()
    assert s.arena.allocator.allocated == 0


async def test_a_primary_spills_out_of_the_arena_and_comes_back(node_store) -> None:
    s = node_store(capacity=4 * MiB)
    await put(s, 1, np.full(3 * MiB, 1, dtype=np.uint8))
    await put(s, 2, np.full(3 * MiB, 2, dtype=np.uint8))  # spills 1
    assert s.index.where(oid(1)) == DISK
    path = s.readable_path(oid(1))
    assert path is not None and path.startswith(s.spill_dir)
    assert store.read(s.spill_dir, oid(1))[-1] == 1
    assert await s.ensure_local(oid(1))  # spills 2, restores 1 into the arena
    assert store.locate(store.object_path(s.store_dir, oid(1))) is not None
    assert store.read(s.store_dir, oid(1))[-1] == 1 and store.read(s.spill_dir, oid(2))[0] == 2
    s.index.validate()
    s.arena.allocator.validate()


async def test_a_lapsed_reservation_keeps_its_range_while_its_writer_lives(node_store) -> None:
    """A writer past its lease may still write: its range must not go to another object until it dies.
    A writer pid no process can have (a peer's uint32, found by the fuzz test) counts as dead."""
    s = node_store()
    s.lease_s = 0.0
    live = await s.reserve(oid(1), 1000, primary=True, for_other=True, writer=os.getpid())
    await s.reserve(oid(2), 1000, primary=True, for_other=True, writer=2**32 - 1)
    await s.reserve(oid(3), 10, primary=True)  # settles: both leases lapse
    assert s.index.where(oid(1)) is None and s.index.where(oid(2)) is None
    assert s.arena.range_of(oid(1)) == live and s.arena.range_of(oid(2)) is None
    s.writer_died(os.getpid())
    assert s.arena.range_of(oid(1)) is None
    s.arena.allocator.validate()
