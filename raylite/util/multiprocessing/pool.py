"""multiprocessing.Pool's API on actors, as ray.util.multiprocessing.Pool.

Each of the pool's "processes" is an actor (a process of its own, on any node
of the cluster) that ran the initializer once. Work is cut into chunks of
`chunksize` items; chunks go to the actors in turn and queue at each actor,
which runs them one after another. A chunk is one actor call: its result is
the list of its items' results, and its error the first item's exception.

Errors reach the caller as the standard library's pool raises them: the
function's own exception (not a wrapper), with the remote traceback as its
__cause__ (multiprocessing.pool.RemoteTraceback); error_callback receives
that exception. AsyncResult callbacks run in a thread of the pool before the
result counts as ready, so once get() returns they have run.
"""

from __future__ import annotations

import itertools
import sys
import threading
import traceback
from collections.abc import Callable, Iterable
from multiprocessing import TimeoutError as MpTimeoutError
from multiprocessing.pool import RemoteTraceback  # type: ignore[attr-defined]  # not in typeshed
from typing import Any

from raylite import exceptions
from raylite.client import api
from raylite.client.object_ref import ObjectRef

_RUN, _CLOSE, _TERMINATE = "RUN", "CLOSE", "TERMINATE"


class _PoolActor:
    """One of the pool's processes."""

    def __init__(self, initializer: Callable[..., Any] | None, initargs: tuple[Any, ...]) -> None:
        if initializer is not None:
            initializer(*initargs)

    def run_chunk(self, func: Callable[..., Any], chunk: list[Any], star: bool) -> list[Any]:
        if star:
            return [func(*args) for args in chunk]
        return [func(x) for x in chunk]

    def ping(self) -> bool:
        return True


_PoolActorClass = api.remote(_PoolActor)


def _as_stdlib_error(exc: BaseException) -> BaseException:
    """The function's own exception, with the remote traceback as its cause."""
    if isinstance(exc, exceptions.RayTaskError) and isinstance(exc.cause, BaseException):
        cause = exc.cause
        cause.__cause__ = RemoteTraceback(f'\n"""\n{exc.traceback_str.rstrip()}\n"""')
        cause.__suppress_context__ = True
        return cause
    return exc


def _get(refs: Any, timeout: float | None = None) -> Any:
    try:
        return api.get(refs, timeout=timeout)
    except exceptions.GetTimeoutError:
        raise MpTimeoutError() from None
    except exceptions.RayTaskError as exc:
        raise _as_stdlib_error(exc)  # noqa: B904 - its __cause__ is the remote traceback


class AsyncResult:
    """The result of apply_async/map_async/starmap_async: get(timeout), wait, ready, successful."""

    def __init__(
        self,
        refs: list[ObjectRef],
        assemble: Callable[[list[Any]], Any],
        callback: Callable[[Any], Any] | None,
        error_callback: Callable[[BaseException], Any] | None,
    ) -> None:
        self._event = threading.Event()
        self._value: Any = None
        self._error: BaseException | None = None
        self._callback = callback
        self._error_callback = error_callback
        self._thread = threading.Thread(
            target=self._wait_for, args=(refs, assemble), name="raylite-pool-result", daemon=True
        )
        self._thread.start()

    def _wait_for(self, refs: list[ObjectRef], assemble: Callable[[list[Any]], Any]) -> None:
        try:
            self._value = assemble(_get(refs))
        except BaseException as exc:  # noqa: BLE001 - kept for get() and error_callback
            self._error = exc
        try:
            if self._error is None and self._callback is not None:
                self._callback(self._value)
            elif self._error is not None and self._error_callback is not None:
                self._error_callback(self._error)
        except Exception:  # noqa: BLE001 - a failing callback must not lose the result
            print("raylite Pool: a callback raised:", file=sys.stderr)
            traceback.print_exc()
        finally:
            self._event.set()

    def ready(self) -> bool:
        return self._event.is_set()

    def successful(self) -> bool:
        if not self.ready():
            raise ValueError(f"{self!r} not ready")
        return self._error is None

    def wait(self, timeout: float | None = None) -> None:
        self._event.wait(timeout)

    def get(self, timeout: float | None = None) -> Any:
        self.wait(timeout)
        if not self.ready():
            raise MpTimeoutError()
        if self._error is not None:
            raise self._error
        return self._value


# the standard library's names for the same thing
ApplyResult = AsyncResult
MapResult = AsyncResult


class IMapIterator:
    """The iterator of imap/imap_unordered; next(timeout) raises multiprocessing.TimeoutError.

    With chunksize 1 an item that raised raises at its turn and iteration goes
    on; with larger chunks the first error ends the iteration (as the
    standard library's pool does).
    """

    def __init__(self, chunk_refs: list[ObjectRef], ordered: bool, chunked: bool) -> None:
        self._remaining = list(chunk_refs)
        self._ordered = ordered
        self._chunked = chunked
        self._ready_items: list[Any] = []
        self._done = False

    def __iter__(self) -> IMapIterator:
        return self

    def __next__(self) -> Any:
        return self.next()

    def next(self, timeout: float | None = None) -> Any:
        while not self._ready_items:
            if self._done or not self._remaining:
                raise StopIteration
            if self._ordered:
                ref = self._remaining[0]
            else:
                ready, _ = api.wait(self._remaining, num_returns=1, timeout=timeout)
                if not ready:
                    raise MpTimeoutError()
                ref = ready[0]
            try:
                chunk = _get(ref, timeout)
            except MpTimeoutError:
                raise
            except BaseException:
                self._remaining.remove(ref)
                self._done = self._chunked
                raise
            self._remaining.remove(ref)
            self._ready_items.extend(chunk)
        return self._ready_items.pop(0)

    __next__.__doc__ = next.__doc__


IMapUnorderedIterator = IMapIterator


class Pool:
    """Pool(processes=None, initializer=None, initargs=(), maxtasksperchild=None, ray_address=None).

    processes defaults to the cluster's CPUs. If raylite is not initialized,
    the pool connects to ray_address (or $RAYLITE_ADDRESS/$RAY_ADDRESS), or
    starts a local cluster of `processes` CPUs. maxtasksperchild replaces an
    actor by a new one after it was given that many chunks. ray_remote_args
    are options for the actors (they hold no CPU by default).
    """

    def __init__(
        self,
        processes: int | None = None,
        initializer: Callable[..., Any] | None = None,
        initargs: Iterable[Any] | None = None,
        maxtasksperchild: int | None = None,
        context: Any = None,
        ray_address: str | None = None,
        ray_remote_args: dict[str, Any] | None = None,
    ) -> None:
        if processes is not None and processes < 1:
            raise ValueError("Number of processes must be at least 1")
        if initializer is not None and not callable(initializer):
            raise TypeError("initializer must be a callable")
        if maxtasksperchild is not None and (not isinstance(maxtasksperchild, int) or maxtasksperchild <= 0):
            raise ValueError("maxtasksperchild must be a positive int or None")
        if not api.is_initialized():
            api.init(address=ray_address, num_cpus=processes if ray_address is None else None)
        if processes is None:
            processes = max(1, int(api.cluster_resources().get("CPU", 1)))
        self._processes = processes
        self._initializer = initializer
        self._initargs = tuple(initargs or ())
        self._maxtasksperchild = maxtasksperchild
        self._remote_args = {"num_cpus": 0, **(ray_remote_args or {})}
        self._actors: list[Any] = [self._new_actor() for _ in range(processes)]
        self._given = [0] * processes  # chunks given to each actor
        self._next = 0
        self._outstanding: list[ObjectRef] = []  # every chunk in flight, for join()
        self._async_results: list[AsyncResult] = []  # for join(): their callbacks have run after it
        self._lock = threading.Lock()
        self._state = _RUN

    def _new_actor(self) -> Any:
        return _PoolActorClass.options(**self._remote_args).remote(self._initializer, self._initargs)

    # ---- cutting and sending work ------------------------------------------------

    def _check_running(self) -> None:
        if self._state != _RUN:
            raise ValueError("Pool not running")

    def _submit(self, func: Callable[..., Any], chunks: Iterable[list[Any]], star: bool) -> list[ObjectRef]:
        """One actor call per chunk, actors taken in turn."""
        self._check_running()
        refs = []
        with self._lock:
            for chunk in chunks:
                i = self._next
                self._next = (i + 1) % self._processes
                refs.append(self._actors[i].run_chunk.remote(func, chunk, star))
                self._given[i] += 1
                if self._maxtasksperchild is not None and self._given[i] >= self._maxtasksperchild:
                    # the old actor ends once its queued chunks are done and its handle is gone
                    self._actors[i] = self._new_actor()
                    self._given[i] = 0
            if len(self._outstanding) > 256:  # forget finished chunks now and then
                self._outstanding = api.wait(self._outstanding, num_returns=len(self._outstanding), timeout=0)[1]
            self._outstanding.extend(refs)
        return refs

    def _track(self, result: AsyncResult) -> AsyncResult:
        with self._lock:
            self._async_results = [r for r in self._async_results if not r.ready()]
            self._async_results.append(result)
        return result

    def _chunks(self, items: list[Any], chunksize: int | None) -> list[list[Any]]:
        if chunksize is None:
            chunksize, extra = divmod(len(items), self._processes * 4)
            chunksize += 1 if extra else 0
        if chunksize < 1:
            if items:
                raise ValueError(f"chunksize must be at least 1, got {chunksize}")
            chunksize = 1
        return [items[i : i + chunksize] for i in range(0, len(items), chunksize)]

    def _map_refs(
        self, func: Callable[..., Any], iterable: Iterable[Any], chunksize: int | None, star: bool
    ) -> list[ObjectRef]:
        self._check_running()
        return self._submit(func, self._chunks(list(iterable), chunksize), star)

    # ---- the standard library's API ----------------------------------------------

    def apply(self, func: Callable[..., Any], args: tuple[Any, ...] = (), kwds: dict[str, Any] | None = None) -> Any:
        """func(*args, **kwds) in one of the pool's processes; waits for the result."""
        return self.apply_async(func, args, kwds).get()

    def apply_async(
        self,
        func: Callable[..., Any],
        args: tuple[Any, ...] = (),
        kwds: dict[str, Any] | None = None,
        callback: Callable[[Any], Any] | None = None,
        error_callback: Callable[[BaseException], Any] | None = None,
    ) -> AsyncResult:
        """func(*args, **kwds) in one of the pool's processes; returns an AsyncResult."""
        call = _Call(func, tuple(args), dict(kwds or {}))
        refs = self._submit(call, [[()]], star=True)
        return self._track(AsyncResult(refs, lambda chunks: chunks[0][0], callback, error_callback))

    def map(self, func: Callable[[Any], Any], iterable: Iterable[Any], chunksize: int | None = None) -> list[Any]:
        """[func(x) for x in iterable], in parallel; raises the first failing item's error."""
        return _flatten(_get(self._map_refs(func, iterable, chunksize, star=False)))

    def map_async(
        self,
        func: Callable[[Any], Any],
        iterable: Iterable[Any],
        chunksize: int | None = None,
        callback: Callable[[Any], Any] | None = None,
        error_callback: Callable[[BaseException], Any] | None = None,
    ) -> AsyncResult:
        refs = self._map_refs(func, iterable, chunksize, star=False)
        return self._track(AsyncResult(refs, _flatten, callback, error_callback))

    def starmap(
        self, func: Callable[..., Any], iterable: Iterable[Iterable[Any]], chunksize: int | None = None
    ) -> list[Any]:
        """[func(*args) for args in iterable], in parallel."""
        return _flatten(_get(self._map_refs(func, iterable, chunksize, star=True)))

    def starmap_async(
        self,
        func: Callable[..., Any],
        iterable: Iterable[Iterable[Any]],
        chunksize: int | None = None,
        callback: Callable[[Any], Any] | None = None,
        error_callback: Callable[[BaseException], Any] | None = None,
    ) -> AsyncResult:
        refs = self._map_refs(func, iterable, chunksize, star=True)
        return self._track(AsyncResult(refs, _flatten, callback, error_callback))

    def imap(self, func: Callable[[Any], Any], iterable: Iterable[Any], chunksize: int = 1) -> IMapIterator:
        """An iterator of func(x) for x in iterable, in order, each as soon as it is ready."""
        refs = self._map_refs(func, iterable, chunksize, star=False)
        return IMapIterator(refs, ordered=True, chunked=chunksize > 1)

    def imap_unordered(self, func: Callable[[Any], Any], iterable: Iterable[Any], chunksize: int = 1) -> IMapIterator:
        """As imap, in the order the chunks finish."""
        refs = self._map_refs(func, iterable, chunksize, star=False)
        return IMapIterator(refs, ordered=False, chunked=chunksize > 1)

    def close(self) -> None:
        """No more work may be submitted; work already submitted runs to the end."""
        if self._state == _RUN:
            self._state = _CLOSE

    def terminate(self) -> None:
        """Stops the pool's processes now; work not finished is lost."""
        self._state = _TERMINATE
        with self._lock:
            actors, self._actors = self._actors, []
        for actor in actors:
            try:
                api.kill(actor)
            except Exception:  # noqa: BLE001 - the cluster may be going down already
                pass

    def join(self) -> None:
        """Waits for the submitted work to finish (after close() or terminate())."""
        if self._state == _RUN:
            raise ValueError("Pool is still running")
        with self._lock:
            outstanding = list(self._outstanding)
            results = list(self._async_results)
        if outstanding:
            api.wait(outstanding, num_returns=len(outstanding))
        for result in results:
            result.wait()
        if self._state == _CLOSE:
            with self._lock:
                self._actors = []  # each actor ends once its handle is gone

    def __enter__(self) -> Pool:
        self._check_running()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.terminate()

    def __repr__(self) -> str:
        return f"<raylite.util.multiprocessing.Pool state={self._state} processes={self._processes}>"


class _Call:
    """func with its arguments, run as a chunk of one item."""

    def __init__(self, func: Callable[..., Any], args: tuple[Any, ...], kwds: dict[str, Any]) -> None:
        self.func = func
        self.args = args
        self.kwds = kwds

    def __call__(self) -> Any:
        return self.func(*self.args, **self.kwds)


def _flatten(chunks: list[list[Any]]) -> list[Any]:
    return list(itertools.chain.from_iterable(chunks))


__all__ = ["AsyncResult", "IMapIterator", "Pool"]
