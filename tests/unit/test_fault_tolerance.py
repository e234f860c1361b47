"""Retries of application errors and actor restarts, in the head's pure state."""

from __future__ import annotations

from raylite.head.state import HeadState
from raylite.head.state.model import (
    ActorKillRequested,
    ClientConnected,
    Dispatch,
    ExecutorDied,
    KillActor,
    NodeAdded,
    NodeRemoved,
    ObjectInfo,
    Strategy,
    TaskFinished,
    TaskSubmitted,
)
from tests.unit.test_head_state import (
    DRIVER,
    JOB,
    ONE_CPU,
    actor,
    available,
    call,
    dispatched,
    failure_kind,
    finished,
    oid,
    result,
    step,
    task,
)


def new_state(*nodes: bytes) -> HeadState:
    state = HeadState()
    step(state, ClientConnected(DRIVER, JOB, True))
    for n in nodes:
        step(state, NodeAdded(n, {"CPU": 2.0}))
    return state


def test_retryable_application_error_runs_the_task_again() -> None:
    state = new_state(b"n1")
    t = task("t", max_retries=1)
    step(state, TaskSubmitted(t))
    error = TaskFinished(b"n1", t.task_id, [result(t, error=True)], "ValueError: flaky", retryable=True)
    assert dispatched(step(state, error)) == [(b"n1", "t")]
    assert t.retries_left == 0 and oid(t) not in state.objects
    # out of retries: the error is the result
    effects = step(state, TaskFinished(b"n1", t.task_id, [result(t, error=True)], "ValueError: flaky", retryable=True))
    assert dispatched(effects) == [] and state.objects[oid(t)].is_error
    assert available(state, b"n1") == 2.0


def test_non_retryable_error_is_final() -> None:
    state = new_state(b"n1")
    t = task("t", max_retries=3)
    step(state, TaskSubmitted(t))
    effects = step(state, TaskFinished(b"n1", t.task_id, [result(t, error=True)], "KeyError", retryable=False))
    assert dispatched(effects) == [] and state.objects[oid(t)].is_error


def restartable_actor(state: HeadState, max_restarts: int = 1, max_task_retries: int = 0):
    a = actor("A", max_restarts=max_restarts, max_task_retries=max_task_retries, resources=ONE_CPU)
    step(state, TaskSubmitted(a))
    step(state, finished(a))
    return a


def test_dead_actor_process_restarts_and_unretried_calls_fail() -> None:
    state = new_state(b"n1")
    a = restartable_actor(state)
    c1 = call("c1", a)
    step(state, TaskSubmitted(c1))
    effects = step(state, ExecutorDied(b"n1", b"", a.actor_id, "exit code 1"))
    assert dispatched(effects) == [(b"n1", "A.__init__")]  # the constructor runs again
    # Ray 2.60's error for a call in flight at a restart: the actor lives on, the call may have run
    assert failure_kind(effects, DRIVER, oid(c1)) == "ActorUnavailableError"
    assert "not retried" in state.objects[oid(c1)].failure.message
    assert state.actors[a.actor_id].restarts == 1 and available(state, b"n1") == 1.0
    step(state, finished(a))
    c2 = call("c2", a)
    assert dispatched(step(state, TaskSubmitted(c2))) == [(b"n1", "c2")]


def test_calls_with_retries_wait_for_the_restart_in_order() -> None:
    state = new_state(b"n1")
    a = restartable_actor(state, max_task_retries=1)
    c1, c2 = call("c1", a), call("c2", a)
    step(state, TaskSubmitted(c1), TaskSubmitted(c2))
    effects = step(state, ExecutorDied(b"n1", b"", a.actor_id, "SIGKILL"))
    # both calls are re-sent after the constructor, in their original order
    assert dispatched(effects) == [(b"n1", "A.__init__"), (b"n1", "c1"), (b"n1", "c2")]


def test_restarts_run_out() -> None:
    state = new_state(b"n1")
    a = restartable_actor(state, max_restarts=1)
    step(state, ExecutorDied(b"n1", b"", a.actor_id, "first"))
    step(state, finished(a))
    effects = step(state, ExecutorDied(b"n1", b"", a.actor_id, "second"))
    assert dispatched(effects) == []
    assert state.actors[a.actor_id].state == "DEAD" and available(state, b"n1") == 2.0


def test_actor_on_a_dead_node_restarts_elsewhere() -> None:
    state = new_state(b"n1", b"n2")
    a = restartable_actor(state)
    first = state.actors[a.actor_id].node_id
    other = b"n2" if first == b"n1" else b"n1"
    effects = step(state, NodeRemoved(first, "stream closed"))
    assert dispatched(effects) == [(other, "A.__init__")]


def test_kill_without_no_restart_restarts_and_with_it_does_not() -> None:
    state = new_state(b"n1")
    a = restartable_actor(state, max_restarts=-1)
    effects = step(state, ActorKillRequested(a.actor_id, "kill", no_restart=False))
    assert [type(e) for e in effects if isinstance(e, (KillActor, Dispatch))] == [KillActor, Dispatch]
    step(state, finished(a))
    effects = step(state, ActorKillRequested(a.actor_id, "kill", no_restart=True))
    assert dispatched(effects) == [] and state.actors[a.actor_id].state == "DEAD"


def test_constructor_error_on_restart_is_final() -> None:
    state = new_state(b"n1")
    a = restartable_actor(state, max_restarts=5)
    step(state, ExecutorDied(b"n1", b"", a.actor_id, "crash"))
    step(state, TaskFinished(b"n1", a.task_id, [result(a, error=True)], "RuntimeError: no"))
    assert state.actors[a.actor_id].state == "DEAD"
    assert "constructor raised RuntimeError: no" in state.actors[a.actor_id].death


def test_call_bounced_by_a_dead_process_waits_for_the_death_report() -> None:
    state = new_state(b"n1")
    a = restartable_actor(state, max_task_retries=1)
    c = call("c", a)
    step(state, TaskSubmitted(c))
    bounce = TaskFinished(b"n1", c.task_id, [result(c, error=True)], "ActorDiedError", retryable=True)
    assert step(state, bounce) == [] and oid(c) not in state.objects
    effects = step(state, ExecutorDied(b"n1", b"", a.actor_id, "SIGKILL"))
    assert dispatched(effects) == [(b"n1", "A.__init__"), (b"n1", "c")]


def test_restarting_actor_whose_constructor_can_no_longer_be_placed_dies() -> None:
    """Its creation fails before it is placed again: the actor is dead, not RESTARTING for ever."""
    state = new_state(b"n1", b"n2")
    a = actor("A", max_restarts=1, max_task_retries=1, strategy=Strategy("NODE_AFFINITY", b"n1"))
    step(state, TaskSubmitted(a))
    step(state, finished(a))
    c = call("c", a)
    step(state, TaskSubmitted(c))
    effects = step(state, NodeRemoved(b"n1", "gone"))  # its hard affinity names a dead node now
    assert state.actors[a.actor_id].state == "DEAD"
    assert failure_kind(effects, DRIVER, oid(c)) == "ActorDiedError"


def test_restarting_actor_whose_constructor_argument_failed_meanwhile_dies() -> None:
    """The constructor runs again only once its arguments exist (an output lost with its
    node is being remade); when the remaking fails, so does the restart, for good."""
    state = new_state(b"n1", b"n2")
    t = task("t", strategy=Strategy("NODE_AFFINITY", b"n1", soft=True))
    step(state, TaskSubmitted(t))
    step(state, TaskFinished(b"n1", t.task_id, [ObjectInfo(oid(t), value="t", node_id=b"n1", size=10)]))
    a = actor("A", deps=(oid(t),), max_restarts=1, strategy=Strategy("NODE_AFFINITY", b"n2", soft=True))
    step(state, TaskSubmitted(a))
    step(state, finished(a))
    assert dispatched(step(state, NodeRemoved(b"n1", "gone"))) == [(b"n2", "t")]  # remakes its output
    assert dispatched(step(state, ExecutorDied(b"n2", b"", a.actor_id, "crash"))) == []
    assert state.tasks[a.task_id].state == "WAITING"
    step(state, TaskFinished(b"n2", t.task_id, [result(t, error=True)], "ValueError: no"))
    assert state.actors[a.actor_id].state == "DEAD" and a.task_id not in state.tasks


def test_a_late_death_report_of_the_life_an_actor_left_does_not_kill_it_while_it_restarts() -> None:
    """Restarted on request, it waits for room; the killed process's death (it crashed
    before the kill landed) names the attempt the actor has not moved past yet."""
    state = new_state(b"n1")
    a = actor("A", max_restarts=1)  # placed with a CPU, holds none
    step(state, TaskSubmitted(a))
    step(state, finished(a))
    t1, t2 = task("t1"), task("t2")
    step(state, TaskSubmitted(t1), TaskSubmitted(t2))  # n1 is full
    step(state, ActorKillRequested(a.actor_id, "restart", no_restart=False))
    assert state.actors[a.actor_id].state == "RESTARTING"
    assert step(state, ExecutorDied(b"n1", b"", a.actor_id, "crash", 1)) == []
    assert state.actors[a.actor_id].state == "RESTARTING"
    assert dispatched(step(state, finished(t1))) == [(b"n1", "A.__init__")]
