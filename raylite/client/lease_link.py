"""The submitter's end of task leases: the I/O around raylite/client/state/leases.py.

`Client.submit()` offers each spec here first (`offer`, any thread): a task
that can run on a lease is taken and handled on the client's loop, the rest
go to the head as before. Only runnable tasks go on a lease: a normal task,
not a generator, with the default strategy, no placement group, no runtime
environment, whose dependencies this client knows the values (or locations)
of. A task whose unknown dependencies are all outputs of this client's own
tasks still to come is parked here until they arrive (a chain of dependent
tasks runs on the lease link after link); any other goes to the head.

On the loop: the book decides (`LeaseBook`), this module carries out:
`RequestLease` and `ReturnLease` go on the ClientStream (lease_requests,
lease_returns); `SendTask` goes on the lease's LeaseStream to the node
(`_Stream`, one grpc.aio stream-stream call per lease, token as call metadata,
TLS as every channel of this client); `ViaHead` submits the spec to the head
as any other task (kept in UnfinishedTasks from then on); `FailTask` delivers
a WorkerCrashedError. Answers are delivered to this client's waiters as the
head's pushes are (`Client._on_objects`) and recorded at the head
(`ClientBatch.lease_task_records`), after the refs this client holds to the
outputs and before it releases them, since both travel on the ClientStream.

While a task is on a lease this client holds refs to its dependencies and
borrowed refs (the head pins those of tasks it knows), until its answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING, Any

import grpc

from raylite import auth, config, ids
from raylite.client.items import _CANCEL, _LEASE_RECORD, _LEASE_REQUEST, _LEASE_RETURN, _TASK
from raylite.client.state.leases import FailTask, LeaseBook, RequestLease, ReturnLease, SendTask, ViaHead
from raylite.failures import Failure, failure_bytes
from raylite.rpc import common_pb2, head_pb2, lease_pb2, worker_pb2, worker_pb2_grpc

if TYPE_CHECKING:
    from raylite.client.core import Client

log = logging.getLogger(__name__)


def leasable(spec: common_pb2.TaskSpec) -> bool:
    """Whether a task may run on a lease at all (its dependencies are judged later)."""
    return (
        spec.kind == common_pb2.NORMAL
        and not spec.generator
        and spec.num_returns >= 1
        and spec.strategy.kind in ("", "DEFAULT")
        and not spec.strategy.hard_labels  # (the label_selector option: the head picks the node)
        and not spec.runtime_env
        and not spec.runtime_env_packages
    )


def class_key(spec: common_pb2.TaskSpec) -> bytes:
    return repr((sorted(spec.resources.items()), spec.job_id)).encode()


class LeaseLink:
    def __init__(self, client: Client) -> None:
        self.client = client
        self.book = LeaseBook(client.client_id, config.LEASE_SLOTS, config.LEASE_IDLE_TICKS, config.LEASE_GRANT_TICKS)
        self.specs: dict[bytes, common_pb2.TaskSpec] = {}  # tasks in the book or parked
        self.held: dict[bytes, list[bytes]] = {}  # task -> refs this link holds for it
        self.parked: dict[bytes, set[bytes]] = {}  # task -> the outputs it waits for
        self.waiting_on: dict[bytes, list[bytes]] = {}  # object -> parked tasks
        self.requests: dict[bytes, common_pb2.TaskSpec] = {}  # lease asked for -> a spec of its class
        self.streams: dict[bytes, _Stream] = {}
        self.channels: dict[str, grpc.aio.Channel] = {}
        self.incoming: deque[common_pb2.TaskSpec] = deque()
        self.cancelled: set[bytes] = set()  # tasks here a cancel reached
        self._woken = False
        self._tick: asyncio.TimerHandle | None = None

    # ---- any thread -------------------------------------------------------------

    def offer(self, spec: common_pb2.TaskSpec) -> bool:
        if not leasable(spec):
            return False
        # held before .remote() returns: the caller may drop its refs to the arguments right after,
        # and this client must not tell the head it let go of them while the task may need them
        self._hold(spec.task_id, [*spec.dependencies, *spec.borrowed])
        self.specs[spec.task_id] = spec  # (in_flight from now on: a cancel finds it)
        self.incoming.append(spec)
        if not self._woken:
            self._woken = True
            self.client._loop.call_soon_threadsafe(self._take_incoming)
        return True

    def in_flight(self, task_id: bytes) -> bool:
        return task_id in self.specs

    def parked_specs(self, wanted: list[bytes], limit: int) -> list[common_pb2.TaskSpec]:
        """Specs (no payload) of tasks parked here, those of `wanted` first, at most `limit`: what an
        explanation needs of tasks the head does not know yet. Any thread: a copy, retried if the
        loop changed the dict meanwhile."""
        for _ in range(3):
            try:
                parked = list(self.parked)
                break
            except RuntimeError:
                continue
        else:
            return []
        asked = {ids.task_of(i) if len(i) > ids.TASK_ID_BYTES else i for i in wanted}
        parked.sort(key=lambda t: t not in asked)
        out = []
        for task_id in parked[:limit]:
            spec = self.specs.get(task_id)
            if spec is not None:
                kept = common_pb2.TaskSpec()
                kept.CopyFrom(spec)
                kept.ClearField("payload")
                out.append(kept)
        return out

    # ---- on the loop: submissions ---------------------------------------------------

    def _take_incoming(self) -> None:
        self._woken = False
        while self.incoming:
            self._consider(self.incoming.popleft())

    def _consider(self, spec: common_pb2.TaskSpec) -> None:
        task_id = spec.task_id
        self.specs[task_id] = spec
        known = self.client._objects
        unknown = {d for d in spec.dependencies if d not in known}
        if not unknown:
            if any(known[d].is_error for d in spec.dependencies):
                self._via_head(task_id)  # the head fails it with its argument's error
            else:
                self._carry_out(self.book.submitted(task_id, class_key(spec), spec.max_retries))
            return
        owned = self.client._owned_pending
        if all(d in owned for d in unknown):
            self.parked[task_id] = unknown
            for dep in unknown:
                self.waiting_on.setdefault(dep, []).append(task_id)
            return
        self._via_head(task_id)

    def objects_arrived(self, oids: Any) -> None:
        """Values this client received (from the head or a lease): parked tasks may run now."""
        if not self.waiting_on:
            return
        for oid in oids:
            for task_id in self.waiting_on.pop(oid, ()):
                missing = self.parked.get(task_id)
                if missing is None:
                    continue
                missing.discard(oid)
                if not missing:
                    del self.parked[task_id]
                    self._consider(self.specs[task_id])

    def _hold(self, task_id: bytes, refs: list[bytes]) -> None:
        if task_id not in self.held and refs:
            for oid in refs:
                self.client.add_ref(oid)
            self.held[task_id] = refs

    def _release(self, task_id: bytes) -> None:
        self.specs.pop(task_id, None)
        self.cancelled.discard(task_id)
        for oid in self.held.pop(task_id, ()):
            self.client.remove_ref(oid)

    # ---- on the loop: the book's instructions ------------------------------------------

    def _carry_out(self, instructions: list[Any]) -> None:
        for ins in instructions:
            if isinstance(ins, SendTask):
                stream = self.streams.get(ins.lease_id)
                spec = self.specs.get(ins.task_id)
                if stream is None or spec is None:
                    self._carry_out(self.book.bounced([ins.task_id], "its lease stream is gone"))
                else:
                    stream.send(spec, ins.attempt)
            elif isinstance(ins, ViaHead):
                self._via_head(ins.task_id)
            elif isinstance(ins, RequestLease):
                self._request(ins)
            elif isinstance(ins, ReturnLease):
                self._return(ins.lease_id, ins.why)
            elif isinstance(ins, FailTask):
                self._fail(ins.task_id, ins.why)
        if self.book.holding() and self._tick is None:
            self._tick = self.client._loop.call_later(config.LEASE_TICK_S, self._on_tick)

    def _request(self, ins: RequestLease) -> None:
        spec = next((s for s in self.specs.values() if class_key(s) == ins.class_key), None)
        if spec is None:
            return
        self.requests[ins.lease_id] = spec
        request = lease_pb2.LeaseRequest(
            lease_id=ins.lease_id,
            class_key=ins.class_key,
            resources=spec.resources,
            slots=max(1, min(ins.slots, 1024)),
            job_id=spec.job_id,
        )
        self.client._enqueue(_LEASE_REQUEST, request)

    def _return(self, lease_id: bytes, why: str) -> None:
        self.requests.pop(lease_id, None)
        stream = self.streams.pop(lease_id, None)
        if stream is not None:
            stream.close()
        self.client._enqueue(_LEASE_RETURN, lease_pb2.LeaseEnd(lease_id=lease_id, why=why))

    def _via_head(self, task_id: bytes) -> None:
        spec = self.specs.get(task_id)
        if spec is None:
            return
        if task_id in self.cancelled:
            self._answer_cancelled(task_id)
            return
        client = self.client
        with client._lock:
            known = {d: client._objects[d] for d in spec.dependencies if d in client._objects}
            client._unfinished.add(spec, known)
        client._enqueue(_TASK, spec)
        self._release(task_id)  # (the head pins what it needs: released refs are applied last)

    def _fail(self, task_id: bytes, why: str) -> None:
        spec = self.specs.get(task_id)
        if spec is None:
            return
        data = failure_bytes(Failure("WorkerCrashedError", f"task {spec.name} was lost with its lease: {why}"))
        values = [
            common_pb2.ObjectValue(object_id=ids.object_id(task_id, i), data=data, size=len(data), is_error=True)
            for i in range(spec.num_returns)
        ]
        self._delivered(task_id, values)

    def _delivered(self, task_id: bytes, values: Any) -> None:
        self.client._on_objects(values)
        self._release(task_id)
        self.objects_arrived([v.object_id for v in values])

    def _on_tick(self) -> None:
        self._tick = None
        self._carry_out(self.book.tick())

    # ---- on the loop: from the head ------------------------------------------------------

    def granted(self, grants: Any) -> None:
        for grant in grants:
            if grant.lease_id in self.requests and grant.lease_id not in self.streams:
                self.streams[grant.lease_id] = _Stream(self, grant)
            self._carry_out(self.book.granted(grant.lease_id, grant.slots))

    def revoked(self, ends: Any) -> None:
        for end in ends:
            self._carry_out(self.book.revoked(end.lease_id))

    # ---- on the loop: from a node ------------------------------------------------------------

    def answered(self, stream: _Stream, reply: worker_pb2.LeaseReplyBatch) -> None:
        for result in reply.results:
            task_id = result.task_id
            spec = self.specs.get(task_id)
            if spec is None:
                continue
            attempt = stream.attempts.pop(task_id, 1)
            self._carry_out(self.book.answered(task_id, result.retryable))
            if task_id in self.book.tasks:
                continue  # sent again: this answer was a retryable error
            self._record(stream, spec, result, attempt)
            self._delivered(task_id, result.results)
        if reply.bounced:
            self._carry_out(self.book.bounced(list(reply.bounced), "bounced by its node"))
        if reply.refused:
            log.info("lease %s refused: %s", stream.grant.lease_id.hex(), reply.refused)
            self.broken(stream, reply.refused)

    def broken(self, stream: _Stream, why: str) -> None:
        if self.streams.get(stream.grant.lease_id) is stream:
            del self.streams[stream.grant.lease_id]
            stream.close()
            self._carry_out(self.book.broken(stream.grant.lease_id, why))

    def _record(self, stream: _Stream, spec: common_pb2.TaskSpec, result: head_pb2.TaskResult, attempt: int) -> None:
        kept = spec
        if not any(v.in_store for v in result.results):
            # no lineage needed (nothing to remake): the head's history needs only the task's name
            # and ids, its resources and parent (for a recursive cancel's bookkeeping)
            kept = common_pb2.TaskSpec(
                task_id=spec.task_id,
                job_id=spec.job_id,
                name=spec.name,
                kind=spec.kind,
                function_id=spec.function_id,
                num_returns=spec.num_returns,
                resources=spec.resources,
                parent_task_id=spec.parent_task_id,
            )
        record = lease_pb2.LeaseTaskRecord(
            spec=kept,
            lease_id=stream.grant.lease_id,
            attempt=attempt,
            results=result.results,
            is_error=any(v.is_error for v in result.results),
            error_summary=result.error_summary,
            node_id=stream.grant.node_id,
        )
        self.client._enqueue(_LEASE_RECORD, record)

    def cancel(self, request: head_pb2.CancelRequest) -> None:
        """Cancels a task on a lease, or parked or queued here; one that went to the head meanwhile
        is cancelled there (as Client.cancel does for the tasks it sent the head)."""
        task_id = request.object_id[: ids.TASK_ID_BYTES]
        spec = self.specs.get(task_id)
        if spec is None:
            client = self.client
            with client._lock:
                if client._unfinished.unfinished(task_id) is not None:
                    client._unfinished.cancelled(task_id, request)
            client._enqueue(_CANCEL, request)
            return
        self.cancelled.add(task_id)  # should it go to the head after all (bounced), it does not run
        task = self.book.tasks.get(task_id)
        if task is not None and task.lease_id and task.lease_id in self.streams:
            self.streams[task.lease_id].cancel(task_id, request.force)
            return
        # parked or queued here: it never started
        self.parked.pop(task_id, None)
        if task is not None:
            self.book.forget(task_id)
        self._answer_cancelled(task_id)

    def _answer_cancelled(self, task_id: bytes) -> None:
        spec = self.specs[task_id]
        data = failure_bytes(Failure("TaskCancelledError", f"{spec.name} was cancelled before it started"))
        values = [
            common_pb2.ObjectValue(object_id=ids.object_id(task_id, i), data=data, size=len(data), is_error=True)
            for i in range(spec.num_returns)
        ]
        self._delivered(task_id, values)

    def channel(self, address: str) -> grpc.aio.Channel:
        channel = self.channels.get(address)
        if channel is None:
            channel = self.channels[address] = auth.channel(address, self.client.token)
        return channel

    async def close(self) -> None:
        for stream in list(self.streams.values()):
            stream.close()
        for channel in self.channels.values():
            await channel.close()


class _Stream:
    """One lease's LeaseStream to its node: batches out, answers in."""

    def __init__(self, link: LeaseLink, grant: lease_pb2.LeaseGrant) -> None:
        self.link = link
        self.grant = grant
        self.attempts: dict[bytes, int] = {}
        self.functions: set[bytes] = set()
        self.out = worker_pb2.LeaseBatch(
            lease_id=grant.lease_id, client_id=link.client.client_id, protocol_version=config.PROTOCOL_VERSION
        )
        self.wake = asyncio.Event()
        self.wake.set()  # the first message names the lease
        self.closing = False
        stub = worker_pb2_grpc.WorkerServiceStub(link.channel(grant.node_address))
        self.call = stub.LeaseStream(metadata=auth.call_metadata(link.client.token))
        self.writer = asyncio.ensure_future(self._write())
        self.reader = asyncio.ensure_future(self._read())

    def send(self, spec: common_pb2.TaskSpec, attempt: int) -> None:
        out = self.out
        out.tasks.append(spec)
        out.attempts.append(attempt)
        self.attempts[spec.task_id] = attempt
        known = self.link.client._objects
        for dep in dict.fromkeys(spec.dependencies):
            out.args.append(known[dep])
        if spec.function_id not in self.functions:
            self.functions.add(spec.function_id)
            export = self.link.client._exported.get(spec.function_id)
            if export is not None:
                out.functions.append(export)
        self.wake.set()

    def cancel(self, task_id: bytes, force: bool) -> None:
        (self.out.force_cancels if force else self.out.cancels).append(task_id)
        self.wake.set()

    def close(self) -> None:
        self.closing = True
        self.wake.set()

    async def _write(self) -> None:
        try:
            while True:
                await self.wake.wait()
                self.wake.clear()
                msg, self.out = self.out, worker_pb2.LeaseBatch()
                if msg.ByteSize():
                    await self.call.write(msg)
                if self.closing:
                    await self.call.done_writing()
                    return
        except (grpc.aio.AioRpcError, asyncio.InvalidStateError, grpc.aio.UsageError) as exc:
            log.info("lease stream %s ended while writing: %s", self.grant.lease_id.hex(), exc)

    async def _read(self) -> None:
        why = "its node closed the lease stream"
        try:
            async for reply in self.call:
                self.link.answered(self, reply)
        except grpc.aio.AioRpcError as exc:
            why = f"the lease stream to {self.grant.node_address} broke ({exc.code().name})"
        except asyncio.CancelledError:
            return
        self.link.broken(self, why)
