"""One message per wake-up: how every raylite stream batches.

Producers fill the message being built (`outbox.touch().tasks.append(...)`);
one writer coroutine sends whatever accumulated each time it wakes. While a
write is in flight new items gather in the next message, so the batch size
grows with load and a lone item still leaves at once.

A batch larger than the peer accepts (config.GRPC_MAX_MESSAGE_BYTES) would end
the whole stream, so one that grows past half of it leaves as several
messages (`split`), its items in the order the receiver applies them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

import grpc
from google.protobuf.message import Message

from raylite import config


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


# The order in which the receiver applies a message's repeated fields (with a
# filter where one field goes in two places): a split keeps it across parts.
# Unlisted repeated fields follow in declaration order. `hello` stays in the
# first part; every other single field (flush, flush_ack, warning) goes in the
# last, since it speaks of everything before it.
_ORDER: dict[str, list[tuple[str, Callable[[Any], bool] | None]]] = {
    # raylite/head/service.py _on_client_batch
    "raylite.rpc.ClientBatch": [
        ("exports", None),
        ("ref_changes", lambda change: change.held),
        ("puts", None),
        ("tasks", None),
        ("subscribe", None),
        ("block_states", None),
        ("results", None),
        ("kill_actors", None),
        ("restart_actors", None),
        ("ref_changes", lambda change: not change.held),
    ],
    # raylite/worker/daemon.py read_head: kills name incarnations older than any creation
    "raylite.rpc.HeadToNode": [("nodes", None), ("kill_actors", None), ("free_objects", None), ("tasks", None)],
}

_ITEM_OVERHEAD = 16  # a field's tag and length, generously


def split(msg: Message, limit: int) -> list[Message]:
    """msg as one message, or as several of about `limit` bytes at most when it is larger."""
    if msg.ByteSize() <= limit:
        return [msg]
    fields = msg.DESCRIPTOR.fields
    order = list(_ORDER.get(msg.DESCRIPTOR.full_name, []))
    listed = {name for name, _ in order}
    order += [(f.name, None) for f in fields if f.is_repeated and f.name not in listed]
    parts = [type(msg)()]
    size = 0
    for field, value in msg.ListFields():
        if field.name == "hello":
            parts[0].hello.CopyFrom(value)
            size = value.ByteSize()
    for name, keep in order:
        for item in getattr(msg, name):
            if keep is not None and not keep(item):
                continue
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
    for field, value in msg.ListFields():
        if not field.is_repeated and field.name != "hello":
            if field.message_type is not None:
                getattr(parts[-1], field.name).CopyFrom(value)
            else:
                setattr(parts[-1], field.name, value)
    return parts
