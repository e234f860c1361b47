"""Serialized layout and zero-copy reads, without any process."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from raylite import exceptions, store
from raylite.serialization import deserialize, serialize


def test_plain_values_roundtrip() -> None:
    for value in [1, "x", (1, "a"), [None, 2.5], b"bytes", {"k": [1, 2]}]:
        assert deserialize(serialize(value).to_bytes()) == value


def test_numpy_buffers_are_out_of_band_and_aligned() -> None:
    arr = np.arange(1000, dtype=np.int64)
    s = serialize({"a": arr})
    assert len(s.buffers) == 1
    data = s.to_bytes()
    out = deserialize(data)["a"]
    assert np.array_equal(out, arr)
    assert not out.flags.owndata
    assert out.ctypes.data % 64 == (np.frombuffer(data, dtype=np.uint8).ctypes.data % 64)


def test_store_read_maps_shared_memory(tmp_path) -> None:
    arr = np.ones(100_000)
    oid = b"\1" * 20
    store.write(str(tmp_path), oid, serialize(arr))
    out = store.read(str(tmp_path), oid)
    assert np.array_equal(out, arr)
    assert not out.flags.writeable and not out.flags.owndata


def test_unpicklable_value_names_its_type() -> None:
    with pytest.raises(exceptions.RaySerializationError, match="lock"):
        serialize(threading.Lock())


def test_remote_error_is_instance_of_cause() -> None:
    try:
        raise ZeroDivisionError("boom")
    except ZeroDivisionError as exc:
        err = exceptions.RayTaskError.from_exception("f", exc, 1, "127.0.0.1")
    restored = deserialize(serialize(err).to_bytes()).as_instanceof_cause()
    assert isinstance(restored, ZeroDivisionError)
    assert isinstance(restored, exceptions.RayTaskError)
    assert "boom" in str(restored) and str(restored).startswith("ray::f() (pid=1, ip=127.0.0.1)\n")
