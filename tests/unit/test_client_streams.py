"""The client's side of generator tasks without a head: items arriving, the end of a stream,
waits on both, progress for backpressure, and which calls run as generators."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from raylite import ids
from raylite.client.generator import kind_of
from raylite.client.streams import RESEND_ITEMS, StreamCalls
from raylite.rpc import common_pb2, head_pb2

TASK = b"t" * ids.TASK_ID_BYTES


class FakeClient(StreamCalls):
    """The parts of Client that StreamCalls uses; the head's deliveries are fed by hand."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._objects: dict[bytes, common_pb2.ObjectValue] = {}
        self._waiters: dict[bytes, list[Any]] = {}
        self._refcounts: dict[bytes, int] = {}
        self._ref_lock = threading.Lock()
        self.current_task_id = b""
        self.head_address = "head:1"
        self.sent: list[tuple[int, Any]] = []
        self._init_streams()

    def _enqueue(self, kind: int, item: Any) -> None:
        self.sent.append((kind, item))

    def deliver(self, index: int, *, error: bool = False) -> bool:
        """The head pushes object `index` of TASK (0: the end of the stream, else item index-1)."""
        value = common_pb2.ObjectValue(object_id=ids.object_id(TASK, index), data=b"v", is_error=error)
        with self._lock:
            return self._stream_value(self._streams[TASK], value)


def test_an_item_wakes_the_wait_for_it() -> None:
    client = FakeClient()
    client.open_stream(TASK)
    future = client.item_future(TASK, 0)
    assert not future.done()
    assert client.deliver(1)  # item 0 is object 1
    assert future.result(0) is True
    assert client.item_future(TASK, 0).result(0) is True  # already here


def test_the_end_of_the_stream_wakes_the_wait_for_the_item_after_the_last() -> None:
    client = FakeClient()
    client.open_stream(TASK)
    client.deliver(1)
    future = client.item_future(TASK, 1)
    assert not client.deliver(0)  # return 0 is an ordinary object too: Client goes on with it
    assert future.result(0) is False
    assert client.item_future(TASK, 5).result(0) is False
    assert client._ended_marker(ids.object_id(TASK, 2)) and not client._ended_marker(ids.object_id(TASK, 1))


def test_a_lost_head_fails_the_wait_instead_of_leaving_it_hanging() -> None:
    client = FakeClient()
    client.open_stream(TASK)
    future = client.item_future(TASK, 0)
    for waiter in client._waiters[ids.object_id(TASK, 1)]:
        waiter.fail()
    with pytest.raises(Exception, match="lost the connection"):
        future.result(0)


def test_wait_item_times_out_with_none() -> None:
    client = FakeClient()
    client.open_stream(TASK)
    assert client.wait_item(client.item_future(TASK, 0), 0.01) is None


def test_closing_a_stream_forgets_the_items_it_did_not_hand_out() -> None:
    client = FakeClient()
    client.open_stream(TASK)
    for index in (1, 2, 3):
        client.deliver(index)
    client._refcounts[ids.object_id(TASK, 1)] = 1  # item 0 was taken and its ref lives
    client.close_stream(TASK, taken=1)
    assert set(client._objects) == {ids.object_id(TASK, 1)}
    assert client.stream_state(TASK) is None


def test_a_generator_collected_under_the_clients_lock_closes_later_without_deadlock() -> None:
    """A garbage collection can run ObjectRefGenerator.__del__ inside a section that holds the
    client's lock (it did, in item_future): the close must not block, and happens on the next call."""
    client = FakeClient()
    client.open_stream(TASK)
    client.deliver(1)
    with client._lock:
        client.close_stream_soon(TASK, taken=0)  # would deadlock if it took the lock
        assert client.stream_state(TASK) is not None
    client.item_future(b"u" * ids.TASK_ID_BYTES, 0)  # the next stream call closes it
    assert client.stream_state(TASK) is None and client._objects == {}


def test_a_generator_collected_with_the_locks_free_closes_at_once() -> None:
    client = FakeClient()
    client.open_stream(TASK)
    client.deliver(1)
    client.close_stream_soon(TASK, taken=0)
    assert client.stream_state(TASK) is None and client._objects == {}


def test_progress_reaches_a_paused_generator() -> None:
    client = FakeClient()
    assert not client.wait_consumed(TASK, 2, 0.01)
    progress = head_pb2.HeadToClient()
    progress.generator_consumed.add(task_id=TASK, consumed=2)
    client._on_generator_consumed(progress.generator_consumed)
    assert client.wait_consumed(TASK, 2, 0)
    client.stream_consumed(TASK, 3)
    assert client.sent[-1][1].consumed == 3


def test_which_calls_run_as_generators() -> None:
    def gen():
        yield 1

    async def agen():
        yield 1

    def plain():
        return 1

    assert kind_of(gen, None, "gen") == common_pb2.STREAMING
    assert kind_of(agen, None, "agen") == common_pb2.STREAMING
    assert kind_of(gen, "dynamic", "gen") == common_pb2.DYNAMIC
    assert kind_of(gen, 2, "gen") == common_pb2.NOT_GENERATOR
    assert kind_of(plain, None, "plain") == common_pb2.NOT_GENERATOR
    with pytest.raises(ValueError, match="only be used with generator functions"):
        kind_of(plain, "streaming", "plain")


def test_an_item_that_arrived_is_asked_for_again_but_one_to_come_is_not() -> None:
    client = FakeClient()
    client.open_stream(TASK)
    client.deliver(1)
    assert not client._item_to_come(ids.object_id(TASK, 1))  # its node died: get subscribes to it
    assert client._item_to_come(ids.object_id(TASK, 2))
    assert not client._item_to_come(ids.object_id(b"x" * ids.TASK_ID_BYTES, 2))  # no stream of ours


def test_a_caller_tells_a_restarted_head_which_items_it_has() -> None:
    # (an item the old head read just before it was killed never came; the next one did)
    client = FakeClient()
    client.open_stream(TASK)
    client.deliver(1)
    client.deliver(3)  # item 2: item 1 is missing
    with client._lock:
        [received] = client._streams_received()
    assert (received.task_id, received.arrived, list(received.missing)) == (TASK, 3, [1])
    client.deliver(2)  # the restarted head remade it
    with client._lock:
        [received] = client._streams_received()
    assert (received.arrived, list(received.missing)) == (3, [])
    client.deliver(0)
    with client._lock:
        assert client._streams_received() == []  # ended: nothing to ask for


def test_an_executor_resends_the_last_items_of_a_generator_until_its_result_is_sent() -> None:
    client = FakeClient()
    other = b"o" * ids.TASK_ID_BYTES
    for index in range(RESEND_ITEMS + 2):
        client.report_item(head_pb2.GeneratorItem(task_id=TASK, index=index))
    client.report_item(head_pb2.GeneratorItem(task_id=other, index=0))
    with client._lock:
        kept = client._items_to_resend()
    assert [(i.task_id, i.index) for i in kept] == [(TASK, i) for i in range(2, RESEND_ITEMS + 2)] + [(other, 0)]
    client._items_done(TASK)
    with client._lock:
        assert [(i.task_id, i.index) for i in client._items_to_resend()] == [(other, 0)]
