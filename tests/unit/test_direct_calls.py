"""Direct actor calls, the pure parts: the caller's channel (raylite/client/state/actor_channel.py),
the executor's order of one caller's calls across both paths (actor_host.CallOrder with call_seq),
the frames (raylite/call_wire.py), the port's checks (raylite/worker/validate.py: call_batch) and
the head's rules for resent calls and records (raylite/head/state/direct_calls.py)."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raylite import call_wire
from raylite.client.direct import DirectCaller
from raylite.client.state.actor_channel import ActorChannel, Channel, IllegalChannelMove
from raylite.client.unfinished import UnfinishedTasks
from raylite.head import wire
from raylite.head.state import direct_calls
from raylite.head.state.model import ActorRecord, TaskRecord
from raylite.head.state.states import ActorState
from raylite.rpc import calls_pb2, common_pb2, head_pb2
from raylite.worker import validate
from raylite.worker.actor_host import CallOrder

ACTOR = b"\x07" * 16
CALLER = b"c" * 8


def spec(seq: int, **fields: object) -> common_pb2.TaskSpec:
    return common_pb2.TaskSpec(
        task_id=CALLER + seq.to_bytes(8, "big"),
        kind=common_pb2.ACTOR_METHOD,
        actor_id=ACTOR,
        num_returns=1,
        payload=b"f\0",
        call_seq=seq,
        **fields,  # type: ignore[arg-type]
    )


# ---- the caller's channel ----------------------------------------------------------------


def open_channel() -> ActorChannel:
    channel = ActorChannel(ACTOR)
    assert channel.needs_locate() and not channel.needs_locate()  # asked once
    assert channel.located("PLACED", 1, "10.0.0.1:5") == "connect"
    channel.opened()
    return channel


def test_calls_go_by_the_head_until_the_channel_is_open_then_direct_in_order() -> None:
    channel = ActorChannel(ACTOR)
    first = spec(channel.number(b"1"))
    assert channel.needs_locate()
    assert not channel.route(b"1", first, direct_ok=True)  # LOCATING: by the head
    assert channel.located("PENDING", 1, "") == ""  # not placed yet
    assert channel.located("PLACED", 1, "h:1") == "connect"
    assert not channel.route(b"2", spec(channel.number(b"2")), direct_ok=True)  # CONNECTING: by the head
    channel.opened()
    assert channel.route(b"3", spec(channel.number(b"3")), direct_ok=True)
    assert not channel.route(b"4", spec(channel.number(b"4")), direct_ok=False)  # a ref argument: by the head
    assert channel.first_unanswered() == 1
    channel.validate(lambda s: s.call_seq)
    for call_id in (b"1", b"2", b"4"):
        assert channel.answered(call_id)
    assert channel.first_unanswered() == 3  # the direct call is still out


def numbered(channel: ActorChannel) -> common_pb2.TaskSpec:
    """The channel's next call (its id is its task id, as in the client)."""
    call = spec(channel.next_seq)
    channel.number(call.task_id)
    return call


def test_calls_made_during_the_first_locate_and_connect_are_held_then_sent_direct_in_order() -> None:
    channel = ActorChannel(ACTOR)
    calls = [numbered(channel), numbered(channel)]
    assert channel.needs_locate()
    assert not channel.route(calls[0].task_id, calls[0], direct_ok=True) and channel.hold(calls[0], direct_ok=True)
    assert channel.located("PLACED", 1, "h:1") == "connect"
    assert not channel.route(calls[1].task_id, calls[1], direct_ok=True) and channel.hold(calls[1], direct_ok=True)
    channel.validate(lambda s: s.call_seq)
    assert channel.opened() == calls  # now unanswered, to send direct in call_seq order
    assert list(channel.unanswered.values()) == calls and not channel.held and not channel.holding
    channel.validate(lambda s: s.call_seq)
    assert channel.first_unanswered() == 1


@pytest.mark.parametrize("ends", ["not placed", "dead", "broke", "ref argument"])
def test_held_calls_go_by_the_head_when_the_first_connection_does_not_open(ends: str) -> None:
    channel = ActorChannel(ACTOR)
    held = numbered(channel)
    channel.needs_locate()
    assert channel.hold(held, direct_ok=True)
    if ends == "not placed":
        assert channel.located("PENDING", 1, "") == ""
    elif ends == "dead":
        assert channel.located("DEAD", 1, "") == "dead"
    elif ends == "broke":
        assert channel.located("PLACED", 1, "h:1") == "connect"
        assert channel.broke("refused") == []  # nothing was sent direct
    else:
        assert not channel.hold(numbered(channel), direct_ok=False)  # goes by the head now...
    assert channel.release() == [held]  # ...and the held call ahead of it (the client does this)
    assert not channel.holding and not channel.hold(numbered(channel), direct_ok=True)
    channel.validate(lambda s: s.call_seq)


def test_a_channel_located_again_later_does_not_hold() -> None:
    channel = open_channel()
    channel.broke("EOF")
    assert channel.state is Channel.LOCATING and not channel.holding
    assert not channel.hold(numbered(channel), direct_ok=True)  # by the head while relocating


def test_a_break_hands_back_the_unanswered_direct_calls_in_order_and_relocates() -> None:
    channel = open_channel()
    for n in (1, 2, 3):
        channel.route(bytes([n]), spec(channel.number(bytes([n]))), direct_ok=True)
    channel.answered(b"\x02")
    resend = channel.broke("EOF")
    assert [s.call_seq for s in resend] == [1, 3]
    assert channel.state is Channel.LOCATING and not channel.unanswered
    assert channel.first_unanswered() == 1  # resent through the head, still unanswered
    # the same port again is not retried (it failed this life); a new life's is
    assert channel.located("PLACED", 1, "10.0.0.1:5") == ""
    assert channel.located("PLACED", 2, "10.0.0.2:6") == "connect"


def test_a_dead_actor_takes_the_channel_to_dead_for_good() -> None:
    channel = open_channel()
    channel.route(b"1", spec(channel.number(b"1")), direct_ok=True)
    assert channel.located("DEAD", 1, "") == "dead"
    assert [s.call_seq for s in channel.take_unanswered()] == [1]
    assert channel.located("PLACED", 2, "h:2") == ""
    with pytest.raises(IllegalChannelMove):
        channel.opened()


def test_a_settling_call_keeps_first_unanswered_until_settled() -> None:
    channel = open_channel()
    channel.route(b"1", spec(channel.number(b"1")), direct_ok=True)
    channel.settling.add(b"1")
    assert channel.answered(b"1") and channel.first_unanswered() == 1
    channel.settled(b"1")
    assert channel.first_unanswered() == 2


# ---- the executor's order across both paths ------------------------------------------------


def test_a_direct_call_waits_for_its_callers_earlier_call_still_on_the_head_path() -> None:
    order = CallOrder()
    order.arrived(CALLER, b"h1", True, 1)  # by the head
    assert order.take_runnable() == [b"h1"]
    order.skip_to(CALLER, 2)  # the hello: 2 is the first unanswered (by the head, in flight)
    order.arrived(CALLER, b"d3", True, 3)  # direct, overtook 2
    assert order.take_runnable() == []
    order.arrived(CALLER, b"h2", True, 2)
    assert order.take_runnable() == [b"h2", b"d3"]


def test_skip_to_releases_a_call_whose_predecessor_will_never_come() -> None:
    order = CallOrder()
    order.skip_to(CALLER, 5)
    order.arrived(CALLER, b"d7", True, 7)
    assert order.take_runnable() == []
    order.skip_to(CALLER, 7)  # 5 and 6 were answered by the head (failed there, say)
    assert order.take_runnable() == [b"d7"]


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(1, 12),
    direct_from=st.integers(1, 13),
    data=st.data(),
)
def test_any_interleaving_of_the_two_paths_runs_each_callers_calls_in_call_seq_order(
    n: int, direct_from: int, data: st.DataObject
) -> None:
    """Calls 1..n of one caller; those from `direct_from` on go direct (the channel opened then,
    its hello saying direct_from... is unanswered), the others by the head, which keeps their order.
    Whatever the interleaving of the two streams (and of another caller's), each caller's calls
    run in call_seq order, and all of them run."""
    head_path = [s for s in range(1, n + 1) if s < direct_from]
    direct = [s for s in range(1, n + 1) if s >= direct_from]
    other = list(range(1, 4))
    streams = {"head": head_path, "direct": direct, "other": other}
    order = CallOrder()
    ran: list[tuple[bytes, int]] = []
    hello_sent = False
    while any(streams.values()):
        name = data.draw(st.sampled_from(sorted(k for k, v in streams.items() if v)))
        seq = streams[name].pop(0)
        caller = b"o" * 8 if name == "other" else CALLER
        if name == "direct" and not hello_sent:
            # the hello comes first on its connection: the lowest call still unanswered
            done = {s for c, s in ran if c == CALLER}
            order.skip_to(CALLER, min([s for s in range(1, n + 1) if s not in done], default=n + 1))
            hello_sent = True
        order.arrived(caller, caller + seq.to_bytes(8, "big"), True, seq)
        ran += [(cid[:8], int.from_bytes(cid[8:], "big")) for cid in order.take_runnable()]
    for caller in (CALLER, b"o" * 8):
        seqs = [s for c, s in ran if c == caller]
        assert seqs == sorted(seqs)
    assert sorted(s for c, s in ran if c == CALLER) == list(range(1, n + 1))
    assert len(order) == 0


def test_numbers_are_not_enforced_without_a_connection() -> None:
    """By the head alone, a number the head answered itself (a call cancelled there) never comes:
    nothing may wait for it."""
    order = CallOrder()
    order.arrived(CALLER, b"h1", True, 1)
    order.arrived(CALLER, b"h3", True, 3)  # 2 was cancelled in the head
    assert order.take_runnable() == [b"h1", b"h3"]
    order.skip_to(CALLER, 4)  # a hello
    order.arrived(CALLER, b"d6", True, 6)
    assert order.take_runnable() == []
    order.disconnected(CALLER)  # the connection closed: 5 may have been answered by the head
    assert order.take_runnable() == [b"d6"]


def test_calls_without_numbers_keep_arrival_order() -> None:
    order = CallOrder()
    order.arrived(CALLER, b"x", True)
    order.arrived(CALLER, b"y", True)
    assert order.take_runnable() == [b"x", b"y"]


# ---- frames and the port's checks ---------------------------------------------------------


def test_frames_are_cut_from_any_split_of_the_bytes() -> None:
    data = call_wire.pack(call_wire.HELLO, b"abc") + call_wire.pack(call_wire.CALLS, b"") + call_wire.pack(1, b"z" * 9)
    for cut in range(len(data) + 1):
        reader = call_wire.FrameReader()
        frames = reader.feed(data[:cut]) + reader.feed(data[cut:])
        assert frames == [(call_wire.HELLO, b"abc"), (call_wire.CALLS, b""), (1, b"z" * 9)]


def test_an_oversized_frame_is_refused_before_it_is_read() -> None:
    reader = call_wire.FrameReader(max_frame=10)
    with pytest.raises(call_wire.FrameError, match="over the limit"):
        reader.feed(call_wire.HEADER.pack(11, call_wire.CALLS))


def test_the_port_refuses_calls_of_another_actor_unnumbered_or_with_ref_arguments() -> None:
    assert validate.call_batch(calls_pb2.CallBatch(calls=[spec(1)]), ACTOR) is None
    assert "not a call of actor" in str(validate.call_batch(calls_pb2.CallBatch(calls=[spec(1)]), b"\x08" * 16))
    assert "call_seq" in str(validate.call_batch(calls_pb2.CallBatch(calls=[spec(0)]), ACTOR))
    with_dep = spec(1, dependencies=[b"o" * 20])
    assert "goes by the head" in str(validate.call_batch(calls_pb2.CallBatch(calls=[with_dep]), ACTOR))
    assert "cancels[0]" in str(validate.call_batch(calls_pb2.CallBatch(cancels=[b"short"]), ACTOR))


# ---- the head's rules ------------------------------------------------------------------------


def actor(state: ActorState, attempt: int) -> ActorRecord:
    creation = TaskRecord(task_id=ACTOR, job_id=b"j" * 4, client_id=CALLER, name="A", kind=1)
    creation.attempt = attempt
    return ActorRecord(ACTOR, b"j" * 4, "", False, b"", state=state, creation=creation)


def test_a_resent_call_was_interrupted_when_the_life_it_was_sent_to_ended() -> None:
    assert not direct_calls.interrupted(actor(ActorState.PLACED, 1), 1)  # same life: the daemon answers
    assert direct_calls.interrupted(actor(ActorState.PLACED, 2), 1)  # restarted since
    assert direct_calls.interrupted(actor(ActorState.RESTARTING, 1), 1)
    assert direct_calls.sent_life(wire.task_record(spec(3), CALLER)) is None
    assert direct_calls.sent_life(wire.task_record(spec(3, direct_incarnation=2), CALLER)) == 1


def test_a_location_names_the_port_only_while_placed_and_ready() -> None:
    placed = actor(ActorState.PLACED, 3)
    placed.call_address = "h:9"
    assert direct_calls.location(placed) == ("PLACED", 3, "", "")  # constructor not returned yet
    placed.ready = object()  # type: ignore[assignment]
    assert direct_calls.location(placed) == ("PLACED", 3, "h:9", "")
    dead = actor(ActorState.DEAD, 3)
    dead.death = "killed"
    assert direct_calls.location(dead) == ("DEAD", 3, "", "killed")


# ---- the caller's resend ---------------------------------------------------------------------


class _Outbox:
    def __init__(self) -> None:
        self.batch = head_pb2.ClientBatch()

    def touch(self) -> head_pb2.ClientBatch:
        return self.batch


class _Caller(DirectCaller):
    """The caller's resend without a client: what it puts in the next ClientBatch."""

    def __init__(self) -> None:
        self._outbox = _Outbox()
        self._lock = threading.Lock()
        self._unfinished = UnfinishedTasks()
        self._local_only: set[bytes] = set()


def test_a_call_cancelled_while_sent_direct_is_cancelled_again_when_resent_by_the_head() -> None:
    # (seen in chaos with a cut link: the cancel frame died with the connection, the call was
    # resent through the head and ran, and the caller's get waited until its timeout)
    caller = _Caller()
    kept, cancelled = spec(1), spec(2)
    request = head_pb2.CancelRequest(object_id=cancelled.task_id + bytes(4), recursive=True, direct_call=True)
    caller._unfinished.add(kept)
    caller._unfinished.add(cancelled)
    caller._unfinished.cancelled(cancelled.task_id, request)
    channel = ActorChannel(ACTOR)
    caller._resend(channel, [kept, cancelled])
    batch = caller._outbox.batch
    assert [s.task_id for s in batch.tasks] == [kept.task_id, cancelled.task_id]
    assert all(s.direct_incarnation == channel.incarnation + 1 for s in batch.tasks)
    assert list(batch.cancels) == [request]


class _HoldingCaller(_Caller):
    """A caller whose loop only keeps timers (the hold deadline)."""

    def __init__(self) -> None:
        super().__init__()
        self._hold_timers = {}
        self._held_waiters = []
        self._refcounts: dict[bytes, int] = {}
        self._ref_lock = threading.Lock()
        self._call_refs: dict[bytes, list[bytes]] = {}

    def add_ref(self, oid: bytes) -> None:
        self._refcounts[oid] = self._refcounts.get(oid, 0) + 1


def test_a_held_call_goes_ahead_of_a_later_call_by_the_head_and_wakes_who_waits_for_it() -> None:
    caller = _HoldingCaller()

    class _Loop:
        def call_later(self, delay: float, fn: object, *args: object) -> object:
            return type("T", (), {"cancel": lambda self: None})()

    caller._loop = _Loop()  # type: ignore[assignment]
    caller._channels = {}
    woken: list[bool] = []
    channel = ActorChannel(ACTOR)
    caller._channels[ACTOR] = channel
    held, later = numbered(channel), numbered(channel)
    msg = caller._outbox.batch
    assert caller._route_call(held, msg, {})  # held: not in the batch
    assert list(msg.locate_actors) == [ACTOR] and not msg.tasks
    caller._after_held(lambda: woken.append(True))
    assert not woken  # a task ending now waits
    later.dependencies.append(b"r" * 20)  # a ref argument: by the head, behind the held call
    assert not caller._route_call(later, msg, {})
    msg.tasks.append(later)  # (the drain appends it)
    assert [s.task_id for s in msg.tasks] == [held.task_id, later.task_id]
    assert woken == [True]


def test_a_callers_socket_asks_the_kernel_to_break_a_silent_connection_within_the_bound() -> None:
    import socket

    options = {(level, option): value for level, option, value in call_wire.liveness_options(10.0)}
    tcp = socket.IPPROTO_TCP
    assert options == {
        (socket.SOL_SOCKET, socket.SO_KEEPALIVE): 1,
        (tcp, socket.TCP_KEEPIDLE): 5,  # probes only after 5 s with no bytes either way
        (tcp, socket.TCP_KEEPINTVL): 1,
        (tcp, socket.TCP_KEEPCNT): 5,  # 5 + 5 x 1 s: silent for the bound, it breaks
        (tcp, socket.TCP_USER_TIMEOUT): 10_000,  # calls sent unacknowledged for 10 s: it breaks
    }
    assert call_wire.liveness_options(0) == []  # RAYLITE_CALL_LIVENESS_S=0: no check
    assert dict(((lv, o), v) for lv, o, v in call_wire.liveness_options(0.5))[(tcp, socket.TCP_KEEPIDLE)] == 1
