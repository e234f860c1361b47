"""A bulk transfer that breaks halfway: the reader gives the room back, leaves no half-written file,
answers the Pull with an error (the caller then asks the head again, as for any failed holder),
and the next Pull succeeds. Real servicers and sockets in this process (tests/fuzz/harness.py)."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from raylite import config, store
from raylite.rpc import common_pb2, worker_pb2
from raylite.worker import bulk_server
from tests.fuzz.harness import KEEPER_STORED, NODE_A, NODE_B, STORED_BYTES, Services


@pytest.fixture
def bulk_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every transfer takes the bulk path (the keeper's object is smaller than the threshold)."""
    monkeypatch.setattr(config, "BULK_MIN_BYTES", 1)
    monkeypatch.setattr(config, "BULK_IDLE_TIMEOUT_S", 1.0)


@dataclass
class BrokenSender:
    mode: str = "close"  # after half the range: "close" (a sender that died) or "stall" (a cut link)
    release: threading.Event = field(default_factory=threading.Event)
    sent: int = 0


@pytest.fixture
def broken_sender(monkeypatch: pytest.MonkeyPatch) -> Iterator[BrokenSender]:
    """Node A's bulk port sends half of each range, then closes or stalls."""
    how = BrokenSender()
    real = bulk_server.bulk.send_range

    def half(sock: socket.socket, fd: int, offset: int, length: int) -> None:
        real(sock, fd, offset, length // 2)
        how.sent += 1
        if how.mode == "stall":
            how.release.wait(30)

    monkeypatch.setattr(bulk_server.bulk, "send_range", half)
    yield how
    how.release.set()


def pull_on_b(services: Services) -> worker_pb2.PullReply:
    location = common_pb2.ObjectValue(
        object_id=KEEPER_STORED,
        node_id=NODE_A,
        node_address=services.worker_addresses[NODE_A],
        size=len(STORED_BYTES),
        in_store=True,
    )
    outcome = services.unary(services.worker_addresses[NODE_B], "Pull", worker_pb2.PullRequest(location=location))
    assert outcome.code.name == "OK", outcome
    return worker_pb2.PullReply.FromString(outcome.replies[0])


def nothing_left_on_b(services: Services) -> None:
    node_store = services.stores[NODE_B]
    assert services.on_loop(lambda: node_store.index.where(KEEPER_STORED)) is None, "the room was not given back"
    assert [n for n in os.listdir(node_store.store_dir) if n.startswith(KEEPER_STORED.hex())] == []


@pytest.mark.parametrize("mode", ["close", "stall"])
def test_a_transfer_cut_halfway_frees_the_room_and_the_next_pull_succeeds(
    services: Services, bulk_everything: None, broken_sender: BrokenSender, mode: str
) -> None:
    broken_sender.mode = mode
    reply = pull_on_b(services)
    assert broken_sender.sent == 1, "the bulk port was not used"
    why = "was cut" if mode == "close" else "timed out"
    assert "could not be fetched" in reply.error and why in reply.error, reply.error
    nothing_left_on_b(services)


def test_after_the_cuts_a_good_sender_delivers_the_object(services: Services, bulk_everything: None) -> None:
    reply = pull_on_b(services)
    assert reply.error == "", reply.error
    node_store = services.stores[NODE_B]
    assert store.map_readonly(node_store.store_dir, KEEPER_STORED).tobytes() == STORED_BYTES
    services.on_loop(lambda: node_store.delete(KEEPER_STORED))
    services.check()
