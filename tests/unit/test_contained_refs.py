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

import numpy as np

from raylite import store
from raylite.client.object_ref import ObjectRef
from raylite.serialization import contained_ids, deserialize, serialize

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
