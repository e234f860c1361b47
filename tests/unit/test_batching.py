"""Batches larger than the message limit leave as several messages, in the order the receiver applies them."""

from __future__ import annotations

from google.protobuf.message import Message

from raylite import message_order
from raylite.batching import split
from raylite.rpc import common_pb2, head_pb2

LIMIT = 2000


def applied(parts: list[head_pb2.ClientBatch]) -> list[tuple[str, bytes]]:
    """What the head applies, in order, for a sequence of ClientBatches (raylite/message_order.py)."""
    fields = head_pb2.ClientBatch.DESCRIPTOR.fields_by_name
    out: list[tuple[str, bytes]] = []
    for b in parts:
        present = {field.name: value for field, value in b.ListFields()}
        for step in message_order.ORDER[head_pb2.ClientBatch]:
            name = step.field
            if not fields[name].is_repeated:
                out += [(name, _key(present[name]))] if name in present else []
                continue
            chosen = message_order.select(step)
            items = getattr(b, name)
            out += [(name, _key(item)) for item in (items if chosen is None else chosen(items))]
    return out


def _key(value: object) -> bytes:
    return value.SerializeToString() if isinstance(value, Message) else str(value).encode()


def big_batch() -> head_pb2.ClientBatch:
    b = head_pb2.ClientBatch(hello=head_pb2.ClientHello(protocol_version=1, client_id=b"c" * 8), flush=7)
    for i in range(40):
        oid = i.to_bytes(20, "big")
        b.ref_changes.add(object_id=oid, held=i % 3 != 0)
        b.puts.add(object_id=oid, data=b"v" * 100, size=100)
        b.tasks.add(task_id=i.to_bytes(16, "big"), payload=b"p" * 150, dependencies=[oid])
        b.subscribe.append(oid)
    b.kill_actors.append(b"a" * 16)
    b.exports.add(function_id=b"f" * 16, blob=b"b" * 500)
    return b


def test_a_small_batch_is_left_whole() -> None:
    b = head_pb2.ClientBatch(flush=1)
    assert split(b, LIMIT) == [b]


def test_a_large_batch_is_split_keeping_the_order_the_head_applies() -> None:
    b = big_batch()
    parts = split(b, LIMIT)
    assert len(parts) > 5
    assert all(p.ByteSize() <= LIMIT for p in parts)
    assert applied(parts) == applied([b])
    assert parts[0].HasField("hello") and not any(p.HasField("hello") for p in parts[1:])
    assert parts[-1].flush == 7 and not any(p.flush for p in parts[:-1])


def test_a_large_head_to_node_message_sends_kills_before_tasks() -> None:
    msg = head_pb2.HeadToNode(kill_actors=[b"a" * 16])
    for i in range(30):
        msg.tasks.add(spec=common_pb2.TaskSpec(task_id=i.to_bytes(16, "big"), payload=b"p" * 200))
    msg.free_objects.append(b"o" * 20)
    parts = split(msg, LIMIT)
    assert len(parts) > 1
    assert list(parts[0].kill_actors) == [b"a" * 16] and list(parts[0].free_objects) == [b"o" * 20]
    assert [t.spec.task_id for p in parts for t in p.tasks] == [t.spec.task_id for t in msg.tasks]


def test_an_item_larger_than_the_limit_travels_alone() -> None:
    msg = head_pb2.HeadToClient(flush_ack=3)
    msg.objects.add(object_id=b"s" * 20, data=b"x" * 10)
    msg.objects.add(object_id=b"b" * 20, data=b"x" * (LIMIT * 2))
    parts = split(msg, LIMIT)
    assert [[o.object_id for o in p.objects] for p in parts] == [[b"s" * 20], [b"b" * 20]]
    assert parts[-1].flush_ack == 3
