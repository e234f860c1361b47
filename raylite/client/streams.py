"""The client's side of generator tasks, both ends: a caller's streams, an executor's items.

A part of Client (raylite/client/core.py), which owns the lock, the cached
values and the waiters these methods share; raylite/client/generator.py
explains the streams themselves.

Caller: `_streams` holds a StreamState per STREAMING task this process
iterates. `_stream_value` (under the client's lock, from `_on_objects`) keeps
each delivered item whether or not a ref to it exists yet, and when return 0
arrives marks the stream ended and wakes whoever waits for the item after the
last (which will never come). `item_future` resolves to True once item
`index` is here, False once the stream ended before it.

Executor: `report_item` sends an item on this client's stream, after
everything the task sent before it, and keeps the last RESEND_ITEMS of each
running task (`_sent_items`): a head killed just after it read an item may
have left no trace of it, so a reconnecting client sends them again
(Client._resume_batch; the head ignores those it has). `wait_consumed` pauses a
generator with backpressure until its caller took enough (GeneratorProgressed
from the head).
"""

from __future__ import annotations

import collections
import concurrent.futures
import threading
from typing import Any

from raylite import exceptions, ids
from raylite.client.generator import StreamState
from raylite.client.items import _BLOCK, _CONSUMED, _ITEM
from raylite.client.waiters import Waiter
from raylite.rpc import common_pb2, head_pb2

# The items of a running generator an executor's client sends again to a restarted head; an
# older one it lost is remade from lineage for the caller that lacks it (raylite/head/state/streams.py).
RESEND_ITEMS = 64


class StreamCalls:
    # provided by Client
    _lock: threading.Lock
    _objects: dict[bytes, common_pb2.ObjectValue]
    _waiters: dict[bytes, list[Waiter]]
    _refcounts: dict[bytes, int]
    _ref_lock: threading.RLock
    current_task_id: bytes
    current_lease_id: bytes
    head_address: str

    def _enqueue(self, kind: int, item: Any) -> None:
        raise NotImplementedError

    def _init_streams(self) -> None:
        self._streams: dict[bytes, StreamState] = {}
        self._progress: dict[bytes, int] = {}  # executor: task -> items its caller took
        self._progress_changed = threading.Condition()
        # Generators collected while this thread may hold _lock or _ref_lock (a garbage
        # collection can run __del__ anywhere): their close waits here for the next stream call.
        self._closing: collections.deque[tuple[bytes, int]] = collections.deque()
        # executor: running task -> the last items it reported (under _lock)
        self._sent_items: dict[bytes, collections.deque[head_pb2.GeneratorItem]] = {}

    # ---- caller ----------------------------------------------------------------------

    def open_stream(self, task_id: bytes, backpressure: int = 0) -> None:
        self._close_collected()
        with self._lock:
            self._streams[task_id] = StreamState(backpressure=backpressure)

    def close_stream_soon(self, task_id: bytes, taken: int) -> None:
        """close_stream for a generator's __del__, which a garbage collection may run inside a
        section holding _lock or _ref_lock: it never blocks on them. The close happens now when
        both are free, else at the next stream call."""
        self._closing.append((task_id, taken))  # atomic
        if not self._lock.acquire(blocking=False):
            return
        try:
            if self._ref_lock.acquire(blocking=False):
                try:
                    self._drain_closing()
                finally:
                    self._ref_lock.release()
        finally:
            self._lock.release()

    def _close_collected(self) -> None:
        if self._closing:
            with self._lock, self._ref_lock:
                self._drain_closing()

    def close_stream(self, task_id: bytes, taken: int) -> None:
        """The generator is gone: forget the items it did not hand out (unless a ref holds one)."""
        with self._lock, self._ref_lock:
            self._forget_stream(task_id, taken)

    def _drain_closing(self) -> None:
        while self._closing:
            self._forget_stream(*self._closing.popleft())

    def _forget_stream(self, task_id: bytes, taken: int) -> None:
        # under _lock and _ref_lock
        state = self._streams.pop(task_id, None)
        if state is None:
            return
        for index in range(taken, state.arrived):
            oid = ids.object_id(task_id, index + 1)
            if oid not in self._refcounts:
                self._objects.pop(oid, None)

    def _streams_received(self) -> list[head_pb2.StreamReceived]:
        """How far each stream got, for a restarted head (under self._lock)."""
        return [
            head_pb2.StreamReceived(task_id=task_id, arrived=state.arrived, missing=sorted(state.missing))
            for task_id, state in self._streams.items()
            if not state.ended
        ]

    def stream_state(self, task_id: bytes) -> StreamState | None:
        return self._streams.get(task_id)

    def _stream_value(self, state: StreamState, value: common_pb2.ObjectValue) -> bool:
        """An object of a stream arrived (under self._lock); True if it was an item, fully handled."""
        oid = value.object_id
        index = int.from_bytes(oid[ids.TASK_ID_BYTES :], "big")
        if index == 0:
            state.ended = True
            marker = ids.object_id(oid[: ids.TASK_ID_BYTES], state.arrived + 1)
            for waiter in self._waiters.pop(marker, ()):
                waiter.hit()
            return False  # return 0 itself is an ordinary object
        if index > state.arrived:
            if index > state.arrived + 1:  # (items skipped: the head died with them)
                state.missing.update(range(state.arrived, index - 1))
            state.arrived = index
        elif state.missing:
            state.missing.discard(index - 1)
        if oid not in self._objects:
            self._objects[oid] = value
        for waiter in self._waiters.pop(oid, ()):
            waiter.hit(value.is_error)
        return True

    def _ended_marker(self, oid: bytes) -> bool:
        """Whether oid is the item after the last of an ended stream (it never comes)."""
        state = self._streams.get(oid[: ids.TASK_ID_BYTES])
        return state is not None and state.ended and int.from_bytes(oid[ids.TASK_ID_BYTES :], "big") > state.arrived

    def _item_to_come(self, oid: bytes) -> bool:
        """Whether oid is an item of one of this client's streams that has not arrived yet (the
        head delivers it unasked); one that arrived and is asked for again (its node died) is not."""
        state = self._streams.get(oid[: ids.TASK_ID_BYTES]) if self._streams else None
        return state is not None and int.from_bytes(oid[ids.TASK_ID_BYTES :], "big") > state.arrived

    def item_future(self, task_id: bytes, index: int) -> concurrent.futures.Future[bool]:
        """Resolves to True once item `index` of a stream is here, False once the stream ended without it."""
        self._close_collected()
        future: concurrent.futures.Future[bool] = concurrent.futures.Future()
        oid = ids.object_id(task_id, index + 1)
        with self._lock:
            state = self._streams.get(task_id)
            if state is None:
                future.set_result(False)
                return future
            if state.arrived > index or state.ended:
                future.set_result(state.arrived > index)
                return future

            def settle() -> None:
                if state.arrived > index or state.ended:
                    future.set_result(state.arrived > index)
                else:
                    future.set_exception(
                        exceptions.RaySystemError(
                            f"lost the connection to the head at {self.head_address} while waiting for item "
                            f"{index} of generator task {task_id.hex()}"
                        )
                    )

            self._waiters.setdefault(oid, []).append(Waiter(1, settle))
        return future

    def wait_item(self, future: concurrent.futures.Future[bool], timeout: float | None) -> bool | None:
        """Blocks on an item_future (lending a task's CPU meanwhile); None on timeout."""
        if future.done():
            return future.result()
        blocking_task = self.current_task_id
        if blocking_task:
            self._enqueue(
                _BLOCK, head_pb2.BlockState(task_id=blocking_task, blocked=True, lease_id=self.current_lease_id)
            )
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            return None
        finally:
            if blocking_task:
                self._enqueue(
                    _BLOCK, head_pb2.BlockState(task_id=blocking_task, blocked=False, lease_id=self.current_lease_id)
                )

    def stream_consumed(self, task_id: bytes, taken: int) -> None:
        self._enqueue(_CONSUMED, head_pb2.GeneratorProgress(task_id=task_id, consumed=taken))

    # ---- executor ----------------------------------------------------------------------

    def report_item(self, item: head_pb2.GeneratorItem) -> None:
        """An item a generator task yielded, sent after everything the task sent before it."""
        with self._lock:
            sent = self._sent_items.get(item.task_id)
            if sent is None:
                sent = self._sent_items[item.task_id] = collections.deque(maxlen=RESEND_ITEMS)
            sent.append(item)
        self._enqueue(_ITEM, item)

    def _items_to_resend(self) -> list[head_pb2.GeneratorItem]:
        """The last items of the generators this executor runs, for a restarted head (under _lock)."""
        return [item for sent in self._sent_items.values() for item in sent]

    def _items_done(self, task_id: bytes) -> None:
        """The task's result is sent: its items need no resending."""
        if self._sent_items:
            with self._lock:
                self._sent_items.pop(task_id, None)

    def _on_generator_consumed(self, progress: Any) -> None:
        with self._progress_changed:
            for p in progress:
                if p.consumed > self._progress.get(p.task_id, 0):
                    self._progress[p.task_id] = p.consumed
            self._progress_changed.notify_all()

    def wait_consumed(self, task_id: bytes, needed: int, timeout: float) -> bool:
        """Waits until the caller of a generator task took `needed` items; False after timeout."""
        with self._progress_changed:
            return self._progress_changed.wait_for(lambda: self._progress.get(task_id, 0) >= needed, timeout)

    def forget_progress(self, task_id: bytes) -> None:
        with self._progress_changed:
            self._progress.pop(task_id, None)
