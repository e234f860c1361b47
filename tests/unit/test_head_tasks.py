"""The task table (raylite/head/state/tasks.py) through HeadState: states, and drivers that leave."""

from __future__ import annotations

from raylite.head.state import HeadState, TaskState
from raylite.head.state.model import (
    ClientConnected,
    ClientDisconnected,
    HeadRestarted,
    NodeAdded,
    ObjectsPut,
    ObjectsSubscribed,
    RecoveryEnded,
    RefsChanged,
    Strategy,
    TaskSubmitted,
)
from tests.unit.test_head_state import (
    DRIVER,
    JOB,
    ONE_CPU,
    actor,
    available,
    call,
    delivered,
    dispatched,
    failure_kind,
    finished,
    oid,
    put,
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


# ---- a driver's tasks go with it ---------------------------------------------------


def test_queued_tasks_of_a_driver_that_left_go_with_it_and_release_their_arguments() -> None:
    state = cluster()
    x = put("x")
    running = task("running")
    infeasible = task("infeasible", resources=GPU, deps=[x.object_id])
    waiting = task("waiting", deps=[oid(infeasible)])
    step(state, ObjectsPut([x]), TaskSubmitted(running), TaskSubmitted(infeasible), TaskSubmitted(waiting))
    step(state, RefsChanged(DRIVER, [(x.object_id, False)]))
    assert x.object_id in state.objects  # pinned by the queued task

    step(state, ClientDisconnected(DRIVER))
    assert set(state.tasks) == {running.task_id}  # what runs keeps running
    assert state.pins == {} and x.object_id not in state.objects
    assert infeasible.state == "FINISHED" and waiting.state == "FINISHED"
    effects = step(state, finished(running))
    assert dispatched(effects) == [] and state.tasks == {}
    assert available(state, b"n1") == 2.0


def test_nested_tasks_of_the_job_go_too_and_later_ones_fail_at_once() -> None:
    state = cluster(cpus=1.0)
    parent = task("parent")
    step(state, TaskSubmitted(parent))
    nested = task("nested", resources=GPU, client_id=WORKER)  # submitted by parent's executor
    step(state, TaskSubmitted(nested), ObjectsSubscribed(WORKER, [oid(nested)]))

    effects = step(state, ClientDisconnected(DRIVER))
    assert failure_kind(effects, WORKER, oid(nested)) == "ObjectLostError"  # parent's get learns why
    assert "driver" in state.objects[oid(nested)].failure.message
    later = task("later", client_id=WORKER)  # parent still runs, and submits more
    effects = step(state, TaskSubmitted(later))
    assert dispatched(effects) == []
    assert failure_kind(effects, WORKER, oid(later)) == "ObjectLostError"
    assert set(state.tasks) == {parent.task_id}


def test_tasks_of_other_jobs_stay_and_learn_why_an_argument_will_never_come() -> None:
    state = cluster()
    mine = task("mine", resources=GPU)
    theirs = task("theirs", resources=GPU, job_id=OTHER_JOB, client_id=OTHER_DRIVER)
    needs_mine = task("needs_mine", job_id=OTHER_JOB, client_id=OTHER_DRIVER, deps=[oid(mine)])
    step(state, TaskSubmitted(mine), TaskSubmitted(theirs), TaskSubmitted(needs_mine))
    effects = step(state, ClientDisconnected(DRIVER))
    assert set(state.tasks) == {theirs.task_id}
    assert failure_kind(effects, OTHER_DRIVER, oid(needs_mine)) == "ObjectLostError"


def test_a_driver_whose_stream_is_replaced_in_one_step_keeps_its_tasks() -> None:
    state = cluster()
    queued = task("queued", resources=GPU)
    step(state, TaskSubmitted(queued))
    # the servicer applies a reconnection's hello as ClientDisconnected + ClientConnected in one step
    step(
        state,
        ClientDisconnected(DRIVER),
        ClientConnected(DRIVER, JOB, True),
        RefsChanged(DRIVER, [(oid(queued), True)]),
    )
    assert queued.state == "READY" and queued.task_id in state.tasks
    assert dispatched(step(state, TaskSubmitted(task("more")))) == [(b"n1", "more")]


def test_a_new_driver_of_the_job_may_submit_again() -> None:
    state = cluster()
    step(state, ClientDisconnected(DRIVER))
    step(state, ClientConnected(b"driver-2", JOB, True))
    assert dispatched(step(state, TaskSubmitted(task("again", client_id=b"driver-2")))) == [(b"n1", "again")]


def test_a_detached_actor_and_its_calls_outlive_the_driver_that_made_them() -> None:
    state = cluster(cpus=1.0)
    hog = task("hog")
    keeper = actor("keeper", resources=ONE_CPU, detached=True, actor_name="keeper")
    step(state, TaskSubmitted(hog), TaskSubmitted(keeper))
    pending = call("keeper.work", keeper)
    step(state, TaskSubmitted(pending))
    assert pending.state == "WAITING_FOR_ACTOR"
    step(state, ClientDisconnected(DRIVER))
    assert state.actors[keeper.actor_id].state == "PENDING" and pending.task_id in state.tasks
    effects = step(state, finished(hog))
    assert dispatched(effects) == [(b"n1", "keeper.__init__"), (b"n1", "keeper.work")]


def test_after_a_head_restart_the_tasks_of_a_driver_that_did_not_come_back_go() -> None:
    state = HeadState()
    step(state, HeadRestarted([], [b"n1"]), NodeAdded(b"n1", ONE_CPU), ClientConnected(WORKER, JOB, False))
    nested = task("nested", resources=GPU, client_id=WORKER)  # resubmitted by an executor's client
    step(state, TaskSubmitted(nested))
    effects = step(state, RecoveryEnded())
    assert nested.task_id not in state.tasks
    assert failure_kind(effects, WORKER, oid(nested)) == "ObjectLostError"


# ---- states: a task finishes from the state it is in -------------------------------


def test_a_task_that_can_never_be_placed_finishes_from_ready_without_running() -> None:
    state = cluster()
    t = task("t", strategy=Strategy("NODE_AFFINITY", b"nowhere"))
    effects = step(state, TaskSubmitted(t))
    assert failure_kind(effects, DRIVER, oid(t)) == "TaskUnschedulableError"
    assert [m.state for m in state.task_story(t.task_id)] == []  # not kept: it never made an output
    assert t.story is not None and [s for s in t.story[1::4]] == ["NEW", "READY", "FINISHED"]


def test_an_actor_whose_hard_affinity_names_no_node_is_unschedulable_with_its_calls() -> None:
    """As Ray's: ActorUnschedulableError (not ActorDiedError) for its creation and its calls."""
    state = cluster()
    a = actor("A", strategy=Strategy("NODE_AFFINITY", b"nowhere"))
    c = call("c", a)
    effects = step(state, TaskSubmitted(a), TaskSubmitted(c))
    assert failure_kind(effects, DRIVER, oid(c)) == "ActorUnschedulableError"
    assert state.actors[a.actor_id].state == "DEAD" and a.task_id not in state.tasks
    later = call("later", a)
    assert failure_kind(step(state, TaskSubmitted(later)), DRIVER, oid(later)) == "ActorUnschedulableError"


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


# ---- scheduling classes -----------------------------------------------------------------------


def test_a_scheduling_class_used_once_is_not_kept_once_its_queue_empties() -> None:
    # Found by scripts/bench_scale.py queued: each soft affinity to another node (as each
    # placement group) is a class of its own; their emptied queues were kept, and walked by
    # every later pass, so a long-lived head slowed down with every class it had ever seen.
    state = cluster(cpus=2.0)
    for i in range(5):
        t = task(f"t{i}", strategy=Strategy("NODE_AFFINITY", f"gone-{i}".encode(), soft=True))
        step(state, TaskSubmitted(t))
        step(state, finished(t, node=dispatched_node(state, t)))
    assert state._tasks._queues == {}  # (step() also validates that no queue is kept empty)
    waiting = [task(f"w{i}", cpus=2.0) for i in range(3)]  # one class, queued behind each other
    step(state, *(TaskSubmitted(t) for t in waiting))
    assert [len(q) for q in state._tasks._queues.values()] == [2]


def dispatched_node(state: HeadState, t) -> bytes:
    node = state.tasks[t.task_id].node_id
    assert node is not None, f"{t.name} was not placed"
    return node
