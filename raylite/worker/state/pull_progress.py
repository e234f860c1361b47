"""Which pulls into this node's store to report to the head, and when.

Theory of operation
-------------------
A get waiting for a large object from another host should be able to say
"300 of 1,024 MiB" (raylite/head/state/explain.py). The daemon is the one that
knows how far a pull got; the head is the one that explains. Two ways to bring
them together: the head asks every node when an explanation is wanted (a new
head-to-node call, a fan-out with timeouts inside a state query), or nodes
report long pulls as they go. Reporting is the cheaper one here: most pulls end
well within REPORT_S and cost nothing but a counter; a long one costs one small
entry in the node's next NodeBatch every REPORT_S, which rides on a batch that
is being sent anyway when the node is busy; and explanations stay a pure read
of the head's state.

`PullProgress` is the pure book: `started`, `received` (per chunk: an integer
add), `due(now)` (the entries of pulls that have run REPORT_S or more, for the
next report) and `ended` (a final `done` entry for a pull the head was told
of, so it forgets it). The daemon's Transfers runs one timer while any pull is
in flight (raylite/worker/service.py), never a poll while none is.
"""

from __future__ import annotations

from dataclasses import dataclass

REPORT_S = 1.0


@dataclass(slots=True)
class Pull:
    total: int
    started: float
    received: int = 0
    reported: bool = False


@dataclass(slots=True, frozen=True)
class Report:
    object_id: bytes
    received: int
    total: int
    elapsed_s: float
    done: bool = False


class PullProgress:
    def __init__(self, report_s: float = REPORT_S) -> None:
        self.report_s = report_s
        self.pulls: dict[bytes, Pull] = {}

    def started(self, oid: bytes, total: int, now: float) -> None:
        self.pulls[oid] = Pull(total, now)

    def received(self, oid: bytes, n: int) -> None:
        pull = self.pulls.get(oid)
        if pull is not None:
            pull.received += n

    def due(self, now: float) -> list[Report]:
        """Reports of the pulls that have run report_s or more (each marked as told to the head)."""
        out = []
        for oid, pull in self.pulls.items():
            if now - pull.started >= self.report_s:
                pull.reported = True
                out.append(Report(oid, pull.received, pull.total, now - pull.started))
        return out

    def ended(self, oid: bytes, now: float) -> Report | None:
        """The pull is over: a final report if the head was told of it, else nothing."""
        pull = self.pulls.pop(oid, None)
        if pull is None or not pull.reported:
            return None
        return Report(oid, pull.received, pull.total, now - pull.started, done=True)
