"""A first-in first-out queue shared by tasks and actors, as ray.util.queue.

The items live in one async actor (an asyncio.Queue inside); a Queue object
is a handle to it that pickles, so the same queue can be passed to tasks and
actors, or returned from them. Blocking and timeouts happen in the actor:
a get that waits for an item holds no CPU anywhere and wakes when a put
arrives. The actor answers "empty" or "full" as a value and the caller raises
Empty or Full (subclasses of the standard library's queue.Empty and
queue.Full), so `except Empty` works in every process.
"""

from __future__ import annotations

import asyncio
import queue as _stdlib_queue
from collections.abc import Iterable
from typing import Any

from raylite.client.api import get, kill, remote


class Empty(_stdlib_queue.Empty):
    """get found no item (block=False, or nothing arrived before the timeout)."""


class Full(_stdlib_queue.Full):
    """put found no room (block=False, or none was made before the timeout)."""


_EMPTY = "empty"
_FULL = "full"


class _QueueActor:
    """Holds the items. Methods answer (True, value) or (False, why) instead of raising."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self.queue: asyncio.Queue[Any] = asyncio.Queue(maxsize)

    def qsize(self) -> int:
        return self.queue.qsize()

    def empty(self) -> bool:
        return self.queue.empty()

    def full(self) -> bool:
        return self.queue.full()

    async def put(self, item: Any, timeout: float | None = None) -> tuple[bool, Any]:
        if not self.queue.full():  # no waiting (and timeout=0 still succeeds)
            self.queue.put_nowait(item)
            return True, None
        try:
            await asyncio.wait_for(self.queue.put(item), timeout)
        except asyncio.TimeoutError:
            return False, _FULL
        return True, None

    async def get(self, timeout: float | None = None) -> tuple[bool, Any]:
        if not self.queue.empty():
            return True, self.queue.get_nowait()
        try:
            return True, await asyncio.wait_for(self.queue.get(), timeout)
        except asyncio.TimeoutError:
            return False, _EMPTY

    async def put_nowait(self, item: Any) -> tuple[bool, Any]:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            return False, _FULL
        return True, None

    async def put_nowait_batch(self, items: list[Any]) -> tuple[bool, Any]:
        if self.maxsize > 0 and len(items) + self.queue.qsize() > self.maxsize:
            return False, (
                f"cannot put {len(items)} items into a queue holding {self.queue.qsize()} of at most {self.maxsize}"
            )
        for item in items:
            self.queue.put_nowait(item)
        return True, None

    async def get_nowait(self) -> tuple[bool, Any]:
        try:
            return True, self.queue.get_nowait()
        except asyncio.QueueEmpty:
            return False, _EMPTY

    async def get_nowait_batch(self, num_items: int) -> tuple[bool, Any]:
        if num_items > self.queue.qsize():
            return False, f"cannot get {num_items} items from a queue holding {self.queue.qsize()}"
        return True, [self.queue.get_nowait() for _ in range(num_items)]


_QueueActorClass = remote(_QueueActor)


def _check_timeout(timeout: float | None) -> None:
    if timeout is not None and timeout < 0:
        raise ValueError("'timeout' must be a non-negative number")


def _unpack(answer: tuple[bool, Any], error: type[Exception]) -> Any:
    ok, value = answer
    if ok:
        return value
    raise error() if value in (_EMPTY, _FULL) else error(value)


class Queue:
    """A FIFO queue on the cluster: Queue(maxsize=0, actor_options=None).

    maxsize <= 0 means unbounded. actor_options are passed to the queue
    actor's .options() (for example {"num_cpus": 1} or resources).
    """

    def __init__(self, maxsize: int = 0, actor_options: dict[str, Any] | None = None) -> None:
        self.maxsize = maxsize
        self.actor: Any = _QueueActorClass.options(**(actor_options or {})).remote(maxsize)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.maxsize, self.actor))

    def _handle(self) -> Any:
        if self.actor is None:
            raise RuntimeError("this Queue was shut down (Queue.shutdown()); make a new Queue")
        return self.actor

    def __len__(self) -> int:
        return self.size()

    def size(self) -> int:
        """The number of items in the queue."""
        return int(get(self._handle().qsize.remote()))

    def qsize(self) -> int:
        """The number of items in the queue."""
        return self.size()

    def empty(self) -> bool:
        return bool(get(self._handle().empty.remote()))

    def full(self) -> bool:
        return bool(get(self._handle().full.remote()))

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        """Adds item. block=False: raise Full at once if there is no room; otherwise
        wait for room, up to timeout seconds (None: for ever), then raise Full."""
        if not block:
            return _unpack(get(self._handle().put_nowait.remote(item)), Full)
        _check_timeout(timeout)
        return _unpack(get(self._handle().put.remote(item, timeout)), Full)

    async def put_async(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        """put() for coroutines: waits without blocking the event loop."""
        if not block:
            return _unpack(await self._handle().put_nowait.remote(item), Full)
        _check_timeout(timeout)
        return _unpack(await self._handle().put.remote(item, timeout), Full)

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        """Removes and returns the oldest item. block=False: raise Empty at once if there
        is none; otherwise wait for one, up to timeout seconds (None: for ever), then raise Empty."""
        if not block:
            return _unpack(get(self._handle().get_nowait.remote()), Empty)
        _check_timeout(timeout)
        return _unpack(get(self._handle().get.remote(timeout)), Empty)

    async def get_async(self, block: bool = True, timeout: float | None = None) -> Any:
        """get() for coroutines: waits without blocking the event loop."""
        if not block:
            return _unpack(await self._handle().get_nowait.remote(), Empty)
        _check_timeout(timeout)
        return _unpack(await self._handle().get.remote(timeout), Empty)

    def put_nowait(self, item: Any) -> None:
        """put(item, block=False)."""
        return self.put(item, block=False)

    def put_nowait_batch(self, items: Iterable[Any]) -> None:
        """Adds all items at once, or none of them (raising Full) if they do not all fit."""
        if not isinstance(items, Iterable):
            raise TypeError("Argument 'items' must be an Iterable")
        return _unpack(get(self._handle().put_nowait_batch.remote(list(items))), Full)

    def get_nowait(self) -> Any:
        """get(block=False)."""
        return self.get(block=False)

    def get_nowait_batch(self, num_items: int) -> list[Any]:
        """Removes and returns the num_items oldest items, or none (raising Empty) if
        fewer are there."""
        if not isinstance(num_items, int) or isinstance(num_items, bool):
            raise TypeError("Argument 'num_items' must be an int")
        if num_items < 0:
            raise ValueError("'num_items' must be nonnegative")
        return _unpack(get(self._handle().get_nowait_batch.remote(num_items)), Empty)

    def shutdown(self, force: bool = False, grace_period_s: int = 5) -> None:
        """Ends the queue's actor and frees what it holds; the items are lost.

        raylite ends the actor at once whatever force says: calls still waiting
        in it fail with ActorDiedError.
        """
        if self.actor is not None:
            kill(self.actor)
        self.actor = None


def _rebuild(maxsize: int, actor: Any) -> Queue:
    queue = Queue.__new__(Queue)
    queue.maxsize = maxsize
    queue.actor = actor
    return queue
