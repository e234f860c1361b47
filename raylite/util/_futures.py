"""Waiting for refs from threads and coroutines, for the util library.

`ObjectRef.future()` and `await ref` are not served by today's client (it has
no future_of/await_ref), so the util library waits on its own: one daemon
thread per wait, blocked in `get` (results are pushed to the client, so the
thread sleeps until the value arrives; nothing polls).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any

from raylite.client.api import get


def ref_future(refs: Any) -> concurrent.futures.Future[Any]:
    """A future of get(refs): its value, or the error get raises."""
    future: concurrent.futures.Future[Any] = concurrent.futures.Future()

    def run() -> None:
        try:
            value = get(refs)
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits on the future
            future.set_exception(exc)
        else:
            future.set_result(value)

    threading.Thread(target=run, name="raylite-util-wait", daemon=True).start()
    return future


async def await_refs(refs: Any) -> Any:
    """`await` for get(refs), without blocking the running event loop."""
    return await asyncio.wrap_future(ref_future(refs))
