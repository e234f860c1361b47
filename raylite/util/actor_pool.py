"""ActorPool: work spread over a fixed set of actors, as ray.util.ActorPool.

The caller gives a function `fn(actor, value)` that starts one call on an
actor and returns its ObjectRef (or a list of refs). The pool keeps each actor
busy with at most one such call at a time: a value submitted while every actor
is busy waits in the pool until a result is taken with get_next() or
get_next_unordered(), which frees that result's actor. Results come back in
submission order (get_next) or as they finish (get_next_unordered); the two
cannot be mixed once results have been taken out of order.

Errors follow Ray's: a call that raised raises at the get that takes its
result (its actor goes back to the pool); an actor that died raises
ActorDiedError there and is dropped from the pool; get with nothing pending
raises StopIteration; a timeout raises TimeoutError (with ignore_if_timedout
the late call is dropped and its actor freed).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from raylite import exceptions
from raylite.client.api import get, wait
from raylite.client.object_ref import ObjectRef

_TIMEOUT_MESSAGE = "Timed out waiting for result"


class _Pending:
    """One submitted call: its position, its actor and what fn returned."""

    __slots__ = ("index", "actor", "result")

    def __init__(self, index: int, actor: Any, result: Any) -> None:
        self.index = index
        self.actor = actor
        self.result = result

    def refs(self) -> list[ObjectRef]:
        if isinstance(self.result, _Failed):
            return []
        return list(self.result) if isinstance(self.result, (list, tuple)) else [self.result]


class _Failed:
    """fn itself raised when a waiting value was started: its get raises that."""

    def __init__(self, error: Exception) -> None:
        self.error = error


class ActorPool:
    """A fixed pool of actors: ActorPool([a1, a2]).map(lambda a, v: a.f.remote(v), values)."""

    def __init__(self, actors: Iterable[Any]) -> None:
        self._idle: list[Any] = list(actors)
        self._pending: dict[int, _Pending] = {}  # submission index -> call in flight
        self._waiting: deque[tuple[Callable[[Any, Any], Any], Any]] = deque()  # no actor was free
        self._next_index = 0  # index of the next call started
        self._next_return = 0  # index get_next() returns next

    # ---- submitting --------------------------------------------------------------

    def submit(self, fn: Callable[[Any, Any], Any], value: Any) -> None:
        """Starts fn(actor, value) on an idle actor, or keeps it until one is free."""
        if not self._idle:
            self._waiting.append((fn, value))
            return
        actor = self._idle.pop()
        try:
            result = fn(actor, value)
        except Exception:
            self._idle.append(actor)  # fn failed before giving the actor any work
            raise
        self._add(actor, result)

    def _add(self, actor: Any, result: Any) -> None:
        self._pending[self._next_index] = _Pending(self._next_index, actor, result)
        self._next_index += 1

    def map(self, fn: Callable[[Any, Any], Any], values: Iterable[Any]) -> Iterator[Any]:
        """Submits fn for every value now; yields the results in the order of values.

        Results of earlier submissions that were never taken are dropped first (as Ray's)."""
        self._drop_earlier_results()
        for v in values:
            self.submit(fn, v)
        return self._results(self.get_next)

    def map_unordered(self, fn: Callable[[Any, Any], Any], values: Iterable[Any]) -> Iterator[Any]:
        """As map(), but yields each result as soon as it is ready."""
        self._drop_earlier_results()
        for v in values:
            self.submit(fn, v)
        return self._results(self.get_next_unordered)

    def _results(self, take: Callable[[], Any]) -> Iterator[Any]:
        while self.has_next():
            yield take()

    def _drop_earlier_results(self) -> None:
        """A new map forgets results of earlier submissions that nobody took (as Ray's)."""
        while self.has_next():
            try:
                self._take(self._oldest(), 0, ignore_if_timedout=True)
            except Exception:  # noqa: BLE001 - a dropped call's timeout or error concerns nobody now
                pass

    # ---- taking results ----------------------------------------------------------

    def has_next(self) -> bool:
        """Whether a submitted call's result has not been taken yet."""
        return bool(self._pending)

    def get_next(self, timeout: float | None = None, ignore_if_timedout: bool = False) -> Any:
        """The next result in submission order; waits up to timeout seconds (None: for ever).

        Raises StopIteration with nothing pending, TimeoutError when the
        result is not ready in time (ignore_if_timedout=True drops that call
        and frees its actor first), and the call's own error if it raised.
        """
        if not self.has_next():
            raise StopIteration("No more results to get")
        if self._next_return not in self._pending:  # get_next_unordered() took it
            raise ValueError("It is not allowed to call get_next() after get_next_unordered().")
        return self._take(self._pending[self._next_return], timeout, ignore_if_timedout)

    def get_next_unordered(self, timeout: float | None = None, ignore_if_timedout: bool = False) -> Any:
        """Any ready result (the first to finish); waits up to timeout seconds (None: for ever).

        Errors as get_next(); with ignore_if_timedout=True a timeout drops the
        oldest pending call.
        """
        if not self.has_next():
            raise StopIteration("No more results to get")
        by_ref: dict[ObjectRef, _Pending] = {}
        for pending in self._pending.values():
            if isinstance(pending.result, _Failed):
                return self._take(pending, None, False)
            by_ref.setdefault(pending.refs()[0], pending)
        ready, _ = wait(list(by_ref), num_returns=1, timeout=timeout)
        if ready:
            return self._take(by_ref[ready[0]], None, False)
        if not ignore_if_timedout:
            raise TimeoutError(_TIMEOUT_MESSAGE)
        return self._take(self._oldest(), 0, True)

    def _oldest(self) -> _Pending:
        return self._pending[min(self._pending)]

    def _take(self, pending: _Pending, timeout: float | None, ignore_if_timedout: bool) -> Any:
        """Removes pending from the pool and returns its value, freeing its actor."""
        if isinstance(pending.result, _Failed):
            self._forget(pending)
            raise pending.result.error
        if timeout is not None:
            ready, _ = wait(pending.refs(), num_returns=len(pending.refs()), timeout=timeout)
            if not ready or len(ready) < len(pending.refs()):
                if not ignore_if_timedout:
                    raise TimeoutError(_TIMEOUT_MESSAGE)
                self._forget(pending)
                self._give_back(pending.actor)
                raise TimeoutError(f"{_TIMEOUT_MESSAGE}. The task {pending.result} has been ignored.")
        self._forget(pending)
        alive = True
        try:
            return get(pending.result)
        except exceptions.ActorDiedError:
            alive = False  # a dead actor would take every later value and fail it
            raise
        finally:
            self._give_back(pending.actor if alive else None)

    def _forget(self, pending: _Pending) -> None:
        del self._pending[pending.index]
        self._next_return = max(self._next_return, pending.index + 1)

    def _give_back(self, actor: Any) -> None:
        """actor is free again (None: it died); it starts the oldest waiting value."""
        if actor is not None:
            self._idle.append(actor)
        while self._waiting and self._idle:
            fn, value = self._waiting.popleft()
            try:
                self.submit(fn, value)
            except Exception as exc:  # noqa: BLE001 - raised by the get that takes this value's turn
                self._add(None, _Failed(exc))

    # ---- the actors ----------------------------------------------------------------

    def has_free(self) -> bool:
        """Whether an actor is idle and no submitted value is waiting for one."""
        return bool(self._idle) and not self._waiting

    def pop_idle(self) -> Any:
        """Takes an idle actor out of the pool; None if none is free."""
        return self._idle.pop() if self.has_free() else None

    def push(self, actor: Any) -> None:
        """Adds an actor to the pool (it starts on a waiting value at once, if any)."""
        if actor in self._idle or any(actor == p.actor for p in self._pending.values()):
            raise ValueError("Actor already belongs to current ActorPool")
        self._give_back(actor)
