"""The calls a process made on actors with `max_pending_calls` that have not finished.

As Ray's, the limit is per caller: each process counts its own calls on the
actor, from `.remote()` until the call's first result (or error) arrives, and
a call beyond the limit raises PendingCallsLimitExceeded where it is made.
Only actors with a limit are counted, so other calls cost nothing here.
"""

from __future__ import annotations

import threading


class PendingCalls:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_actor: dict[bytes, set[bytes]] = {}  # actor -> its unfinished counted calls
        self._actor_of: dict[bytes, bytes] = {}  # counted call -> its actor

    @property
    def counting(self) -> bool:
        """Whether any call is counted now (read without the lock: a hint for the hot path)."""
        return bool(self._actor_of)

    def count(self, actor_id: bytes) -> int:
        with self._lock:
            return len(self._by_actor.get(actor_id, ()))

    def made(self, actor_id: bytes, task_id: bytes) -> None:
        with self._lock:
            self._by_actor.setdefault(actor_id, set()).add(task_id)
            self._actor_of[task_id] = actor_id

    def finished(self, task_id: bytes) -> None:
        """A result of the call arrived (a call with several returns finishes at its first)."""
        with self._lock:
            actor_id = self._actor_of.pop(task_id, None)
            if actor_id is None:
                return
            calls = self._by_actor[actor_id]
            calls.discard(task_id)
            if not calls:
                del self._by_actor[actor_id]
