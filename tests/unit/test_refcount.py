"""Distributed reference counting in the head's state: when objects are freed."""

from __future__ import annotations

from raylite.head.state import HeadState
from raylite.head.state.model import (
    ClientConnected,
    ClientDisconnected,
    FreeObject,
    KillActor,
    NodeAdded,
    ObjectInfo,
    ObjectsPut,
    RefsChanged,
    TaskFinished,
    TaskRecord,
    TaskSubmitted,
)
from tests.unit.test_head_state import DRIVER, JOB, OTHER, actor, call, dispatched, finished, of_type, oid, step, task

N1 = b"n1"


def handle(state: HeadState, *events) -> list:
    effects = state.handle(*events)
    state.validate()
    return effects


def freed(effects: list) -> list[bytes]:
    return [e.object_id for e in effects if isinstance(e, FreeObject)]


def stored(name: str, *, contained: tuple[bytes, ...] = ()) -> ObjectInfo:
    return ObjectInfo(name.encode().ljust(20, b"."), value=name, node_id=N1, size=100, contained=contained)


def new_state() -> HeadState:
    state = HeadState()
    handle(state, ClientConnected(DRIVER, JOB, True), ClientConnected(OTHER, JOB, False), NodeAdded(N1, {"CPU": 2}))
    return state


def test_object_is_freed_when_its_last_holder_lets_go() -> None:
    state = new_state()
    x = stored("x")
    handle(state, RefsChanged(DRIVER, [(x.object_id, True)]), ObjectsPut([x]))
    handle(state, RefsChanged(OTHER, [(x.object_id, True)]))
    assert freed(handle(state, RefsChanged(DRIVER, [(x.object_id, False)]))) == []
    assert freed(handle(state, RefsChanged(OTHER, [(x.object_id, False)]))) == [x.object_id]
    assert x.object_id not in state.objects


def test_queued_task_keeps_its_arguments_alive() -> None:
    state = new_state()
    x = stored("x")
    handle(state, RefsChanged(DRIVER, [(x.object_id, True)]), ObjectsPut([x]))
    t = task("t", deps=[x.object_id], cpus=3)  # never fits: stays queued
    handle(state, TaskSubmitted(t), RefsChanged(DRIVER, [(x.object_id, False)]))
    assert x.object_id in state.objects


def test_running_task_releases_its_arguments_when_it_finishes() -> None:
    state = new_state()
    x, nested = stored("x"), stored("nested")
    handle(state, RefsChanged(DRIVER, [(x.object_id, True), (nested.object_id, True)]), ObjectsPut([x, nested]))
    t = task("t", deps=[x.object_id], borrowed=(nested.object_id,))
    handle(state, TaskSubmitted(t), RefsChanged(DRIVER, [(x.object_id, False), (nested.object_id, False)]))
    assert {x.object_id, nested.object_id} <= set(state.objects)
    effects = handle(state, TaskFinished(N1, t.task_id, [ObjectInfo(oid(t), value="r")]))
    assert sorted(freed(effects)) == sorted([x.object_id, nested.object_id])
    assert oid(t) not in state.objects  # nobody held the result either


def test_result_nobody_holds_is_dropped_at_once_but_a_held_one_stays() -> None:
    state = new_state()
    t = task("t")
    handle(state, RefsChanged(DRIVER, [(oid(t), True)]), TaskSubmitted(t))
    handle(state, TaskFinished(N1, t.task_id, [ObjectInfo(oid(t), value="r", node_id=N1, size=10)]))
    assert oid(t) in state.objects
    assert freed(handle(state, RefsChanged(DRIVER, [(oid(t), False)]))) == [oid(t)]


def test_refs_inside_a_live_object_stay_alive() -> None:
    state = new_state()
    inner = stored("inner")
    outer = stored("outer", contained=(inner.object_id,))
    handle(state, RefsChanged(DRIVER, [(inner.object_id, True)]), ObjectsPut([inner]))
    handle(state, RefsChanged(DRIVER, [(outer.object_id, True)]), ObjectsPut([outer]))
    assert freed(handle(state, RefsChanged(DRIVER, [(inner.object_id, False)]))) == []
    effects = handle(state, RefsChanged(DRIVER, [(outer.object_id, False)]))
    assert freed(effects) == [outer.object_id, inner.object_id]


def test_a_disconnected_driver_releases_everything_it_held() -> None:
    state = new_state()
    objs = [stored(f"o{i}") for i in range(3)]
    handle(state, RefsChanged(DRIVER, [(o.object_id, True) for o in objs]), ObjectsPut(objs))
    assert sorted(freed(handle(state, ClientDisconnected(DRIVER)))) == sorted(o.object_id for o in objs)
    assert state.objects == {} and state.holders == {} and state.pins == {}


def test_many_tasks_leave_no_state_behind() -> None:
    state = new_state()
    for i in range(200):
        t = task(f"t{i}")
        handle(state, RefsChanged(DRIVER, [(oid(t), True)]), TaskSubmitted(t))
        handle(state, TaskFinished(N1, t.task_id, [ObjectInfo(oid(t), value=i)]))
        handle(state, RefsChanged(DRIVER, [(oid(t), False)]))
    assert state.objects == {} and state.tasks == {} and state.holders == {} and state.pins == {}


# ---- actor handles ----------------------------------------------------------------
# A handle holds a ref to its actor's creation result; calls pin it as borrowed.


def placed_actor(state: HeadState, **kw) -> TaskRecord:
    step(state, ClientConnected(DRIVER, JOB, True), NodeAdded(b"n1", {"CPU": 2.0}))
    creation = actor("a", **kw)
    step(state, TaskSubmitted(creation))
    step(state, finished(creation))
    return creation


def test_actor_ends_when_its_last_handle_goes() -> None:
    state = HeadState()
    creation = placed_actor(state)
    effects = step(state, RefsChanged(DRIVER, [(oid(creation), False)]))
    assert of_type(effects, KillActor) == [KillActor(b"n1", creation.actor_id)]
    assert state.actors[creation.actor_id].death == "all its handles went out of scope"


def test_detached_actor_outlives_its_handles() -> None:
    state = HeadState()
    creation = placed_actor(state, detached=True)
    assert of_type(step(state, RefsChanged(DRIVER, [(oid(creation), False)])), KillActor) == []
    assert state.actors[creation.actor_id].state == "PLACED"


def test_a_call_in_flight_keeps_its_actor_until_it_is_done() -> None:
    state = HeadState()
    creation = placed_actor(state)
    pending = call("a.work", creation, borrowed=(oid(creation),))
    step(state, TaskSubmitted(pending))
    assert of_type(step(state, RefsChanged(DRIVER, [(oid(creation), False)])), KillActor) == []
    effects = step(state, finished(pending))
    assert of_type(effects, KillActor) == [KillActor(b"n1", creation.actor_id)]


def test_room_an_actor_leaves_when_its_last_handle_goes_is_used_in_the_same_step() -> None:
    """Found by the randomized test (test_head_state_random.py): the actor is killed in
    the free pass at the end of the step, after the scheduling pass, so the task that
    waited for its CPU stayed queued until some later event happened to run a pass."""
    state = HeadState()
    creation = placed_actor(state, resources={"CPU": 2.0})
    waiting = task("waiting")
    step(state, TaskSubmitted(waiting))
    assert waiting.state == "READY"
    effects = step(state, RefsChanged(DRIVER, [(oid(creation), False)]))
    assert of_type(effects, KillActor) == [KillActor(b"n1", creation.actor_id)]
    assert dispatched(effects) == [(b"n1", "waiting")]
