"""Direct actor calls in flight, seen by the head (issue 12, gap 1): the caller reports the calls
out for a record window with no answer (raylite/client/state/actor_channel.py: SentCalls), the
head lists them RUNNING on their actor's node until their record, resubmission or their caller's
disconnection (raylite/head/state/direct_calls.py: RunningCalls), and explain says so."""

from __future__ import annotations

from raylite.client.state.actor_channel import ActorChannel, SentCalls
from raylite.head.dashboard import views
from raylite.head.state import HeadState
from raylite.head.state import explain as ex
from raylite.head.state.model import (
    CallRecorded,
    CallsRunning,
    ClientConnected,
    ClientDisconnected,
    Event,
    NodeAdded,
    TaskFinished,
    TaskRecord,
    TaskSubmitted,
)
from tests.unit.test_head_state import DRIVER, JOB, actor, call, oid, result, with_refs

N1 = b"n1".ljust(16, b"\0")
WINDOW = 0.05


def open_channel() -> ActorChannel:
    channel = ActorChannel(b"\x07" * 16)
    channel.needs_locate()
    channel.located("PLACED", 1, "h:1")
    channel.opened()
    return channel


# ---- the caller: which calls are reported ------------------------------------------------------


def test_only_calls_unanswered_a_window_after_they_were_sent_are_reported_once() -> None:
    channel, sent = open_channel(), SentCalls()
    for i, at in enumerate((10.00, 10.01, 10.02)):
        call_id = bytes([i]) * 8
        channel.route(call_id, f"spec{i}", direct_ok=True)
        sent.sent(at, call_id, channel)
    channel.answered(b"\0" * 8)  # the first was answered quickly: never reported
    assert sent.due(10.04, WINDOW) == []  # none is a window old yet
    assert sent.next_due(WINDOW) == 10.00 + WINDOW
    assert sent.due(10.065, WINDOW) == [("spec1", 10.01)]
    assert sent.due(10.07, WINDOW) == [("spec2", 10.02)]
    assert sent.due(11.0, WINDOW) == [] and sent.next_due(WINDOW) is None  # each once
    assert sent.still_running() == [("spec1", 10.01), ("spec2", 10.02)]  # for a restarted head
    sent.answered(b"\1" * 8)
    channel.answered(b"\1" * 8)
    channel.broke("EOF")  # the other goes back to the head: the head lists it itself
    assert sent.still_running() == [] and sent.reported == {}


# ---- the head: the state API and explain -------------------------------------------------------


def at(state: HeadState, now: float, *events: Event) -> None:
    state.handle(*with_refs(events), now=now)
    state.validate()


def with_actor() -> tuple[HeadState, TaskRecord]:
    state = HeadState()
    creation = actor("A", resources={})
    at(state, 0.0, ClientConnected(DRIVER, JOB, True), NodeAdded(N1, {"CPU": 2.0}), TaskSubmitted(creation))
    at(state, 1.0, TaskFinished(N1, creation.task_id, [result(creation)], "", call_address="10.0.0.1:7"))
    return state, creation


def running(state: HeadState, c: TaskRecord, sent: float) -> None:
    at(state, sent + 0.05, CallsRunning(DRIVER, [(c, sent)]))


def recorded(c: TaskRecord) -> CallRecorded:
    return CallRecorded(c, [], "", False, N1, 10.0, 12.0)


def test_a_reported_call_is_running_on_its_actors_node_then_finished_by_its_record() -> None:
    state, creation = with_actor()
    slow = call("slow", creation)
    running(state, slow, 10.0)
    [row] = [r for r in views.task_records(state) if r["name"] == "slow"]
    assert (row["state"], row["node_id"], row["type"]) == ("RUNNING", N1.hex(), "ACTOR_TASK")
    assert row["start_time_ms"] == 10_000
    at(state, 12.0, recorded(slow))
    assert state.running_calls == {}
    [row] = [r for r in views.task_records(state) if r["name"] == "slow"]
    assert row["state"] == "FINISHED"


def test_explain_says_a_direct_call_in_flight_runs_on_its_actor() -> None:
    state, creation = with_actor()
    slow = call("slow", creation)
    running(state, slow, 10.0)
    [reason] = ex.explain(state, [oid(slow)], now=51.0).reasons
    assert reason.kind == ex.RUNNING
    assert (
        reason.text == f"actor call slow is running on actor A ({creation.actor_id.hex()[:12]}) (direct call), for 41 s"
    )


def test_a_call_resent_through_the_head_or_of_a_caller_gone_is_no_longer_listed_as_direct() -> None:
    state, creation = with_actor()
    resent, orphan = call("resent", creation), call("orphan", creation)
    running(state, resent, 10.0)
    running(state, orphan, 10.0)
    again = call("resent", creation, direct_incarnation=2)
    at(state, 11.0, TaskSubmitted(again))
    assert set(state.running_calls) == {orphan.task_id}
    assert state.tasks[again.task_id] is again  # listed from the task table now, once
    assert [r["name"] for r in views.task_records(state)].count("resent") == 1
    at(state, 12.0, ClientDisconnected(DRIVER))
    assert state.running_calls == {}
