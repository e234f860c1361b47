"""A client's direct actor calls (docs/design-direct-calls.md (a)): calls go from this
process straight to the call port of the actor's executor, over one connection per
actor (raylite/client/state/actor_channel.py has the rules; this module carries them out
on the client's event loop).

- `_route_call` (from Client._drain, on the loop) numbers every actor call and sends it
  direct when its channel is OPEN and the call qualifies (no ObjectRef argument, not a
  generator); otherwise it goes into the ClientBatch for the head, as without the feature.
  The first call to an actor asks the head where it is (`locate_actors`); the head
  answers now and on every change (`actor_locations`). Calls made meanwhile are held
  until the port opens (then go direct) or the attempt fails (then by the head), for at
  most CALL_HOLD_S; an executor ends a task only once the actor calls it made have left
  the process (`calls_left`), so its caller's next call cannot pass them.
- An answer arriving on the connection is handled as the head's push of the same values
  would be (`_on_objects`: waiters, unfinished calls, max_pending_calls), and is noted
  for the head as a CallRecord, sent in one batch at most CALL_RECORD_DELAY_S later (the
  state API, and the head's copy of results the caller still holds, which other tasks may
  take as arguments).
- The refs a call carries (its handle, nested refs, arguments) are held by the caller
  until its answer, since the head does not pin them for a direct call.
- A connection that breaks hands its unanswered calls back; they are resent through the
  head naming the life of the actor they were sent to (`direct_incarnation`), and the
  head retries or fails them as it does calls in flight at a restart.

DirectCaller is a part of raylite.client.core.Client; the names it uses of the rest of
the client are declared for the type checker.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from raylite import call_wire, config, tls
from raylite.client.items import _PUT, _REF
from raylite.client.state.actor_channel import ActorChannel, Channel, SentCalls
from raylite.ids import object_id, task_of
from raylite.rpc import calls_pb2, common_pb2, head_pb2

log = logging.getLogger("raylite")


class _Connection(asyncio.Protocol):
    """One connection to an actor's call port."""

    def __init__(self, client: DirectCaller, channel: ActorChannel) -> None:
        self.client = client
        self.channel = channel
        self.reader = call_wire.FrameReader()
        self.transport: asyncio.Transport | None = None
        self.accepted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        channel = self.channel
        sock = transport.get_extra_info("socket")
        if sock is not None:
            for level, option, value in call_wire.liveness_options(config.CALL_LIVENESS_S):
                try:
                    sock.setsockopt(level, option, value)
                except OSError:
                    break  # (a platform that refuses one: the head's pushes still move the channel)
        hello = calls_pb2.CallHello(
            protocol_version=config.PROTOCOL_VERSION,
            token=self.client.token or "",
            caller_id=self.client.client_id,
            actor_id=channel.actor_id,
            incarnation=channel.incarnation,
            first_unanswered=channel.first_unanswered(),
        )
        transport.write(call_wire.pack(call_wire.HELLO, hello.SerializeToString()))  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        try:
            frames = self.reader.feed(data)
        except call_wire.FrameError as exc:
            self.close(f"the actor's call port sent a malformed frame ({exc})")
            return
        for kind, body in frames:
            if kind != call_wire.REPLIES:
                self.close(f"the actor's call port sent a frame of unknown kind {kind}")
                return
            reply = calls_pb2.CallReplyBatch.FromString(body)
            if reply.HasField("refused"):
                self.close(f"the actor's call port refused this caller: {reply.refused.why}")
                return
            if not self.accepted:
                self.accepted = True
                self.client._channel_opened(self)
            for result in reply.results:
                self.client._direct_answer(self.channel, result)

    def close(self, why: str) -> None:
        if self.transport is not None:
            self.transport.close()
        self.client._channel_broke(self, why)

    def connection_lost(self, exc: Exception | None) -> None:
        self.client._channel_broke(self, f"the connection closed ({exc or 'EOF'})")


class _OnSet:
    """Stands for a threading.Event in Client._flushes: runs its callback when set."""

    def __init__(self, callback: Any) -> None:
        self.callback = callback

    def set(self) -> None:
        self.callback()


class DirectCaller:
    if TYPE_CHECKING:  # the rest of the client (core.py)
        token: str | None
        _flush_seq: int
        _flushes: dict[int, Any]
        client_id: bytes
        _loop: asyncio.AbstractEventLoop
        _outbox: Any
        _refcounts: dict[bytes, int]
        _ref_lock: Any
        _lock: Any
        _objects: dict[bytes, Any]
        _unfinished: Any

        def _on_objects(self, values: Any) -> None: ...
        def add_ref(self, oid: bytes) -> None: ...
        def remove_ref(self, oid: bytes) -> None: ...
        def _enqueue(self, kind: int, item: Any) -> None: ...

    def _init_direct(self) -> None:
        self.direct_on = config.DIRECT_ACTOR_CALLS
        self._channels: dict[bytes, ActorChannel] = {}
        self._call_actor: dict[bytes, bytes] = {}  # unanswered numbered call -> its actor
        self._call_refs: dict[bytes, list[bytes]] = {}  # call -> the refs held for it until its answer
        self._to_send: dict[bytes, calls_pb2.CallBatch] = {}  # actor -> the batch of this wake-up
        self._records: list[tuple[common_pb2.TaskSpec, calls_pb2.TaskResultDirect]] = []
        self._record_timer: asyncio.TimerHandle | None = None
        # calls sent direct, to report those still unanswered a record window later as running
        self._sent_calls = SentCalls()
        self._running_timer: asyncio.TimerHandle | None = None
        self._ssl: ssl.SSLContext | None = None
        # Returns of direct calls whose refs the head never heard of (under _ref_lock): a result
        # only this process holds costs the head nothing. A ref that leaves the process
        # (an argument, inside a put or a result) is announced first (`register_refs`).
        self._local_only: set[bytes] = set()
        # calls held during a first locate and connect (ActorChannel.hold), by actor; what waits
        # for none to be held (calls_left); set by a user thread when it makes an actor call
        self._hold_timers: dict[bytes, asyncio.TimerHandle] = {}
        self._held_waiters: list[Any] = []
        self.actor_calls_made = False

    # ---- sending (user threads, then the loop) ---------------------------------------------

    def _hold_call_refs(self, spec: common_pb2.TaskSpec) -> None:
        """A call sent direct: its refs are held here until its answer (the head pins them for a call
        it routes; a direct call's it never hears of before the answer)."""
        oids = [*spec.dependencies, *spec.borrowed]
        for oid in oids:
            self.add_ref(oid)
        self._call_refs[spec.task_id] = oids

    def _route_call(self, spec: common_pb2.TaskSpec, msg: head_pb2.ClientBatch, refs: dict[bytes, bool]) -> bool:
        """On the loop: numbers an actor call; True if it was sent direct (else it goes in msg).
        `refs`: the ref changes of this drain, from which a direct call's returns are taken out."""
        channel = self._channels.get(spec.actor_id)
        if channel is None:
            channel = self._channels[spec.actor_id] = ActorChannel(spec.actor_id)
        call_id = spec.task_id
        if not spec.call_seq:
            spec.call_seq = channel.number(call_id)
            self._call_actor[call_id] = spec.actor_id
        if channel.needs_locate():
            msg.locate_actors.append(spec.actor_id)
        direct_ok = not spec.dependencies and not spec.generator and not spec.direct_incarnation
        if not channel.route(call_id, spec, direct_ok):
            if channel.hold(spec, direct_ok):
                self._hold_call_refs(spec)
                if spec.actor_id not in self._hold_timers:
                    self._hold_timers[spec.actor_id] = self._loop.call_later(
                        config.CALL_HOLD_S, self._release_held, channel
                    )
                return True
            if channel.held:
                self._release_held(channel)  # ahead of this call, at the head too
            self._announce_returns(spec, refs)  # by the head: it must see them held before the call
            return False
        self._hold_call_refs(spec)
        self._add_direct(channel, spec)
        return True

    def _add_direct(self, channel: ActorChannel, spec: common_pb2.TaskSpec) -> None:
        """Into this wake-up's frame to the actor (the channel keeps it as unanswered)."""
        batch = self._to_send.get(spec.actor_id)
        if batch is None:
            batch = self._to_send[spec.actor_id] = calls_pb2.CallBatch()
        batch.calls.append(spec)
        self._sent_calls.sent(time.time(), spec.task_id, channel)
        if self._running_timer is None:
            self._running_timer = self._loop.call_later(config.CALL_RECORD_DELAY_S, self._report_running)

    def _release_held(self, channel: ActorChannel) -> None:
        """The held calls of a channel whose first connection did not open (in time) go by the head,
        in order (their refs stay held here until their answers, as for a direct call)."""
        held = channel.release()
        if held:
            msg = self._outbox.touch()
            for spec in held:
                self._announce_returns(spec, msg)
                msg.tasks.append(spec)
        self._hold_ended(channel)

    def _hold_ended(self, channel: ActorChannel) -> None:
        """The channel holds no call any more: its hold timer stops, and who waits for it is woken."""
        timer = self._hold_timers.pop(channel.actor_id, None)
        if timer is not None:
            timer.cancel()
        self._held_changed()

    def _held_changed(self) -> None:
        if self._held_waiters and not self._hold_timers:
            waiters, self._held_waiters = self._held_waiters, []
            for wake in waiters:
                wake()

    def calls_left(self) -> None:
        """Returns once the actor calls this process made so far have left it (written to their
        actor's port, or into the batch for the head): an executor's task ends only then, so that
        whoever sees its result and calls the same actor cannot overtake them. At most
        CALL_HOLD_S + 1 s; immediate if no actor call was made since the last time."""
        if not self.actor_calls_made:
            return
        self.actor_calls_made = False
        done = threading.Event()
        try:
            self._loop.call_soon_threadsafe(self._after_held, done.set)  # after the drain of those calls
        except RuntimeError:
            return  # shut down
        done.wait(config.CALL_HOLD_S + 1.0)

    def _after_held(self, wake: Any) -> None:
        if self._hold_timers:
            self._held_waiters.append(wake)
        else:
            wake()

    def expect_direct(self, spec: common_pb2.TaskSpec) -> None:
        """Before the refs to an actor call's returns are made (a user thread): they stay unknown to
        the head unless the call goes by the head after all, or a ref leaves this process."""
        with self._ref_lock:
            self._local_only.update(object_id(spec.task_id, i) for i in range(spec.num_returns))

    def register_refs(self, oids: Any) -> None:
        """Refs about to leave this process: the head hears of those it does not know yet
        (held, then the value if it is here), before what carries them (any thread)."""
        if not self._local_only:
            return
        with self._ref_lock:
            leaving = [oid for oid in oids if oid in self._local_only]
            self._local_only.difference_update(leaving)
        for oid in leaving:
            self._enqueue(_REF, (oid, True))
            value = self._objects.get(oid)
            if value is not None:
                self._enqueue(_PUT, value)
            # (not here yet: its CallRecord publishes it, since this process holds it)

    def _direct_cancel(self, request: head_pb2.CancelRequest) -> bool:
        """A cancel of a call sent direct goes to its actor; True if it did."""
        call_id = task_of(request.object_id)
        channel = self._channels.get(self._call_actor.get(call_id, b""))
        if channel is not None and any(spec.task_id == call_id for spec in channel.held):
            self._release_held(channel)  # to the head, which then cancels it (after the batch's tasks)
            return False
        if channel is None or call_id not in channel.unanswered or channel.state is not Channel.OPEN:
            return False
        batch = self._to_send.setdefault(channel.actor_id, calls_pb2.CallBatch())
        batch.cancels.append(call_id)
        # recursive: the head cancels what the call submitted (it knows those tasks, not the call)
        request.direct_call = True
        return not request.recursive

    def _send_direct(self) -> None:
        """End of a drain: one frame per actor called direct in it."""
        to_send, self._to_send = self._to_send, {}
        for actor_id, batch in to_send.items():
            channel = self._channels[actor_id]
            conn = channel.connection
            if conn is None or conn.transport is None:
                continue  # (broke meanwhile: its calls were handed back to the head)
            batch.first_unanswered = channel.first_unanswered()
            conn.transport.write(call_wire.pack(call_wire.CALLS, batch.SerializeToString()))

    # ---- locations and connections (the loop) ----------------------------------------------

    def _on_actor_locations(self, locations: Any) -> None:
        for location in locations:
            channel = self._channels.get(location.actor_id)
            if channel is None:
                continue
            if channel.state is Channel.OPEN and (
                location.state != "PLACED" or location.incarnation != channel.incarnation
            ):
                channel.connection.close(f"the actor is {location.state} now")  # resends, relocates
                continue
            todo = channel.located(location.state, location.incarnation, location.call_address)
            if todo == "connect":
                asyncio.ensure_future(self._connect_actor(channel))
                continue
            if todo == "dead":
                self._resend(channel, channel.take_unanswered())
            if channel.holding:
                self._release_held(channel)  # not placed (or no port): by the head

    async def _connect_actor(self, channel: ActorChannel) -> None:
        conn = _Connection(self, channel)
        channel.connection = conn
        host, _, port = channel.address.rpartition(":")
        try:
            await asyncio.wait_for(
                self._loop.create_connection(lambda: conn, host, int(port), ssl=self._ssl_context()),
                config.CONNECT_TIMEOUT_S,
            )
        except (OSError, asyncio.TimeoutError, ssl.SSLError, tls.TLSConfigError) as exc:
            self._channel_broke(conn, f"could not connect to {channel.address} ({exc})")

    def _ssl_context(self) -> ssl.SSLContext | None:
        paths = tls.from_env()
        if paths is None:
            return None
        if self._ssl is None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.load_verify_locations(paths.ca)
            ctx.load_cert_chain(paths.cert, paths.key)
            ctx.check_hostname = False  # the cluster's CA is the trust (as the gRPC channels' target override)
            self._ssl = ctx
        return self._ssl

    def _channel_opened(self, conn: _Connection) -> None:
        channel = conn.channel
        if channel.connection is conn and channel.state is Channel.CONNECTING:
            held = channel.opened()
            for spec in held:
                self._add_direct(channel, spec)
            self._tell_first_unanswered(channel)  # (calls the head answered since the hello)
            if held or channel.actor_id in self._hold_timers:
                self._send_direct()  # now, before anyone waiting in calls_left is woken
                self._hold_ended(channel)

    def _tell_first_unanswered(self, channel: ActorChannel) -> None:
        """The next frame to the actor says how far the caller's answers go (at the end of this drain,
        or of one scheduled now)."""
        if channel.actor_id not in self._to_send:
            self._to_send[channel.actor_id] = calls_pb2.CallBatch()
            self._loop.call_soon(self._send_direct)

    def _channel_broke(self, conn: _Connection, why: str) -> None:
        channel = conn.channel
        if channel.connection is not conn:
            return  # an earlier connection of this channel, already handled
        if conn.transport is not None:
            conn.transport.close()
        resend = channel.broke(why)
        if channel.state is Channel.LOCATING:
            self._outbox.touch().locate_actors.append(channel.actor_id)  # where is it now?
        if "refused" in why:
            print(f"raylite: direct calls to actor {channel.actor_id.hex()[:12]}: {why}", file=sys.stderr)
        self._resend(channel, resend)
        if channel.holding:
            self._release_held(channel)

    def _resend(self, channel: ActorChannel, specs: list[Any]) -> None:
        """Calls sent direct and not answered go through the head, naming the life they were sent to."""
        if not specs:
            return
        msg = self._outbox.touch()
        for spec in specs:
            spec.direct_incarnation = channel.incarnation + 1
            self._announce_returns(spec, msg)  # the head publishes them now: it must see them held
            msg.tasks.append(spec)
            with self._lock:
                cancel = self._unfinished.cancel_of(spec.task_id)
            if cancel is not None:
                # cancelled while sent direct: its cancel frame may have died with the connection,
                # so the head cancels the resent call (cancels apply after the batch's tasks)
                msg.cancels.append(cancel)

    def _announce_returns(self, spec: common_pb2.TaskSpec, into: Any) -> None:
        """The head hears that this process holds the call's returns (into: a batch, or a drain's refs)."""
        local = self._local_only
        if not local:
            return
        with self._ref_lock:
            for i in range(spec.num_returns):
                oid = object_id(spec.task_id, i)
                if oid in local:
                    local.discard(oid)
                    if oid not in self._refcounts:
                        continue  # (dropped already)
                    if isinstance(into, dict):
                        into[oid] = True
                    else:
                        into.ref_changes.add(object_id=oid, held=True)

    # ---- answers (the loop) -------------------------------------------------------------------

    def _direct_answer(self, channel: ActorChannel, result: calls_pb2.TaskResultDirect) -> None:
        spec = channel.unanswered.get(result.task_id)
        if spec is None:
            return  # answered already (a late duplicate)
        holds_refs = any(v.contained for v in result.results)
        if self._local_only and any(v.in_store or v.contained for v in result.results):
            # a value in a store (or pinning refs) must be known to the head, which frees it
            self._announce_returns(spec, self._outbox.touch())
        if holds_refs:
            channel.settling.add(result.task_id)
        self._on_objects(result.results)  # (calls _answered)
        self._records.append((spec, result))
        if holds_refs:
            self._send_records()
            self._settle_after_flush(channel, result.task_id)
        elif self._record_timer is None:
            self._record_timer = self._loop.call_later(config.CALL_RECORD_DELAY_S, self._send_records)

    def _settle_after_flush(self, channel: ActorChannel, call_id: bytes) -> None:
        """Once the head applied the record (the refs inside are pinned there), the executor is told
        it may let them go: first_unanswered passes the call in the next (or this) batch."""

        def settled() -> None:
            channel.settled(call_id)
            conn = channel.connection
            if conn is not None and conn.transport is not None and channel.state is Channel.OPEN:
                batch = calls_pb2.CallBatch(first_unanswered=channel.first_unanswered())
                conn.transport.write(call_wire.pack(call_wire.CALLS, batch.SerializeToString()))

        with self._lock:
            self._flush_seq += 1
            seq = self._flush_seq
            self._flushes[seq] = _OnSet(lambda: self._loop.call_soon_threadsafe(settled))
        self._outbox.touch().flush = seq

    def _answered(self, call_id: bytes) -> None:
        """Any answer of a numbered call, by either path (from _on_objects, on the loop)."""
        if self._sent_calls.reported:
            self._sent_calls.answered(call_id)
        actor_id = self._call_actor.pop(call_id, None)
        if actor_id is not None:
            channel = self._channels[actor_id]
            tell = call_id not in channel.unanswered and channel.state is Channel.OPEN
            before = channel.first_unanswered() if tell else 0  # (a min over the calls out: only then)
            channel.answered(call_id)
            if tell and channel.first_unanswered() != before:
                # a call the head answered without the actor seeing it (cancelled or failed there):
                # the actor must not hold the caller's later direct calls for it
                self._tell_first_unanswered(channel)
        refs = self._call_refs.pop(call_id, None)
        if refs:
            for oid in refs:
                self.remove_ref(oid)

    def _send_records(self) -> None:
        """The head hears of the direct calls answered since the last batch."""
        self._record_timer = None
        records, self._records = self._records, []
        if not records:
            return
        msg = self._outbox.touch()
        with self._ref_lock:
            held = self._refcounts
            for spec, result in records:
                record = msg.call_records.add(
                    error_summary=result.error_summary,
                    node_id=result.node_id,
                    started=result.started,
                    finished=result.finished,
                    failed=any(v.is_error for v in result.results),
                )
                record.spec.CopyFrom(spec)
                record.spec.ClearField("payload")
                # what other processes may still ask the head for: values held here, refs inside
                local = self._local_only
                record.results.extend(
                    v for v in result.results if v.contained or (v.object_id in held and v.object_id not in local)
                )

    def _report_running(self) -> None:
        """The head hears of the direct calls out for a record window with no answer (state API)."""
        self._running_timer = None
        window = config.CALL_RECORD_DELAY_S
        now = time.time()
        due = self._sent_calls.due(now, window)
        if due:
            self._add_running(self._outbox.touch(), due)
        at = self._sent_calls.next_due(window)
        if at is not None:
            # at most one wake-up per window while calls flow (a call is reported 1-2 windows late):
            # waking when the oldest is due would wake the loop every few ms at thousands of calls/s
            self._running_timer = self._loop.call_later(max(window, at - now), self._report_running)

    @staticmethod
    def _add_running(msg: head_pb2.ClientBatch, calls: list[tuple[common_pb2.TaskSpec, float]]) -> None:
        for spec, sent in calls:
            running = msg.calls_running.add(sent=sent)
            running.spec.CopyFrom(spec)
            running.spec.ClearField("payload")

    def _resume_direct(self, batch: head_pb2.ClientBatch) -> set[bytes]:
        """For a restarted head: locate the actors again; the calls sent direct and unanswered
        (not resubmitted: they are in flight on their connections)."""
        in_flight: set[bytes] = set()
        for actor_id, channel in self._channels.items():
            if channel.state is not Channel.DEAD and channel.state is not Channel.HEAD_PATH:
                batch.locate_actors.append(actor_id)
            in_flight.update(channel.unanswered)
        self._add_running(batch, self._sent_calls.still_running())
        return in_flight
