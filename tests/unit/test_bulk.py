"""The bulk path's pure parts: tickets, the hello, ranges, and the store's open_for_write/seal pair."""

from __future__ import annotations

import pytest

from raylite import bulk, config
from raylite.rpc import worker_pb2
from raylite.worker import validate
from raylite.worker.state.tickets import Granted, Refused, TicketBook

OID = b"o" * 20
OTHER = b"p" * 20


def test_a_ticket_opens_one_connection_for_its_object_before_it_expires() -> None:
    book = TicketBook(ttl_s=10)
    book.issue(b"t1", OID, now=100)
    book.issue(b"t2", OID, now=100)
    book.issue(b"t3", OID, now=100)
    assert book.redeem(b"t1", OID, now=105) == Granted(OID)
    assert isinstance(book.redeem(b"t1", OID, now=105), Refused)  # used
    assert "expired" in _reason(book.redeem(b"t2", OID, now=111))
    assert "not" in _reason(book.redeem(b"t3", OTHER, now=101))  # for another object...
    assert isinstance(book.redeem(b"t3", OID, now=101), Refused)  # ...and used up by the attempt
    assert "unknown" in _reason(book.redeem(b"never", OID, now=101))
    assert book.outstanding() == 0
    book.validate()


def test_the_book_forgets_expired_tickets_and_stays_within_its_limit() -> None:
    book = TicketBook(ttl_s=10, limit=3)
    book.issue(b"old", OID, now=0)
    book.issue(b"a", OID, now=20)  # "old" expired: dropped at this issue
    assert book.outstanding() == 1
    for t in (b"b", b"c", b"d"):
        book.issue(t, OID, now=21)
    assert book.outstanding() == 3
    assert isinstance(book.redeem(b"a", OID, now=22), Refused)  # the oldest went first
    assert book.redeem(b"d", OID, now=22) == Granted(OID)
    book.validate()


def _reason(verdict: Granted | Refused) -> str:
    assert isinstance(verdict, Refused), verdict
    return verdict.reason


def test_hello_round_trip_and_refusals() -> None:
    hello = bulk.Hello(bulk.new_ticket(), OID, 4096, 1 << 20)
    data = bulk.encode_hello(hello)
    assert len(data) == bulk.HELLO_BYTES
    assert bulk.decode_hello(data) == hello
    assert "bytes" in str(bulk.decode_hello(data[:-1]))
    assert "magic" in str(bulk.decode_hello(b"XXXX" + data[4:]))
    assert "empty" in str(bulk.decode_hello(bulk.encode_hello(bulk.Hello(hello.ticket, OID, 0, 0))))


@pytest.mark.parametrize("size", [1, 65535, 65536, 10 << 20, (1 << 30) + 7])
@pytest.mark.parametrize("parts", [1, 2, 3, 8])
def test_ranges_cover_the_object_once(size: int, parts: int) -> None:
    got = bulk.ranges(size, parts, min_part=1 << 20)
    assert got[0][0] == 0
    assert all(a + n == b for (a, n), (b, _) in zip(got, got[1:], strict=False))
    assert got[-1][0] + got[-1][1] == size
    assert 1 <= len(got) <= parts
    assert all(n > 0 for _, n in got)
    assert len(got) == 1 or all(n >= 1 << 20 for _, n in got[:-1])


def test_split_address() -> None:
    assert bulk.split_address("10.0.0.1:5000") == ("10.0.0.1", 5000)
    assert bulk.split_address("[::1]:7") == ("::1", 7)


def test_bulk_ticket_requests_are_checked() -> None:
    ok = worker_pb2.BulkTicketRequest(object_id=OID, connections=1)
    assert validate.bulk_ticket(ok) is None
    assert "object_id" in str(validate.bulk_ticket(worker_pb2.BulkTicketRequest(object_id=b"x", connections=1)))
    too_many = worker_pb2.BulkTicketRequest(object_id=OID, connections=config.BULK_MAX_CONNECTIONS + 1)
    assert "connections" in str(validate.bulk_ticket(too_many))
    assert "connections" in str(validate.bulk_ticket(worker_pb2.BulkTicketRequest(object_id=OID)))
