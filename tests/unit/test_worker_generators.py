"""The executor's side of generator tasks without a cluster: items stored and reported in order,
the dynamic result, backpressure pauses, and a generator with a fixed number of returns."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from raylite import ids
from raylite.client import context
from raylite.client.generator import DynamicObjectRefGenerator
from raylite.rpc import common_pb2
from raylite.worker import generators

TASK = b"g" * ids.TASK_ID_BYTES
NODE = b"n" * ids.NODE_ID_BYTES


class FakeClient:
    """What generators.py asks of the executor's client; records the order of what it is told."""

    def __init__(self, consumed: int = 10**9) -> None:
        self.told: list[tuple[str, Any]] = []
        self.consumed = consumed
        self.waits: list[int] = []

    def add_ref(self, oid: bytes) -> None:
        self.told.append(("held", oid))

    def remove_ref(self, oid: bytes) -> None:
        self.told.append(("released", oid))

    def report_item(self, item: Any) -> None:
        self.told.append(("item", item.index))

    def wait_consumed(self, task_id: bytes, needed: int, timeout: float) -> bool:
        self.waits.append(needed)
        return self.consumed >= needed

    def forget_progress(self, task_id: bytes) -> None:
        self.told.append(("forget", task_id))


class FakeExecutor:
    node_id = NODE

    def _store_result(self, oid: bytes, value: Any, name: str) -> common_pb2.ObjectValue:
        return common_pb2.ObjectValue(object_id=oid, data=repr(value).encode())


@pytest.fixture
def client() -> Iterator[FakeClient]:
    fake = FakeClient()
    context.install(fake)  # type: ignore[arg-type]
    try:
        yield fake
    finally:
        context.install(None)


def spec(kind: int, backpressure: int = 0) -> common_pb2.TaskSpec:
    return common_pb2.TaskSpec(task_id=TASK, name="g", generator=kind, generator_backpressure=backpressure)  # type: ignore[arg-type]


def test_streaming_items_are_reported_in_order_and_the_value_is_none(client: FakeClient) -> None:
    value = generators.drain(FakeExecutor(), spec(common_pb2.STREAMING), (x for x in "abc"))  # type: ignore[arg-type]
    assert value is None
    assert client.told == [("item", 0), ("item", 1), ("item", 2)]


def test_dynamic_items_are_held_before_they_are_reported(client: FakeClient) -> None:
    value = generators.drain(FakeExecutor(), spec(common_pb2.DYNAMIC), (i for i in range(2)))  # type: ignore[arg-type]
    assert isinstance(value, DynamicObjectRefGenerator) and len(value) == 2
    first, second = ids.object_id(TASK, 1), ids.object_id(TASK, 2)
    assert client.told == [("held", first), ("item", 0), ("held", second), ("item", 1)]
    assert [r.binary() for r in value] == [first, second]


def test_backpressure_waits_until_fewer_than_n_items_are_not_taken(client: FakeClient) -> None:
    client.consumed = 10**9
    generators.drain(FakeExecutor(), spec(common_pb2.STREAMING, backpressure=2), (i for i in range(4)))  # type: ignore[arg-type]
    # after item k (k+1 yielded) it goes on once k+1-2+1 were taken: at most 2 not taken
    assert client.waits == [1, 2, 3]
    assert ("forget", TASK) in client.told


def test_a_plain_value_is_not_a_generator(client: FakeClient) -> None:
    with pytest.raises(TypeError, match="not a generator"):
        generators.drain(FakeExecutor(), spec(common_pb2.STREAMING), [1, 2])  # type: ignore[arg-type]


def test_fixed_returns_take_the_first_n_and_refuse_fewer(capsys: pytest.CaptureFixture[str]) -> None:
    s = spec(common_pb2.NOT_GENERATOR)
    assert generators.fixed_returns(s, (i for i in range(5)), 2) == [0, 1]
    assert "yielded more than num_returns=2" in capsys.readouterr().err
    with pytest.raises(ValueError, match="num_returns=3 but yielded only 1"):
        generators.fixed_returns(s, (i for i in range(1)), 3)
