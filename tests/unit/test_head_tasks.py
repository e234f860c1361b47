"""The task table (raylite/head/state/tasks.py) through HeadState: the states a task goes through."""

from __future__ import annotations

from raylite.head.state import HeadState, TaskState
from raylite.head.state.model import (
    ClientConnected,
    NodeAdded,
    Strategy,
    TaskSubmitted,
)
from tests.unit.test_head_state import (
    DRIVER,
    JOB,
    ONE_CPU,
    actor,
    call,
    delivered,
    dispatched,
    failure_kind,
    finished,
    oid,
    step,
    task,
)

WORKER = b"worker-A"  # an executor's client in the driver's job: it submits nested tasks
OTHER_DRIVER, OTHER_JOB = b"driver-B", b"job-B"
GPU = {"GPU": 1.0}  # no node has one: such a task can never be scheduled


def cluster(*, cpus: float = 2.0) -> HeadState:
    state = HeadState()
    step(
        state,
        ClientConnected(DRIVER, JOB, True),
        ClientConnected(WORKER, JOB, False),
        ClientConnected(OTHER_DRIVER, OTHER_JOB, True),
        NodeAdded(b"n1", {"CPU": cpus}),
    )
    return state


# ---- states: a task finishes from the state it is in -------------------------------


def test_a_task_that_can_never_be_placed_finishes_from_ready_without_running() -> None:
    state = cluster()
    t = task("t", strategy=Strategy("NODE_AFFINITY", b"nowhere"))
    effects = step(state, TaskSubmitted(t))
    assert failure_kind(effects, DRIVER, oid(t)) == "TaskUnschedulableError"
    assert [m.state for m in state.task_story(t.task_id)] == []  # not kept: it never made an output
    assert t.story is not None and [s for s in t.story[1::4]] == ["NEW", "READY", "FINISHED"]


def test_a_call_to_an_actor_not_placed_yet_waits_for_its_actor_not_its_arguments() -> None:
    """validate() used to count a pending call's arguments as missing and fail."""
    state = cluster(cpus=1.0)
    hog = task("hog")
    a = actor("a", resources=ONE_CPU)
    later = task("later", resources=GPU)
    c = call("a.f", a, deps=(oid(later),))  # an argument that does not exist yet
    step(state, TaskSubmitted(hog), TaskSubmitted(a), TaskSubmitted(later), TaskSubmitted(c))
    assert c.state is TaskState.WAITING_FOR_ACTOR and c.missing == 0
    effects = step(state, finished(hog))
    assert dispatched(effects) == [(b"n1", "a.__init__"), (b"n1", "a.f")]  # its executor waits for the argument
    assert (DRIVER, oid(hog)) in delivered(effects)
