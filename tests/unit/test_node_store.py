"""The node store's file moves racing the head's frees (asyncio, files in a temporary folder)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from raylite import store
from raylite.worker.object_store import NodeStore
from raylite.worker.state.store_index import DISK


def oid(n: int) -> bytes:
    return n.to_bytes(20, "big")


async def made_here(node_store: NodeStore, n: int, size: int) -> None:
    """An object written on this node, as an executor writes a task's result."""
    await node_store.reserve(oid(n), size, primary=True)
    Path(store.object_path(node_store.store_dir, oid(n))).write_bytes(b"x" * size)
    node_store.written(oid(n))


async def test_an_object_freed_while_earlier_spills_of_a_batch_run_is_not_spilled(tmp_path: Path) -> None:
    """A reservation spills two objects one after the other; the head frees the
    second while the first is being moved. The reservation must still succeed."""
    node_store = NodeStore(str(tmp_path / "shm"), str(tmp_path / "spill"), 100, on_copy_removed=lambda _: None)
    try:
        await made_here(node_store, 1, 40)
        await made_here(node_store, 2, 40)
        reserving = asyncio.create_task(node_store.reserve(oid(3), 90, primary=True))
        for _ in range(100_000):  # until the first spill is under way
            if oid(1) in node_store._moving:
                break
            await asyncio.sleep(0)
        else:
            raise AssertionError("the reservation never started spilling")
        node_store.delete(oid(2))
        await asyncio.wait_for(reserving, timeout=10)
        assert node_store.index.where(oid(1)) == DISK and node_store.index.where(oid(2)) is None
        assert node_store.readable_path(oid(2)) is None
        node_store.index.validate()
    finally:
        node_store.close()


async def test_room_reserved_by_a_writer_that_died_is_given_back_unless_it_wrote(tmp_path: Path) -> None:
    node_store = NodeStore(str(tmp_path / "shm"), str(tmp_path / "spill"), 100, on_copy_removed=lambda _: None)
    try:
        await node_store.reserve(oid(1), 60, primary=True, writer=4242)  # never written
        await node_store.reserve(oid(2), 30, primary=True, writer=4242)
        Path(store.object_path(node_store.store_dir, oid(2))).write_bytes(b"x" * 30)  # written, then died
        half = Path(f"{store.object_path(node_store.store_dir, oid(1))}.4242.tmp")
        half.write_bytes(b"x" * 10)
        node_store.writer_died(4242)
        assert node_store.index.where(oid(1)) is None and not half.exists()
        assert node_store.index.where(oid(2)) is not None
        await asyncio.wait_for(node_store.reserve(oid(3), 70, primary=True), timeout=10)  # fits again
        node_store.index.validate()
    finally:
        node_store.close()
