"""The ledger of an actor's recent calls, so that a call resent after a head restart never runs twice."""

from __future__ import annotations

from collections import OrderedDict

from raylite.rpc import head_pb2


class CallLedger:
    """The actor calls this process has seen, and the latest results, by call id.

    After a head restart, callers resubmit the calls whose results they had not
    received; some of those ran here already (their results were lost with the
    head). Those get their result again instead of running twice. Only recent
    results are kept: a call is resubmitted only if it was in flight at the crash.
    """

    MAX_RESULTS = 1000
    MAX_BYTES = 16 * 1024 * 1024

    def __init__(self) -> None:
        self._seen: set[bytes] = set()
        self._results: OrderedDict[bytes, head_pb2.TaskResult] = OrderedDict()
        self._bytes = 0

    def arrived(self, call_id: bytes) -> tuple[bool, head_pb2.TaskResult | None]:
        """(seen before, its result if it is still kept); marks the call as seen."""
        if call_id in self._seen:
            return True, self._results.get(call_id)
        self._seen.add(call_id)
        return False, None

    def finished(self, call_id: bytes, result: head_pb2.TaskResult) -> None:
        self._results[call_id] = result
        self._bytes += _inline_bytes(result)
        while len(self._results) > self.MAX_RESULTS or self._bytes > self.MAX_BYTES:
            old_id, old = self._results.popitem(last=False)
            self._bytes -= _inline_bytes(old)
            self._seen.discard(old_id)  # too old to be resubmitted


def _inline_bytes(result: head_pb2.TaskResult) -> int:
    return sum(len(v.data) for v in result.results)
