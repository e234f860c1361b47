"""One message per wake-up: how every raylite stream batches.

Producers fill the message being built (`outbox.touch().tasks.append(...)`);
one writer coroutine sends whatever accumulated each time it wakes. While a
write is in flight new items gather in the next message, so the batch size
grows with load and a lone item still leaves at once.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

import grpc


class _Writable(Protocol):
    async def write(self, message: Any) -> None: ...


class Outbox:
    def __init__(self, factory: type) -> None:
        self._factory = factory
        self.msg = factory()
        self._wake = asyncio.Event()
        self.closed = False
        self.error: BaseException | None = None

    def touch(self) -> Any:
        """The message being built; marks it as worth sending."""
        self._wake.set()
        return self.msg

    def close(self) -> None:
        self.closed = True
        self._wake.set()

    async def run(self, stream: _Writable) -> None:
        while True:
            await self._wake.wait()
            if self.closed:
                return
            self._wake.clear()
            msg, self.msg = self.msg, self._factory()
            try:
                await stream.write(msg)
            except (asyncio.InvalidStateError, grpc.aio.AioRpcError) as exc:
                # the stream ended under us; whoever reads it reports the loss
                self.closed = True
                self.error = exc
                return
