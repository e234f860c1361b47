"""raylite.util.progress: the results of many refs as they complete, with a tqdm progress bar.

What Ray users write by hand, a `ray.wait` loop feeding a tqdm bar::

    bar = tqdm(total=len(refs))
    while refs:
        done, refs = ray.wait(refs, num_returns=min(100, len(refs)))
        bar.update(len(done))
        results.extend(ray.get(done))

costs O(n) per `wait` (every call rescans the refs left), so O(n^2 / batch) for
the whole, and each turn waits for a batch or sleeps on a timeout. Here each
ref is registered once with the client (`Client.arrivals()`), every arrival
wakes the loop, and whatever arrived by then is one batch: one bar update and
its values read. Results come in completion order (use `with_refs=True` to
know which ref each belongs to; `ray.get(refs)` afterwards gives list order
from the values already here, at no cost).

Like `get`, a failed ref raises its error when its turn comes; like `get`, a
long wait prints once why it is waiting (RAYLITE_WAIT_EXPLAIN_S).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from raylite.client import context
from raylite.client.object_ref import ObjectRef


def progress(
    refs: Iterable[ObjectRef],
    desc: str | None = None,
    total: int | None = None,
    *,
    with_refs: bool = False,
    disable: bool = False,
    **tqdm_options: Any,
) -> Iterator[Any]:
    """Yields the value of each ref as it completes (or (ref, value) with `with_refs`), with a bar.

    `desc` labels the bar; `total` is the bar's total (default: the number of refs);
    `disable=True` hides the bar; other keywords go to tqdm (`unit`, `file`, `mininterval`, ...).
    A ref given twice is yielded twice.
    """
    from tqdm.auto import tqdm

    refs = list(refs)
    first: dict[bytes, ObjectRef] = {}
    again: dict[bytes, int] = {}  # ids given more than once -> how many more times
    for ref in refs:
        if not isinstance(ref, ObjectRef):
            raise TypeError(f"progress() takes ObjectRefs, got {type(ref).__name__}: {ref!r}")
        oid = ref.binary()
        if oid in first:
            again[oid] = again.get(oid, 0) + 1
        else:
            first[oid] = ref
    client = context.current()
    materialize, value_of = client.materialize, client.value_of
    tqdm_options.setdefault("unit", "result")
    with tqdm(total=len(refs) if total is None else total, desc=desc, disable=disable, **tqdm_options) as bar:
        for batch in client.arrivals(list(first)):
            bar.update(len(batch) + (sum(again.get(oid, 0) for oid in batch) if again else 0))
            for oid in batch:
                value = materialize(value_of(oid))  # type: ignore[arg-type]
                out = (first[oid], value) if with_refs else value
                for _ in range(1 + again.get(oid, 0) if again else 1):
                    yield out
