"""What a worker daemon tells the head for /metrics: object bytes it moved, its store's use.

Transfers count their bytes as chunks pass (`sent`, `received`) and the store
says when its use changed (`changed`); nothing is sent per transfer. The
first change after a report arms one timer, and when it fires a NodeMetrics
with the totals so far goes into the NodeBatch being built (batched with
whatever else the daemon sends), so a busy node reports about once every
config.METRICS_REPORT_S and an idle one not at all. The counters are totals
since the daemon started: a lost report loses nothing, and the head keeps the
last one it received.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from raylite.rpc import head_pb2
from raylite.worker.state.store_index import DISK, StoreIndex


class NodeMetrics:
    def __init__(self, index: StoreIndex, interval: float) -> None:
        self.index = index
        self.interval = interval
        self.bytes_sent = 0
        self.bytes_received = 0
        self._timer: asyncio.TimerHandle | None = None
        self._send: Callable[[head_pb2.NodeMetrics], Any] | None = None

    def attach(self, send: Callable[[head_pb2.NodeMetrics], Any]) -> None:
        """Where reports go (appended to the link's outbox); reports start with the first change."""
        self._send = send
        self.changed()

    def sent(self, n: int) -> None:
        self.bytes_sent += n
        self.changed()

    def received(self, n: int) -> None:
        self.bytes_received += n
        self.changed()

    def changed(self) -> None:
        if self._timer is None and self._send is not None:
            self._timer = asyncio.get_running_loop().call_later(self.interval, self._report)

    def snapshot(self) -> head_pb2.NodeMetrics:
        spilled = sum(e.size for e in self.index.entries.values() if e.where == DISK)
        return head_pb2.NodeMetrics(
            bytes_sent=self.bytes_sent,
            bytes_received=self.bytes_received,
            store_used=self.index.used,
            store_spilled=spilled,
        )

    def _report(self) -> None:
        self._timer = None
        if self._send is not None:
            self._send(self.snapshot())

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
