"""How values become bytes and back.

A serialized value is a pickle (protocol 5) plus its out-of-band buffers
(numpy arrays, bytes-like data), laid out so that a reader can hand the
buffers to the unpickler as slices of one memory map, without copying:

    offset 0   header: magic, buffer count, pickle length, contained count
    offset 24  buffer table: (offset, length) per buffer, 16 bytes each
    ...        the pickle
    ...        each buffer, aligned to 64 bytes
    end - 20n  the ids of the n ObjectRefs pickled inside the value

The same layout is used inline (bytes inside a message) and in a node's
shared-memory store (one file per object). The ids at the end let the value
itself say which objects it keeps alive: a node rejoining a restarted head
reads them from its stored objects (raylite/store.py: contained_of) and
reports them, so that
an object referenced only from inside another one is not freed. They come
last, so a reader of the value never looks at them (and the field they are
counted in was reserved and zero before they were added).
"""

from __future__ import annotations

import copyreg
import io
import os
import pickle
import struct
import threading
import types
from collections import ChainMap
from typing import Any

import cloudpickle
from cloudpickle import cloudpickle as _cloudpickle_impl

_MAGIC = b"RLO1"
_HEADER = struct.Struct("<4sIQQ")  # magic, buffer count, pickle length, contained ids at the end
_ENTRY = struct.Struct("<QQ")
_ALIGN = 64
HEADER_BYTES = _HEADER.size
CONTAINED_ID_BYTES = 20  # raylite.ids.OBJECT_ID_BYTES

# Values made only of these types pickle the same with the standard pickler,
# which is 10-30 times faster than cloudpickle for small values (cloudpickle's
# Pickler alone costs ~15 us to make). Exact types only: a subclass of int or str
# (an IntEnum, say) may pickle by its class, which cloudpickle may have to carry
# by value, so it takes the slow path and keeps its type.
_PLAIN_SCALARS = frozenset({int, float, str, bytes, bool, type(None)})
_PLAIN_MAX_ITEMS = 32  # a bigger container is not small: the check itself would cost


def _is_plain(value: Any, depth: int = 0) -> bool:
    t = type(value)
    if t in _PLAIN_SCALARS:
        return True
    if (t is not tuple and t is not list and t is not dict) or depth >= 2 or len(value) > _PLAIN_MAX_ITEMS:
        return False
    if t is dict:
        return all(type(k) in _PLAIN_SCALARS and _is_plain(v, depth + 1) for k, v in value.items())
    return all(_is_plain(v, depth + 1) for v in value)


def serialize_call(args: list[Any], kwargs: dict[str, Any], marker: type) -> Serialized:
    """serialize((args, kwargs)) for a call's arguments, by the standard pickler when each
    argument is a plain value (see _is_plain) or a `marker` (submit.Dep: a dependency's
    stand-in, an importable class that both picklers write by reference)."""
    if all(type(a) is marker or _is_plain(a) for a in args) and all(
        type(v) is marker or _is_plain(v) for v in kwargs.values()
    ):
        return Serialized(pickle.dumps((args, kwargs), protocol=5), [])
    return serialize((args, kwargs))


def _code_reduce_keeping_file(code: types.CodeType) -> Any:
    """cloudpickle's reduction of a code object, with the code's own file name kept.

    cloudpickle writes "<dynamic-code>" instead (for pickles that do not depend
    on where code was defined); raylite keeps the name so that the traceback
    of a failed task names the user's file and line, and shows its source
    lines wherever that file exists, as Ray's does.
    """
    constructor, args = _cloudpickle_impl._code_reduce(code)
    args = tuple(code.co_filename if a == "<dynamic-code>" and type(a) is str else a for a in args)
    return constructor, args


class Pickler(cloudpickle.Pickler):
    """cloudpickle's pickler, keeping the file names of the code it pickles by value."""

    # as cloudpickle's own (its reductions, then copyreg's, looked up live), one entry changed
    dispatch_table = ChainMap(
        {**cloudpickle.Pickler._dispatch_table, types.CodeType: _code_reduce_keeping_file}, copyreg.dispatch_table
    )


def pickle_dumps(value: Any, buffer_callback: Any = None) -> bytes:
    """cloudpickle.dumps (protocol 5) with raylite's Pickler."""
    with io.BytesIO() as file:
        Pickler(file, protocol=5, buffer_callback=buffer_callback).dump(value)
        return file.getvalue()


def _pad(n: int) -> int:
    return (-n) % _ALIGN


_refs_seen = threading.local()


def note_ref(object_id: bytes) -> None:
    """Called by ObjectRef.__reduce__: records refs pickled inside the value being serialized."""
    seen = getattr(_refs_seen, "ids", None)
    if seen is not None:
        seen.append(object_id)


class Serialized:
    """A value's pickle and out-of-band buffers, and the layout they take."""

    __slots__ = ("meta", "buffers", "_offsets", "size", "contained", "_ids")

    def __init__(self, meta: bytes, buffers: list[memoryview], contained: list[bytes] | None = None) -> None:
        self.meta = meta
        self.buffers = buffers
        self.contained = contained or []  # ids of the ObjectRefs inside
        # (a ref of another length could not be named on the wire either)
        self._ids = b"".join(c for c in self.contained if len(c) == CONTAINED_ID_BYTES) if contained else b""
        pos = _HEADER.size + _ENTRY.size * len(buffers) + len(meta)
        offsets = []
        for b in buffers:
            pos += _pad(pos)
            offsets.append(pos)
            pos += b.nbytes
        self._offsets = offsets
        self.size = pos + len(self._ids)

    def _header(self) -> bytes:
        count = len(self._ids) // CONTAINED_ID_BYTES
        parts = [_HEADER.pack(_MAGIC, len(self.buffers), len(self.meta), count)]
        parts += [_ENTRY.pack(off, b.nbytes) for off, b in zip(self._offsets, self.buffers, strict=True)]
        return b"".join(parts)

    def chunks(self) -> list[bytes | memoryview]:
        """The serialized bytes as a list of pieces, for writev or join."""
        out: list[bytes | memoryview] = [self._header(), self.meta]
        pos = _HEADER.size + _ENTRY.size * len(self.buffers) + len(self.meta)
        for off, b in zip(self._offsets, self.buffers, strict=True):
            if off > pos:
                out.append(b"\0" * (off - pos))
            out.append(b)
            pos = off + b.nbytes
        if self._ids:
            out.append(self._ids)
        return out

    def to_bytes(self) -> bytes:
        if not self.buffers and not self._ids:
            return _HEADER.pack(_MAGIC, 0, len(self.meta), 0) + self.meta
        return b"".join(self.chunks())

    def write_at(self, fd: int, offset: int) -> None:
        """Writes the serialized bytes into fd from offset on (pwrite: no mapping, no page faults)."""
        for piece in self.chunks():
            view = memoryview(piece).cast("B")
            while view.nbytes:
                n = os.pwrite(fd, view, offset)
                view = view[n:]
                offset += n

    def write_to_fd(self, fd: int) -> None:
        for piece in self.chunks():
            view = memoryview(piece).cast("B")
            while view.nbytes:
                n = os.write(fd, view)
                view = view[n:]


def serialize(value: Any) -> Serialized:
    """Pickles value; raises RaySerializationError naming the value's type on failure."""
    if _is_plain(value):
        return Serialized(pickle.dumps(value, protocol=5), [])
    buffers: list[pickle.PickleBuffer] = []
    outer = getattr(_refs_seen, "ids", None)
    contained: list[bytes] = []
    _refs_seen.ids = contained
    try:
        meta = pickle_dumps(value, buffer_callback=buffers.append)
    except Exception as exc:  # noqa: BLE001 - any pickling failure is reported the same way
        from raylite.exceptions import RaySerializationError

        raise RaySerializationError(
            f"could not serialize a value of type {type(value).__qualname__}: {exc}. "
            "Values passed to or returned from tasks must be picklable (cloudpickle)."
        ) from exc
    finally:
        _refs_seen.ids = outer
    views = []
    for b in buffers:
        try:
            views.append(b.raw())
        except BufferError:  # not contiguous: copy it once
            views.append(memoryview(bytes(b)))
    return Serialized(meta, views, contained)


def deserialize(data: bytes | memoryview) -> Any:
    """Unpickles a serialized value. Buffers are slices of data: no copy is made."""
    view = memoryview(data)
    magic, nbuf, meta_len, _ = _HEADER.unpack_from(view, 0)
    if magic != _MAGIC:
        raise ValueError("not a raylite serialized object (bad magic)")
    pos = _HEADER.size
    buffers = []
    for _ in range(nbuf):
        off, length = _ENTRY.unpack_from(view, pos)
        buffers.append(view[off : off + length])
        pos += _ENTRY.size
    meta = view[pos : pos + meta_len]
    return pickle.loads(meta, buffers=buffers)


def contained_count(header: bytes | memoryview) -> int:
    """How many ref ids end a serialized value, from its first HEADER_BYTES bytes (0 if not one)."""
    if len(header) < _HEADER.size:
        return 0
    magic, _, _, count = _HEADER.unpack_from(header, 0)
    return int(count) if magic == _MAGIC else 0


def contained_ids(data: bytes | memoryview) -> list[bytes]:
    """The ids of the ObjectRefs pickled inside a serialized value."""
    view = memoryview(data)
    count = contained_count(view)
    start = len(view) - count * CONTAINED_ID_BYTES
    return [bytes(view[start + i * CONTAINED_ID_BYTES : start + (i + 1) * CONTAINED_ID_BYTES]) for i in range(count)]


def dumps(value: Any) -> bytes:
    return serialize(value).to_bytes()
