"""A stored object names the refs pickled inside it, and a resuming node reports them.

A restarted head learns what exists only from what nodes report; an object
referenced only from inside another stored value is alive as long as that
value is (ObjectInfo.contained pins it). The serialized layout carries the
ids of the refs inside a value (raylite/serialization.py), so the node reads
them from each object's file when it rejoins (raylite/worker/daemon.py
HeadLink._hello), without a table of its own and without extra work on the
put and transfer paths.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from raylite import store
from raylite.client.object_ref import ObjectRef
from raylite.rpc import common_pb2
from raylite.serialization import contained_ids, deserialize, serialize
from raylite.worker.daemon import HeadLink

INNER = b"i" * 20
OTHER = b"o" * 20


def test_a_serialized_value_ends_with_the_ids_of_the_refs_inside_it() -> None:
    for value in [{"ref": ObjectRef(INNER)}, [ObjectRef(INNER), ObjectRef(OTHER), np.arange(1000)]]:
        s = serialize(value)
        data = s.to_bytes()
        assert len(data) == s.size
        assert contained_ids(data) == s.contained == [INNER, OTHER][: len(s.contained)]
        back = deserialize(data)  # readers skip the ids
        assert (back["ref"] if isinstance(back, dict) else back[0]) == ObjectRef(INNER)
    assert contained_ids(serialize(12).to_bytes()) == []
    assert contained_ids(serialize(np.zeros(10)).to_bytes()) == []


def test_a_stored_object_names_the_refs_inside_it(tmp_path: Path) -> None:
    oid = b"s" * 20
    store.write(str(tmp_path), oid, serialize([ObjectRef(INNER), np.arange(100_000), ObjectRef(OTHER)]))
    assert store.contained_of(store.object_path(str(tmp_path), oid)) == [INNER, OTHER]
    assert np.array_equal(store.read(str(tmp_path), oid)[1], np.arange(100_000))
    plain = b"p" * 20
    store.write(str(tmp_path), plain, serialize(np.arange(10)))
    assert store.contained_of(store.object_path(str(tmp_path), plain)) == []
    assert store.contained_of(str(tmp_path / "gone")) == []  # freed meanwhile: nothing to report


class _Pool:
    """What HeadLink.attach and the hello read of an ExecutorPool."""

    def kill_actor(self, actor_id: bytes) -> None:
        raise AssertionError("the hello kills nothing")

    def submit(self, assignment: Any) -> None:
        raise AssertionError("the hello runs nothing")

    def cancel(self, request: Any) -> None:
        raise AssertionError("the hello cancels nothing")

    def running(self) -> list[Any]:
        return []

    def live_actors(self) -> list[tuple[bytes, int]]:
        return []

    def call_ports(self) -> dict[bytes, str]:
        return {}


class _Store:
    """The NodeStore methods HeadLink.attach binds and the hello reads, over a folder of object files."""

    def promote(self, object_id: bytes) -> None:
        raise AssertionError("the hello promotes nothing")

    def delete(self, object_id: bytes) -> None:
        raise AssertionError("the hello frees nothing")

    def __init__(self, folder: Path, primaries: list[bytes]) -> None:
        self.folder = folder
        self.primaries = primaries

    def held(self) -> tuple[list[tuple[bytes, int]], list[bytes]]:
        return [(oid, 1) for oid in self.primaries], []

    def readable_path(self, object_id: bytes) -> str | None:
        path = store.object_path(str(self.folder), object_id)
        return path if Path(path).exists() else None


def test_a_node_rejoining_a_restarted_head_reports_the_refs_inside_each_object(tmp_path: Path) -> None:
    outer, plain = b"a" * 20, b"b" * 20
    store.write(str(tmp_path), outer, serialize({"inner": ObjectRef(INNER), "data": np.arange(100_000)}))
    store.write(str(tmp_path), plain, serialize(np.arange(100_000)))
    link = HeadLink.__new__(HeadLink)  # no channel: only the hello is built
    info = common_pb2.NodeInfo(node_id=b"n" * 16, address="127.0.0.1:1")
    link.attach(info, _Pool(), _Store(tmp_path, [outer, plain, b"c" * 20]))  # type: ignore[arg-type]
    hello = link._hello(resume=True)
    assert {o.object_id: list(o.contained) for o in hello.objects} == {outer: [INNER], plain: [], b"c" * 20: []}
