"""Lost objects: outputs lost with their node are remade by rerunning their tasks; a
secondary copy on another node becomes the primary, and its node is told so."""

from __future__ import annotations

from raylite.head.state import HeadState
from raylite.head.state.model import (
    ClientConnected,
    FreeObject,
    NodeAdded,
    NodeRemoved,
    ObjectCopiesChanged,
    ObjectInfo,
    ObjectsPut,
    PromoteObject,
    RefsChanged,
    Strategy,
    TaskFinished,
    TaskSubmitted,
)
from tests.unit.test_head_state import DRIVER, JOB, dispatched, of_type, oid, put, step, task


def stored_result(t, node: bytes) -> ObjectInfo:
    return ObjectInfo(oid(t), value=f"{t.name}@{node.decode()}", node_id=node, size=1000)


def two_nodes() -> HeadState:
    state = HeadState()
    step(state, ClientConnected(DRIVER, JOB, True), NodeAdded(b"n1", {"CPU": 1}), NodeAdded(b"n2", {"CPU": 1}))
    return state


def on_n1(label: str, **kw):
    return task(label, strategy=Strategy("NODE_AFFINITY", b"n1", soft=True), **kw)


def test_lost_output_is_rebuilt_on_another_node() -> None:
    state = two_nodes()
    t = on_n1("t")
    step(state, TaskSubmitted(t))
    step(state, TaskFinished(b"n1", t.task_id, [stored_result(t, b"n1")]))
    assert t.task_id in state.lineage
    effects = step(state, NodeRemoved(b"n1", "gone"))
    assert dispatched(effects) == [(b"n2", "t")]
    assert oid(t) not in state.objects  # until the rerun reports
    step(state, TaskFinished(b"n2", t.task_id, [stored_result(t, b"n2")]))
    assert state.objects[oid(t)].node_id == b"n2"


def test_rebuild_follows_lost_inputs_recursively() -> None:
    state = two_nodes()
    a = on_n1("a")
    step(state, TaskSubmitted(a))
    step(state, TaskFinished(b"n1", a.task_id, [stored_result(a, b"n1")]))
    b = on_n1("b", deps=[oid(a)])
    step(state, TaskSubmitted(b), RefsChanged(DRIVER, [(oid(a), False)]))  # the driver keeps only b
    step(state, TaskFinished(b"n1", b.task_id, [stored_result(b, b"n1")]))
    assert oid(a) in state.objects  # b's lineage keeps its input
    effects = step(state, NodeRemoved(b"n1", "gone"))
    assert dispatched(effects) == [(b"n2", "a")]  # b waits for a
    effects = step(state, TaskFinished(b"n2", a.task_id, [stored_result(a, b"n2")]))
    assert dispatched(effects) == [(b"n2", "b")]


def test_a_waiting_task_waits_again_for_an_argument_lost_while_it_waited() -> None:
    """Found by the randomized test (test_head_state_random.py): b waited for x with a's
    output already there, counted as present; n1 died and a's output went with it. b
    went on counting one missing argument, so x alone would have made it READY, and it
    would have run without a's output (validate(): "missing 1 != 2")."""
    state = two_nodes()
    a = on_n1("a")
    step(state, TaskSubmitted(a))
    step(state, TaskFinished(b"n1", a.task_id, [stored_result(a, b"n1")]))
    x = put("x")
    b = task("b", deps=[oid(a), x.object_id])
    step(state, TaskSubmitted(b))
    assert state.tasks[b.task_id].missing == 1
    assert dispatched(step(state, NodeRemoved(b"n1", "gone"))) == [(b"n2", "a")]
    assert state.tasks[b.task_id].missing == 2
    assert dispatched(step(state, ObjectsPut([x]))) == []  # a's output is not back yet
    effects = step(state, TaskFinished(b"n2", a.task_id, [stored_result(a, b"n2")]))
    assert dispatched(effects) == [(b"n2", "b")]


def test_a_waiting_task_fails_when_a_put_it_counted_as_present_is_lost() -> None:
    state = two_nodes()
    p = put("p", node=b"n1", size=1000)
    x = put("x")
    b = task("b", deps=[p.object_id, x.object_id])
    step(state, ObjectsPut([p]), TaskSubmitted(b))
    effects = step(state, NodeRemoved(b"n1", "gone"))
    assert b.task_id not in state.tasks  # an error argument fails it, as at submission
    info = state.objects[oid(b)]
    assert info.is_error and info.failure.kind == "ObjectLostError"
    assert dispatched(effects) == []


def test_every_lost_output_of_a_multi_return_task_is_rebuilt_by_one_rerun() -> None:
    state = two_nodes()
    t = on_n1("t", num_returns=2)
    step(state, TaskSubmitted(t))
    outputs = [ObjectInfo(oid(t, i), value=f"t[{i}]@n1", node_id=b"n1", size=1000) for i in range(2)]
    step(state, TaskFinished(b"n1", t.task_id, outputs))
    effects = step(state, NodeRemoved(b"n1", "gone"))
    assert dispatched(effects) == [(b"n2", "t")]
    assert oid(t, 0) not in state.objects and oid(t, 1) not in state.objects  # no ObjectLostError
    outputs = [ObjectInfo(oid(t, i), value=f"t[{i}]@n2", node_id=b"n2", size=1000) for i in range(2)]
    step(state, TaskFinished(b"n2", t.task_id, outputs))
    assert [state.objects[oid(t, i)].value for i in range(2)] == ["t[0]@n2", "t[1]@n2"]


def test_lineage_goes_when_its_outputs_are_freed() -> None:
    state = two_nodes()
    x = on_n1("x")
    t = on_n1("t", deps=[])
    step(state, TaskSubmitted(x))
    step(state, TaskFinished(b"n1", x.task_id, [stored_result(x, b"n1")]))
    step(state, TaskSubmitted(t))
    step(state, TaskFinished(b"n1", t.task_id, [stored_result(t, b"n1")]))
    step(state, RefsChanged(DRIVER, [(oid(t), False), (oid(x), False)]))
    assert state.lineage == {} and state.objects == {} and state.pins == {}


def test_inline_outputs_need_no_lineage() -> None:
    state = two_nodes()
    t = task("t")
    step(state, TaskSubmitted(t))
    step(state, TaskFinished(b"n1", t.task_id, [ObjectInfo(oid(t), value="small")]))
    assert state.lineage == {}
    step(state, NodeRemoved(b"n1", "gone"))
    assert state.objects[oid(t)].value == "small"


# ---- copies that become the primary ---------------------------------------------------


def three_nodes() -> HeadState:
    state = two_nodes()
    step(state, NodeAdded(b"n3", {"CPU": 1}))
    return state


def test_a_copy_promoted_to_primary_is_announced_to_its_node() -> None:
    """Its node must then keep it as it keeps what it made (spill, never evict)."""
    state = three_nodes()
    p = put("p", node=b"n1", size=1000)
    step(state, ObjectsPut([p]), ObjectCopiesChanged(b"n2", [p.object_id], []))
    step(state, ObjectCopiesChanged(b"n3", [p.object_id], []))
    effects = step(state, NodeRemoved(b"n1", "gone"))
    assert of_type(effects, PromoteObject) == [PromoteObject(b"n2", p.object_id)]
    assert state.objects[p.object_id].node_id == b"n2" and state.copies[p.object_id] == {b"n3"}


def test_a_copy_promoted_as_the_last_task_needing_it_fails_is_freed_after_the_promotion() -> None:
    """Both in one step, in this order: a node must accept a FreeObject of what it was
    just told to promote (tests/unit/test_head_state_random.py's nodes once did not)."""
    state = three_nodes()
    p = put("p", node=b"n1", size=1000)
    b = task("b", deps=[p.object_id], strategy=Strategy("NODE_AFFINITY", b"n1"))
    step(state, ObjectsPut([p]), ObjectCopiesChanged(b"n2", [p.object_id], []), TaskSubmitted(b))
    step(state, RefsChanged(DRIVER, [(p.object_id, False)]))  # only b needs p now
    effects = step(state, NodeRemoved(b"n1", "gone"))  # b fails with its node, and p is promoted
    kinds = [(type(e), e.node_id) for e in effects if isinstance(e, (PromoteObject, FreeObject))]
    assert kinds == [(PromoteObject, b"n2"), (FreeObject, b"n2")]
    assert p.object_id not in state.objects


def test_a_copy_evicted_as_it_was_promoted_gives_way_to_another_copy() -> None:
    state = three_nodes()
    p = put("p", node=b"n1", size=1000)
    step(state, ObjectsPut([p]), ObjectCopiesChanged(b"n2", [p.object_id], []))
    step(state, ObjectCopiesChanged(b"n3", [p.object_id], []))
    step(state, NodeRemoved(b"n1", "gone"))
    # n2 evicted its copy before the promotion reached it
    effects = step(state, ObjectCopiesChanged(b"n2", [], [p.object_id]))
    assert of_type(effects, PromoteObject) == [PromoteObject(b"n3", p.object_id)]
    assert state.objects[p.object_id].node_id == b"n3" and p.object_id not in state.copies


def test_a_put_whose_last_copy_was_evicted_as_it_was_promoted_is_lost() -> None:
    state = two_nodes()
    p = put("p", node=b"n1", size=1000)
    step(state, ObjectsPut([p]), ObjectCopiesChanged(b"n2", [p.object_id], []))
    step(state, NodeRemoved(b"n1", "gone"))
    assert state.objects[p.object_id].node_id == b"n2"
    step(state, ObjectCopiesChanged(b"n2", [], [p.object_id]))
    info = state.objects[p.object_id]
    assert info.is_error and info.failure.kind == "ObjectLostError" and "evicted" in info.failure.message


def test_a_task_output_whose_last_copy_was_evicted_as_it_was_promoted_is_rebuilt() -> None:
    state = two_nodes()
    t = on_n1("t")
    step(state, TaskSubmitted(t))
    step(state, TaskFinished(b"n1", t.task_id, [stored_result(t, b"n1")]))
    step(state, ObjectCopiesChanged(b"n2", [oid(t)], []))
    step(state, NodeRemoved(b"n1", "gone"))
    effects = step(state, ObjectCopiesChanged(b"n2", [], [oid(t)]))
    assert dispatched(effects) == [(b"n2", "t")]
    assert oid(t) not in state.objects  # until the rerun reports


def test_evicting_a_copy_whose_primary_lives_on_leaves_the_primary_alone() -> None:
    state = two_nodes()
    p = put("p", node=b"n1", size=1000)
    step(state, ObjectsPut([p]), ObjectCopiesChanged(b"n2", [p.object_id], []))
    effects = step(state, ObjectCopiesChanged(b"n2", [], [p.object_id]))
    assert effects == [] and state.objects[p.object_id] == p and p.object_id not in state.copies
