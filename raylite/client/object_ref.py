"""ObjectRef: a future for a value in the cluster's object store."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Generator
from typing import Any

from raylite.client import context
from raylite.ids import task_of
from raylite.serialization import note_ref


class ObjectRef:
    """Refers to one object. Pickles to its id, so refs travel into tasks and actors.

    Each process counts its live refs per object: when the last one goes, the
    process drops its cached copy of the value.
    """

    __slots__ = ("_id", "__weakref__")

    def __init__(self, object_id: bytes) -> None:
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

    def __await__(self) -> Generator[Any, None, Any]:
        """`await ref` in a coroutine: the value, without blocking the event loop."""
        return asyncio.wrap_future(context.current().future_of(self)).__await__()
