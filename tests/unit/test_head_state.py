"""The head's pure state machine: events in, effects out, invariants checked after every step."""

from __future__ import annotations

from collections import Counter

import pytest

from raylite.head.state import HeadState
from raylite.head.state.model import (
    ACTOR_CREATION,
    ACTOR_METHOD,
    ActorChanged,
    ActorKillRequested,
    ClientConnected,
    ClientDisconnected,
    Deliver,
    Dispatch,
    Effect,
    Event,
    ExecutorDied,
    KillActor,
    NodeAdded,
    NodeRemoved,
    ObjectInfo,
    ObjectsPut,
    ObjectsSubscribed,
    RefsChanged,
    Strategy,
    TaskBlockChanged,
    TaskFinished,
    TaskRecord,
    TaskSubmitted,
    Warn,
)
from raylite.ids import TASK_ID_BYTES, object_id

DRIVER = b"driver-A"
OTHER = b"client-B"
JOB = b"job-A"
ONE_CPU = {"CPU": 1.0}

# ---- factories and helpers ------------------------------------------------------


def tid(label: str) -> bytes:
    return label.encode().ljust(TASK_ID_BYTES, b".")


def task(label: str, *, cpus: float = 1.0, resources: dict[str, float] | None = None, deps=(), **kw) -> TaskRecord:
    kw.setdefault("job_id", JOB)
    kw.setdefault("client_id", DRIVER)
    if resources is None:
        resources = {"CPU": cpus} if cpus else {}
    return TaskRecord(task_id=tid(label), name=label, resources=dict(resources), deps=tuple(deps), **kw)


def actor(
    label: str,
    *,
    placement: dict[str, float] | None = None,
    resources: dict[str, float] | None = None,
    **kw,
) -> TaskRecord:
    """An actor creation task; the actor's id is its creation task's id."""
    kw.setdefault("job_id", JOB)
    kw.setdefault("client_id", DRIVER)
    return TaskRecord(
        task_id=tid(label),
        name=f"{label}.__init__",
        kind=ACTOR_CREATION,
        resources=dict(resources or {}),
        placement=dict(ONE_CPU if placement is None else placement),
        actor_id=tid(label),
        **kw,
    )


def call(label: str, creation: TaskRecord, **kw) -> TaskRecord:
    kw.setdefault("job_id", creation.job_id)
    kw.setdefault("client_id", DRIVER)
    return TaskRecord(task_id=tid(label), name=label, kind=ACTOR_METHOD, actor_id=creation.actor_id, **kw)


def oid(t: TaskRecord, index: int = 0) -> bytes:
    return object_id(t.task_id, index)


def result(
    t: TaskRecord, index: int = 0, *, node: bytes | None = None, size: int = 0, error: bool = False
) -> ObjectInfo:
    return ObjectInfo(oid(t, index), value=f"{t.name}[{index}]", node_id=node, size=size, is_error=error)


def put(name: str, *, node: bytes | None = None, size: int = 0, error: bool = False) -> ObjectInfo:
    return ObjectInfo(name.encode().ljust(TASK_ID_BYTES + 4, b"."), value=name, node_id=node, size=size, is_error=error)


def finished(t: TaskRecord, *results: ObjectInfo, node: bytes | None = None, error_summary: str = "") -> TaskFinished:
    return TaskFinished(node or t.node_id or b"", t.task_id, list(results) or [result(t)], error_summary)


def step(state: HeadState, *events: Event) -> list[Effect]:
    """Handles events as a client sends them: with the refs it holds to what it submits and puts.

    Leaves out ActorChanged (what the servicer saves for a head restart);
    tests/unit/test_head_restart.py checks those.
    """
    effects = state.handle(*with_refs(events))
    state.validate()
    return [e for e in effects if not isinstance(e, ActorChanged)]


def with_refs(events: tuple[Event, ...]) -> list[Event]:
    """As the servicer applies a client's batch: its new refs first, then what it submits."""
    out: list[Event] = []
    for e in events:
        if isinstance(e, TaskSubmitted):
            returns = [object_id(e.task.task_id, i) for i in range(e.task.num_returns)]
            out.append(RefsChanged(e.task.client_id, [(o, True) for o in returns]))
        elif isinstance(e, ObjectsPut):
            out.append(RefsChanged(DRIVER, [(o.object_id, True) for o in e.objects]))
        out.append(e)
    return out


def dispatched(effects: list[Effect]) -> list[tuple[bytes, str]]:
    return [(e.node_id, e.task.name) for e in effects if isinstance(e, Dispatch)]


def delivered(effects: list[Effect]) -> dict[tuple[bytes, bytes], ObjectInfo]:
    out = {}
    for e in effects:
        if isinstance(e, Deliver):
            assert (e.client_id, e.obj.object_id) not in out, f"delivered twice: {e}"
            out[(e.client_id, e.obj.object_id)] = e.obj
    return out


def failure_kind(effects: list[Effect], client: bytes, object_id_: bytes) -> str | None:
    info = delivered(effects)[(client, object_id_)]
    assert info.is_error and info.object_id == object_id_
    return info.failure.kind if info.failure else None


def of_type(effects: list[Effect], cls: type) -> list:
    return [e for e in effects if isinstance(e, cls)]


def available(state: HeadState, node_id: bytes, name: str = "CPU") -> float:
    return state.nodes[node_id].available.get(name, 0.0)


@pytest.fixture
def state() -> HeadState:
    s = HeadState()
    assert step(s, ClientConnected(DRIVER, JOB, is_driver=True)) == []
    return s


# ---- sanity ---------------------------------------------------------------------


def test_validate_notices_broken_accounting(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", {"CPU": 2.0}), TaskSubmitted(task("t")))
    state.nodes[b"n1"].available["CPU"] += 1
    with pytest.raises(AssertionError, match="CPU"):
        state.validate()


def test_no_nodes_no_dispatch(state: HeadState) -> None:
    t = task("t")
    effects = step(state, TaskSubmitted(t))
    assert dispatched(effects) == []
    assert t.state == "READY"


# ---- basic scheduling ------------------------------------------------------------


def test_task_without_deps_is_dispatched_to_node_with_room(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", {"CPU": 2.0}))
    t = task("t")
    effects = step(state, TaskSubmitted(t))
    assert effects == [Dispatch(b"n1", t, [])]
    assert t.state == "RUNNING" and t.node_id == b"n1"
    assert available(state, b"n1") == 1.0


def test_task_that_does_not_fit_waits_until_a_finish_frees_resources(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", {"CPU": 1.0, "GPU": 1.0}))
    t1, t2 = task("t1", resources={"CPU": 1.0, "GPU": 1.0}), task("t2")
    assert dispatched(step(state, TaskSubmitted(t1), TaskSubmitted(t2))) == [(b"n1", "t1")]
    assert t2.state == "READY"
    assert state.nodes[b"n1"].available == {"CPU": 0.0, "GPU": 0.0}

    effects = step(state, finished(t1))
    assert dispatched(effects) == [(b"n1", "t2")]
    assert set(delivered(effects)) == {(DRIVER, oid(t1))}

    step(state, finished(t2))
    assert state.nodes[b"n1"].available == {"CPU": 1.0, "GPU": 1.0}
    assert state.tasks == {}


def test_tasks_go_to_the_node_that_has_room(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", ONE_CPU), NodeAdded(b"n2", ONE_CPU))
    effects = step(state, TaskSubmitted(task("t1")), TaskSubmitted(task("t2")), TaskSubmitted(task("t3")))
    assert sorted(dispatched(effects)) == [(b"n1", "t1"), (b"n2", "t2")]
    assert available(state, b"n1") == available(state, b"n2") == 0.0


def test_custom_resource_request_goes_to_node_that_has_it(state: HeadState) -> None:
    step(state, NodeAdded(b"plain", {"CPU": 8.0}), NodeAdded(b"accel", {"CPU": 1.0, "accel": 2.0}))
    effects = step(state, TaskSubmitted(task("t", resources={"CPU": 1.0, "accel": 1.0})))
    assert dispatched(effects) == [(b"accel", "t")]


def test_zero_resource_tasks_run_on_a_full_node(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", ONE_CPU), TaskSubmitted(task("hog")))
    effects = step(state, TaskSubmitted(task("free", cpus=0)))
    assert dispatched(effects) == [(b"n1", "free")]


def test_resubmitting_a_known_task_is_ignored(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", {"CPU": 2.0}))
    t = task("t")
    assert len(dispatched(step(state, TaskSubmitted(t)))) == 1
    assert step(state, TaskSubmitted(task("t"))) == []
    assert available(state, b"n1") == 1.0


def test_late_finish_of_unknown_task_is_ignored(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", ONE_CPU))
    t = task("t")
    step(state, TaskSubmitted(t))
    step(state, finished(t))
    assert step(state, finished(t, node=b"n1")) == []
    assert available(state, b"n1") == 1.0


# ---- dependencies ----------------------------------------------------------------


def test_task_waits_for_a_put_object_and_gets_it_as_arg(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", ONE_CPU))
    x = put("x", size=8)
    t = task("t", deps=[x.object_id])
    assert step(state, TaskSubmitted(t)) == []
    assert t.state == "WAITING" and t.missing == 1

    effects = step(state, ObjectsPut([x]))
    assert effects == [Dispatch(b"n1", t, [x])]


def test_task_is_dispatched_only_after_all_deps_exist(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", {"CPU": 2.0}))
    producer = task("producer")
    y = put("y")
    consumer = task("consumer", deps=[oid(producer), y.object_id])
    assert dispatched(step(state, TaskSubmitted(producer), TaskSubmitted(consumer))) == [(b"n1", "producer")]

    effects = step(state, finished(producer))
    assert dispatched(effects) == []
    assert consumer.state == "WAITING" and consumer.missing == 1

    effects = step(state, ObjectsPut([y]))
    [d] = of_type(effects, Dispatch)
    assert d.task is consumer
    assert d.args == [result(producer), y]  # in dependency order


def test_ready_deps_are_passed_once_even_if_repeated(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", ONE_CPU))
    x = put("x")
    t = task("t", deps=[x.object_id, x.object_id])
    step(state, TaskSubmitted(t))
    assert t.missing == 2
    [d] = of_type(step(state, ObjectsPut([x])), Dispatch)
    assert d.args == [x]


def test_task_with_ready_deps_dispatches_at_once(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", ONE_CPU))
    x = put("x")
    step(state, ObjectsPut([x]))
    t = task("t", deps=[x.object_id])
    assert step(state, TaskSubmitted(t)) == [Dispatch(b"n1", t, [x])]


def test_error_dependency_fails_dependents_without_dispatch(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", ONE_CPU))
    producer = task("producer")
    child = task("child", deps=[oid(producer)], num_returns=2)
    grandchild = task("grandchild", deps=[oid(child, 1)])
    step(state, TaskSubmitted(producer), TaskSubmitted(child), TaskSubmitted(grandchild))

    err = result(producer, error=True)
    effects = step(state, finished(producer, err))
    assert dispatched(effects) == []
    got = delivered(effects)
    assert set(got) == {
        (DRIVER, oid(producer)),
        (DRIVER, oid(child, 0)),
        (DRIVER, oid(child, 1)),
        (DRIVER, oid(grandchild)),
    }
    for key, info in got.items():
        assert info.is_error and info.value == err.value  # the original error, under each id
        assert info.object_id == key[1]
    assert state.objects[oid(child, 1)].is_error
    assert child.task_id not in state.tasks and grandchild.task_id not in state.tasks
    assert available(state, b"n1") == 1.0


def test_task_submitted_after_an_error_object_fails_at_once(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", ONE_CPU))
    bad = put("bad", error=True)
    ok = put("ok")
    step(state, ObjectsPut([bad, ok]))
    t = task("t", deps=[ok.object_id, bad.object_id])
    effects = step(state, TaskSubmitted(t))
    assert dispatched(effects) == []
    info = delivered(effects)[(DRIVER, oid(t))]
    assert info.is_error and info.value == "bad"
    assert available(state, b"n1") == 1.0


def test_put_error_fails_a_waiting_task_with_other_missing_deps(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", ONE_CPU))
    a, b = put("a"), put("b", error=True)
    t = task("t", deps=[a.object_id, b.object_id])
    step(state, TaskSubmitted(t))
    effects = step(state, ObjectsPut([b]))
    assert delivered(effects)[(DRIVER, oid(t))].is_error
    assert dispatched(step(state, ObjectsPut([a]))) == []  # the failed task is not revived


# ---- delivery ------------------------------------------------------------------------


def test_owner_is_delivered_every_result_on_finish(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", ONE_CPU))
    t = task("t", num_returns=2)
    step(state, TaskSubmitted(t))
    effects = step(state, finished(t, result(t, 0), result(t, 1, node=b"n1", size=100)))
    assert effects == [Deliver(DRIVER, result(t, 0)), Deliver(DRIVER, result(t, 1, node=b"n1", size=100))]
    assert state.objects[oid(t, 1)].node_id == b"n1"


def test_results_are_renamed_to_their_return_ids(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", ONE_CPU))
    t = task("t", num_returns=3)
    step(state, TaskSubmitted(t))
    shared = ObjectInfo(b"whatever", value="same")
    effects = step(state, finished(t, shared))
    got = delivered(effects)
    assert set(got) == {(DRIVER, oid(t, i)) for i in range(3)}
    assert all(info.value == "same" for info in got.values())


def test_subscriber_of_a_ready_object_is_delivered_at_once(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", ONE_CPU), ClientConnected(OTHER, JOB, is_driver=False))
    t = task("t")
    step(state, TaskSubmitted(t))
    step(state, finished(t))
    effects = step(state, ObjectsSubscribed(OTHER, [oid(t)]))
    assert effects == [Deliver(OTHER, result(t))]


def test_subscriber_of_a_missing_object_is_delivered_when_it_appears(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", ONE_CPU), ClientConnected(OTHER, JOB, is_driver=False))
    t = task("t")
    x = put("x")
    step(state, TaskSubmitted(t))
    assert step(state, ObjectsSubscribed(OTHER, [oid(t), x.object_id])) == []

    effects = step(state, finished(t))
    assert set(delivered(effects)) == {(DRIVER, oid(t)), (OTHER, oid(t))}
    assert step(state, ObjectsPut([x])) == [Deliver(OTHER, x)]
    assert step(state, ObjectsPut([put("y")])) == []  # subscriptions are one-shot


def test_owner_who_also_subscribed_is_delivered_once(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", ONE_CPU))
    t = task("t")
    step(state, TaskSubmitted(t), ObjectsSubscribed(DRIVER, [oid(t)]))
    effects = step(state, finished(t))
    assert effects == [Deliver(DRIVER, result(t))]


def test_disconnected_clients_are_not_delivered(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", ONE_CPU), ClientConnected(OTHER, JOB, is_driver=False))
    t = task("t", client_id=OTHER)
    step(state, TaskSubmitted(t), ObjectsSubscribed(OTHER, [oid(t)]))
    step(state, ClientDisconnected(OTHER))
    assert step(state, finished(t)) == []
    assert oid(t) not in state.objects  # its only holder is gone, so it is not even kept


def test_put_object_is_not_overwritten(state: HeadState) -> None:
    x = put("x")
    step(state, ObjectsPut([x]))
    step(state, ObjectsPut([ObjectInfo(x.object_id, value="other")]))
    assert state.objects[x.object_id].value == "x"


# ---- blocked tasks ---------------------------------------------------------------------


def test_blocked_task_lends_its_cpu_to_a_queued_task(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", ONE_CPU))
    t1, t2, t3 = task("t1"), task("t2"), task("t3")
    assert dispatched(step(state, TaskSubmitted(t1), TaskSubmitted(t2))) == [(b"n1", "t1")]

    assert dispatched(step(state, TaskBlockChanged(t1.task_id, blocked=True))) == [(b"n1", "t2")]
    assert t1.blocked and available(state, b"n1") == 0.0

    # Unblocking takes the CPU back even though t2 holds it: the node is overcommitted.
    assert step(state, TaskBlockChanged(t1.task_id, blocked=False)) == []
    assert not t1.blocked and available(state, b"n1") == -1.0

    assert dispatched(step(state, TaskSubmitted(t3))) == []
    assert dispatched(step(state, finished(t2))) == []  # back to 0 free, t3 still does not fit
    assert dispatched(step(state, finished(t1))) == [(b"n1", "t3")]
    step(state, finished(t3))
    assert available(state, b"n1") == 1.0


def test_blocked_parents_lend_their_cpus_to_their_children_before_to_more_parents(state: HeadState) -> None:
    # Ray's cap per scheduling class: `parent` runs as many tasks as the cluster has CPUs, so
    # the CPUs its blocked tasks lend go to the children, not to the parents queued before them
    step(state, NodeAdded(b"n1", {"CPU": 2.0}))
    parents = [task(f"p{i}", function_id=b"parent") for i in range(4)]
    assert dispatched(step(state, *map(TaskSubmitted, parents))) == [(b"n1", "p0"), (b"n1", "p1")]
    c0, c1 = task("c0", function_id=b"child"), task("c1", function_id=b"child")
    assert dispatched(step(state, TaskSubmitted(c0), TaskSubmitted(c1))) == []

    assert dispatched(step(state, TaskBlockChanged(parents[0].task_id, blocked=True))) == [(b"n1", "c0")]
    assert dispatched(step(state, TaskBlockChanged(parents[1].task_id, blocked=True))) == [(b"n1", "c1")]
    assert state.tasks[parents[2].task_id].state == "READY"

    # c0 ends and p0 wakes up and ends: one parent below the cap again, the next one runs
    assert dispatched(step(state, finished(c0), TaskBlockChanged(parents[0].task_id, blocked=False))) == []
    assert dispatched(step(state, finished(parents[0]))) == [(b"n1", "p2")]


def test_a_recursive_functions_children_go_before_its_queued_siblings(state: HeadState) -> None:
    # the depth is part of the class, as in Ray: a tree of tasks that get their children runs
    # depth first rather than starting every inner task (each in an executor of its own)
    step(state, NodeAdded(b"n1", ONE_CPU))
    top = [task(f"top{i}", function_id=b"node") for i in range(2)]
    assert dispatched(step(state, *map(TaskSubmitted, top))) == [(b"n1", "top0")]
    child = task("child", function_id=b"node", parent_id=top[0].task_id)
    step(state, TaskSubmitted(child))
    assert child.depth == 1 and top[1].depth == 0
    assert dispatched(step(state, TaskBlockChanged(top[0].task_id, blocked=True))) == [(b"n1", "child")]


def test_a_class_at_its_cap_still_runs_when_no_other_class_can_use_the_room(state: HeadState) -> None:
    # a recursive function: its children are of its own class, so the cap must not stop them
    step(state, NodeAdded(b"n1", ONE_CPU))
    outer, inner = task("outer", function_id=b"fib"), task("inner", function_id=b"fib")
    assert dispatched(step(state, TaskSubmitted(outer), TaskSubmitted(inner))) == [(b"n1", "outer")]
    assert dispatched(step(state, TaskBlockChanged(outer.task_id, blocked=True))) == [(b"n1", "inner")]


def test_classes_below_their_cap_are_served_oldest_ready_first(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", {"CPU": 2.0}))
    f1, g1, f2, g2 = (task(n, function_id=n[0].encode()) for n in ("f1", "g1", "f2", "g2"))
    blocker = task("blocker", function_id=b"h")
    step(state, TaskSubmitted(blocker))
    assert dispatched(step(state, *map(TaskSubmitted, (f1, g1, f2, g2)))) == [(b"n1", "f1")]
    # f and g each run fewer than 2: the room goes by age, g1 (older) before f2
    assert dispatched(step(state, finished(blocker))) == [(b"n1", "g1")]
    assert dispatched(step(state, finished(f1))) == [(b"n1", "f2")]


def test_repeated_block_events_are_idempotent(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", {"CPU": 2.0}))
    t = task("t")
    step(state, TaskSubmitted(t))
    step(state, TaskBlockChanged(t.task_id, True), TaskBlockChanged(t.task_id, True))
    assert available(state, b"n1") == 2.0
    step(state, TaskBlockChanged(t.task_id, False), TaskBlockChanged(t.task_id, False))
    assert available(state, b"n1") == 1.0
    assert step(state, TaskBlockChanged(tid("unknown"), True)) == []


def test_task_finishing_while_blocked_does_not_release_twice(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", ONE_CPU))
    t = task("t")
    step(state, TaskSubmitted(t))
    step(state, TaskBlockChanged(t.task_id, True))
    step(state, finished(t))
    assert available(state, b"n1") == 1.0


# ---- executor death and retries ------------------------------------------------------------


def test_executor_died_retries_then_fails_with_worker_crashed_error(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", ONE_CPU))
    t = task("t", max_retries=2, num_returns=2)
    step(state, TaskSubmitted(t))
    for retries_left in (1, 0):
        effects = step(state, ExecutorDied(b"n1", t.task_id, b"", "OOM"))
        assert effects == [Dispatch(b"n1", t, [])]
        assert t.retries_left == retries_left and t.state == "RUNNING"

    effects = step(state, ExecutorDied(b"n1", t.task_id, b"", "OOM"))
    assert dispatched(effects) == []
    assert failure_kind(effects, DRIVER, oid(t, 0)) == "WorkerCrashedError"
    assert failure_kind(effects, DRIVER, oid(t, 1)) == "WorkerCrashedError"
    assert "OOM" in state.objects[oid(t)].failure.message
    assert t.task_id not in state.tasks


def test_executor_died_without_retries_releases_resources_once(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", ONE_CPU))
    t = task("t", max_retries=0)
    step(state, TaskSubmitted(t))
    effects = state.handle(ExecutorDied(b"n1", t.task_id, b"", "segfault"))
    assert failure_kind(effects, DRIVER, oid(t)) == "WorkerCrashedError"
    assert available(state, b"n1") == 1.0
    state.validate()


def test_infinite_retries_keep_retrying(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", ONE_CPU))
    t = task("t", max_retries=-1)
    step(state, TaskSubmitted(t))
    for _ in range(5):
        assert dispatched(step(state, ExecutorDied(b"n1", t.task_id, b"", "crash"))) == [(b"n1", "t")]
    assert t.retries_left == -1


def test_retry_waits_in_the_queue_behind_older_tasks(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", ONE_CPU))
    t1, t2 = task("t1", max_retries=1), task("t2")
    step(state, TaskSubmitted(t1), TaskSubmitted(t2))
    # t2 is queued first; the crash frees the CPU for it and t1 waits.
    assert dispatched(step(state, ExecutorDied(b"n1", t1.task_id, b"", "crash"))) == [(b"n1", "t2")]
    assert t1.state == "READY"
    assert dispatched(step(state, finished(t2))) == [(b"n1", "t1")]


def test_retry_of_a_blocked_task_does_not_release_twice(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", ONE_CPU))
    t = task("t", max_retries=1)
    step(state, TaskSubmitted(t))
    step(state, TaskBlockChanged(t.task_id, True))
    effects = step(state, ExecutorDied(b"n1", t.task_id, b"", "crash"))
    assert dispatched(effects) == [(b"n1", "t")]
    assert not t.blocked and available(state, b"n1") == 0.0


def test_executor_died_report_from_another_node_is_ignored(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", ONE_CPU), NodeAdded(b"n2", ONE_CPU))
    t = task("t", max_retries=1, strategy=Strategy("NODE_AFFINITY", b"n1"))
    step(state, TaskSubmitted(t))
    assert step(state, ExecutorDied(b"n2", t.task_id, b"", "crash")) == []
    assert t.state == "RUNNING" and t.retries_left == 1


# ---- actors ----------------------------------------------------------------------------------


def test_actor_is_placed_by_placement_and_holds_its_resources(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", {"CPU": 2.0}))
    light = actor("light", placement=ONE_CPU, resources={})
    effects = step(state, TaskSubmitted(light))
    assert effects == [Dispatch(b"n1", light, [])]
    record = state.actors[light.actor_id]
    assert record.state == "PLACED" and record.node_id == b"n1" and record.held == {}
    assert available(state, b"n1") == 2.0  # placement is checked, not held

    heavy = actor("heavy", placement={"CPU": 2.0}, resources={"CPU": 2.0})
    assert dispatched(step(state, TaskSubmitted(heavy))) == [(b"n1", "heavy.__init__")]
    assert state.actors[heavy.actor_id].held == {"CPU": 2.0}
    assert available(state, b"n1") == 0.0

    late = actor("late", placement=ONE_CPU)
    assert step(state, TaskSubmitted(late)) == []
    assert state.actors[late.actor_id].state == "PENDING"

    # The constructor finishing does not give the held resources back.
    effects = step(state, finished(heavy))
    assert set(delivered(effects)) == {(DRIVER, oid(heavy))}
    assert available(state, b"n1") == 0.0
    assert state.actors[heavy.actor_id].state == "PLACED"


def test_calls_before_placement_are_dispatched_in_order_after_it(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", ONE_CPU))
    hog = task("hog")
    a = actor("a")
    step(state, TaskSubmitted(hog), TaskSubmitted(a))
    calls = [call(f"m{i}", a) for i in range(4)]
    for c in calls:
        assert step(state, TaskSubmitted(c)) == []
    assert state.actors[a.actor_id].pending == calls

    effects = step(state, finished(hog))
    assert dispatched(effects) == [(b"n1", "a.__init__")] + [(b"n1", f"m{i}") for i in range(4)]
    assert state.actors[a.actor_id].pending == []


def test_calls_after_placement_are_dispatched_at_once_in_order(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", ONE_CPU), NodeAdded(b"n2", {"CPU": 4.0}))
    a = actor("a", strategy=Strategy("NODE_AFFINITY", b"n1"))
    step(state, TaskSubmitted(a))
    m1, m2 = call("m1", a), call("m2", a)
    assert step(state, TaskSubmitted(m1)) == [Dispatch(b"n1", m1, [])]  # constructor still running
    step(state, finished(a))
    assert step(state, TaskSubmitted(m2)) == [Dispatch(b"n1", m2, [])]
    effects = step(state, finished(m2), finished(m1))
    assert list(delivered(effects)) == [(DRIVER, oid(m2)), (DRIVER, oid(m1))]
    assert available(state, b"n1") == 1.0  # placement only, nothing held


def test_calls_do_not_wait_for_their_args(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", ONE_CPU))
    a = actor("a")
    ready, missing = put("ready"), put("missing")
    step(state, TaskSubmitted(a), ObjectsPut([ready]))
    m = call("m", a, deps=(missing.object_id, ready.object_id))
    assert step(state, TaskSubmitted(m)) == [Dispatch(b"n1", m, [ready])]


def test_actor_executor_death_fails_calls_and_releases_resources(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", {"CPU": 2.0}))
    a = actor("a", resources=ONE_CPU)
    step(state, TaskSubmitted(a))
    step(state, finished(a))
    m1 = call("m1", a)
    step(state, TaskSubmitted(m1))
    big = task("big", cpus=2.0)
    assert dispatched(step(state, TaskSubmitted(big))) == []

    effects = step(state, ExecutorDied(b"n1", b"", a.actor_id, "SIGKILL"))
    assert failure_kind(effects, DRIVER, oid(m1)) == "ActorDiedError"
    assert "SIGKILL" in delivered(effects)[(DRIVER, oid(m1))].failure.message
    assert dispatched(effects) == [(b"n1", "big")]  # the actor's CPU came back
    assert state.actors[a.actor_id].state == "DEAD"
    step(state, finished(big))
    assert available(state, b"n1") == 2.0

    m2 = call("m2", a)
    effects = step(state, TaskSubmitted(m2))
    assert dispatched(effects) == []
    assert failure_kind(effects, DRIVER, oid(m2)) == "ActorDiedError"


def test_actor_death_during_constructor_fails_creation_task(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", ONE_CPU))
    a = actor("a", resources=ONE_CPU)
    step(state, TaskSubmitted(a))
    effects = step(state, ExecutorDied(b"n1", b"", a.actor_id, "crash in __init__"))
    assert failure_kind(effects, DRIVER, oid(a)) == "ActorDiedError"
    assert available(state, b"n1") == 1.0
    assert step(state, finished(a, node=b"n1")) == []  # late report is ignored


def test_actor_kill_emits_kill_actor_and_fails_calls(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", {"CPU": 2.0}))
    a = actor("a", resources=ONE_CPU, actor_name="svc")
    step(state, TaskSubmitted(a))
    step(state, finished(a))
    assert state.named_actors == {("", "svc"): a.actor_id}
    m1 = call("m1", a)
    step(state, TaskSubmitted(m1))

    effects = step(state, ActorKillRequested(a.actor_id))
    assert of_type(effects, KillActor) == [KillActor(b"n1", a.actor_id)]
    assert failure_kind(effects, DRIVER, oid(m1)) == "ActorDiedError"
    assert state.actors[a.actor_id].state == "DEAD"
    assert state.named_actors == {}
    assert available(state, b"n1") == 2.0

    assert step(state, ActorKillRequested(a.actor_id)) == []  # already dead
    assert step(state, ExecutorDied(b"n1", b"", a.actor_id, "killed")) == []  # the expected aftermath


def test_driver_exit_kills_its_jobs_non_detached_actors_only(state: HeadState) -> None:
    step(
        state,
        NodeAdded(b"n1", {"CPU": 8.0}),
        ClientConnected(b"driver-B", b"job-B", is_driver=True),
        ClientConnected(b"worker-A", JOB, is_driver=False),
    )
    mine = actor("mine", resources=ONE_CPU)
    detached = actor("detached", resources=ONE_CPU, detached=True, actor_name="keeper")
    theirs = actor("theirs", resources=ONE_CPU, job_id=b"job-B", client_id=b"driver-B")
    step(state, *(TaskSubmitted(a) for a in (mine, detached, theirs)))
    assert available(state, b"n1") == 5.0

    assert step(state, ClientDisconnected(b"worker-A")) == []  # not a driver: nothing dies

    effects = step(state, ClientDisconnected(DRIVER))
    assert of_type(effects, KillActor) == [KillActor(b"n1", mine.actor_id)]
    assert state.actors[mine.actor_id].state == "DEAD"
    assert state.actors[detached.actor_id].state == "PLACED"
    assert state.actors[theirs.actor_id].state == "PLACED"
    assert state.named_actors == {("", "keeper"): detached.actor_id}
    assert available(state, b"n1") == 6.0


def test_constructor_error_kills_the_actor(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", {"CPU": 2.0}))
    a = actor("a", resources=ONE_CPU)
    step(state, TaskSubmitted(a))
    early = call("early", a)
    step(state, TaskSubmitted(early))  # in flight before the constructor fails

    effects = step(state, finished(a, result(a, error=True), error_summary="ValueError: bad config"))
    creation_result = delivered(effects)[(DRIVER, oid(a))]
    assert creation_result.is_error and creation_result.failure is None  # the user's own error
    assert failure_kind(effects, DRIVER, oid(early)) == "ActorDiedError"
    assert "ValueError: bad config" in state.objects[oid(early)].failure.message
    assert state.actors[a.actor_id].state == "DEAD"
    assert available(state, b"n1") == 2.0

    late = call("late", a)
    effects = step(state, TaskSubmitted(late))
    assert dispatched(effects) == []
    assert failure_kind(effects, DRIVER, oid(late)) == "ActorDiedError"


def test_call_to_unknown_actor_fails(state: HeadState) -> None:
    ghost = actor("ghost")
    m = call("m", ghost)
    effects = step(state, TaskSubmitted(m))
    assert failure_kind(effects, DRIVER, oid(m)) == "ActorDiedError"


@pytest.mark.parametrize("kill", ["ActorKillRequested", "driver exit"])
def test_killed_pending_actor_is_never_placed(state: HeadState, kill: str) -> None:
    step(state, NodeAdded(b"n1", ONE_CPU))
    hog = task("hog")
    a = actor("a", resources=ONE_CPU)
    step(state, TaskSubmitted(hog), TaskSubmitted(a))
    assert state.actors[a.actor_id].state == "PENDING"
    event = ActorKillRequested(a.actor_id) if kill == "ActorKillRequested" else ClientDisconnected(DRIVER)
    step(state, event)
    assert state.actors[a.actor_id].state == "DEAD"

    effects = step(state, finished(hog))
    assert dispatched(effects) == []
    assert state.actors[a.actor_id].state == "DEAD"
    assert a.task_id not in state.tasks
    assert available(state, b"n1") == 1.0


@pytest.mark.parametrize("why", ["error dependency", "hard affinity to unknown node"])
def test_actor_whose_creation_fails_before_placement_is_dead(state: HeadState, why: str) -> None:
    step(state, NodeAdded(b"n1", ONE_CPU))
    if why == "error dependency":
        bad = put("bad", error=True)
        step(state, ObjectsPut([bad]))
        a = actor("a", deps=(bad.object_id,))
    else:
        a = actor("a", strategy=Strategy("NODE_AFFINITY", b"nowhere"))
    early = call("early", a)
    effects = step(state, TaskSubmitted(a), TaskSubmitted(early))
    assert delivered(effects)[(DRIVER, oid(a))].is_error
    assert state.actors[a.actor_id].state == "DEAD"
    # as Ray's: an actor no node can ever host is unschedulable, not dead of a cause of its own
    expected = "ActorDiedError" if why == "error dependency" else "ActorUnschedulableError"
    assert failure_kind(effects, DRIVER, oid(early)) == expected


# ---- node removal ------------------------------------------------------------------------------


def test_node_removal_retries_running_tasks_elsewhere(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", {"CPU": 2.0}))
    retried, doomed = task("retried", max_retries=1), task("doomed", max_retries=0, num_returns=2)
    step(state, TaskSubmitted(retried), TaskSubmitted(doomed))
    step(state, NodeAdded(b"n2", {"CPU": 2.0}))

    effects = step(state, NodeRemoved(b"n1", "heartbeat timeout"))
    assert dispatched(effects) == [(b"n2", "retried")]
    assert retried.retries_left == 0 and retried.node_id == b"n2"
    assert failure_kind(effects, DRIVER, oid(doomed, 0)) == "WorkerCrashedError"
    assert failure_kind(effects, DRIVER, oid(doomed, 1)) == "WorkerCrashedError"
    assert "heartbeat timeout" in state.objects[oid(doomed)].failure.message
    assert not state.nodes[b"n1"].alive

    step(state, finished(retried))
    assert available(state, b"n2") == 2.0


def test_node_removal_loses_objects_whose_only_copy_was_there(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", ONE_CPU), NodeAdded(b"n2", ONE_CPU), ClientConnected(OTHER, JOB, False))
    on_n1, on_n2, inline = put("on_n1", node=b"n1", size=10), put("on_n2", node=b"n2"), put("inline")
    t = task("t", strategy=Strategy("NODE_AFFINITY", b"n1"))
    step(state, ObjectsPut([on_n1, on_n2, inline]), TaskSubmitted(t))
    step(state, finished(t, result(t, node=b"n1", size=99)))

    step(state, NodeRemoved(b"n1", "gone"))
    info = state.objects[on_n1.object_id]
    assert info.is_error and info.failure.kind == "ObjectLostError" and "put()" in info.failure.message
    # t's output is remade by running t again, which its hard affinity to n1 forbids
    assert state.objects[oid(t)].failure.kind == "TaskUnschedulableError"
    assert state.objects[on_n2.object_id] == on_n2
    assert state.objects[inline.object_id] == inline

    effects = step(state, ObjectsSubscribed(OTHER, [on_n1.object_id]))
    assert failure_kind(effects, OTHER, on_n1.object_id) == "ObjectLostError"
    consumer = task("consumer", deps=[on_n1.object_id])
    effects = step(state, TaskSubmitted(consumer))
    assert dispatched(effects) == []
    assert failure_kind(effects, DRIVER, oid(consumer)) == "ObjectLostError"


def test_node_removal_kills_its_actors(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", ONE_CPU))
    a = actor("a", resources=ONE_CPU)
    step(state, TaskSubmitted(a))
    step(state, finished(a))
    m = call("m", a)
    step(state, TaskSubmitted(m))
    effects = step(state, NodeRemoved(b"n1", "gone"))
    assert of_type(effects, KillActor) == []  # nobody left to kill it
    assert failure_kind(effects, DRIVER, oid(m)) == "ActorDiedError"
    assert state.actors[a.actor_id].state == "DEAD"


def test_removing_an_unknown_or_dead_node_is_a_no_op(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", ONE_CPU))
    assert step(state, NodeRemoved(b"nope", "?")) == []
    step(state, NodeRemoved(b"n1", "gone"))
    assert step(state, NodeRemoved(b"n1", "gone again")) == []


def test_late_finish_from_a_removed_node_is_ignored(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", ONE_CPU))
    t = task("t", max_retries=1)
    step(state, TaskSubmitted(t), NodeAdded(b"n2", ONE_CPU))
    assert dispatched(step(state, NodeRemoved(b"n1", "partitioned"))) == [(b"n2", "t")]

    effects = step(state, finished(t, node=b"n1"))
    assert effects == []
    assert t.state == "RUNNING" and t.node_id == b"n2"
    assert available(state, b"n2") == 0.0


# ---- infeasible requests -------------------------------------------------------------------------


def test_infeasible_task_warns_once_and_runs_when_a_big_node_joins(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", {"CPU": 2.0}))
    big1, big2 = task("big1", cpus=8.0), task("big2", cpus=8.0)
    effects = step(state, TaskSubmitted(big1))
    [warn] = of_type(effects, Warn)
    assert warn.client_id == DRIVER
    assert "big1" in warn.message and "CPU" in warn.message
    assert dispatched(effects) == [] and big1.state == "READY"

    assert step(state, TaskSubmitted(big2)) == []  # same request: no second warning
    assert dispatched(step(state, TaskSubmitted(task("small")))) == [(b"n1", "small")]

    effects = step(state, NodeAdded(b"big", {"CPU": 8.0}))
    assert effects == [Dispatch(b"big", big1, [])]
    assert dispatched(step(state, finished(big1))) == [(b"big", "big2")]


def test_missing_custom_resource_is_infeasible(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", {"CPU": 4.0}), ClientConnected(OTHER, JOB, False))
    t = task("t", resources={"CPU": 1.0, "GPU": 1.0}, client_id=OTHER)
    effects = step(state, TaskSubmitted(t))
    assert [w.client_id for w in of_type(effects, Warn)] == [OTHER]
    assert dispatched(step(state, NodeAdded(b"gpu", {"CPU": 1.0, "GPU": 1.0}))) == [(b"gpu", "t")]


def test_busy_but_feasible_task_does_not_warn(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", ONE_CPU), TaskSubmitted(task("t1")))
    assert step(state, TaskSubmitted(task("t2"))) == []


# ---- strategies through HeadState ------------------------------------------------------------------


def test_hard_affinity_waits_for_its_busy_node(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", ONE_CPU), NodeAdded(b"n2", {"CPU": 4.0}))
    hog = task("hog", strategy=Strategy("NODE_AFFINITY", b"n1"))
    pinned = task("pinned", strategy=Strategy("NODE_AFFINITY", b"n1"))
    assert dispatched(step(state, TaskSubmitted(hog), TaskSubmitted(pinned))) == [(b"n1", "hog")]
    assert pinned.state == "READY"
    assert dispatched(step(state, finished(hog))) == [(b"n1", "pinned")]


@pytest.mark.parametrize("target", ["unknown", "dead", "too small"])
def test_hard_affinity_fails_when_its_node_cannot_run_it(state: HeadState, target: str) -> None:
    step(state, NodeAdded(b"n1", {"CPU": 4.0}), NodeAdded(b"dead", {"CPU": 4.0}), NodeAdded(b"small", ONE_CPU))
    step(state, NodeRemoved(b"dead", "gone"))
    node_id = {"unknown": b"unknown", "dead": b"dead", "too small": b"small"}[target]
    t = task("t", cpus=2.0, num_returns=2, strategy=Strategy("NODE_AFFINITY", node_id))
    effects = step(state, TaskSubmitted(t))
    assert dispatched(effects) == [] and of_type(effects, Warn) == []
    assert failure_kind(effects, DRIVER, oid(t, 0)) == "TaskUnschedulableError"
    assert failure_kind(effects, DRIVER, oid(t, 1)) == "TaskUnschedulableError"
    assert t.task_id not in state.tasks


def test_hard_affinity_waiting_task_fails_when_its_node_dies(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", ONE_CPU), NodeAdded(b"n2", ONE_CPU))
    hog = task("hog", strategy=Strategy("NODE_AFFINITY", b"n1"))
    pinned = task("pinned", strategy=Strategy("NODE_AFFINITY", b"n1"))
    step(state, TaskSubmitted(hog), TaskSubmitted(pinned))
    effects = step(state, NodeRemoved(b"n1", "gone"))
    assert dispatched(effects) == []
    assert failure_kind(effects, DRIVER, oid(pinned)) == "TaskUnschedulableError"


@pytest.mark.parametrize("target", ["unknown", "dead", "too small"])
def test_soft_affinity_falls_back_to_another_node(state: HeadState, target: str) -> None:
    step(state, NodeAdded(b"dead", {"CPU": 4.0}), NodeAdded(b"small", ONE_CPU), NodeAdded(b"n1", {"CPU": 4.0}))
    step(state, NodeRemoved(b"dead", "gone"))
    node_id = {"unknown": b"unknown", "dead": b"dead", "too small": b"small"}[target]
    t = task("t", cpus=2.0, strategy=Strategy("NODE_AFFINITY", node_id, soft=True))
    assert dispatched(step(state, TaskSubmitted(t))) == [(b"n1", "t")]


def test_soft_affinity_prefers_its_node(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", {"CPU": 4.0}), NodeAdded(b"n2", {"CPU": 4.0}))
    t = task("t", strategy=Strategy("NODE_AFFINITY", b"n2", soft=True))
    assert dispatched(step(state, TaskSubmitted(t))) == [(b"n2", "t")]


def test_spread_round_robins_across_nodes(state: HeadState) -> None:
    step(state, *(NodeAdded(n, {"CPU": 4.0}) for n in (b"n0", b"n1", b"n2")))
    tasks = [task(f"s{i}", strategy=Strategy("SPREAD")) for i in range(6)]
    effects = step(state, *(TaskSubmitted(t) for t in tasks))
    nodes = [node for node, _ in dispatched(effects)]
    assert len(nodes) == 6
    assert Counter(nodes) == {b"n0": 2, b"n1": 2, b"n2": 2}
    assert all(len(set(nodes[i : i + 3])) == 3 for i in range(4))  # every window of 3 hits all nodes


def test_spread_skips_full_nodes(state: HeadState) -> None:
    step(state, NodeAdded(b"n0", ONE_CPU), NodeAdded(b"n1", ONE_CPU))
    tasks = [task(f"s{i}", strategy=Strategy("SPREAD")) for i in range(3)]
    effects = step(state, *(TaskSubmitted(t) for t in tasks))
    assert sorted(node for node, _ in dispatched(effects)) == [b"n0", b"n1"]
    assert tasks[2].state == "READY"


def test_default_strategy_follows_argument_bytes(state: HeadState) -> None:
    step(state, NodeAdded(b"idle", {"CPU": 4.0}), NodeAdded(b"data", {"CPU": 4.0}))
    step(state, TaskSubmitted(task("busy", cpus=2.0, strategy=Strategy("NODE_AFFINITY", b"data"))))
    big = put("big", node=b"data", size=10_000_000)
    step(state, ObjectsPut([big]))
    assert dispatched(step(state, TaskSubmitted(task("near", deps=[big.object_id])))) == [(b"data", "near")]
    assert dispatched(step(state, TaskSubmitted(task("anywhere")))) == [(b"idle", "anywhere")]


# ---- replays: a peer may send a task again (after a reconnection, or a bug) ------------


def test_replay_of_a_finished_task_kept_for_lineage_is_ignored(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", ONE_CPU))
    x = put("x")
    t = task("t", deps=[x.object_id])
    step(state, ObjectsPut([x]), TaskSubmitted(t))
    step(state, finished(t, result(t, node=b"n1", size=1000)))
    assert t.task_id in state.lineage
    # validate() after each step checks that the replay pinned nothing twice
    assert dispatched(step(state, TaskSubmitted(task("t", deps=[x.object_id])))) == []
    assert state.lineage[t.task_id] is t


def test_replay_of_an_actor_creation_leaves_the_live_actor_alone(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", {"CPU": 2.0}))
    a = actor("a", resources=ONE_CPU)
    step(state, TaskSubmitted(a))
    step(state, finished(a))
    record = state.actors[a.actor_id]
    assert record.state == "PLACED" and a.task_id not in state.tasks
    assert dispatched(step(state, TaskSubmitted(actor("a", resources=ONE_CPU)))) == []
    assert state.actors[a.actor_id] is record
    assert available(state, b"n1") == 1.0


def test_a_task_dropped_while_waiting_and_submitted_again_waits_for_every_argument(state: HeadState) -> None:
    # (found by test_head_state_random.py: a driver that left and came back resubmitted a task
    # the head had dropped while it waited; the first wait's registration for `a`'s result was
    # still there, so that result counted twice and the task ran without `c`'s)
    a, c = task("a"), task("c")
    t = task("t", cpus=0, deps=[oid(a), oid(c)])
    step(state, NodeAdded(b"n1", ONE_CPU), TaskSubmitted(a), TaskSubmitted(c), TaskSubmitted(t))
    assert a.state == "RUNNING" and c.state == "READY" and t.state == "WAITING"
    step(state, ClientDisconnected(DRIVER))  # its job's queued tasks go: c and t
    again_c, again_t = task("c"), task("t", cpus=0, deps=[oid(a), oid(c)])
    step(state, ClientConnected(DRIVER, JOB, is_driver=True), TaskSubmitted(again_c), TaskSubmitted(again_t))
    effects = step(state, finished(a))
    assert dispatched(effects) == [(b"n1", "c")]
    assert again_t.state == "WAITING" and again_t.missing == 1
    effects = step(state, finished(again_c))
    assert dispatched(effects) == [(b"n1", "t")]


def test_a_task_resubmitted_with_a_dead_actor_as_argument_fails_rather_than_waits(state: HeadState) -> None:
    # (the same example's next step: A died with its driver, nobody held its death, and the
    # driver's resubmitted constructor found it dead: t waited for A's ready object for ever)
    blocker, a = task("blocker"), actor("A")
    t = task("t", cpus=0, deps=[oid(a)])
    step(state, NodeAdded(b"n1", ONE_CPU), TaskSubmitted(blocker), TaskSubmitted(a), TaskSubmitted(t))
    step(state, ClientDisconnected(DRIVER))
    assert state.actors[a.actor_id].state == "DEAD" and oid(a) not in state.objects
    again = task("t", cpus=0, deps=[oid(a)])
    effects = step(state, ClientConnected(DRIVER, JOB, is_driver=True), TaskSubmitted(actor("A")), TaskSubmitted(again))
    assert failure_kind(effects, DRIVER, oid(again)) == "ActorDiedError" and again.state == "FINISHED"
