"""A restarted head taking over: what it saved, what nodes and clients report back.

The old head's state runs first; what HeadStorage keeps of its actors feeds
the new head's HeadRestarted, then nodes rejoin with what they still run,
host and store, and clients resubmit. Invariants are checked after each step.
"""

from __future__ import annotations

import copy
from pathlib import Path

from raylite.client.unfinished import UnfinishedTasks as _UnfinishedTasks
from raylite.head import wire
from raylite.head.state import HeadState, direct_calls
from raylite.head.state.model import (
    ActorChanged,
    ActorRecord,
    ClientConnected,
    Dispatch,
    ExecutorDied,
    FreeObject,
    HeadRestarted,
    KillActor,
    NodeAdded,
    ObjectInfo,
    ObjectsPut,
    RecoveryEnded,
    RefsChanged,
    TaskRecord,
    TaskSubmitted,
)
from raylite.head.storage import HeadStorage
from raylite.ids import object_id
from raylite.rpc import common_pb2, head_pb2
from raylite.worker.call_ledger import CallLedger as _CallLedger
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
    result,
    step,
    task,
)

NODE = {"CPU": 2.0}


def old_head_with_actor(label: str = "counter", **kw) -> tuple[HeadState, TaskRecord]:
    """A head whose actor runs on n1 and has finished its constructor."""
    state = HeadState()
    step(state, ClientConnected(DRIVER, JOB, True), NodeAdded(b"n1", NODE))
    creation = actor(label, **kw)
    step(state, TaskSubmitted(creation))
    step(state, finished(creation))
    return state, creation


def saved(state: HeadState) -> list[ActorRecord]:
    """The fields HeadStorage keeps of each actor that is not dead."""
    out = []
    for a in state.actors.values():
        if a.state == "DEAD":
            continue
        keep = ActorRecord(
            a.actor_id,
            a.job_id,
            a.name,
            a.detached,
            a.meta,
            state=a.state,
            node_id=a.node_id,
            creation=copy.copy(a.creation),
            restarts_left=a.restarts_left,
            restarts=a.restarts,
            max_task_retries=a.max_task_retries,
            ready=a.ready,
            namespace=a.namespace,
            owner=a.creation.client_id if a.creation is not None else b"",
        )
        keep.creation.pinned = False  # type: ignore[union-attr]
        keep.creation.state = "WAITING"  # type: ignore[union-attr]
        out.append(keep)
    return out


def restarted(actors: list[ActorRecord], nodes: list[bytes], *, driver_back: bool = True) -> HeadState:
    state = HeadState()
    step(state, HeadRestarted(actors, nodes))
    if driver_back:
        step(state, ClientConnected(DRIVER, JOB, True))
    return state


def test_actor_alive_on_its_rejoining_node_takes_calls_there_again() -> None:
    old, creation = old_head_with_actor(actor_name="counter", resources={"CPU": 1.0})
    new = restarted(saved(old), [b"n1"])
    assert new.named_actors == {("", "counter"): creation.actor_id}
    step(new, NodeAdded(b"n1", NODE, live_actors=[(creation.actor_id, 1)]))
    assert new.actors[creation.actor_id].state == "PLACED"
    assert available(new, b"n1") == 1.0  # the actor holds its CPU again
    effects = step(new, TaskSubmitted(call("counter.inc", creation)))
    assert dispatched(effects) == [(b"n1", "counter.inc")]


def test_a_rejoining_node_hands_the_restarted_head_its_actors_call_ports() -> None:
    old, creation = old_head_with_actor()
    for ports, address in (({creation.actor_id: "10.0.0.1:4711"}, "10.0.0.1:4711"), ({}, "")):
        new = restarted(saved(old), [b"n1"])
        effects = step(new, NodeAdded(b"n1", NODE, live_actors=[(creation.actor_id, 1)], call_ports=ports))
        assert direct_calls.location(new.actors[creation.actor_id]) == ("PLACED", 1, address, "")
        assert not of_type(effects, KillActor)


def test_actor_gone_when_its_node_rejoins_is_restarted() -> None:
    old, creation = old_head_with_actor(max_restarts=1)
    new = restarted(saved(old), [b"n1"])
    effects = step(new, NodeAdded(b"n1", NODE, live_actors=[]))
    assert dispatched(effects) == [(b"n1", "counter.__init__")]
    assert new.actors[creation.actor_id].restarts == 1


def test_actor_whose_node_never_rejoins_dies_when_recovery_ends() -> None:
    old, creation = old_head_with_actor(actor_name="counter")
    new = restarted(saved(old), [b"n1"])
    pending = call("counter.inc", creation)
    step(new, TaskSubmitted(pending))
    effects = step(new, RecoveryEnded())
    assert failure_kind(effects, DRIVER, oid(pending)) == "ActorDiedError"
    assert "did not rejoin" in new.actors[creation.actor_id].death
    assert new.named_actors == {}


def test_actor_restarted_after_recovery_waits_for_its_constructor_arguments() -> None:
    """Found by the randomized test (test_head_state_random.py): the actor's node did
    not rejoin by RecoveryEnded, so the actor restarted, and its constructor was made
    READY at once, as after a death in a head that had never restarted. But a restarted
    head knows no object until a node reports it: the constructor was dispatched to a
    new node without its argument, which was on the node that had not rejoined."""
    p = ObjectInfo(b"p".ljust(20, b"."), value="p", node_id=b"n1", size=10)
    old = HeadState()
    step(old, ClientConnected(DRIVER, JOB, True), NodeAdded(b"n1", NODE), ObjectsPut([p]))
    creation = actor("counter", deps=(p.object_id,), max_restarts=1)
    step(old, TaskSubmitted(creation))
    step(old, finished(creation))
    new = restarted(saved(old), [b"n1"])
    step(new, RefsChanged(DRIVER, [(oid(creation), True)]), RecoveryEnded())  # it holds the handle
    assert new.actors[creation.actor_id].state == "RESTARTING"
    assert dispatched(step(new, NodeAdded(b"n2", NODE))) == []  # p is nowhere yet
    effects = step(new, NodeAdded(b"n1", NODE, objects=[p]))  # back late, without the process
    assert dispatched(effects) == [(b"n1", "counter.__init__")]
    [dispatch] = of_type(effects, Dispatch)
    assert [a.object_id for a in dispatch.args] == [p.object_id]


def test_unknown_actor_process_on_a_rejoining_node_is_killed() -> None:
    new = restarted([], [b"n1"])
    effects = step(new, NodeAdded(b"n1", NODE, live_actors=[(b"stranger".ljust(16, b"."), 1)]))
    assert of_type(effects, KillActor) == [KillActor(b"n1", b"stranger".ljust(16, b"."))]


def test_a_process_left_from_a_forgotten_life_of_an_actor_is_not_taken_for_its_new_one() -> None:
    """Found by the randomized test (test_head_state_random.py): a head declared the
    actor dead while its node was away, and the next restarted head forgot it (dead
    actors are not saved). Its client, which never heard of the death, resubmitted
    its creation, and the node came back with the old process, attempt 1. The head
    killed that process and placed the new life there, numbered from scratch:
    attempt 1 again. The old process's death report (it may crash before the kill
    lands; the simulation reports every death) then passed for the new life's."""
    a = actor("counter", max_restarts=1)
    new = restarted([], [])
    step(new, TaskSubmitted(a))
    effects = step(new, NodeAdded(b"n1", NODE, live_actors=[(a.actor_id, 1)]))
    assert of_type(effects, KillActor) == [KillActor(b"n1", a.actor_id)]
    [dispatch] = of_type(effects, Dispatch)
    assert dispatch.task.attempt == 2  # numbered past the old process
    assert step(new, ExecutorDied(b"n1", b"", a.actor_id, "crash", 1)) == []
    assert new.actors[a.actor_id].state == "PLACED" and new.actors[a.actor_id].restarts == 0


def test_non_detached_actor_of_a_driver_that_did_not_return_is_killed_detached_one_kept() -> None:
    old, mine = old_head_with_actor("mine")
    kept = actor("kept", detached=True)
    step(old, TaskSubmitted(kept), finished(kept))
    new = restarted(saved(old), [b"n1"], driver_back=False)
    step(new, NodeAdded(b"n1", NODE, live_actors=[(mine.actor_id, 1), (kept.actor_id, 1)]))
    effects = step(new, RecoveryEnded())
    assert of_type(effects, KillActor) == [KillActor(b"n1", mine.actor_id)]
    assert new.actors[kept.actor_id].state == "PLACED"


def test_nothing_is_scheduled_until_every_saved_node_is_back() -> None:
    new = restarted([], [b"n1", b"n2"])
    step(new, NodeAdded(b"n1", NODE))
    t = task("t")
    assert dispatched(step(new, TaskSubmitted(t))) == []  # n2 may still run it
    assert len(dispatched(step(new, NodeAdded(b"n2", NODE)))) == 1


def test_task_a_rejoining_node_still_runs_is_adopted_not_run_twice() -> None:
    t = task("t", max_retries=3)
    running = copy.copy(t)
    running.attempt = 1
    new = restarted([], [b"n1"])
    assert dispatched(step(new, NodeAdded(b"n1", NODE, running=[running]))) == []
    assert available(new, b"n1") == 1.0
    assert dispatched(step(new, TaskSubmitted(t))) == []  # the client's resubmission
    effects = step(new, finished(t, node=b"n1"))
    assert (DRIVER, oid(t)) in delivered(effects)
    assert available(new, b"n1") == 2.0


def test_resubmission_before_the_node_rejoins_is_adopted_too() -> None:
    t = task("t")
    running = copy.copy(t)
    running.attempt = 1
    new = restarted([], [b"n1"])
    step(new, TaskSubmitted(t))
    effects = step(new, NodeAdded(b"n1", NODE, running=[running]))
    assert dispatched(effects) == []
    assert (DRIVER, oid(t)) in delivered(step(new, finished(t, node=b"n1")))


def test_result_reported_before_the_resubmission_is_kept_for_it() -> None:
    t = task("t")
    new = restarted([], [b"n1"])
    step(new, NodeAdded(b"n1", NODE))
    step(new, finished(t, node=b"n1"))  # the node had it queued while the head was down
    effects = step(new, TaskSubmitted(t))
    assert dispatched(effects) == []
    assert delivered(effects)[(DRIVER, oid(t))].value == "t[0]"


def test_stored_objects_are_not_freed_before_recovery_ends() -> None:
    new = restarted([], [b"n1"])
    kept = ObjectInfo(b"kept".ljust(20, b"."), value="kept", node_id=b"n1", size=10)
    dropped = ObjectInfo(b"dropped".ljust(20, b"."), value="dropped", node_id=b"n1", size=10)
    effects = step(new, NodeAdded(b"n1", NODE, objects=[kept, dropped]))
    assert of_type(effects, FreeObject) == []  # their holders may not have reconnected yet
    step(new, RefsChanged(DRIVER, [(kept.object_id, True)]))
    effects = step(new, RecoveryEnded())
    assert of_type(effects, FreeObject) == [FreeObject(b"n1", dropped.object_id)]
    assert kept.object_id in new.objects


def test_resubmitted_task_whose_output_a_node_still_stores_is_not_rerun() -> None:
    t = task("t")
    new = restarted([], [b"n1"])
    step(new, NodeAdded(b"n1", NODE, objects=[result(t, node=b"n1", size=10)]))
    effects = step(new, TaskSubmitted(t))
    assert dispatched(effects) == []
    assert (DRIVER, oid(t)) in delivered(effects)


def test_resubmitted_creation_of_a_recovered_actor_gets_its_constructor_result() -> None:
    old, creation = old_head_with_actor()
    new = restarted(saved(old), [b"n1"])
    step(new, NodeAdded(b"n1", NODE, live_actors=[(creation.actor_id, 1)]))
    effects = step(new, TaskSubmitted(copy.copy(creation)))
    assert dispatched(effects) == []
    assert delivered(effects)[(DRIVER, oid(creation))].value == "counter.__init__[0]"


def test_every_durable_actor_change_is_announced_for_saving() -> None:
    state = HeadState()
    state.handle(ClientConnected(DRIVER, JOB, True), NodeAdded(b"n1", NODE))
    creation = actor("a", max_restarts=1)
    changes = [e for e in state.handle(TaskSubmitted(creation)) if isinstance(e, ActorChanged)]
    assert changes, "creation and placement are saved"
    assert any(isinstance(e, ActorChanged) for e in state.handle(finished(creation)))  # its ready value


# ---- the storage ----------------------------------------------------------------


def spec_record(label: bytes) -> ActorRecord:
    spec = common_pb2.TaskSpec(
        task_id=label.ljust(16, b"."),
        actor_id=label.ljust(16, b"."),
        job_id=JOB,
        name="A.__init__",
        kind=common_pb2.ACTOR_CREATION,
        actor_name="named",
        detached=True,
        max_task_retries=2,
    )
    creation = wire.task_record(spec, DRIVER)
    creation.attempt = 3
    ready = wire.object_info(common_pb2.ObjectValue(object_id=object_id(spec.task_id, 0), data=b"ok", size=2))
    return ActorRecord(
        spec.actor_id,
        JOB,
        "named",
        True,
        b"",
        state="PLACED",
        node_id=b"n1",
        creation=creation,
        restarts_left=4,
        restarts=1,
        max_task_retries=2,
        ready=ready,
    )


def test_storage_keeps_actors_functions_and_nodes_across_a_crash_and_forgets_after_a_clean_stop(
    tmp_path: Path,
) -> None:
    first = HeadStorage(str(tmp_path))
    assert first.load() is None  # a fresh start
    record = spec_record(b"actor")
    first.save_actor(record)
    first.save_function(b"f" * 16, b"body")
    first.save_node(b"n1")
    first.save_node(b"n2")
    first.forget_node(b"n2")
    first.close(clean=False)  # as good as a crash: the file stays

    second = HeadStorage(str(tmp_path))
    loaded = second.load()
    assert loaded is not None
    assert loaded.functions == {b"f" * 16: b"body"}
    assert loaded.nodes == [b"n1"]
    [back] = loaded.actors
    assert (back.actor_id, back.name, back.detached, back.state, back.node_id) == (
        record.actor_id,
        "named",
        True,
        "PLACED",
        b"n1",
    )
    assert (back.restarts_left, back.restarts, back.max_task_retries, back.creation.attempt) == (4, 1, 2, 3)
    assert back.creation.client_id == DRIVER
    assert back.ready is not None and back.ready.value.data == b"ok"
    record.state = "DEAD"
    second.save_actor(record)
    second.close(clean=True)
    assert not (tmp_path / "head.sqlite").exists()
    assert HeadStorage(str(tmp_path)).load() is None


# ---- what a client resubmits ------------------------------------------------------


def spec(label: str, *deps: bytes) -> common_pb2.TaskSpec:
    return common_pb2.TaskSpec(task_id=label.encode().ljust(16, b"."), num_returns=1, dependencies=list(deps))


def test_client_keeps_unfinished_tasks_and_the_finished_ones_they_still_need() -> None:
    kept = _UnfinishedTasks()
    g = spec("g")
    f = spec("f", object_id(g.task_id, 0))
    h = spec("h")
    for s in (g, f, h):
        kept.add(s)
    kept.output_arrived(g.task_id)  # g is done, but f needs its output: a lost inline value is remade by g
    kept.output_arrived(h.task_id)
    assert [s.task_id for s in kept.specs()] == [g.task_id, f.task_id]
    kept.output_arrived(f.task_id)
    assert kept.specs() == []


def test_call_resubmitted_before_its_actors_node_rejoins_goes_there_once_it_does() -> None:
    old, creation = old_head_with_actor()
    new = restarted(saved(old), [b"n1", b"n2"])
    step(new, NodeAdded(b"n2", NODE))
    pending = call("counter.inc", creation)
    assert dispatched(step(new, TaskSubmitted(pending))) == []  # n1 is not back: nowhere to send it yet
    effects = step(new, NodeAdded(b"n1", NODE, live_actors=[(creation.actor_id, 1)]))
    assert dispatched(effects) == [(b"n1", "counter.inc")]


def test_actor_executor_answers_a_call_it_already_ran_from_its_ledger() -> None:
    ledger = _CallLedger()
    assert ledger.arrived(b"c1") == (False, None)
    assert ledger.arrived(b"c1") == (True, None)  # still running: the duplicate is dropped
    result = head_pb2.TaskResult(task_id=b"c1")
    ledger.finished(b"c1", result)
    assert ledger.arrived(b"c1") == (True, result)
    for i in range(ledger.MAX_RESULTS):
        ledger.arrived(b"x%d" % i)
        ledger.finished(b"x%d" % i, head_pb2.TaskResult())
    assert ledger.arrived(b"c1") == (False, None)  # forgotten once old: it was never in flight at a crash


def test_client_keeps_the_values_of_arguments_it_knew_while_their_tasks_are_kept() -> None:
    kept = _UnfinishedTasks()
    value = common_pb2.ObjectValue(object_id=b"p" * 20, data=b"put by the client")
    a, b = spec("a", b"p" * 20, b"p" * 20), spec("b", b"p" * 20)
    kept.add(a, {b"p" * 20: value})
    kept.add(b, {b"p" * 20: value})
    kept.output_arrived(a.task_id)
    assert kept.arguments() == {b"p" * 20: value}  # b still needs it, though the client dropped its ref
    kept.output_arrived(b.task_id)
    assert kept.arguments() == {}


def test_an_adopted_task_retried_waits_for_arguments_this_head_does_not_have() -> None:
    """Found by the randomized test (test_head_state_random.py): a rejoining node still
    ran t, whose argument x was a value its client had put, and the client did not come
    back to put it again. When t's process died, the retry made it READY, as a task
    this head had placed (whose arguments existed then), and it was dispatched without
    x, to wait on its node for a value nobody would bring."""
    x = ObjectInfo(b"x".ljust(20, b"."), value="x")
    t = task("t", deps=[x.object_id], max_retries=1)
    running = copy.copy(t)
    running.attempt = 1
    new = restarted([], [b"n1"])
    step(new, NodeAdded(b"n1", NODE, running=[running]))
    step(new, RecoveryEnded())
    assert dispatched(step(new, ExecutorDied(b"n1", t.task_id, b"", "crash", 1))) == []
    assert new.tasks[t.task_id].state == "WAITING" and available(new, b"n1") == 2.0
    assert dispatched(step(new, ObjectsPut([x]))) == [(b"n1", "t")]  # its client is back with x


def test_a_late_node_still_running_a_task_rerun_and_finished_elsewhere_does_not_adopt_it() -> None:
    """Found by the randomized test (test_head_state_random.py): n1 missed the recovery
    window, so t was rerun on n2 and finished there, its output stored (lineage). n1
    then rejoined, still running t: the head adopted that run into its table beside the
    lineage entry, and when it finished, it replaced the lineage entry without releasing
    the arguments that entry pinned."""
    x = ObjectInfo(b"x".ljust(20, b"."), value="x")
    t = task("t", deps=[x.object_id])
    late = copy.copy(t)
    late.attempt = 1
    new = restarted([], [b"n1", b"n2"])
    step(new, NodeAdded(b"n2", NODE), RefsChanged(DRIVER, [(x.object_id, True)]), ObjectsPut([x]), TaskSubmitted(t))
    assert dispatched(step(new, RecoveryEnded())) == [(b"n2", "t")]
    step(new, finished(t, result(t, node=b"n2", size=10)), RefsChanged(DRIVER, [(x.object_id, False)]))
    assert t.task_id in new.lineage and new.pins == {x.object_id: 1}
    step(new, NodeAdded(b"n1", NODE, running=[late]))
    assert t.task_id not in new.tasks and available(new, b"n1") == 2.0  # its run there is a duplicate
    assert step(new, finished(late, node=b"n1")) == []
    assert new.lineage[t.task_id] is t and new.pins == {x.object_id: 1}


def test_an_object_referenced_only_from_inside_a_stored_one_outlives_recovery() -> None:
    """What a rejoining node reports of each stored object includes the refs inside it
    (raylite/worker/daemon.py reads them from the object's file): they are pinned like
    before the restart, whichever node reports the inner object, and whenever."""
    inner = ObjectInfo(b"inner".ljust(20, b"."), value="inner", node_id=b"n2", size=10)
    outer = ObjectInfo(b"outer".ljust(20, b"."), value="outer", node_id=b"n1", size=10, contained=(inner.object_id,))
    new = restarted([], [b"n1", b"n2"])
    step(new, NodeAdded(b"n1", NODE, objects=[outer]), RefsChanged(DRIVER, [(outer.object_id, True)]))
    step(new, NodeAdded(b"n2", NODE, objects=[inner]))
    effects = step(new, RecoveryEnded())
    assert of_type(effects, FreeObject) == []
    assert {outer.object_id, inner.object_id} <= set(new.objects)
    effects = step(new, RefsChanged(DRIVER, [(outer.object_id, False)]))
    assert of_type(effects, FreeObject) == [FreeObject(b"n1", outer.object_id), FreeObject(b"n2", inner.object_id)]


def test_an_adopted_task_whose_argument_did_not_come_back_fails_instead_of_running_without_it() -> None:
    # found by tests/unit/test_head_state_random.py: dispatched again with its argument missing
    put_id = b"put".ljust(16, b".") + b"\0\0\0\0"
    t = task("t", deps=(put_id,), max_retries=1)
    running = copy.copy(t)
    running.attempt, running.client_id = 1, b""
    new = restarted([], [b"n1"], driver_back=False)
    step(new, NodeAdded(b"n1", NODE, running=[running]))
    step(new, RecoveryEnded())  # its client never re-announced the argument
    effects = step(new, ExecutorDied(b"n1", t.task_id, b"", "crash", 1))
    assert dispatched(effects) == []
    assert t.task_id not in new.tasks and running.state == "FINISHED"
