"""Every kind of item a client queues reaches a field of its ClientBatch."""

from __future__ import annotations

from raylite.client import items
from raylite.rpc import head_pb2


def test_every_kind_has_its_place_in_the_batch() -> None:
    kinds = {v for k, v in vars(items).items() if k.startswith("_") and k[1:].isupper() and isinstance(v, int)}
    assert kinds == set(items.APPENDED_TO) | {items._REF, items._SUBSCRIBE, items._FLUSH}
    fields = head_pb2.ClientBatch.DESCRIPTOR.fields_by_name
    for field in items.APPENDED_TO.values():
        assert field in fields and getattr(head_pb2.ClientBatch(), field).append, field  # a repeated field
    assert len(set(items.APPENDED_TO.values())) == len(items.APPENDED_TO)
