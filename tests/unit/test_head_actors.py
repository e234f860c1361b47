"""The actor directory's names, namespaces, ownership and intended exits (raylite/head/state/actors.py)."""

from __future__ import annotations

import pytest

from raylite.failures import Failure
from raylite.head.state import HeadState
from raylite.head.state.model import (
    ClientConnected,
    ClientDisconnected,
    Deliver,
    ExecutorDied,
    KillActor,
    NodeAdded,
    RecoveryEnded,
    TaskSubmitted,
)
from tests.unit.test_head_restart import restarted, saved
from tests.unit.test_head_state import DRIVER, JOB, ONE_CPU, actor, call, of_type, oid, step

WORKER = b"worker-A"  # an executor's client: a task or actor of JOB that creates actors


@pytest.fixture
def state() -> HeadState:
    s = HeadState()
    step(
        s,
        NodeAdded(b"n1", {"CPU": 8.0}),
        ClientConnected(DRIVER, JOB, is_driver=True),
        ClientConnected(WORKER, JOB, is_driver=False),
    )
    return s


def failure_of(effects: list, object_id: bytes) -> Failure:
    for e in of_type(effects, Deliver):
        if e.obj.object_id == object_id:
            assert e.obj.failure is not None, f"{object_id!r} was delivered without a failure"
            return e.obj.failure
    raise AssertionError(f"nothing delivered for {object_id!r}")


# ---- names and namespaces -------------------------------------------------------------------------


def test_one_name_lives_once_per_namespace(state: HeadState) -> None:
    a = actor("a", actor_name="svc", actor_namespace="alpha")
    b = actor("b", actor_name="svc", actor_namespace="beta")
    step(state, TaskSubmitted(a), TaskSubmitted(b))
    assert state.named_actors == {("alpha", "svc"): a.actor_id, ("beta", "svc"): b.actor_id}


def test_a_taken_name_refuses_the_second_creation_and_its_calls(state: HeadState) -> None:
    first = actor("first", actor_name="svc", actor_namespace="ns")
    step(state, TaskSubmitted(first))
    second = actor("second", actor_name="svc", actor_namespace="ns")
    effects = step(state, TaskSubmitted(second))
    failure = failure_of(effects, oid(second))
    assert failure.kind == "ActorDiedError"
    assert "'svc' was already taken in namespace 'ns'" in failure.message
    assert state.actors[second.actor_id].state == "DEAD"
    assert state.named_actors == {("ns", "svc"): first.actor_id}  # the first keeps it
    assert of_type(effects, KillActor) == []  # the refused one was never placed

    later = call("later", second)
    effects = step(state, TaskSubmitted(later))
    assert "already taken" in failure_of(effects, oid(later)).message


def test_a_name_is_free_again_once_its_actor_died(state: HeadState) -> None:
    first = actor("first", actor_name="svc")
    step(state, TaskSubmitted(first))
    step(state, ExecutorDied(b"n1", b"", first.actor_id, "crash"))
    assert state.actors[first.actor_id].state == "DEAD"
    again = actor("again", actor_name="svc")
    step(state, TaskSubmitted(again))
    assert state.named_actors == {("", "svc"): again.actor_id}


def test_a_named_actor_comes_back_in_its_namespace_after_a_head_restart(state: HeadState) -> None:
    a = actor("a", actor_name="svc", actor_namespace="alpha", detached=True)
    step(state, TaskSubmitted(a))
    new = restarted(saved(state), [b"n1"])
    assert new.named_actors == {("alpha", "svc"): a.actor_id}


# ---- intended exits --------------------------------------------------------------------------------


def test_an_intended_exit_is_not_restarted_whatever_the_restarts_left(state: HeadState) -> None:
    a = actor("a", max_restarts=-1, actor_name="svc")
    step(state, TaskSubmitted(a))
    running = call("running", a)
    step(state, TaskSubmitted(running))
    why = "it exited on purpose: exit_actor() was called in A.quit"
    effects = step(state, ExecutorDied(b"n1", b"", a.actor_id, why, intentional=True))
    record = state.actors[a.actor_id]
    assert record.state == "DEAD" and record.death == why
    assert state.named_actors == {}
    assert why in failure_of(effects, oid(running)).message  # the call in flight (the exiting one) fails
    later = call("later", a)
    assert why in failure_of(step(state, TaskSubmitted(later)), oid(later)).message


def test_an_unintended_death_still_restarts(state: HeadState) -> None:
    a = actor("a", max_restarts=1)
    step(state, TaskSubmitted(a))
    step(state, ExecutorDied(b"n1", b"", a.actor_id, "pid 7 was killed by SIGKILL"))
    assert state.actors[a.actor_id].state in ("RESTARTING", "PLACED")


# ---- ownership -------------------------------------------------------------------------------------


def test_an_actor_dies_with_the_process_that_created_it(state: HeadState) -> None:
    child = actor("child", client_id=WORKER)
    detached = actor("kept", client_id=WORKER, detached=True)
    step(state, TaskSubmitted(child), TaskSubmitted(detached))
    pending = call("pending", child)
    step(state, TaskSubmitted(pending))

    effects = step(state, ClientDisconnected(WORKER))
    assert of_type(effects, KillActor) == [KillActor(b"n1", child.actor_id)]
    assert "its owner (the process that created it) exited" in state.actors[child.actor_id].death
    assert "owner" in failure_of(effects, oid(pending)).message
    assert state.actors[detached.actor_id].state == "PLACED"  # detached: outlives its owner


def test_an_owner_replacing_its_stream_in_one_step_keeps_its_actors(state: HeadState) -> None:
    child = actor("child", client_id=WORKER)
    step(state, TaskSubmitted(child))
    effects = step(state, ClientDisconnected(WORKER), ClientConnected(WORKER, JOB, is_driver=False))
    assert of_type(effects, KillActor) == []
    assert state.actors[child.actor_id].state == "PLACED"


def test_an_owner_that_does_not_reconnect_to_a_restarted_head_takes_its_actors_along(state: HeadState) -> None:
    child = actor("child", client_id=WORKER, resources=ONE_CPU)
    kept = actor("kept", client_id=DRIVER, resources=ONE_CPU)
    step(state, TaskSubmitted(child), TaskSubmitted(kept))

    new = restarted(saved(state), [b"n1"])  # the driver is back; the worker is not
    step(new, NodeAdded(b"n1", {"CPU": 8.0}, live_actors=[(child.actor_id, 1), (kept.actor_id, 1)]))
    effects = step(new, RecoveryEnded())
    assert of_type(effects, KillActor) == [KillActor(b"n1", child.actor_id)]
    assert new.actors[kept.actor_id].state == "PLACED"
