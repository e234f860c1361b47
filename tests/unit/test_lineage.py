"""Lineage reconstruction: outputs lost with their node are remade by rerunning their tasks."""

from __future__ import annotations

from raylite.head.state import HeadState
from raylite.head.state.model import (
    ClientConnected,
    NodeAdded,
    NodeRemoved,
    ObjectInfo,
    RefsChanged,
    Strategy,
    TaskFinished,
    TaskSubmitted,
)
from tests.unit.test_head_state import DRIVER, JOB, dispatched, oid, step, task


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
