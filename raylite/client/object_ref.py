"""ObjectRef: a future for a value in the cluster's object store."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Generator
from typing import Any

from raylite.client import context
from raylite.ids import OBJECT_ID_BYTES, random_id, task_of
from raylite.serialization import note_ref

_NIL = b"\xff" * OBJECT_ID_BYTES


class ObjectRef:
    """Refers to one object. Pickles to its id, so refs travel into tasks and actors.

    Each process counts its live refs per object: when the last one goes, the
    process drops its cached copy of the value.
    """

    __slots__ = ("_id", "__weakref__")

    def __init__(
        self, object_id: bytes, owner_addr: Any = None, call_site_data: Any = None, skip_adding_local_ref: bool = False
    ) -> None:
        if type(object_id) is not bytes or len(object_id) != OBJECT_ID_BYTES:
            object_id = _checked(object_id)
        self._id = object_id
        counter = context.ref_counter()
        if counter is not None:
            counter.add_ref(object_id)

    def __del__(self) -> None:
        try:
            counter = context.ref_counter()
            if counter is not None:
                counter.remove_ref(self._id)
        except Exception:  # noqa: BLE001 - interpreter shutdown, a closed client
            pass

    @classmethod
    def from_random(cls) -> ObjectRef:
        """A ref to a random id that names no object (as Ray's, for tests and placeholders)."""
        return cls(random_id(OBJECT_ID_BYTES))

    @classmethod
    def nil(cls) -> ObjectRef:
        """The nil ref (all bits set), which names no object."""
        return cls(_NIL)

    @classmethod
    def from_binary(cls, object_id: bytes) -> ObjectRef:
        return cls(object_id)

    @classmethod
    def from_hex(cls, hex_id: str) -> ObjectRef:
        return cls(bytes.fromhex(hex_id))

    @classmethod
    def size(cls) -> int:
        """The length of an object id in bytes (20 in raylite, 28 in Ray)."""
        return OBJECT_ID_BYTES

    def is_nil(self) -> bool:
        return self._id == _NIL

    def binary(self) -> bytes:
        return self._id

    def hex(self) -> str:
        return self._id.hex()

    def task_id(self) -> bytes:
        return task_of(self._id)

    def __reduce__(self) -> tuple[Any, ...]:
        note_ref(self._id)  # the value being pickled keeps this object alive
        return (ObjectRef, (self._id,))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ObjectRef) and other._id == self._id

    def __hash__(self) -> int:
        return hash(self._id)

    def __repr__(self) -> str:
        return f"ObjectRef({self._id.hex()})"

    def future(self) -> concurrent.futures.Future[Any]:
        """A concurrent.futures.Future of the value (its exception if the task failed)."""
        return context.current().future_of(self)

    def as_future(self) -> asyncio.Future[Any]:
        """An asyncio future of the value, for the running event loop."""
        return asyncio.wrap_future(self.future())

    def __await__(self) -> Generator[Any, None, Any]:
        """`await ref` in a coroutine: the value, without blocking the event loop."""
        return asyncio.wrap_future(context.current().future_of(self)).__await__()


def _checked(object_id: Any) -> bytes:
    """The id as bytes; refuses what cannot be an object id here, where the ref is made
    (the head would otherwise refuse the whole batch carrying it)."""
    if isinstance(object_id, bytes) and len(object_id) == OBJECT_ID_BYTES:
        return bytes(object_id)
    if not isinstance(object_id, bytes):
        raise TypeError(f"ObjectRef() takes the id's bytes, got {type(object_id).__name__}: {object_id!r}")
    hint = " (Ray's object ids are 28 bytes; raylite's are 20)" if len(object_id) == 28 else ""
    raise ValueError(
        f"ObjectRef() takes an object id of {OBJECT_ID_BYTES} bytes, got {len(object_id)}{hint}: make refs from "
        "the .binary() of a raylite ObjectRef, or take them from .remote() and put()"
    )
