"""WorkerService.LeaseStream: the daemon's end of task leases (docs/design-direct-calls.md (b)).

The head tells the node of a lease it granted (`HeadToNode.leases` ->
`announce`) in the step it tells the client; a client whose LeaseStream
arrives first waits for that word (up to `LEASE_ANNOUNCE_WAIT_S`). The token
and TLS are the WorkerService's own (raylite/auth.py: the server's TokenCheck
sees the `raylite-token` metadata the client passes with
`auth.call_metadata`, as on the head's streams); each message is checked in
raylite/worker/validate.py: `lease_batch()`; who may send on which lease, and
how many tasks a lease may hold (2 x slots), is decided by the pure
raylite/worker/state/lease_queue.py.

Tasks go to the executor pool as the head's do (a TaskAssignment with the
lease's id, the values of its dependencies the client sent, the function's
body the first time), so the pool's local queue keeps executors busy between
tasks. Their answers come back through the daemon's result and death
callbacks, which ask here first (`took_result`, `took_death`): a leased
task's result goes on its lease stream instead of the head's, and its
executor's death becomes a retryable WorkerCrashedError answer (the
submitter owns the retries; a task cancelled with force gets
TaskCancelledError). Answers leave in batches: one write per wake-up.

A lease the head stops (`HeadToNode.lease_ends`) refuses new tasks, finishes
the rest, and is reported in `NodeBatch.leases_drained` once none is left.
A stream that ends with tasks still running loses their answers; the
submitter sends those through the head (Ray's at-least-once for a task
whose worker was lost).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc

from raylite import config
from raylite.failures import Failure, failure_bytes
from raylite.ids import object_id
from raylite.rpc import common_pb2, head_pb2, lease_pb2, worker_pb2
from raylite.worker import validate
from raylite.worker.state.lease_queue import LeaseQueue

log = logging.getLogger(__name__)


class _Served:
    """One open LeaseStream: the answers waiting to be written."""

    __slots__ = ("lease_id", "out", "wake", "idle", "closing", "attempts", "forced")

    def __init__(self, lease_id: bytes) -> None:
        self.lease_id = lease_id
        self.out = worker_pb2.LeaseReplyBatch()
        self.wake = asyncio.Event()  # answers wait to be written
        self.idle = asyncio.Event()  # no task of this stream is here any more
        self.closing = False  # the client is done sending: end once all is answered and written
        self.attempts: dict[bytes, int] = {}  # task -> attempt, while it is here
        self.forced: set[bytes] = set()  # tasks cancelled with force: their death is the cancel

    def take(self) -> worker_pb2.LeaseReplyBatch | None:
        out, self.out = self.out, worker_pb2.LeaseReplyBatch()
        return out if out.ByteSize() else None


class LeaseServer:
    def __init__(
        self,
        report_drained: Callable[[bytes, str], None],
        report_running: Callable[[list[lease_pb2.LeaseTaskRecord], list[bytes]], None] | None = None,
    ) -> None:
        self.queue = LeaseQueue(config.LEASE_DEPTH)
        self.report_drained = report_drained
        # (started records, ended task ids) for the head: leased tasks that run longer than
        # config.LEASE_STARTED_REPORT_S, so that the state API lists them while they run
        self.report_running = report_running
        self.node_id = b""
        self._since: dict[bytes, tuple[float, head_pb2.TaskAssignment]] = {}  # given to the pool, unreported
        self._reported: set[bytes] = set()  # reported started, not yet ended
        self._timer: asyncio.TimerHandle | None = None
        self.pool: Any = None  # ExecutorPool, attached by the daemon
        self.tasks: dict[bytes, _Served] = {}  # leased task here -> its stream
        self._num_returns: dict[bytes, int] = {}  # leased task here -> its returns (for a death's answer)
        self._waiting: dict[bytes, head_pb2.TaskAssignment] = {}  # admitted, not yet given to the pool
        self._announced: dict[bytes, asyncio.Event] = {}

    # ---- from the head ------------------------------------------------------

    def announce(self, grant: lease_pb2.LeaseGrant) -> None:
        self.queue.announced(grant.lease_id, grant.client_id, grant.slots, grant)
        waiter = self._announced.pop(grant.lease_id, None)
        if waiter is not None:
            waiter.set()

    def stop(self, end: lease_pb2.LeaseEnd) -> None:
        if self.queue.stopped(end.lease_id):
            self.report_drained(end.lease_id, end.why or "stopped by the head")

    def lend(self, lend: lease_pb2.LeaseLend) -> None:
        for task_id in self.queue.lend(lend.lease_id, lend.blocked):
            self._start(task_id)

    def _start(self, task_id: bytes) -> None:
        assignment = self._waiting.pop(task_id, None)
        if assignment is not None:
            self._run(assignment)

    def _run(self, assignment: head_pb2.TaskAssignment) -> None:
        if self.report_running is not None:
            self._since[assignment.spec.task_id] = (time.monotonic(), assignment)
            if self._timer is None:
                self._timer = asyncio.get_running_loop().call_later(config.LEASE_STARTED_REPORT_S, self._report)
        self.pool.submit(assignment)

    def _report(self) -> None:
        """Reports the leased tasks running since a window or more (once each), and rearms
        while any run: a task answered within the window is never reported."""
        self._timer = None
        if self.report_running is None:
            return
        cutoff = time.monotonic() - config.LEASE_STARTED_REPORT_S
        records = []
        for task_id, (since, assignment) in list(self._since.items()):
            if since > cutoff:
                break  # (in start order: the rest started later)
            del self._since[task_id]
            self._reported.add(task_id)
            records.append(_started_record(assignment, self.node_id))
        if records:
            self.report_running(records, [])
        if self._since:
            self._timer = asyncio.get_running_loop().call_later(config.LEASE_STARTED_REPORT_S, self._report)

    def _ended(self, task_id: bytes) -> None:
        if self._since.pop(task_id, None) is None and task_id in self._reported:
            self._reported.discard(task_id)
            if self.report_running is not None:
                self.report_running([], [task_id])

    def served(self) -> list[lease_pb2.LeaseGrant]:
        """The grants of the leases this node still serves, for a restarted head's adoption."""
        return [lease.grant for lease in self.queue.served() if lease.grant is not None]

    # ---- from the pool (the daemon's callbacks) ----------------------------------------

    def took_result(self, result: head_pb2.TaskResult) -> bool:
        served = self.tasks.pop(result.task_id, None)
        if served is None:
            return False
        served.attempts.pop(result.task_id, None)
        served.out.results.append(result)
        served.wake.set()
        if not served.attempts:
            served.idle.set()
        self._finished(served.lease_id, result.task_id)
        return True

    def took_death(self, death: head_pb2.ExecutorDied) -> bool:
        served = self.tasks.get(death.task_id) if death.task_id else None
        if served is None or death.actor_id:
            return False
        attempt = served.attempts.get(death.task_id, 0)
        if death.attempt and attempt and death.attempt != attempt:
            return True  # an older attempt's death (the task runs again): nothing to answer
        forced = death.task_id in served.forced
        if forced:
            failure = Failure("TaskCancelledError", f"the task was cancelled (force=True): {death.reason}")
        else:
            failure = Failure("WorkerCrashedError", f"the worker running the task died: {death.reason}")
        data = failure_bytes(failure)
        result = head_pb2.TaskResult(task_id=death.task_id, retryable=not forced, error_summary=death.reason)
        n = self._num_returns.get(death.task_id, 1)
        for i in range(n):
            result.results.add(object_id=object_id(death.task_id, i), data=data, size=len(data), is_error=True)
        return self.took_result(result)

    def _finished(self, lease_id: bytes, task_id: bytes) -> None:
        self._ended(task_id)
        self._num_returns.pop(task_id, None)
        self._waiting.pop(task_id, None)
        done = self.queue.finished(lease_id, task_id)
        for next_id in done.start:
            self._start(next_id)
        if done.drained:
            self.report_drained(lease_id, "drained")

    # ---- from a client ----------------------------------------------------------

    async def stream(self, requests: AsyncIterator[worker_pb2.LeaseBatch], context: grpc.aio.ServicerContext) -> None:
        served: _Served | None = None
        writer: asyncio.Task[None] | None = None
        try:
            async for batch in requests:
                problem = validate.lease_batch(batch, first=served is None)
                if problem is not None:
                    log.warning("refused a LeaseStream message (%s): %s", context.peer(), problem)
                    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"malformed LeaseBatch: {problem}")
                if served is None:
                    why = await self._open(batch.lease_id, batch.client_id)
                    if why:
                        await context.write(worker_pb2.LeaseReplyBatch(refused=f"lease {batch.lease_id.hex()}: {why}"))
                        return
                    served = _Served(batch.lease_id)
                    writer = asyncio.ensure_future(_write(served, context))
                self._tasks(served, batch)
            if served is not None and writer is not None:
                while served.attempts:  # the client is done sending: answer what is here, then end
                    served.idle.clear()
                    await served.idle.wait()
                served.closing = True
                served.wake.set()
                await writer
        finally:
            if served is not None:
                self.queue.stream_closed(served.lease_id)
                for task_id in self.queue.abandon(served.lease_id):
                    self._waiting.pop(task_id, None)
                    self.tasks.pop(task_id, None)
                    served.attempts.pop(task_id, None)
                # tasks still running end as they end; their answers have nowhere to go
                if self.queue.finished(served.lease_id, b"").drained:
                    self.report_drained(served.lease_id, "drained")
            if writer is not None:
                writer.cancel()

    async def _open(self, lease_id: bytes, client_id: bytes) -> str:
        if self.pool is None:
            return "this node runs no leased tasks"
        if lease_id not in self.queue.leases and lease_id not in self.queue.ended:
            waiter = self._announced.setdefault(lease_id, asyncio.Event())
            try:
                await asyncio.wait_for(waiter.wait(), config.LEASE_ANNOUNCE_WAIT_S)
            except asyncio.TimeoutError:
                self._announced.pop(lease_id, None)
        return self.queue.opened(lease_id, client_id)

    def _cancel(self, served: _Served, task_id: bytes, force: bool) -> None:
        if task_id not in served.attempts:
            return  # answered already (or never here): its answer is on its way
        if self.queue.is_waiting(served.lease_id, task_id):
            self.took_result(_cancelled(task_id, self._num_returns.get(task_id, 1)))
            return
        if force:
            served.forced.add(task_id)
        self.pool.cancel(head_pb2.CancelTask(task_id=task_id, force=force))

    def _tasks(self, served: _Served, batch: worker_pb2.LeaseBatch) -> None:
        if batch.tasks:
            self._admit(served, batch)
        # after the tasks: a task sent and cancelled while one message was being built is here
        for task_id in batch.cancels:
            self._cancel(served, task_id, force=False)
        for task_id in batch.force_cancels:
            self._cancel(served, task_id, force=True)

    def _admit(self, served: _Served, batch: worker_pb2.LeaseBatch) -> None:
        admitted = self.queue.arrived(served.lease_id, [spec.task_id for spec in batch.tasks])
        if admitted.bounced:
            served.out.bounced.extend(admitted.bounced)
            served.wake.set()
        run = set(admitted.run)
        queued = set(admitted.queued)
        values = {v.object_id: v for v in batch.args}
        bodies = {f.function_id: f for f in batch.functions}
        known = self.pool.state.functions
        for spec, attempt in zip(batch.tasks, batch.attempts, strict=True):
            if spec.task_id not in run and spec.task_id not in queued:
                continue
            assignment = head_pb2.TaskAssignment(spec=spec, attempt=attempt, lease_id=served.lease_id)
            for dep in dict.fromkeys(spec.dependencies):
                value = values.get(dep)
                if value is not None:
                    assignment.args.append(value)
            if spec.function_id not in known and spec.function_id in bodies:
                assignment.function.CopyFrom(bodies[spec.function_id])
            served.attempts[spec.task_id] = attempt
            self._num_returns[spec.task_id] = max(1, spec.num_returns)
            self.tasks[spec.task_id] = served
            if spec.task_id in run:
                self._run(assignment)
            else:
                self._waiting[spec.task_id] = assignment


def _started_record(assignment: head_pb2.TaskAssignment, node_id: bytes) -> lease_pb2.LeaseTaskRecord:
    """A leased task that is still running, for the head's table (no results, no payload)."""
    spec = common_pb2.TaskSpec()
    spec.CopyFrom(assignment.spec)
    spec.ClearField("payload")
    return lease_pb2.LeaseTaskRecord(
        spec=spec, lease_id=assignment.lease_id, attempt=assignment.attempt, started=time.time(), node_id=node_id
    )


def _cancelled(task_id: bytes, num_returns: int) -> head_pb2.TaskResult:
    """The answer to a leased task cancelled while it waited here: it never ran."""
    data = failure_bytes(Failure("TaskCancelledError", "the task was cancelled before it started"))
    result = head_pb2.TaskResult(task_id=task_id)
    for i in range(num_returns):
        result.results.add(object_id=object_id(task_id, i), data=data, size=len(data), is_error=True)
    return result


async def _write(served: _Served, context: grpc.aio.ServicerContext) -> None:
    try:
        while True:
            await served.wake.wait()
            served.wake.clear()
            reply = served.take()
            if reply is not None:
                await context.write(reply)
            if served.closing and not served.out.ByteSize():
                return
    except asyncio.CancelledError:
        return
    except Exception as exc:  # noqa: BLE001 - the call ended under us: its tasks' answers are lost
        log.info("lease stream %s: could not write an answer: %s", served.lease_id.hex(), exc)
