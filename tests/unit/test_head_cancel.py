"""Cancellation in the head (raylite/head/state/cancel.py): events in, effects out, no sockets."""

from __future__ import annotations

import pytest

from raylite.head.state import HeadState, TaskState
from raylite.head.state.model import (
    CancelRefused,
    CancelRequested,
    CancelTask,
    ClientConnected,
    ExecutorDied,
    HeadRestarted,
    NodeAdded,
    NodeRemoved,
    ObjectsPut,
    TaskFinished,
    TaskSubmitted,
)
from raylite.head.state.states import TASK_TRANSITIONS, entries
from tests.unit.test_head_state import (
    DRIVER,
    JOB,
    actor,
    available,
    call,
    delivered,
    dispatched,
    failure_kind,
    finished,
    of_type,
    oid,
    put,
    result,
    step,
    task,
)

WORKER = b"worker-A"  # the client of an executor: it submits nested tasks


@pytest.fixture
def state() -> HeadState:
    s = HeadState()
    step(s, ClientConnected(DRIVER, JOB, True), ClientConnected(WORKER, JOB, False), NodeAdded(b"n1", {"CPU": 2.0}))
    return s


def cancel(t, *, force: bool = False, recursive: bool = True, client: bytes = DRIVER) -> CancelRequested:
    return CancelRequested(client, oid(t), force, recursive)


def cancelled_message(effects, t, client: bytes = DRIVER) -> str:
    assert failure_kind(effects, client, oid(t)) == "TaskCancelledError"
    return delivered(effects)[(client, oid(t))].failure.message


def story_causes(state: HeadState, t) -> list[tuple[str, str]]:
    # (the record's own story: the head keeps a finished task only for lineage)
    return [(str(e.state), e.cause) for e in entries(t.story)]


def test_every_way_to_finished_names_cancellation() -> None:
    for source in (TaskState.NEW, TaskState.WAITING, TaskState.READY, TaskState.WAITING_FOR_ACTOR, TaskState.RUNNING):
        assert "cancel" in TASK_TRANSITIONS[source][TaskState.FINISHED], source


# ---- before it runs ---------------------------------------------------------------------


def test_a_queued_task_finishes_cancelled_and_never_runs(state: HeadState) -> None:
    step(state, TaskSubmitted(task("a")), TaskSubmitted(task("b")))  # the node is full
    queued = task("queued")
    assert dispatched(step(state, TaskSubmitted(queued))) == []
    assert queued.state is TaskState.READY
    effects = step(state, cancel(queued))
    assert "queued was cancelled before it ran" in cancelled_message(effects, queued)
    assert queued.state is TaskState.FINISHED and queued.task_id not in state.tasks
    assert state.pins == {}
    # room that comes later is not given to it
    effects = step(state, finished(state.tasks[task("a").task_id]))
    assert dispatched(effects) == []
    assert story_causes(state, queued)[-1] == ("FINISHED", "queued was cancelled")


def test_a_task_waiting_for_an_argument_finishes_cancelled_and_its_argument_is_released(state: HeadState) -> None:
    slow = task("slow")
    consumer = task("consumer", deps=[oid(slow)])
    step(state, TaskSubmitted(slow), TaskSubmitted(consumer))
    assert consumer.state is TaskState.WAITING
    effects = step(state, cancel(consumer))
    assert cancelled_message(effects, consumer)
    assert consumer.state is TaskState.FINISHED
    # the argument arriving later starts nothing
    effects = step(state, finished(slow))
    assert dispatched(effects) == [] and state.tasks == {}


def test_a_call_waiting_for_its_actor_is_dropped(state: HeadState) -> None:
    step(state, TaskSubmitted(task("a", cpus=2.0)))  # no room: the actor waits
    a = actor("a_actor")
    m1, m2 = call("m1", a), call("m2", a)
    step(state, TaskSubmitted(a), TaskSubmitted(m1), TaskSubmitted(m2))
    assert m1.state is TaskState.WAITING_FOR_ACTOR
    effects = step(state, cancel(m1))
    assert cancelled_message(effects, m1)
    assert state.actors[a.actor_id].pending == [m2]
    effects = step(state, finished(state.tasks[task("a").task_id]))
    assert dispatched(effects) == [(b"n1", "a_actor.__init__"), (b"n1", "m2")]


def test_cancel_of_an_actor_creation_does_nothing(state: HeadState) -> None:
    step(state, TaskSubmitted(task("a", cpus=2.0)))
    a = actor("a_actor")
    step(state, TaskSubmitted(a))
    assert step(state, CancelRequested(DRIVER, oid(a))) == []
    assert a.state is TaskState.READY


# ---- while it runs ------------------------------------------------------------------------


def test_a_running_task_is_told_to_stop_and_finishes_with_what_its_node_answers(state: HeadState) -> None:
    t = task("t", max_retries=3)
    step(state, TaskSubmitted(t))
    effects = step(state, cancel(t))
    assert effects == [CancelTask(b"n1", t.task_id, b"", False)]
    assert t.state is TaskState.RUNNING
    assert story_causes(state, t)[-1] == ("RUNNING", "cancel requested")
    assert step(state, cancel(t)) == []  # twice: nothing more
    # its executor's answer: the error of the interrupted task, even if retryable
    answer = result(t, error=True)
    effects = step(state, TaskFinished(b"n1", t.task_id, [answer], "TaskCancelledError: t", retryable=True))
    assert delivered(effects)[(DRIVER, oid(t))] is not None and dispatched(effects) == []
    assert t.task_id not in state.tasks and available(state, b"n1") == 2.0
    assert story_causes(state, t)[-1] == ("FINISHED", "its results arrived after a cancel")


def test_a_task_that_finished_first_keeps_its_value(state: HeadState) -> None:
    t = task("t")
    step(state, TaskSubmitted(t))
    step(state, cancel(t))
    effects = step(state, finished(t))
    assert not delivered(effects)[(DRIVER, oid(t))].is_error


def test_cancelling_a_finished_task_does_nothing(state: HeadState) -> None:
    t = task("t")
    step(state, TaskSubmitted(t))
    step(state, finished(t))
    assert step(state, cancel(t)) == []
    assert step(state, cancel(t, force=True)) == []


def test_a_forced_cancel_kills_and_the_death_is_not_retried(state: HeadState) -> None:
    t = task("t", max_retries=-1)
    step(state, TaskSubmitted(t))
    assert step(state, cancel(t, force=True)) == [CancelTask(b"n1", t.task_id, b"", True)]
    assert story_causes(state, t)[-1] == ("RUNNING", "cancel requested: its executor is killed")
    effects = step(state, ExecutorDied(b"n1", t.task_id, b"", "pid 9 was killed by SIGKILL", t.attempt))
    message = cancelled_message(effects, t)
    assert "SIGKILL" in message and dispatched(effects) == []
    assert state.tasks == {} and available(state, b"n1") == 2.0


def test_a_forced_cancel_after_a_gentle_one_is_sent_again(state: HeadState) -> None:
    t = task("t")
    step(state, TaskSubmitted(t))
    assert step(state, cancel(t)) == [CancelTask(b"n1", t.task_id, b"", False)]
    assert step(state, cancel(t, force=True)) == [CancelTask(b"n1", t.task_id, b"", True)]
    assert step(state, cancel(t, force=True)) == []


def test_a_cancelled_task_whose_node_dies_is_not_retried(state: HeadState) -> None:
    t = task("t", max_retries=3)
    step(state, TaskSubmitted(t), NodeAdded(b"n2", {"CPU": 2.0}))
    step(state, cancel(t))
    effects = step(state, NodeRemoved(t.node_id, "gone"))  # type: ignore[arg-type]
    assert "cancelled" in cancelled_message(effects, t)
    assert dispatched(effects) == []


def test_a_retryable_error_before_the_cancel_is_retried_and_the_retry_then_cancelled(state: HeadState) -> None:
    t = task("t", max_retries=2)
    step(state, TaskSubmitted(task("x")), TaskSubmitted(t), TaskSubmitted(task("y")))  # full
    effects = step(state, TaskFinished(b"n1", t.task_id, [result(t, error=True)], "E", retryable=True))
    assert t.state is TaskState.READY and dispatched(effects) == [(b"n1", "y")]  # (y was queued first)
    effects = step(state, cancel(t))
    assert "before it ran" in cancelled_message(effects, t)


# ---- actor calls ----------------------------------------------------------------------------


def test_a_running_call_is_told_to_stop_and_cannot_be_forced(state: HeadState) -> None:
    a = actor("a")
    m = call("m", a)
    step(state, TaskSubmitted(a), TaskSubmitted(m))
    assert m.state is TaskState.RUNNING
    effects = step(state, cancel(m, force=True))
    assert effects == [CancelRefused(DRIVER, oid(m), actor_call=True)]
    assert m.cancel == 0
    assert step(state, cancel(m)) == [CancelTask(b"n1", m.task_id, a.actor_id, False)]


def test_a_cancelled_call_is_not_retried_when_its_actor_restarts(state: HeadState) -> None:
    a = actor("a", max_restarts=1, max_task_retries=3)
    m, other = call("m", a), call("other", a)
    step(state, TaskSubmitted(a), finished(a), TaskSubmitted(m), TaskSubmitted(other))
    step(state, cancel(m))
    effects = step(state, ExecutorDied(b"n1", b"", a.actor_id, "SIGKILL", a.attempt))
    assert "cancelled" in cancelled_message(effects, m)
    # the other call is retried with the restart: sent to the new incarnation
    assert dispatched(effects) == [(b"n1", "a.__init__"), (b"n1", "other")]
    assert other.state is TaskState.RUNNING and other.cancel == 0


def test_a_cancelled_call_of_an_actor_that_dies_is_cancelled(state: HeadState) -> None:
    a = actor("a")
    m = call("m", a)
    step(state, TaskSubmitted(a), finished(a), TaskSubmitted(m))
    step(state, cancel(m))
    effects = step(state, ExecutorDied(b"n1", b"", a.actor_id, "SIGKILL", a.attempt))
    assert "cancelled" in cancelled_message(effects, m)


# ---- recursive ----------------------------------------------------------------------------------


def nested(label: str, parent, **kw):
    return task(label, client_id=WORKER, parent_id=parent.task_id, **kw)


def test_recursive_cancel_reaches_children_and_theirs(state: HeadState) -> None:
    parent = task("parent", cpus=0)
    child = nested("child", parent, cpus=0)
    grandchild = nested("grandchild", child, resources={"GPU": 1.0})  # never placed: queued
    other = task("other", client_id=WORKER, cpus=0)  # no parent: untouched
    step(state, TaskSubmitted(parent), TaskSubmitted(child), TaskSubmitted(grandchild), TaskSubmitted(other))
    effects = step(state, cancel(parent))
    assert of_type(effects, CancelTask) == [
        CancelTask(b"n1", parent.task_id, b"", False),
        CancelTask(b"n1", child.task_id, b"", False),
    ]
    message = cancelled_message(effects, grandchild, WORKER)
    assert "with its parent task child before it ran" in message
    assert other.cancel == 0 and other.state is TaskState.RUNNING


def test_non_recursive_cancel_leaves_children_alone(state: HeadState) -> None:
    parent = task("parent", cpus=0)
    child = nested("child", parent, cpus=0)
    step(state, TaskSubmitted(parent), TaskSubmitted(child))
    effects = step(state, cancel(parent, recursive=False))
    assert of_type(effects, CancelTask) == [CancelTask(b"n1", parent.task_id, b"", False)]
    # a child submitted after a non-recursive cancel runs too
    late = nested("late", parent, cpus=0)
    assert dispatched(step(state, TaskSubmitted(late))) == [(b"n1", "late")]


def test_a_child_submitted_after_a_recursive_cancel_is_cancelled_as_it_arrives(state: HeadState) -> None:
    parent = task("parent")
    step(state, TaskSubmitted(parent))
    step(state, cancel(parent, force=True))
    late, late_call = nested("late", parent), None
    a = actor("a")
    step(state, TaskSubmitted(a), finished(a))
    late_call = call("late_call", a, client_id=WORKER, parent_id=parent.task_id)
    effects = step(state, TaskSubmitted(late), TaskSubmitted(late_call))
    assert dispatched(effects) == []
    assert "after that task was cancelled" in cancelled_message(effects, late, WORKER)
    assert cancelled_message(effects, late_call, WORKER)
    assert [s for s, _ in story_causes(state, late)] == ["NEW", "FINISHED"]


def test_recursive_force_is_not_forced_on_actor_calls(state: HeadState) -> None:
    parent = task("parent", cpus=0)
    a = actor("a")
    step(state, TaskSubmitted(parent), TaskSubmitted(a), finished(a))
    child_call = call("child_call", a, client_id=WORKER, parent_id=parent.task_id)
    step(state, TaskSubmitted(child_call))
    effects = step(state, cancel(parent, force=True))
    assert of_type(effects, CancelTask) == [
        CancelTask(b"n1", parent.task_id, b"", True),
        CancelTask(b"n1", child_call.task_id, a.actor_id, False),
    ]


def test_a_finished_parent_cancels_no_children(state: HeadState) -> None:
    parent = task("parent", cpus=0)
    child = nested("child", parent, cpus=0)
    step(state, TaskSubmitted(parent), TaskSubmitted(child))
    step(state, finished(parent))
    assert step(state, cancel(parent)) == []
    assert child.cancel == 0


def test_a_recursive_cancel_of_a_direct_call_reaches_the_tasks_it_submitted(state: HeadState) -> None:
    """A direct actor call never entered the head; the tasks it submitted did, naming it as parent."""
    a = actor("a")
    step(state, TaskSubmitted(a), finished(a))
    the_call = call("direct", a)  # (never submitted: made direct)
    child = nested("child", the_call, cpus=0)
    step(state, TaskSubmitted(child))
    request = CancelRequested(DRIVER, oid(the_call), False, True, direct_call=True)
    assert of_type(step(state, request), CancelTask) == [CancelTask(b"n1", child.task_id, b"", False)]
    # unmarked, such a request names a task the head does not know: refused, nothing cancelled
    another_call = call("another direct", a)
    other = nested("other", another_call, cpus=0)
    step(state, TaskSubmitted(other))
    assert of_type(step(state, cancel(another_call)), CancelTask) == []
    assert other.cancel == 0 and other.state is not TaskState.FINISHED


def test_a_child_of_a_cancelled_direct_call_that_arrives_after_the_cancel_is_cancelled_as_it_arrives(
    state: HeadState,
) -> None:
    """The caller's recursive cancel and the call's own submissions travel on different streams:
    a child may reach the head after the cancel (it then ran uncancelled for its whole life)."""
    a = actor("a")
    step(state, TaskSubmitted(a), finished(a))
    the_call = call("direct", a)  # (never submitted: made direct)
    step(state, CancelRequested(DRIVER, oid(the_call), False, True, direct_call=True))
    late = nested("late", the_call, cpus=0)
    effects = step(state, TaskSubmitted(late))
    assert late.state is TaskState.FINISHED and not of_type(effects, CancelTask)  # never placed
    unrelated = nested("unrelated", call("other", a), cpus=0)
    step(state, TaskSubmitted(unrelated))
    assert unrelated.state is not TaskState.FINISHED


def test_a_retried_parent_keeps_its_children(state: HeadState) -> None:
    parent = task("parent", cpus=0, max_retries=1)
    child = nested("child", parent, cpus=0)
    step(state, TaskSubmitted(parent), TaskSubmitted(child))
    step(state, ExecutorDied(b"n1", parent.task_id, b"", "killed", parent.attempt))
    assert parent.state is TaskState.RUNNING and parent.attempt == 2  # (retried and placed again)
    effects = step(state, cancel(parent))
    assert CancelTask(b"n1", child.task_id, b"", False) in effects


# ---- refs that name no task -------------------------------------------------------------------


def test_a_put_is_nothing_to_cancel_and_an_unknown_id_is_refused(state: HeadState) -> None:
    x = put("x")
    step(state, ObjectsPut([x]))
    assert step(state, CancelRequested(DRIVER, x.object_id)) == []
    unknown = b"u" * 20
    assert step(state, CancelRequested(DRIVER, unknown)) == [CancelRefused(DRIVER, unknown)]


def test_a_restarted_head_refuses_nothing_while_it_waits_for_its_clients() -> None:
    state = HeadState()
    step(state, HeadRestarted([], []))
    step(state, ClientConnected(DRIVER, JOB, True))
    assert step(state, CancelRequested(DRIVER, b"u" * 20)) == []


def test_cancelled_tasks_release_what_they_held(state: HeadState) -> None:
    x = put("x")
    t = task("t", deps=[x.object_id], resources={"GPU": 1.0})
    step(state, ObjectsPut([x]), TaskSubmitted(t))
    assert state.pins
    step(state, cancel(t))
    assert state.pins == {} and available(state, b"n1") == 2.0


def test_parents_named_in_a_cycle_do_not_loop(state: HeadState) -> None:
    # no correct client does this, but the head must not hang on what a peer says
    a = task("a", cpus=0, client_id=WORKER, parent_id=b"b" + b"." * 15)
    b = task("b", cpus=0, client_id=WORKER, parent_id=a.task_id)
    own = task("own", cpus=0, client_id=WORKER)
    own.parent_id = own.task_id
    step(state, TaskSubmitted(a), TaskSubmitted(b), TaskSubmitted(own))
    assert len(of_type(step(state, cancel(b)), CancelTask)) == 1  # (a came first: not indexed under b)
    assert len(of_type(step(state, cancel(own)), CancelTask)) == 1
