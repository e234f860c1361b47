"""One-time tickets for the bulk port (raylite/worker/bulk_server.py): pure bookkeeping.

Theory of operation. A peer that wants an object's bytes asks over gRPC,
where the cluster token is checked, for tickets (the BulkTicket rpc). Each
ticket is random bytes the shell draws (`secrets`), bound here to one object
and an expiry. A connection to the bulk port presents one; `redeem` answers
with the object it is for, or with why it is refused, and forgets it either
way: a ticket opens one connection at most, so a ticket seen on the wire
(plain TCP without TLS) is worth nothing afterwards. Time is an argument
(`now`, monotonic seconds), as everywhere under state/.

The book is bounded: expired tickets go at each issue, and when `limit`
tickets are outstanding the oldest go first (a peer that asks and never
connects cannot grow it).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass


@dataclass(frozen=True)
class Granted:
    object_id: bytes


@dataclass(frozen=True)
class Refused:
    reason: str


@dataclass(frozen=True)
class _Entry:
    object_id: bytes
    expires: float


class TicketBook:
    def __init__(self, ttl_s: float, limit: int = 4096) -> None:
        self.ttl_s = ttl_s
        self.limit = limit
        self._tickets: dict[bytes, _Entry] = {}  # insertion order is issue order

    def issue(self, ticket: bytes, object_id: bytes, now: float) -> None:
        self._drop_expired(now)
        while len(self._tickets) >= self.limit:
            del self._tickets[next(iter(self._tickets))]
        self._tickets[ticket] = _Entry(object_id, now + self.ttl_s)

    def redeem(self, ticket: bytes, object_id: bytes, now: float) -> Granted | Refused:
        """The connection presents `ticket` for `object_id`; the ticket is used up either way."""
        entry = self._tickets.pop(ticket, None)
        if entry is None:
            return Refused("unknown ticket (never issued, already used, or dropped)")
        if entry.expires < now:
            return Refused(f"ticket expired {now - entry.expires:.1f}s ago")
        if not hmac.compare_digest(entry.object_id, object_id):
            return Refused(f"ticket is for object {entry.object_id.hex()}, not {object_id.hex()}")
        return Granted(entry.object_id)

    def outstanding(self) -> int:
        return len(self._tickets)

    def _drop_expired(self, now: float) -> None:
        expired = [t for t, e in self._tickets.items() if e.expires < now]
        for ticket in expired:
            del self._tickets[ticket]

    def validate(self) -> None:
        assert len(self._tickets) <= self.limit, "more tickets than the limit"
