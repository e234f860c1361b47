"""What a generator task returns to its caller: ObjectRefGenerator and DynamicObjectRefGenerator.

Theory of operation
-------------------
A remote function or actor method that is a generator runs as a STREAMING
task unless told otherwise (Ray's default, or num_returns="streaming"): its
caller gets an ObjectRefGenerator at once. Item i (from 0) is the object
task_id + (i + 1); the task's own return 0 is None once it ended. The head
delivers each item to the caller as it is yielded (raylite/head/state/streams.py
keeps it for the caller meanwhile); the client's `StreamState` counts what
arrived and whether the stream ended, and `next()` turns the next item into an
ObjectRef, the caller's first ref to it. A failed task's error arrives as the
item after the last one: its `get` raises, and the stream ends after it.

The generator holds a ref to return 0 (`completed()`): the head takes its
release as "nobody reads this stream any more" and drops the items not taken.

With `_generator_backpressure_num_objects=N` the executor pauses once N items
are ahead of what the caller took; the caller reports each item it takes.

DynamicObjectRefGenerator is the value of a num_returns="dynamic" task: the
refs of all its items, made when the task ended.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from raylite import ids
from raylite.client import context
from raylite.client.object_ref import ObjectRef
from raylite.rpc import common_pb2


@dataclass(slots=True)
class StreamState:
    """What a caller's client knows of one STREAMING task (Client._streams)."""

    arrived: int = 0  # one past the highest item delivered (items 0 .. arrived-1, but `missing`)
    # items below `arrived` not delivered (one a head reported just before it was killed):
    # a restarted head hears of them (Client._resume_batch) and delivers or remakes them
    missing: set[int] = field(default_factory=set)
    ended: bool = False  # return 0 arrived: no item comes after `arrived`
    backpressure: int = 0  # the task's limit, when the caller must report what it takes


class ObjectRefGenerator:
    """The refs a streaming generator task yields, in order, as they are yielded.

    `next(gen)` (or `for ref in gen`) blocks until the next item exists and
    returns its ObjectRef; `async for` / `await gen.__anext__()` waits without
    blocking the event loop. A failed task's error is the ref after the last
    good one; then the iteration stops. `completed()` is a ref that exists once
    the task ended; `is_finished()` says whether every item was taken out;
    `next_ready()` whether `next()` would return at once.
    """

    def __init__(self, task_id: bytes, backpressure: int = 0) -> None:
        self._task_id = task_id
        self._ref = ObjectRef(ids.object_id(task_id, 0))  # held before the head hears of the task
        self._index = 0
        self._client = context.current()
        self._backpressure = backpressure
        self._client.open_stream(task_id, backpressure)

    # ---- iteration -----------------------------------------------------------------

    def __iter__(self) -> ObjectRefGenerator:
        return self

    def __next__(self) -> ObjectRef:
        return self._next_sync()

    def _next_sync(self, timeout_s: float | None = None) -> ObjectRef:
        """The next item's ref; a nil ref if timeout_s passed first (as Ray's)."""
        future = self._client.item_future(self._task_id, self._index)
        ready = self._client.wait_item(future, timeout_s)
        if ready is None:
            return ObjectRef.nil()
        return self._take(ready)

    def __aiter__(self) -> ObjectRefGenerator:
        return self

    async def __anext__(self) -> ObjectRef:
        future = self._client.item_future(self._task_id, self._index)
        ready = await asyncio.wrap_future(future)
        if not ready:
            raise StopAsyncIteration
        return self._take(ready)

    def _take(self, ready: bool) -> ObjectRef:
        if not ready:
            raise StopIteration
        index = self._index
        self._index += 1
        ref = ObjectRef(ids.object_id(self._task_id, index + 1))
        if self._backpressure:
            self._client.stream_consumed(self._task_id, self._index)
        return ref

    # ---- state ---------------------------------------------------------------------

    def completed(self) -> ObjectRef:
        """A ref that exists once the task ended (None; the error of a failed stream is its last item)."""
        return self._ref

    def is_finished(self) -> bool:
        """Whether the task ended and every item was taken out."""
        state = self._client.stream_state(self._task_id)
        return state is None or (state.ended and self._index >= state.arrived)

    def next_ready(self) -> bool:
        """Whether next() returns without waiting (an item, or the end of the stream)."""
        state = self._client.stream_state(self._task_id)
        return state is None or state.arrived > self._index or state.ended

    def _wait_oid(self) -> bytes:
        """The object id whose arrival makes next_ready() true (for wait())."""
        return ids.object_id(self._task_id, self._index + 1)

    def task_id(self) -> bytes:
        return self._task_id

    # ---- life ----------------------------------------------------------------------

    def __del__(self) -> None:
        try:
            self._client.close_stream_soon(self._task_id, self._index)
        except Exception:  # noqa: BLE001 - interpreter shutdown, a closed client
            pass

    def __reduce__(self) -> Any:
        raise TypeError(
            "an ObjectRefGenerator cannot be passed to another task or actor or pickled; iterate it here and "
            "pass the ObjectRefs it yields instead"
        )

    def __repr__(self) -> str:
        return f"ObjectRefGenerator({self._task_id.hex()}, next item {self._index})"


class DynamicObjectRefGenerator:
    """The value of a num_returns="dynamic" task: the refs of the items it yielded."""

    def __init__(self, refs: list[ObjectRef]) -> None:
        self._refs = refs

    def __iter__(self) -> Iterator[ObjectRef]:
        return iter(self._refs)

    def __len__(self) -> int:
        return len(self._refs)

    def __reduce__(self) -> Any:
        return (DynamicObjectRefGenerator, (self._refs,))

    def __repr__(self) -> str:
        return f"DynamicObjectRefGenerator({len(self._refs)} refs)"


def kind_of(function: Any, num_returns: Any, what: str) -> common_pb2.GeneratorKind:
    """The GeneratorKind a call of `function` runs as, given its num_returns option (None: not set).

    As Ray's: a generator function streams unless num_returns says otherwise;
    num_returns="streaming" or "dynamic" on a function that is not a generator is refused.
    """
    is_generator = function is not None and (
        inspect.isgeneratorfunction(function) or inspect.isasyncgenfunction(function)
    )
    if num_returns in ("streaming", "dynamic"):
        if function is not None and not is_generator:
            raise ValueError(
                f"{what}: num_returns={num_returns!r} can only be used with generator functions (that use "
                "'yield'); this one is not a generator function"
            )
        return common_pb2.STREAMING if num_returns == "streaming" else common_pb2.DYNAMIC
    if num_returns is None and is_generator:
        return common_pb2.STREAMING
    return common_pb2.NOT_GENERATOR


def returns_of(
    client: Any, spec: common_pb2.TaskSpec, num_returns: Any, options: Mapping[str, Any]
) -> tuple[Any, common_pb2.TaskSpec]:
    """What .remote() of a generator task returns, made before the head hears of the task."""
    if spec.generator == common_pb2.STREAMING:
        backpressure = options.get("_generator_backpressure_num_objects")
        backpressure = int(backpressure) if backpressure is not None and backpressure > 0 else 0
        spec.generator_backpressure = backpressure
        return ObjectRefGenerator(spec.task_id, backpressure), spec
    return ObjectRef(ids.object_id(spec.task_id, 0)), spec
