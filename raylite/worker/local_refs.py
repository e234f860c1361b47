"""An executor's count of its ObjectRefs until its client (made on first use) takes over."""

from __future__ import annotations

import threading
from typing import Any


class LocalRefs:
    """Counts ObjectRefs while this executor has no client; the client adopts the counts.

    Threads of an actor (its calls' threads, or the helpers getting arguments)
    may count refs while another makes the client: the counts are taken under
    a lock, and once the client exists every change goes to it, so none made
    in between is lost.
    """

    def __init__(self) -> None:
        self.counts: dict[bytes, int] = {}
        self._lock = threading.Lock()
        self._client: Any = None

    def add_ref(self, oid: bytes) -> None:
        with self._lock:
            client = self._client
            if client is None:
                self.counts[oid] = self.counts.get(oid, 0) + 1
                return
        client.add_ref(oid)

    def remove_ref(self, oid: bytes) -> None:
        with self._lock:
            client = self._client
            if client is None:
                n = self.counts.get(oid, 0) - 1
                if n:  # (below 0 while a client is being made: a ref it adopted went)
                    self.counts[oid] = n
                else:
                    self.counts.pop(oid, None)
                return
        client.remove_ref(oid)

    def take(self) -> dict[bytes, int]:
        """The counts so far, for the client being made to adopt."""
        with self._lock:
            counts, self.counts = self.counts, {}
        return counts

    def hand_over(self, client: Any) -> None:
        """From now on refs are counted by the client, which also gets what changed since take()."""
        with self._lock:
            late, self.counts = self.counts, {}
            self._client = client
        for oid, n in late.items():
            change = client.add_ref if n > 0 else client.remove_ref
            for _ in range(abs(n)):
                change(oid)
