"""The order a single-threaded actor runs its calls in (raylite/worker/actor_host.py's CallOrder)."""

from __future__ import annotations

import socket
import threading

from raylite.worker import protocol
from raylite.worker.actor_host import CallOrder, Inbox

A, B = b"caller-a", b"caller-b"


def test_ready_calls_run_in_arrival_order() -> None:
    order = CallOrder()
    for call_id, caller in ((b"a1", A), (b"b1", B), (b"a2", A)):
        order.arrived(caller, call_id, ready=True)
    assert order.take_runnable() == [b"a1", b"b1", b"a2"]
    assert order.take_runnable() == [] and len(order) == 0


def test_a_call_waiting_for_arguments_holds_back_only_its_own_callers_later_calls() -> None:
    order = CallOrder()
    order.arrived(A, b"a1", ready=False)
    order.arrived(A, b"a2", ready=True)
    order.arrived(B, b"b1", ready=True)
    assert order.take_runnable() == [b"b1"]  # another caller is not held back
    order.arrived(B, b"b2", ready=True)
    assert order.take_runnable() == [b"b2"]
    order.resolved(b"a1")
    assert order.take_runnable() == [b"a1", b"a2"]  # a2 only after a1, as A made them


def test_a_later_call_resolved_first_still_waits_for_its_callers_earlier_one() -> None:
    order = CallOrder()
    order.arrived(A, b"a1", ready=False)
    order.arrived(A, b"a2", ready=False)
    order.resolved(b"a2")
    assert order.take_runnable() == []
    order.resolved(b"a1")
    assert order.take_runnable() == [b"a1", b"a2"]


def test_inbox_reads_frames_itself_and_wakes_for_a_helpers_news() -> None:
    ours, daemon = socket.socketpair()
    channel = protocol.BlockingChannel(ours)
    inbox = Inbox(ours, channel.recv)
    daemon.sendall(protocol.pack(protocol.TASK, b"first"))
    assert inbox.get() == ("frame", (protocol.TASK, b"first"))  # no helper out: a plain blocking read
    inbox.helper_started()
    helper = threading.Thread(target=inbox.put, args=(b"call-1",))
    helper.start()
    assert inbox.get() == ("news", b"call-1")  # waits on the socket and the wake-up, the news wins
    helper.join()
    daemon.close()
    assert inbox.get() == ("frame", None)  # the daemon went: EOF, not a hang
    ours.close()
