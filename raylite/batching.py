"""One message per wake-up: how every raylite stream batches.

Producers fill the message being built (`outbox.touch().tasks.append(...)`);
one writer coroutine sends whatever accumulated each time it wakes. While a
write is in flight new items gather in the next message, so the batch size
grows with load and a lone item still leaves at once.

A batch larger than the peer accepts (config.GRPC_MAX_MESSAGE_BYTES) would end
the whole stream, so one that grows past half of it leaves as several
messages (`split`), its items in the order the receiver applies them
(raylite/message_order.py).
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

import grpc
from google.protobuf.message import Message

from raylite import config, message_order


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
                for part in split(msg, config.GRPC_MAX_MESSAGE_BYTES // 2):
                    await stream.write(part)
            except (asyncio.InvalidStateError, grpc.aio.AioRpcError) as exc:
                # the stream ended under us; whoever reads it reports the loss
                self.closed = True
                self.error = exc
                return


_ITEM_OVERHEAD = 16  # a field's tag and length, generously


def split(msg: Message, limit: int) -> list[Message]:
    """msg as one message, or as several of about `limit` bytes at most when it is larger.

    The parts are filled in the order the receiver applies the fields
    (raylite/message_order.py), so that applying them one after another is
    applying msg. A single field rides in the part being filled when its step
    comes: `hello`, first in its table, in the first part, and `flush`,
    `flush_ack` and `warning`, last, in the last.
    """
    if msg.ByteSize() <= limit:
        return [msg]
    fields = msg.DESCRIPTOR.fields_by_name
    present = {field.name: value for field, value in msg.ListFields()}
    parts = [type(msg)()]
    size = 0
    for step in message_order.steps(type(msg)):
        name = step.field
        field = fields[name]
        if not field.is_repeated:
            if name in present:
                value = present[name]
                if field.message_type is not None:
                    getattr(parts[-1], name).CopyFrom(value)
                    size += value.ByteSize()
                else:
                    setattr(parts[-1], name, value)
            continue
        items = getattr(msg, name)
        chosen = message_order.select(step)
        for item in items if chosen is None else chosen(items):
            item_size = (item.ByteSize() if isinstance(item, Message) else len(item)) + _ITEM_OVERHEAD
            if size and size + item_size > limit:
                parts.append(type(msg)())
                size = 0
            size += item_size
            target = getattr(parts[-1], name)
            if isinstance(item, Message):
                target.add().CopyFrom(item)
            else:
                target.append(item)
    return parts
