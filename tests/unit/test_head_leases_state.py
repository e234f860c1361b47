"""Leases inside HeadState: a grant holds a node's CPUs like running tasks (validate() recounts
them), records of leased tasks enter the history and lineage, and a lost stored output of a
leased task is remade through the scheduler; node death, a client leaving, a blocked task."""

from __future__ import annotations

from raylite.head.state import HeadState
from raylite.head.state.leases import (
    LeaseDrained,
    LeasedTasksEnded,
    LeasedTaskStarted,
    LeaseGranted,
    LeaseRequested,
    LeaseReturned,
    LeaseSlotBlocked,
    LeaseStopped,
    TaskRecorded,
)
from raylite.head.state.model import (
    ClientConnected,
    ClientDisconnected,
    NodeAdded,
    NodeRemoved,
    ObjectInfo,
    RefsChanged,
    TaskSubmitted,
)
from raylite.head.state.states import TaskState
from tests.unit.test_head_state import DRIVER, JOB, dispatched, oid, step, task

L1 = DRIVER + b"\0\0\0\1"


def granted_state(cpus: float = 2.0, nodes: tuple[bytes, ...] = (b"n1",)) -> HeadState:
    state = HeadState()
    step(state, ClientConnected(DRIVER, JOB, True), *[NodeAdded(n, {"CPU": cpus}) for n in nodes])
    step(state, LeaseRequested(DRIVER, L1, b"k", {"CPU": 1.0}, slots=8, job_id=JOB))
    (grant,) = state.lease_effects()
    assert isinstance(grant, LeaseGranted) and grant.lease.slots == int(cpus)
    return state


def available(state: HeadState, node: bytes = b"n1") -> float:
    return state.nodes[node].available.get("CPU", 0.0)


def test_a_granted_lease_holds_the_cpus_so_the_head_places_nothing_there() -> None:
    state = granted_state()
    assert available(state) == 0.0
    t = task("via-head")
    assert dispatched(step(state, TaskSubmitted(t))) == []  # queued behind the lease
    step(state, LeaseReturned(DRIVER, L1))
    assert state.lease_effects() == [LeaseStopped(b"n1", L1, "returned")]
    assert available(state) == 0.0  # until the node drained it
    assert dispatched(step(state, LeaseDrained(b"n1", L1))) == [(b"n1", "via-head")]


def test_a_record_enters_the_history_and_a_stored_output_its_lineage() -> None:
    state = granted_state()
    inline, stored = task("inline"), task("stored")
    step(
        state,
        RefsChanged(DRIVER, [(oid(inline), True), (oid(stored), True)]),  # the submitter holds them
        TaskRecorded(inline, [ObjectInfo(oid(inline), value="v")], b"n1", 1),
        TaskRecorded(stored, [ObjectInfo(oid(stored), value="s", node_id=b"n1", size=10**6)], b"n1", 1),
    )
    assert inline.state == "FINISHED" and stored.state == "FINISHED"
    assert stored.task_id in state.lineage and inline.task_id not in state.lineage
    assert available(state) == 0.0  # a record holds nothing: its lease does
    assert state.objects[oid(inline)].value == "v"  # others may get it from the head
    # a replay (a resent record) changes nothing
    step(state, TaskRecorded(inline, [ObjectInfo(oid(inline), value="v")], b"n1", 1))


def test_a_lost_output_of_a_leased_task_is_remade_through_the_scheduler() -> None:
    state = granted_state(cpus=1.0, nodes=(b"n1", b"n2"))
    lease = state.leases.leases[L1]
    t = task("made")
    step(
        state,
        RefsChanged(DRIVER, [(oid(t), True)]),
        TaskRecorded(t, [ObjectInfo(oid(t), value="x", node_id=lease.node_id, size=10**6)], lease.node_id, 1),
    )
    other = b"n2" if lease.node_id == b"n1" else b"n1"
    effects = step(state, NodeRemoved(lease.node_id, "gone"))
    assert L1 not in state.leases.leases  # the lease ended with its node
    assert dispatched(effects) == [(other, "made")]
    assert state.tasks[t.task_id].resources == {"CPU": 1.0}  # the rerun holds its own CPU


def test_its_client_leaving_stops_the_lease_and_a_blocked_task_lends_a_slot() -> None:
    state = granted_state()
    step(state, LeaseSlotBlocked(L1, True))
    assert available(state) == 1.0
    step(state, LeaseSlotBlocked(L1, False))
    assert available(state) == 0.0
    state.lease_effects()  # (the node heard of the lent slot and its return)
    step(state, ClientDisconnected(DRIVER))
    assert state.lease_effects() == [LeaseStopped(b"n1", L1, "its client left")]
    step(state, LeaseDrained(b"n1", L1))
    assert available(state) == 2.0


def _rows(state: HeadState) -> dict[str, str]:
    from raylite.head.dashboard.views import ray_task_state, task_rows

    return {r.name: ray_task_state(r) for r in task_rows(state)}


def test_a_leased_task_its_node_reports_running_is_listed_and_explained_until_it_ends() -> None:
    from raylite.head.state.explain import explain

    state = granted_state(cpus=2.0, nodes=(b"n1", b"n2"))
    node = state.leases.leases[L1].node_id
    assert node is not None
    other = b"n2" if node == b"n1" else b"n1"
    slow, faked = task("slow"), task("faked")
    step(state, LeasedTaskStarted(other, L1, faked, 5.0))  # not this node's lease: ignored
    step(state, LeasedTaskStarted(node, L1, slow, 5.0))
    assert _rows(state) == {"slow": "RUNNING"}
    assert available(state, node) == 0.0  # it holds nothing of its own: its lease does
    lines = explain(state, [oid(slow)], now=7.0).lines()
    assert lines == [f"task slow is running on node {node.hex()[:12]} for 2 s"]
    # a task parked in its submitter (waiting for slow's output) is explained as waiting for it
    parked = task("parked", deps=[oid(slow)])
    parked.state, parked.missing = TaskState.WAITING, 1
    lines = explain(state, [oid(parked)], now=7.0, parked=[parked]).lines()
    assert lines[0] == "task parked is waiting for 1 of its 1 argument"
    assert lines[1].startswith(
        f"  waiting for argument {oid(slow).hex()[:12]}, produced by task slow, which is running"
    )
    # the node's word that it ended takes it off the list
    step(state, LeasedTasksEnded(node, [slow.task_id]))
    assert _rows(state) == {}
    # the submitter's record does too (it may come first), and the history has it then
    step(state, LeasedTaskStarted(node, L1, slow, 5.0))
    step(
        state, RefsChanged(DRIVER, [(oid(slow), True)]), TaskRecorded(slow, [ObjectInfo(oid(slow), value="v")], node, 1)
    )
    assert _rows(state) == {"slow": "FINISHED"}


def test_a_leased_task_reported_running_goes_with_its_lease_or_node() -> None:
    state = granted_state(cpus=2.0)
    step(state, LeasedTaskStarted(b"n1", L1, task("a"), 1.0))
    step(state, LeaseReturned(DRIVER, L1), LeaseDrained(b"n1", L1))
    assert _rows(state) == {}
    state = granted_state(cpus=2.0)
    step(state, LeasedTaskStarted(b"n1", L1, task("b"), 1.0))
    step(state, NodeRemoved(b"n1", "it died"))
    assert _rows(state) == {}
