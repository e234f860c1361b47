"""Why is a get waiting (raylite/head/state/explain.py): each cause from a HeadState built by events."""

from __future__ import annotations

from raylite.head.state import HeadState
from raylite.head.state import explain as ex
from raylite.head.state.model import (
    ClientConnected,
    Event,
    ExecutorDied,
    NodeAdded,
    NodeRemoved,
    ObjectsPut,
    PullsReported,
    TaskSubmitted,
    Warn,
)
from tests.unit.test_head_state import DRIVER, JOB, actor, call, finished, oid, put, task, with_refs

N1 = b"n1".ljust(16, b"\0")


def at(state: HeadState, now: float, *events: Event) -> None:
    state.handle(*with_refs(events), now=now)
    state.validate()


def cluster(cpus: float = 2.0) -> HeadState:
    state = HeadState()
    at(state, 0.0, ClientConnected(DRIVER, JOB, True), NodeAdded(N1, {"CPU": cpus}))
    return state


def texts(explanation: ex.Explanation) -> list[str]:
    return [r.text for r in explanation.reasons]


def test_a_running_task_says_where_and_for_how_long() -> None:
    state = cluster()
    sleeper = task("sleeper")
    at(state, 100.0, TaskSubmitted(sleeper))
    out = ex.explain(state, [oid(sleeper)], now=141.0)
    assert texts(out) == [f"task sleeper is running on node {N1.hex()[:12]} for 41 s"]
    assert out.counts == {ex.RUNNING: 1}


def test_an_infeasible_request_is_named_as_such() -> None:
    state = cluster()
    gpu = task("gpu", resources={"GPU": 1.0})
    at(state, 5.0, TaskSubmitted(gpu))
    [reason] = ex.explain(state, [oid(gpu)], now=7.0).reasons
    assert reason.kind == ex.INFEASIBLE
    assert reason.text == "task gpu is queued for 2 s: no node has {'GPU': 1.0} (infeasible)"


def test_busy_cpus_and_the_tasks_ahead_are_counted() -> None:
    state = cluster(cpus=2.0)
    tasks = [task(f"t{i}") for i in range(5)]
    at(state, 0.0, *(TaskSubmitted(t) for t in tasks))
    [reason] = ex.explain(state, [oid(tasks[4])], now=3.0).reasons
    assert reason.kind == ex.QUEUED
    assert reason.text == (
        "task t4 is queued for 3 s: no node has {'CPU': 1.0} free (all 2 CPU are busy); 2 tasks ahead of it"
    )


def test_a_dependency_chain_is_followed_to_the_stuck_task_at_its_bottom() -> None:
    state = cluster()
    root = task("g")
    middle = task("m", deps=[oid(root)])
    top = task("f", deps=[oid(middle)])
    at(state, 10.0, TaskSubmitted(root), TaskSubmitted(middle), TaskSubmitted(top))
    out = ex.explain(state, [oid(top)], now=51.0)
    node = N1.hex()[:12]
    assert [(r.depth, r.text) for r in out.reasons] == [
        (0, "task f is waiting for 1 of its 1 argument"),
        (
            1,
            f"waiting for argument {oid(middle).hex()[:12]}, produced by task m, which is waiting for 1 of its 1 argument",
        ),
        (
            2,
            f"waiting for argument {oid(root).hex()[:12]}, produced by task g, which is running on node {node} for 41 s",
        ),
    ]
    assert out.counts == {ex.RUNNING: 1}, "the root cause is the running task at the bottom"


def test_an_argument_the_head_does_not_know_is_said_so() -> None:
    state = cluster()
    waiting = task("f", deps=[put("never").object_id])
    at(state, 0.0, TaskSubmitted(waiting))
    out = ex.explain(state, [oid(waiting)], now=1.0)
    assert out.reasons[-1].kind == ex.UNKNOWN
    assert "which the head does not know" in out.reasons[-1].text


def test_a_restarting_actor_says_how_many_restarts_of_how_many() -> None:
    state = cluster()
    creation = actor("A", max_restarts=3)
    at(state, 0.0, TaskSubmitted(creation))
    at(state, 1.0, finished(creation, node=N1))
    at(state, 20.0, ExecutorDied(N1, b"", creation.actor_id, "pid 7 was killed by SIGKILL"))
    method = call("A.slow", creation, max_retries=1)
    at(state, 21.0, TaskSubmitted(method))
    reason = ex.explain(state, [oid(method)], now=25.0).reasons[0]
    assert reason.kind == ex.ACTOR
    assert (
        "actor A (" in reason.text and "which is restarting (1 of 3): its constructor is running on node" in reason.text
    )
    assert ex.explain(state, [creation.actor_id], now=25.0).reasons[0].text.startswith("actor A (")


def test_an_actor_whose_creation_cannot_be_placed_names_the_root_cause() -> None:
    state = cluster()
    creation = actor("G", placement={"GPU": 1.0})
    method = call("G.f", creation)
    at(state, 0.0, TaskSubmitted(creation), TaskSubmitted(method))
    [reason] = ex.explain(state, [oid(method)], now=1.0).reasons
    assert reason.kind == ex.INFEASIBLE
    assert "which is pending: its creation is queued for 1 s: no node has {'GPU': 1.0} (infeasible)" in reason.text


def test_an_existing_object_and_one_in_transfer() -> None:
    state = cluster()
    big = put("big", node=N1, size=2**30)
    at(state, 0.0, ObjectsPut([big]))
    [here] = ex.explain(state, [big.object_id], now=1.0).reasons
    assert here.kind == ex.AVAILABLE
    pull = ex.Transfer(b"n2".ljust(16, b"\0"), 300 * 2**20, 2**30, started=0.0)
    [moving] = ex.explain(state, [big.object_id], now=9.0, transfers={big.object_id: pull}).reasons
    assert moving.kind == ex.TRANSFER
    assert "is being transferred to node 6e3200000000, 300 of 1,024 MiB for 9 s" in moving.text


def test_unknown_ids_and_task_ids_are_answered() -> None:
    state = cluster()
    [reason] = ex.explain(state, [b"x" * 20], now=0.0).reasons
    assert reason.kind == ex.UNKNOWN
    sleeper = task("s")
    at(state, 0.0, TaskSubmitted(sleeper))
    assert ex.explain(state, [sleeper.task_id], now=0.0).reasons[0].kind == ex.RUNNING


def test_many_ids_are_summarized_by_root_cause_with_the_first_few_detailed() -> None:
    state = cluster(cpus=1.0)
    stuck = task("stuck")
    waiting = [task(f"w{i}", deps=[oid(stuck)]) for i in range(50)]
    infeasible = [task(f"i{i}", resources={"GPU": 1.0}) for i in range(30)]
    at(state, 0.0, TaskSubmitted(stuck), *(TaskSubmitted(t) for t in waiting + infeasible))
    out = ex.explain(state, [oid(t) for t in waiting + infeasible], now=1.0)
    assert out.total == 80
    assert out.counts == {ex.RUNNING: 50, ex.INFEASIBLE: 30}
    assert len(out.reasons) == 2 * ex.MAX_DETAILED  # each waiting task: its line and its argument's
    assert out.lines()[0].startswith("80 objects by root cause: 30 infeasible, 50 running")


def test_a_long_chain_is_cut_at_the_depth_bound() -> None:
    state = cluster(cpus=1.0)
    chain = [task("t0")]
    for i in range(1, ex.MAX_DEPTH + 5):
        chain.append(task(f"t{i}", deps=[oid(chain[-1])]))
    at(state, 0.0, *(TaskSubmitted(t) for t in chain))
    out = ex.explain(state, [oid(chain[-1])], now=1.0)
    assert max(r.depth for r in out.reasons) == ex.MAX_DEPTH + 1
    assert "not followed" in out.reasons[-1].text


def test_the_warning_at_submission_is_immediate_and_worded_as_the_explanation() -> None:
    state = cluster()
    gpu = task("gpu", resources={"GPU": 1.0})
    effects = state.handle(*with_refs((TaskSubmitted(gpu),)), now=1.0)
    [warning] = [e for e in effects if isinstance(e, Warn)]
    [reason] = ex.explain(state, [oid(gpu)], now=1.0).reasons
    assert warning.client_id == DRIVER
    assert warning.message.startswith("task gpu is queued: no node has {'GPU': 1.0} (infeasible);")
    assert reason.text.endswith("no node has {'GPU': 1.0} (infeasible)")


def test_long_pulls_reported_by_a_node_are_explained_and_forgotten_when_done() -> None:
    state = cluster()
    n2 = b"n2".ljust(16, b"\0")
    big = put("big", node=N1, size=2**30)
    at(state, 0.0, NodeAdded(n2, {"CPU": 1.0}), ObjectsPut([big]))
    at(state, 10.0, PullsReported(n2, [(big.object_id, 300 * 2**20, 2**30, 4.0, False)]))
    [moving] = ex.explain(state, [big.object_id], now=11.0).reasons
    assert moving.kind == ex.TRANSFER and "300 of 1,024 MiB for 5 s" in moving.text
    at(state, 12.0, PullsReported(n2, [(big.object_id, 2**30, 2**30, 6.0, True)]))
    assert state.transfers == {}
    at(state, 13.0, PullsReported(n2, [(big.object_id, 1, 2**30, 1.0, False)]), NodeRemoved(n2, "gone"))
    assert state.transfers == {}, "the pulls of a dead node are forgotten with it"


def test_queue_positions_are_computed_once_per_scheduling_class() -> None:
    state = cluster(cpus=1.0)
    tasks = [task(f"t{i}") for i in range(300)]
    at(state, 0.0, *(TaskSubmitted(t) for t in tasks))
    calls = []
    real = state.queue_positions
    state.queue_positions = lambda t: (calls.append(t.task_id), real(t))[1]  # type: ignore[method-assign]
    out = ex.explain(state, [oid(t) for t in tasks[1:]], now=1.0)
    assert out.counts == {ex.QUEUED: 299}
    assert len(calls) == 1
    assert out.reasons[-1].text.endswith(f"; {ex.MAX_DETAILED - 1} tasks ahead of it")


def test_a_wide_tree_of_waiting_tasks_is_cut_at_the_line_budget() -> None:
    state = cluster(cpus=1.0)
    level = [task("leaf")]
    events = [TaskSubmitted(level[0])]
    for d in range(6):  # each task waits for three of the level below: 3**6 paths
        level = [
            task(f"d{d}x{i}", deps=[oid(t) for t in level] * 3 if len(level) == 1 else [oid(t) for t in level[:3]])
            for i in range(3)
        ]
        events.extend(TaskSubmitted(t) for t in level)
    at(state, 0.0, *events)
    out = ex.explain(state, [oid(level[0])], now=1.0)
    assert len(out.reasons) <= 1 + ex.MAX_LINES * 2
    assert out.counts == {ex.RUNNING: 1}
