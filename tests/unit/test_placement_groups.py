"""Placement groups in the head's state machine: reservation, tasks in bundles, removal, node deaths."""

from __future__ import annotations

import pytest

from raylite import placement_resources as pr
from raylite.head.state import HeadState, IllegalTransition
from raylite.head.state.model import (
    ActorKillRequested,
    ClientConnected,
    ClientDisconnected,
    ExecutorDied,
    HeadRestarted,
    KillActor,
    NodeAdded,
    NodeRecord,
    NodeRemoved,
    RecoveryEnded,
    Strategy,
    TaskBlockChanged,
    TaskSubmitted,
    Warn,
)
from raylite.head.state.placement_model import (
    PLACEMENT_GROUP_TRANSITIONS,
    PlacementGroupCreated,
    PlacementGroupRecord,
    PlacementGroupRemoveRequested,
    PlacementGroupState,
    move,
)
from raylite.head.state.placement_policy import feasible, place
from tests.unit.test_head_state import (
    DRIVER,
    JOB,
    actor,
    available,
    delivered,
    dispatched,
    failure_kind,
    finished,
    of_type,
    oid,
    step,
    task,
    tid,
)

S = PlacementGroupState


@pytest.fixture
def state() -> HeadState:
    s = HeadState()
    step(s, ClientConnected(DRIVER, JOB, is_driver=True))
    return s


def group(label: str, bundles: list[dict[str, float]], strategy: str = "PACK", **kw) -> PlacementGroupRecord:
    kw.setdefault("job_id", JOB)
    kw.setdefault("client_id", DRIVER)
    return PlacementGroupRecord(pg_id=tid(label), name=kw.pop("name", ""), bundles=bundles, strategy=strategy, **kw)


def in_group(g: PlacementGroupRecord, index: int = -1) -> Strategy:
    return Strategy("PLACEMENT_GROUP", placement_group_id=g.pg_id, bundle_index=index)


def nodes(*specs: tuple[bytes, dict[str, float]]) -> list[NodeRecord]:
    return [NodeRecord(n, dict(r), dict(r)) for n, r in specs]


# ---- the policy -------------------------------------------------------------------------


def test_strict_pack_puts_every_bundle_on_one_node_or_nowhere() -> None:
    two = nodes((b"a", {"CPU": 2.0}), (b"b", {"CPU": 4.0}))
    bundles = [{"CPU": 1.0}] * 3
    assert place(bundles, range(3), "STRICT_PACK", two, {}) == {0: b"b", 1: b"b", 2: b"b"}
    assert place([{"CPU": 3.0}] * 2, range(2), "STRICT_PACK", two, {}) is None


def test_pack_spills_over_when_one_node_is_not_enough() -> None:
    two = nodes((b"a", {"CPU": 2.0}), (b"b", {"CPU": 2.0}))
    where = place([{"CPU": 1.0}] * 3, range(3), "PACK", two, {})
    assert where is not None and sorted(where.values()).count(where[0]) == 2


def test_strict_spread_needs_a_node_per_bundle() -> None:
    two = nodes((b"a", {"CPU": 2.0}), (b"b", {"CPU": 2.0}))
    assert place([{"CPU": 0.5}] * 2, range(2), "STRICT_SPREAD", two, {}) in ({0: b"a", 1: b"b"}, {0: b"b", 1: b"a"})
    assert place([{"CPU": 0.5}] * 3, range(3), "STRICT_SPREAD", two, {}) is None
    assert not feasible([{"CPU": 0.5}] * 3, "STRICT_SPREAD", two)


def test_spread_reuses_nodes_when_it_must() -> None:
    one = nodes((b"a", {"CPU": 2.0}))
    assert place([{"CPU": 0.5}] * 2, range(2), "SPREAD", one, {}) == {0: b"a", 1: b"a"}


def test_rescheduling_respects_the_survivors() -> None:
    three = nodes((b"a", {"CPU": 2.0}), (b"b", {"CPU": 2.0}), (b"c", {"CPU": 2.0}))
    # STRICT_SPREAD: the lost bundle may not join a survivor's node
    assert place([{"CPU": 1.0}] * 2, [1], "STRICT_SPREAD", three, {0: b"a"}) in ({1: b"b"}, {1: b"c"})
    # STRICT_PACK: the lost bundles go where the survivors are
    assert place([{"CPU": 1.0}] * 2, [1], "STRICT_PACK", three, {0: b"c"}) == {1: b"c"}


# ---- the state table --------------------------------------------------------------------


def test_the_table_refuses_a_move_it_does_not_list() -> None:
    g = group("g", [{"CPU": 1.0}])
    g.story = (0.0, "PENDING", "test", "made")
    with pytest.raises(IllegalTransition, match="PENDING -> RESCHEDULING"):
        move(g, S.RESCHEDULING, 0.0, "test", "no")
    assert PLACEMENT_GROUP_TRANSITIONS[S.REMOVED] == {}


# ---- reservation ------------------------------------------------------------------------


def test_a_group_reserves_its_bundles_and_takes_the_nodes_free_resources(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", {"CPU": 2.0}))
    g = group("g", [{"CPU": 1.0}, {"CPU": 1.0}])
    step(state, PlacementGroupCreated(g))
    assert g.state is S.CREATED and g.nodes == [b"n1", b"n1"]
    assert available(state, b"n1") == 0.0
    assert available(state, b"n1", f"CPU_group_{g.hex}") == 2.0
    assert available(state, b"n1", f"CPU_group_1_{g.hex}") == 1.0
    # a task outside the group finds no room
    outside = task("outside")
    assert dispatched(step(state, TaskSubmitted(outside))) == []


def test_a_group_that_does_not_fit_waits_whole_and_is_placed_when_a_node_joins(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", {"CPU": 1.0}))
    g = group("g", [{"CPU": 1.0}, {"CPU": 1.0}], "STRICT_SPREAD")
    effects = step(state, PlacementGroupCreated(g))
    assert g.state is S.PENDING and g.nodes == [None, None]
    assert available(state, b"n1") == 1.0  # nothing half-reserved
    assert [w.client_id for w in of_type(effects, Warn)] == [DRIVER]
    ready = task("ready", cpus=0, strategy=in_group(g, 0))
    assert dispatched(step(state, TaskSubmitted(ready))) == []
    effects = step(state, NodeAdded(b"n2", {"CPU": 1.0}))
    assert g.state is S.CREATED and set(g.nodes) == {b"n1", b"n2"}
    assert dispatched(effects) == [(g.nodes[0], "ready")]


def test_tasks_take_from_their_bundle_and_wait_for_it(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", {"CPU": 2.0}), NodeAdded(b"n2", {"CPU": 2.0}))
    g = group("g", [{"CPU": 1.0}, {"CPU": 1.0}], "STRICT_SPREAD")
    step(state, PlacementGroupCreated(g))
    t1, t2 = task("t1", strategy=in_group(g, 1)), task("t2", strategy=in_group(g, 1))
    effects = step(state, TaskSubmitted(t1), TaskSubmitted(t2))
    assert dispatched(effects) == [(g.nodes[1], "t1")]
    assert t2.state == "READY"
    assert available(state, g.nodes[1]) == 1.0  # the node's own free CPU is untouched
    effects = step(state, finished(t1))
    assert dispatched(effects) == [(g.nodes[1], "t2")]


def test_a_task_blocked_in_get_lends_its_bundle_share(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", {"CPU": 1.0}))
    g = group("g", [{"CPU": 1.0}])
    step(state, PlacementGroupCreated(g))
    parent, child = task("parent", strategy=in_group(g)), task("child", strategy=in_group(g))
    step(state, TaskSubmitted(parent), TaskSubmitted(child))
    assert child.state == "READY"
    assert dispatched(step(state, TaskBlockChanged(parent.task_id, True))) == [(b"n1", "child")]


# ---- removal ----------------------------------------------------------------------------


def test_removal_gives_everything_back_and_fails_what_waits(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", {"CPU": 2.0}))
    g = group("g", [{"CPU": 1.0}], name="named")
    step(state, PlacementGroupCreated(g))
    running, queued = task("running", strategy=in_group(g)), task("queued", strategy=in_group(g))
    a = actor("a", placement={"CPU": 0.0}, strategy=in_group(g))
    step(state, TaskSubmitted(running), TaskSubmitted(queued), TaskSubmitted(a))
    assert state.actors[a.actor_id].state == "PLACED"
    effects = step(state, PlacementGroupRemoveRequested(g.pg_id))
    assert g.state is S.REMOVED and state.named_placement_groups == {}
    assert failure_kind(effects, DRIVER, oid(queued)) == "TaskPlacementGroupRemoved"
    assert of_type(effects, KillActor) == [KillActor(b"n1", a.actor_id)]
    assert state.actors[a.actor_id].state == "DEAD"
    # the running task goes on, on the node's own CPU; no group resource is left
    assert running.state == "RUNNING" and running.resources == {"CPU": 1.0}
    assert not any(pr.is_group_resource(name) for name in state.nodes[b"n1"].total)
    assert available(state, b"n1") == 1.0
    step(state, finished(running))
    assert available(state, b"n1") == 2.0
    # a task naming the removed group fails at once; a second removal changes nothing
    late = task("late", strategy=in_group(g))
    effects = step(state, TaskSubmitted(late), PlacementGroupRemoveRequested(g.pg_id))
    assert failure_kind(effects, DRIVER, oid(late)) == "TaskPlacementGroupRemoved"


def test_a_pending_group_removed_leaves_no_trace(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", {"CPU": 1.0}))
    g = group("g", [{"CPU": 4.0}])
    step(state, PlacementGroupCreated(g), PlacementGroupRemoveRequested(g.pg_id))
    assert g.state is S.REMOVED and state.nodes[b"n1"].available == {"CPU": 1.0}


def test_a_blocked_task_of_a_removed_group_resumes_on_the_nodes_resources(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", {"CPU": 1.0}))
    g = group("g", [{"CPU": 1.0}])
    step(state, PlacementGroupCreated(g))
    t = task("t", strategy=in_group(g))
    step(state, TaskSubmitted(t), TaskBlockChanged(t.task_id, True))
    step(state, PlacementGroupRemoveRequested(g.pg_id))
    step(state, TaskBlockChanged(t.task_id, False))
    assert available(state, b"n1") == 0.0
    step(state, finished(t))
    assert available(state, b"n1") == 1.0


def test_a_drivers_exit_removes_its_groups_but_not_detached_ones(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", {"CPU": 2.0}))
    mine, kept = group("mine", [{"CPU": 1.0}]), group("kept", [{"CPU": 1.0}], detached=True)
    step(state, PlacementGroupCreated(mine), PlacementGroupCreated(kept))
    step(state, ClientDisconnected(DRIVER))
    assert mine.state is S.REMOVED and kept.state is S.CREATED
    assert available(state, b"n1") == 1.0


# ---- nodes that die -----------------------------------------------------------------------


def test_a_dead_nodes_bundles_are_rescheduled_and_their_tasks_retried(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", {"CPU": 1.0}), NodeAdded(b"n2", {"CPU": 1.0}))
    g = group("g", [{"CPU": 1.0}, {"CPU": 1.0}], "STRICT_SPREAD")
    step(state, PlacementGroupCreated(g))
    lost_node = g.nodes[0]
    t = task("t", strategy=in_group(g, 0), max_retries=1)
    step(state, TaskSubmitted(t))
    assert t.node_id == lost_node
    step(state, NodeRemoved(lost_node, "killed"))
    assert g.state is S.RESCHEDULING and g.nodes[0] is None and g.nodes[1] is not None
    assert t.state == "READY"
    effects = step(state, NodeAdded(b"n3", {"CPU": 1.0}))
    assert g.state is S.CREATED and g.nodes[0] == b"n3"
    assert dispatched(effects) == [(b"n3", "t")]
    assert [e[1] for e in _story(g)] == ["PENDING", "CREATED", "RESCHEDULING", "CREATED"]


def test_an_actor_in_a_group_restarts_into_its_bundle(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", {"CPU": 2.0}))
    g = group("g", [{"CPU": 1.0}])
    step(state, PlacementGroupCreated(g))
    a = actor("a", resources={"CPU": 1.0}, strategy=in_group(g, 0), max_restarts=1)
    step(state, TaskSubmitted(a))
    assert available(state, b"n1", f"CPU_group_0_{g.hex}") == 0.0
    effects = step(state, ExecutorDied(b"n1", b"", a.actor_id, "SIGKILL", a.attempt))
    assert dispatched(effects) == [(b"n1", "a.__init__")]
    assert available(state, b"n1") == 1.0  # still out of the bundle, not the node
    step(state, ActorKillRequested(a.actor_id))
    assert available(state, b"n1", f"CPU_group_0_{g.hex}") == 1.0
    assert delivered(step(state, PlacementGroupRemoveRequested(g.pg_id))) == {}


def _story(g: PlacementGroupRecord) -> list[tuple]:
    s = g.story
    return [tuple(s[i : i + 4]) for i in range(0, len(s), 4)]


# ---- resource names ---------------------------------------------------------------------


def test_translated_requests_name_the_bundle_and_come_back() -> None:
    hexid = "ab" * 16
    request = pr.translate({"CPU": 1.0, "GPU": 0.0}, hexid, 2)
    assert request == {
        f"CPU_group_{hexid}": 1.0,
        f"CPU_group_2_{hexid}": 1.0,
        f"bundle_group_{hexid}": 0.001,
        f"bundle_group_2_{hexid}": 0.001,
    }
    assert pr.untranslate(request, hexid) == {"CPU": 1.0}
    assert all(pr.is_group_resource(n) for n in request) and not pr.is_group_resource("CPU")


# ---- a head restart -------------------------------------------------------------------------


def test_a_restarted_head_reserves_a_resent_group_beside_what_it_adopted(state: HeadState) -> None:
    step(state, NodeAdded(b"n1", {"CPU": 2.0}))
    g = group("g", [{"CPU": 1.0}])
    step(state, PlacementGroupCreated(g))
    t = task("t", strategy=in_group(g), max_retries=0)
    step(state, TaskSubmitted(task("t", strategy=in_group(g), max_retries=0)))
    # the head dies; the node rejoins the new one still running t (its spec: its own request)
    fresh = HeadState()
    step(fresh, HeadRestarted([], [b"n1"]))
    t.node_id, t.attempt = None, 1
    step(fresh, NodeAdded(b"n1", {"CPU": 2.0}, running=[t]), RecoveryEnded())
    assert fresh.tasks[t.task_id].state == "RUNNING" and available(fresh, b"n1") == 1.0
    # the driver resends its group: reserved from what is left; a new task runs in it
    again = group("g", [{"CPU": 1.0}])
    step(fresh, ClientConnected(DRIVER, JOB, is_driver=True), PlacementGroupCreated(again))
    assert again.state is S.CREATED and available(fresh, b"n1") == 0.0
    later = task("later", strategy=in_group(again))
    assert dispatched(step(fresh, TaskSubmitted(later))) == [(b"n1", "later")]
    step(fresh, finished(fresh.tasks[t.task_id]))
    assert available(fresh, b"n1") == 1.0
