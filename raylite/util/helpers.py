"""as_completed and map_unordered: results as tasks finish, as in Ray's ray.util (2.60).

Both are generators over `wait`: nothing runs, and no argument is checked, until
the first value is asked for (as Ray's). Results come a batch at a time, each
batch the first `chunk_size` refs `wait` finds ready, in the order the refs were
given within the batch; there is no promise of finishing order beyond that.
Extra keyword arguments (`timeout`, `fetch_local`) go to every `wait`; with a
timeout, a wait that finds nothing ready is simply followed by another.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from raylite.client.api import get, wait
from raylite.client.object_ref import ObjectRef

DEFAULT_CHUNK_SIZE = 10  # refs waited for at a time (Ray's default)
DEFAULT_BACKPRESSURE_SIZE = 100  # tasks of map_unordered in flight before it waits (Ray's default)


def as_completed(
    refs: Sequence[ObjectRef], *, chunk_size: int = DEFAULT_CHUNK_SIZE, yield_obj_refs: bool = False, **kwargs: Any
) -> Iterator[Any]:
    """Yields the values of `refs` (their refs, with yield_obj_refs=True) a ready batch at a time.

    A task's error is raised when its batch is reached, as `get` raises it.
    """
    _check(chunk_size, kwargs)
    pending = list(refs)
    while pending:
        batch, pending = _next_batch(pending, chunk_size, yield_obj_refs, kwargs)
        yield from batch


def map_unordered(
    fn: Any,
    items: Iterable[Any],
    *,
    backpressure_size: int | None = DEFAULT_BACKPRESSURE_SIZE,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    yield_obj_refs: bool = False,
    **kwargs: Any,
) -> Iterator[Any]:
    """Calls fn.remote(item) for each item and yields the results as they finish.

    At most `backpressure_size` calls are in flight (None: no limit): once that many
    are, the next batch that finishes is yielded before more are submitted.
    """
    if backpressure_size is not None and backpressure_size <= 0:
        raise ValueError(
            f"map_unordered: backpressure_size must be positive (or None for no limit), got {backpressure_size!r}"
        )
    _check(chunk_size, kwargs)
    limit = float("inf") if backpressure_size is None else backpressure_size
    in_flight: list[ObjectRef] = []
    for item in items:
        in_flight.append(fn.remote(item))
        if len(in_flight) >= limit:
            batch, in_flight = _next_batch(in_flight, chunk_size, yield_obj_refs, kwargs)
            yield from batch
    yield from as_completed(in_flight, chunk_size=chunk_size, yield_obj_refs=yield_obj_refs, **kwargs)


def _check(chunk_size: int, kwargs: dict[str, Any]) -> None:
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size!r}")
    if "num_returns" in kwargs:
        raise ValueError("pass chunk_size, not num_returns: it is the num_returns of each wait")


def _next_batch(
    refs: list[ObjectRef], chunk_size: int, yield_obj_refs: bool, kwargs: dict[str, Any]
) -> tuple[list[Any], list[ObjectRef]]:
    ready, rest = wait(refs, num_returns=min(chunk_size, len(refs)), **kwargs)
    return (ready if yield_obj_refs else get(ready)), rest
