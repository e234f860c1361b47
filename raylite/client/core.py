"""The client core: one gRPC session with the head, driven by an event loop
in a background thread, used from any user thread.

User threads never block on I/O except in get/wait: `.remote()` and `put`
append to a deque and wake the loop once; the loop drains the deque into one
ClientBatch per write (raylite/batching.py). Values the head pushes land in
`_objects`; threads blocked in get/wait are woken through `Waiter`s.

The client is split by concern: this module is the client's bookkeeping
(what it queues for the head and what the head's messages mean, refs, tasks,
what a resumed session must say, shutdown); raylite/client/head_session.py is
the gRPC session (the channel, the batch stream and its resumption, the unary
queries); raylite/client/objects.py is putting, waiting for and reading
objects; raylite/client/unfinished.py is what a session resubmits to a
restarted head.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from raylite import auth, config, exceptions, hostinfo, ids, reconnect
from raylite.client import streams
from raylite.client.direct import DirectCaller
from raylite.client.head_session import HeadSession
from raylite.client.items import (
    _CANCEL,
    _EXPORT,
    _FLUSH,
    _KILL,
    _METRIC,
    _PG_CREATE,
    _PG_REMOVE,
    _PUT,
    _REF,
    _RESTART,
    _RESULT,
    _SUBSCRIBE,
    _TASK,
    APPENDED_TO,
)
from raylite.client.metrics_buffer import MetricsLink
from raylite.client.objects import ClientObjects
from raylite.client.pending_calls import PendingCalls
from raylite.client.unfinished import UnfinishedTasks
from raylite.client.waiters import Waiter
from raylite.client.worker_output import WorkerOutput
from raylite.daemon_util import new_event_loop
from raylite.ids import task_of
from raylite.rpc import common_pb2, head_pb2

if TYPE_CHECKING:
    from raylite.client.lease_link import LeaseLink
    from raylite.rpc import worker_pb2_grpc

log = logging.getLogger("raylite")


class Client(ClientObjects, HeadSession, streams.StreamCalls, DirectCaller):
    def __init__(
        self,
        head_address: str,
        *,
        job_id: bytes,
        is_driver: bool,
        local_node_id: bytes | None = None,
        adopt_refs: dict[bytes, int] | None = None,
        token: str | None = None,
        client_id: bytes | None = None,
        log_to_driver: bool = False,
    ) -> None:
        self.head_address = head_address
        self.token = auth.find_token(token)
        self.job_id = job_id
        self.is_driver = is_driver
        self.ids = ids.IdSource(client_id)
        self.client_id = self.ids.prefix  # also the process's worker id (get_runtime_context().get_worker_id())
        self.dashboard_url = ""  # the head's, once connected
        self.namespace: str | None = None  # a driver's: set by init()
        # the runtime_env its tasks inherit (raylite/client/runtime_env.py): a driver's job env, set by
        # init(), with packages as URIs; an executor's own. Its canonical JSON, and the packages' object ids
        self.runtime_env: dict[str, Any] = {}
        self.runtime_env_key = ""
        self.runtime_env_packages: dict[str, bytes] = {}
        self.runtime_env_refs: list[Any] = []  # the packages a driver uploaded, held for its session
        self.runtime_env_cache: dict[str, tuple[str, list[str]]] = {}  # a task's own env -> (key, package URIs)
        self.job_info_ref: Any = None  # a driver's: the ObjectRef of its job's info (runtime_context)
        self.host_key = hostinfo.host_key()
        self.current_task_id = b""  # executors: the task running in this thread
        self._pending: deque[tuple[int, Any]] = deque()
        self._wake_scheduled = False
        self._lock = threading.Lock()
        self._objects: dict[bytes, common_pb2.ObjectValue] = {}
        self._failed_call_actors: dict[bytes, bytes] = {}  # error value of an actor call -> the actor
        self.pending_calls = PendingCalls()  # calls on actors with max_pending_calls, until they finish
        self._waiters: dict[bytes, list[Waiter]] = {}
        self._refcounts: dict[bytes, int] = {}
        # re-entrant: the collector may run an ObjectRef's __del__ (remove_ref) on a thread that
        # holds it (an allocation inside add_ref or _drain), which deadlocked that thread
        self._ref_lock = threading.RLock()
        self._local_stub: worker_pb2_grpc.WorkerServiceStub | None = None
        self._owned_pending: set[bytes] = set()
        self._exported: dict[bytes, common_pb2.ExportedFunction] = {}
        self._placement_groups: dict[bytes, common_pb2.PlacementGroupSpec] = {}  # made here, not removed
        self._unfinished = UnfinishedTasks()
        self.current_lease_id = b""  # executors: the lease of the task running in this thread, if any
        self._leases: LeaseLink | None = None  # task leases (raylite/client/lease_link.py), when turned on
        self._outage = reconnect.Outage()
        self._functions: dict[bytes, Any] = {}
        self._nodes: dict[bytes, common_pb2.NodeInfo] = {}
        self._flush_seq = 0
        self._flushes: dict[int, threading.Event] = {}
        self._cancel_refused: dict[bytes, head_pb2.CancelRefused] = {}  # object id -> the head's refusal
        self._resolver_pool: concurrent.futures.ThreadPoolExecutor | None = None  # made by the first future_of
        self._resolver_lock = threading.Lock()
        self._closed = False
        # a driver's printer of its job's output (what its tasks and actors print); its ip is set once connected
        self.worker_output = WorkerOutput("") if log_to_driver and is_driver else None
        self._output_tick: asyncio.TimerHandle | None = None
        self._init_streams()
        if config.task_leases() and is_driver:
            # Drivers only: an executor's client submits nested tasks through the head. Its own lease
            # would wait for slots its parent's lease holds (the parent lends one only once it blocks
            # in get), and its tasks queued for that grant for LEASE_GRANT_TICKS first: nested
            # submission ran at 0.27x Ray with leases against 1.13x without (docs/performance.md).
            from raylite.client.lease_link import LeaseLink  # (off by default: not imported otherwise)

            self._leases = LeaseLink(self)
        self._init_direct()
        self._loop = new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="raylite-client", daemon=True)
        self._thread.start()
        self._call(self._connect(), timeout=config.CONNECT_TIMEOUT_S + 5)
        self.local_node = self._pick_local_node(local_node_id)
        if self.worker_output is not None:
            self.worker_output.local_ip = (
                self.local_node.ip if self.local_node else hostinfo.detect_ip(head_address.rsplit(":", 1)[0])
            )
        for oid, n in (adopt_refs or {}).items():  # refs an executor made before it needed us
            if n > 0:
                self._refcounts[oid] = n
                self._enqueue(_REF, (oid, True))
        self.metrics = MetricsLink(
            self._loop,
            lambda reports: self._outbox.touch().metrics.extend(reports),
            lambda report: self._enqueue(_METRIC, report),
            config.METRICS_REPORT_S,
        )
        self.metrics.attach()

    def _resume_batch(self) -> head_pb2.ClientBatch:
        """What a restarted head must hear from this client to carry on its work.

        The refs it holds, the values it knows of them, its exported functions,
        its unfinished tasks (and the finished ones whose outputs those still
        need), how far each of its streams got, the last items of the generators
        it runs, and the objects it waits for. Duplicates of what the head still
        has are ignored there.
        """
        batch = head_pb2.ClientBatch()
        batch.exports.extend(self._exported.values())
        batch.placement_groups.extend(list(self._placement_groups.values()))  # (a restarted head has none)
        with self._ref_lock:
            held = [oid for oid in self._refcounts if oid not in self._local_only]
        with self._lock:
            values = {oid: self._objects[oid] for oid in held if oid in self._objects}
            values.update(self._unfinished.arguments())
            batch.puts.extend(values.values())
            batch.subscribe.extend(self._waiters)
            in_flight = self._resume_direct(batch)  # (calls in flight on their connections go on there)
            batch.tasks.extend(s for s in self._unfinished.specs() if s.task_id not in in_flight)
            batch.streams_received.extend(self._streams_received())  # (applied after the tasks)
            batch.generator_items.extend(self._items_to_resend())
            batch.cancels.extend(self._unfinished.cancels())  # (applied after the tasks)
        for oid in held:
            batch.ref_changes.add(object_id=oid, held=True)
        return batch

    def _pick_local_node(self, node_id: bytes | None) -> common_pb2.NodeInfo | None:
        if node_id is not None:
            return self._nodes.get(node_id) or self._refresh_node(node_id)
        for node in self._nodes.values():
            if node.alive and node.host_key == self.host_key:
                return node
        return None

    def _refresh_node(self, node_id: bytes) -> common_pb2.NodeInfo | None:
        for node in self.cluster_state():
            self._nodes[node.node_id] = node
        return self._nodes.get(node_id)

    def _enqueue(self, kind: int, item: Any) -> None:
        self._pending.append((kind, item))
        if not self._wake_scheduled:
            self._wake_scheduled = True
            try:
                self._loop.call_soon_threadsafe(self._drain)
            except RuntimeError:
                raise exceptions.RaySystemError("the raylite client is shut down") from None

    def _drain(self) -> None:
        self._wake_scheduled = False
        outbox = self._outbox
        msg = outbox.msg  # touched at the end only if the head gets something: not for a direct call
        pending = self._pending
        refs: dict[bytes, bool] = {}
        direct = self.direct_on
        while pending:
            kind, item = pending.popleft()
            if self._local_only and kind in _CARRY_REFS:
                self.register_refs(_CARRY_REFS[kind](item))  # (a direct call's result this drain kept local)
            if direct and kind == _TASK and item.kind == common_pb2.ACTOR_METHOD and self._route_call(item, msg, refs):
                continue  # sent straight to its actor (raylite/client/direct.py)
            if direct and kind == _CANCEL and self._direct_cancel(item):
                continue
            if kind == _REF:
                refs[item[0]] = item[1]  # the last change of a batch is the one that counts
            elif kind == _SUBSCRIBE:
                msg.subscribe.extend(item)
            elif kind == _FLUSH:
                msg.flush = item
            else:
                getattr(msg, APPENDED_TO[kind]).append(item)
        for oid, held in refs.items():
            msg.ref_changes.add(object_id=oid, held=held)
        if self._to_send:
            self._send_direct()
        if msg.ListFields():
            outbox.touch()

    def _head_actions(self) -> dict[str, Callable[[Any], None] | None]:
        """What each field of the head's messages means here (raylite/message_order.py orders them)."""
        return {
            "objects": self._on_objects,
            "cancel_refused": self._on_cancel_refused,
            "generator_consumed": self._on_generator_consumed,
            "flush_ack": self._on_flush_ack,
            "warning": _print_warning,
            "log_batches": self._on_log_batches,
            "leases": self._leases.granted if self._leases is not None else _unasked_leases,
            "lease_revokes": self._leases.revoked if self._leases is not None else None,
            "actor_locations": self._on_actor_locations,
        }

    def _fail_all_waiters(self) -> None:
        with self._lock:
            waiters, self._waiters = self._waiters, {}
        for ws in waiters.values():
            for w in ws:
                w.fail()
        for event in self._flushes.values():
            event.set()

    def _on_cancel_refused(self, refusals: Any) -> None:
        for refusal in refusals:
            self._cancel_refused[refusal.object_id] = refusal

    def _on_log_batches(self, batches: Any) -> None:
        if self.worker_output is None:
            return
        self.worker_output.take(batches, time.monotonic())
        self._schedule_output_tick()

    def _schedule_output_tick(self) -> None:
        """Prints folded repeats when their window ends, even if no other line comes."""
        assert self.worker_output is not None
        if self._output_tick is not None:
            self._output_tick.cancel()
            self._output_tick = None
        due = self.worker_output.tick(time.monotonic())
        if due is not None:
            self._output_tick = self._loop.call_at(
                self._loop.time() + max(0.0, due - time.monotonic()), self._schedule_output_tick
            )

    def _on_flush_ack(self, seq: int) -> None:
        # every flush up to seq: one batch carries the last flush asked in it only
        for done in [s for s in self._flushes if s <= seq]:
            self._flushes.pop(done).set()

    def _on_objects(self, values: Any) -> None:
        with self._lock:
            for value in values:
                oid = value.object_id
                if self._call_actor:
                    self._answered(task_of(oid))
                if self._streams:
                    state = self._streams.get(task_of(oid))
                    if state is not None and self._stream_value(state, value):
                        continue
                self._owned_pending.discard(oid)
                # the actor of a failed call, while this client still has the call's spec
                actor_id = self._unfinished.actor_of(task_of(oid)) if value.is_error else b""
                self._unfinished.output_arrived(task_of(oid))
                if self.pending_calls.counting:
                    self.pending_calls.finished(task_of(oid))
                waiters = self._waiters.pop(oid, None)
                if waiters is None and oid not in self._refcounts:
                    continue  # nobody here holds a ref any more
                self._objects[oid] = value
                if actor_id:
                    self._failed_call_actors[oid] = actor_id
                if waiters:
                    for w in waiters:
                        w.hit(value.is_error)
        if self._leases is not None and self._leases.waiting_on:
            self._leases.objects_arrived([v.object_id for v in values])  # parked tasks may run now

    # ---- refs ------------------------------------------------------------------

    def add_ref(self, oid: bytes) -> None:
        """Counts a new ObjectRef; the head hears of this process's first one."""
        with self._ref_lock:
            n = self._refcounts.get(oid, 0)
            self._refcounts[oid] = n + 1
            if n == 0 and self._local_only and oid in self._local_only:
                return  # a direct call's return: the head hears of it only if it leaves (direct.py)
        if n == 0:
            self._enqueue(_REF, (oid, True))

    def remove_ref(self, oid: bytes) -> None:
        """Forgets an ObjectRef; the head hears of this process's last one."""
        with self._ref_lock:
            n = self._refcounts.get(oid, 0) - 1
            if n > 0:
                self._refcounts[oid] = n
                return
            self._refcounts.pop(oid, None)
            self._objects.pop(oid, None)
            self._failed_call_actors.pop(oid, None)
            if self._local_only and oid in self._local_only:
                self._local_only.discard(oid)
                return  # the head never heard of it
        if not self._closed:
            self._enqueue(_REF, (oid, False))

    # ---- tasks -------------------------------------------------------------------

    def export(self, function_id: bytes, blob: bytes) -> None:
        if function_id not in self._exported:
            export = common_pb2.ExportedFunction(function_id=function_id, blob=blob)
            self._exported[function_id] = export
            self._enqueue(_EXPORT, export)

    def submit(self, spec: common_pb2.TaskSpec) -> None:
        if self._local_only:
            self.register_refs([*spec.dependencies, *spec.borrowed])
        with self._lock:
            for i in range(spec.num_returns):
                self._owned_pending.add(ids.object_id(spec.task_id, i))
            if self._leases is not None and self._leases.offer(spec):
                return  # on a lease, or the link sends it to the head (raylite/client/lease_link.py)
            known = {d: self._objects[d] for d in spec.dependencies if d in self._objects}
            self._unfinished.add(spec, known)
        if spec.kind == common_pb2.ACTOR_METHOD:
            self.actor_calls_made = True  # (calls_left: an executor's task ends after they left)
        self._enqueue(_TASK, spec)

    def report_result(self, result: head_pb2.TaskResult) -> None:
        """An executor's task result, sent after everything the task itself sent."""
        self._items_done(result.task_id)
        if self._local_only:
            self.register_refs([oid for v in result.results for oid in v.contained])
        self._enqueue(_RESULT, result)

    def cancel(self, oid: bytes, force: bool, recursive: bool) -> None:
        """Cancels the task that returns oid (raylite.cancel).

        A task this client submitted and has no result of yet is cancelled
        without waiting (its get then raises TaskCancelledError); one whose result
        is here finished, and nothing is sent. Any other ref (another process's
        task, or an id nothing made) is asked about: the call returns once the
        head applied it, and raises if the head knew no such object.
        """
        task_id = task_of(oid)
        request = head_pb2.CancelRequest(object_id=oid, force=force, recursive=recursive)
        if self._leases is not None and self._leases.in_flight(task_id):
            # on a lease (or parked for one): the node, or this client, stops it
            self._loop.call_soon_threadsafe(self._leases.cancel, request)
            return
        with self._lock:
            spec = self._unfinished.unfinished(task_id)
            if spec is not None and not (force and spec.kind == common_pb2.ACTOR_METHOD):
                self._unfinished.cancelled(task_id, request)  # said again to a restarted head
            finished = spec is None and oid in self._objects
        if spec is not None:
            if force and spec.kind == common_pb2.ACTOR_METHOD:
                raise ValueError(_FORCED_ACTOR_CALL)
            self._enqueue(_CANCEL, request)
            return
        if finished:
            return  # (cancelling a finished task does nothing)
        self._cancel_refused.pop(oid, None)
        self._enqueue(_CANCEL, request)
        self.flush()
        refusal = self._cancel_refused.pop(oid, None)
        if refusal is None:
            return
        if refusal.actor_call:
            raise ValueError(_FORCED_ACTOR_CALL)
        raise TypeError(
            f"cancel(): no task or object of this cluster has the id {oid.hex()}, so there is nothing to cancel "
            "(the ref was not made by .remote() or put() in this cluster)"
        )

    def kill_actor(self, actor_id: bytes, no_restart: bool = True) -> None:
        """Kills an actor; calls made after this return go to its next incarnation (if any)."""
        self._enqueue(_KILL if no_restart else _RESTART, actor_id)
        self.flush()

    def create_placement_group(self, spec: common_pb2.PlacementGroupSpec) -> None:
        self._placement_groups[spec.placement_group_id] = spec
        self._enqueue(_PG_CREATE, spec)

    def remove_placement_group(self, pg_id: bytes) -> None:
        """Removes a placement group; returns once the head has done it."""
        self._placement_groups.pop(pg_id, None)
        self._enqueue(_PG_REMOVE, pg_id)
        self.flush()

    def flush(self, timeout: float = 30.0) -> None:
        """Returns once the head has applied everything this client sent so far."""
        with self._lock:
            self._flush_seq += 1
            seq = self._flush_seq
            event = threading.Event()
            self._flushes[seq] = event
        self._enqueue(_FLUSH, seq)
        if not event.wait(timeout):
            raise exceptions.RaySystemError(f"the head at {self.head_address} did not answer within {timeout}s")

    # ---- lifecycle -------------------------------------------------------------------

    def close(self) -> None:
        if self._closed:
            return
        self.metrics.detach()
        if self.metrics.now():  # the last user metrics of this process
            try:
                self.flush(timeout=2.0)
            except Exception:  # noqa: BLE001 - closing is best effort
                pass
        self._closed = True

        async def shutdown() -> None:
            if self._leases is not None:
                await self._leases.close()
            await self._close_session()

        try:
            self._call(shutdown(), timeout=5)
        except Exception:  # noqa: BLE001 - closing is best effort
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if self.worker_output is not None:
            self.worker_output.flush()  # the repeats still held back, as Ray prints them at exit
        if self._resolver_pool is not None:
            self._resolver_pool.shutdown(wait=False, cancel_futures=True)


_FORCED_ACTOR_CALL = (
    "cancel(force=True) is not allowed for an actor call: its process holds the actor's state. "
    "Cancel it without force (a call not started yet never runs; an async one is cancelled where it "
    "awaits), or end the actor with kill()"
)


def _unasked_leases(grants: Any) -> None:
    log.warning("the head granted %d leases this client did not ask for (task leases are off here)", len(grants))


# the refs an item of these kinds carries out of this process
_CARRY_REFS: dict[int, Callable[[Any], list[bytes]]] = {
    _TASK: lambda spec: [*spec.dependencies, *spec.borrowed],
    _PUT: lambda value: list(value.contained),
    _RESULT: lambda result: [oid for v in result.results for oid in v.contained],
}


def _print_warning(warning: str) -> None:
    print(f"raylite: warning: {warning}", file=sys.stderr, flush=True)
