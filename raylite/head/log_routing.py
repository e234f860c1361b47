"""Forwarding what tasks and actors print to the drivers of their job.

Nodes send WorkerLogBatch on their streams (raylite/worker/executor_logs.py);
the head stamps each with the node's ip and id and appends it to the client
stream of every driver of that job whose hello asked for output
(ClientHello.log_to_driver). A batch for a job with no such driver is dropped
and counted; so is one for a driver whose stream is backed up by more than
MAX_QUEUED_LINES lines (a slow terminal must not grow the head's memory): the
driver is then told how many lines it missed. Nothing here touches the task
table: lines are not state.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from raylite.batching import Outbox
from raylite.rpc import common_pb2, head_pb2

log = logging.getLogger("raylite.head")

MAX_QUEUED_LINES = 50_000


class _Listener:
    __slots__ = ("out", "dropped")

    def __init__(self, out: Outbox) -> None:
        self.out = out
        self.dropped = 0


class LogRouter:
    def __init__(self) -> None:
        self._by_job: dict[bytes, dict[bytes, _Listener]] = {}  # job -> client id -> its stream
        self.unrouted = 0  # lines for a job none of whose drivers listens
        self.dropped = 0  # lines a backed-up driver stream missed

    def listen(self, client_id: bytes, job_id: bytes, out: Outbox) -> None:
        self._by_job.setdefault(job_id, {})[client_id] = _Listener(out)

    def stop_listening(self, client_id: bytes, job_id: bytes, out: Outbox) -> None:
        listeners = self._by_job.get(job_id, {})
        listener = listeners.get(client_id)
        if listener is not None and listener.out is out:  # not a reconnection's newer stream
            del listeners[client_id]
            if not listeners:
                del self._by_job[job_id]

    def route(self, node: common_pb2.NodeInfo | None, batches: Iterable[head_pb2.WorkerLogBatch]) -> None:
        for batch in batches:
            listeners = self._by_job.get(batch.job_id)
            if not listeners:
                self.unrouted += len(batch.lines)
                continue
            if node is not None:
                batch.ip, batch.node_id = node.ip, node.node_id
            for listener in listeners.values():
                self._deliver(listener, batch)

    def _deliver(self, listener: _Listener, batch: head_pb2.WorkerLogBatch) -> None:
        queued = listener.out.msg.log_batches
        if sum(len(b.lines) for b in queued) + len(batch.lines) > MAX_QUEUED_LINES:
            listener.dropped += len(batch.lines)
            self.dropped += len(batch.lines)
            return
        msg = listener.out.touch()
        if listener.dropped:
            notice = msg.log_batches.add()
            notice.CopyFrom(batch)
            notice.ClearField("lines")
            notice.lines.append(
                f"[raylite: {listener.dropped} lines dropped: this driver read them slower than they were printed]"
            )
            listener.dropped = 0
        msg.log_batches.append(batch)
