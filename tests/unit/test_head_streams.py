"""Generator tasks in the head's state (raylite/head/state/streams.py): items as they are
yielded, kept for their caller until it takes them, errors after the last item, retries."""

from __future__ import annotations

import copy

import pytest

from raylite.head.state import HeadState
from raylite.head.state.model import (
    DYNAMIC,
    NO_LIMIT,
    STREAMING,
    ClientConnected,
    Deliver,
    Dispatch,
    ExecutorDied,
    FreeObject,
    GeneratorConsumed,
    GeneratorItemReported,
    GeneratorProgressed,
    HeadRestarted,
    NodeAdded,
    NodeRemoved,
    ObjectInfo,
    ObjectsSubscribed,
    RecoveryEnded,
    RefsChanged,
    StreamReceivedReported,
    TaskFinished,
    TaskSubmitted,
)
from tests.unit.test_head_state import DRIVER, JOB, delivered, of_type, oid, step, task

EXECUTOR = b"executor"  # the client stream of the executor that runs the generators
N1, N2 = b"n1".ljust(16, b"."), b"n2".ljust(16, b".")


@pytest.fixture
def state() -> HeadState:
    s = HeadState()
    step(s, ClientConnected(DRIVER, JOB, is_driver=True), ClientConnected(EXECUTOR, JOB, is_driver=False))
    step(s, NodeAdded(N1, {"CPU": 1.0}))
    return s


def item(t, index: int, *, node: bytes | None = None, on: bytes = N1) -> GeneratorItemReported:
    info = ObjectInfo(oid(t, index + 1), value=f"item {index}", node_id=node, size=10)
    return GeneratorItemReported(on, EXECUTOR, t.task_id, index, info)


def done(t, *, error: bool = False, on: bytes = N1) -> TaskFinished:
    value = ObjectInfo(oid(t), value="error" if error else None, is_error=error)
    return TaskFinished(on, t.task_id, [value], "ValueError: broke" if error else "")


def take(state: HeadState, t, index: int) -> list:
    """The caller makes its ref to item `index` (next() on its ObjectRefGenerator)."""
    return step(state, RefsChanged(DRIVER, [(oid(t, index + 1), True)]))


def test_items_reach_the_caller_as_they_are_yielded_and_stay_until_taken(state: HeadState) -> None:
    g = task("g", generator=STREAMING)
    step(state, TaskSubmitted(g))
    effects = step(state, item(g, 0, node=N1))
    assert set(delivered(effects)) == {(DRIVER, oid(g, 1))}
    assert oid(g, 1) in state.objects and of_type(effects, FreeObject) == []  # nobody holds it: the stream does
    assert g.items == 1
    take(state, g, 0)
    assert oid(g, 1) not in state.pins  # the caller's ref keeps it now
    effects = step(state, RefsChanged(DRIVER, [(oid(g, 1), False)]))
    assert of_type(effects, FreeObject) == [FreeObject(N1, oid(g, 1))]


def test_the_end_of_a_stream_is_return_0_with_no_value(state: HeadState) -> None:
    g = task("g", generator=STREAMING)
    step(state, TaskSubmitted(g))
    step(state, item(g, 0))
    effects = step(state, done(g))
    end = delivered(effects)[(DRIVER, oid(g))]
    assert end.value is None and not end.is_error  # (raylite/head/wire.py sends None for it)
    assert oid(g, 1) in state.objects  # not taken yet: the caller still reads
    take(state, g, 0)
    assert state._streams.streams == {}


def test_an_error_is_the_item_after_the_last(state: HeadState) -> None:
    g = task("g", generator=STREAMING)
    step(state, TaskSubmitted(g))
    step(state, item(g, 0), item(g, 1))
    effects = step(state, done(g, error=True))
    got = delivered(effects)
    assert got[(DRIVER, oid(g, 3))].is_error  # items 0 and 1 are objects 1 and 2; the error is 3
    assert not got[(DRIVER, oid(g))].is_error
    order = [e.obj.object_id for e in effects if hasattr(e, "obj")]
    assert order.index(oid(g, 3)) < order.index(oid(g)), "the error must reach the caller before the end"


def test_dropping_the_generator_frees_what_was_not_taken_and_unpauses_the_executor(state: HeadState) -> None:
    g = task("g", generator=STREAMING)
    step(state, TaskSubmitted(g))
    step(state, item(g, 0, node=N1), item(g, 1, node=N1))
    effects = step(state, RefsChanged(DRIVER, [(oid(g), False)]))
    assert sorted(f.object_id for f in of_type(effects, FreeObject)) == [oid(g, 1), oid(g, 2)]
    assert GeneratorProgressed(EXECUTOR, g.task_id, NO_LIMIT) in effects
    # what it yields afterwards is freed at once
    effects = step(state, item(g, 2, node=N1))
    assert of_type(effects, FreeObject) == [FreeObject(N1, oid(g, 3))]
    step(state, done(g))
    assert state._streams.streams == {} and state._streams.watched == {}


def test_a_retry_does_not_publish_again_what_the_first_attempt_yielded(state: HeadState) -> None:
    g = task("g", generator=STREAMING, max_retries=1)
    step(state, TaskSubmitted(g))
    step(state, item(g, 0), item(g, 1))
    take(state, g, 0)
    step(state, ExecutorDied(N1, g.task_id, b"", "killed", g.attempt))
    assert g.attempt == 2 and g.state == "RUNNING"  # run again on the same node
    assert delivered(step(state, item(g, 0), item(g, 1))) == {}
    assert set(delivered(step(state, item(g, 2)))) == {(DRIVER, oid(g, 3))}
    assert g.items == 3
    step(state, done(g))


def test_a_lost_worker_with_no_retries_left_ends_the_stream_with_its_error(state: HeadState) -> None:
    g = task("g", generator=STREAMING, max_retries=0)
    step(state, TaskSubmitted(g))
    step(state, item(g, 0))
    effects = step(state, ExecutorDied(N1, g.task_id, b"", "SIGKILL", g.attempt))
    error = delivered(effects)[(DRIVER, oid(g, 2))]
    assert error.failure is not None and error.failure.kind == "WorkerCrashedError"


def test_items_of_an_attempt_that_was_retried_are_ignored(state: HeadState) -> None:
    step(state, NodeAdded(N2, {"CPU": 1.0}))
    g = task("g", generator=STREAMING, max_retries=1)
    step(state, TaskSubmitted(g))
    first = g.node_id
    other = N2 if first == N1 else N1
    step(state, NodeRemoved(first, "cut"))
    assert g.node_id == other
    assert delivered(step(state, item(g, 0, on=first))) == {}  # late, from the dead node
    assert set(delivered(step(state, item(g, 0, on=other)))) == {(DRIVER, oid(g, 1))}


def test_progress_goes_to_the_executor_that_reports_the_items(state: HeadState) -> None:
    g = task("g", generator=STREAMING)
    step(state, TaskSubmitted(g))
    step(state, item(g, 0))
    take(state, g, 0)
    effects = step(state, GeneratorConsumed(DRIVER, g.task_id, 1))
    assert effects == [GeneratorProgressed(EXECUTOR, g.task_id, 1)]
    assert step(state, GeneratorConsumed(EXECUTOR, g.task_id, 5)) == []  # only the caller speaks for it


def test_dynamic_items_are_held_by_the_executor_then_by_the_result(state: HeadState) -> None:
    g = task("g", generator=DYNAMIC)
    step(state, TaskSubmitted(g))
    effects = step(state, RefsChanged(EXECUTOR, [(oid(g, 1), True)]), item(g, 0, node=N1))
    assert delivered(effects) == {}  # the caller learns of the items from the result
    result = ObjectInfo(oid(g), value="refs", contained=(oid(g, 1),))
    step(state, TaskFinished(N1, g.task_id, [result]), RefsChanged(EXECUTOR, [(oid(g, 1), False)]))
    assert oid(g, 1) in state.objects  # inside the result
    effects = step(state, RefsChanged(DRIVER, [(oid(g), False)]))
    assert FreeObject(N1, oid(g, 1)) in effects


def test_a_finished_stream_with_stored_items_keeps_its_lineage(state: HeadState) -> None:
    g = task("g", generator=STREAMING)
    step(state, TaskSubmitted(g))
    step(state, item(g, 0, node=N1))
    take(state, g, 0)
    step(state, done(g), RefsChanged(DRIVER, [(oid(g), False)]))
    assert g.task_id in state.lineage  # item 0 lives in N1's store: the task may have to remake it
    step(state, RefsChanged(DRIVER, [(oid(g, 1), False)]))
    assert g.task_id not in state.lineage


# ---- a restarted head (found by tests/cluster/test_head_restart.py: the caller got [0]) ----


def adopted_after_restart(g):
    """A restarted head that adopted the running generator g from its node (which knows no caller)."""
    running = copy.copy(g)
    running.client_id, running.attempt = b"", 1
    state = HeadState()
    step(state, HeadRestarted([], [N1]), ClientConnected(EXECUTOR, JOB, is_driver=False))
    step(state, NodeAdded(N1, {"CPU": 1.0}, running=[running]))
    return state


def test_items_yielded_before_the_caller_resubmits_reach_it_when_it_does() -> None:
    g = task("g", generator=STREAMING)
    state = adopted_after_restart(g)
    assert delivered(step(state, item(g, 0), item(g, 1))) == {}  # nobody to tell yet
    effects = step(state, ClientConnected(DRIVER, JOB, is_driver=True), TaskSubmitted(g))
    assert set(delivered(effects)) == {(DRIVER, oid(g, 1)), (DRIVER, oid(g, 2))}
    step(state, RecoveryEnded())
    assert oid(g, 1) in state.objects  # kept for the caller until it takes it
    assert set(delivered(step(state, item(g, 2), done(g)))) == {(DRIVER, oid(g, 3)), (DRIVER, oid(g))}


def test_a_stream_that_ended_before_its_caller_resubmitted_gives_its_items_then_its_end() -> None:
    g = task("g", generator=STREAMING)
    state = adopted_after_restart(g)
    step(state, item(g, 0), item(g, 1), done(g))
    effects = step(state, ClientConnected(DRIVER, JOB, is_driver=True), TaskSubmitted(g))
    order = [e.obj.object_id for e in effects if isinstance(e, Deliver)]
    assert order == [oid(g, 1), oid(g, 2), oid(g)]
    step(state, RecoveryEnded())
    take(state, g, 0)
    take(state, g, 1)
    assert state._streams.streams == {}


# ---- items lost with their node while the generator has not finished (chaos seed 2) ----------


def test_items_lost_with_the_node_of_a_retried_generator_come_again_from_its_rerun(state: HeadState) -> None:
    g = task("g", generator=STREAMING, max_retries=1)
    step(state, TaskSubmitted(g))
    step(state, item(g, 0, node=N1), item(g, 1, node=N1))
    take(state, g, 0)
    effects = step(state, NodeAdded(N2, {"CPU": 1.0}), NodeRemoved(N1, "its host died"))
    assert not any(isinstance(e, Deliver) and e.obj.is_error for e in effects)  # no ObjectLostError
    assert g.node_id == N2 and oid(g, 1) not in state.objects
    step(state, ObjectsSubscribed(DRIVER, [oid(g, 1)]))  # the caller's get, relocating it
    effects = step(state, item(g, 0, node=N2, on=N2))
    assert delivered(effects)[(DRIVER, oid(g, 1))].node_id == N2
    step(state, item(g, 1, node=N2, on=N2), done(g, on=N2))
    assert oid(g, 2) in state.objects and g.task_id not in state.tasks


def test_an_item_an_earlier_attempt_stored_on_a_dead_node_is_remade_after_the_generator_ends(
    state: HeadState,
) -> None:
    g = task("g", generator=STREAMING, max_retries=1)
    step(state, TaskSubmitted(g))
    step(state, item(g, 0, node=N1))
    take(state, g, 0)
    busy = task("busy")
    step(state, TaskSubmitted(busy))  # queued: N1 has no room
    step(state, ExecutorDied(N1, g.task_id, b"", "killed", g.attempt))
    assert busy.node_id == N1 and g.state == "READY"  # (busy was first in the queue)
    step(state, NodeAdded(N2, {"CPU": 1.0}))
    assert g.node_id == N2
    step(state, item(g, 0, node=N2, on=N2), item(g, 1, node=N2, on=N2))  # item 0 exists: not again
    step(state, NodeRemoved(N1, "its host died"))  # item 0 (stored on N1) is lost; g runs on
    assert oid(g, 1) not in state.objects
    effects = step(state, done(g, on=N2))
    assert g.task_id in state.tasks and [e.task.name for e in of_type(effects, Dispatch)] == ["g"]
    step(state, item(g, 0, node=N2, on=N2))
    assert state.objects[oid(g, 1)].node_id == N2


def test_items_and_end_reported_before_the_head_knows_the_task_reach_the_caller_in_order() -> None:
    # (tests/cluster/test_head_restart.py again: the executor's client came back before its node)
    g = task("g", generator=STREAMING)
    state = HeadState()
    step(state, HeadRestarted([], [N1]), ClientConnected(EXECUTOR, JOB, is_driver=False))
    step(state, NodeAdded(N1, {"CPU": 1.0}))  # (the daemon rejoined; the task ended meanwhile)
    step(state, item(g, 0), item(g, 1), done(g))
    effects = step(state, ClientConnected(DRIVER, JOB, is_driver=True), TaskSubmitted(g))
    assert [e.obj.object_id for e in effects if isinstance(e, Deliver)] == [oid(g, 1), oid(g, 2), oid(g)]
    step(state, RecoveryEnded())
    assert oid(g, 1) in state.objects and oid(g, 2) in state.objects  # kept until the caller takes them


def test_items_a_rejoined_node_reports_before_the_caller_is_back_reach_it_when_it_resubmits() -> None:
    # (tests/cluster/test_head_restart.py: the daemon rejoined with the generator running and its
    # executor reported items before the driver reconnected; the driver waited in next() for ever)
    g = task("g", generator=STREAMING)
    running = copy.copy(g)
    running.attempt = 1
    state = HeadState()
    step(state, HeadRestarted([], [N1]), ClientConnected(EXECUTOR, JOB, is_driver=False))
    step(state, NodeAdded(N1, {"CPU": 1.0}, running=[running]))  # adopted: the head knows no caller yet
    step(state, GeneratorItemReported(N1, EXECUTOR, g.task_id, 0, ObjectInfo(oid(g, 1), value="item 0", size=10)))
    effects = step(state, ClientConnected(DRIVER, JOB, is_driver=True), TaskSubmitted(g))
    assert (DRIVER, oid(g, 1)) in delivered(effects)


# ---- an item reported to a head that was killed (tests/cluster/test_head_restart.py) ----------


def _restarted_with(g, *, adopted: bool) -> HeadState:
    """A head restarted while g ran on N1: the caller had items 0 and 1 (it took and freed 0),
    and item 2 reached the old head just before it was killed, and nothing else."""
    state = HeadState()
    step(state, HeadRestarted([], [N1]), ClientConnected(EXECUTOR, JOB, is_driver=False))
    if adopted:
        running = copy.copy(g)
        running.attempt = 1
        step(state, NodeAdded(N1, {"CPU": 1.0}, running=[running]))
    return state


def _caller_back(state: HeadState, g, arrived: int = 2, missing: frozenset[int] = frozenset()) -> list:
    """The caller's resume batch, in the servicer's order: its refs, its unfinished task, its streams."""
    resubmitted = copy.copy(g)
    return step(
        state,
        ClientConnected(DRIVER, JOB, is_driver=True),
        RefsChanged(DRIVER, [(oid(g), True), (oid(g, 2), True)]),  # the generator and item 1
        TaskSubmitted(resubmitted),
        StreamReceivedReported(DRIVER, g.task_id, arrived, missing),
    )


def test_an_item_reported_to_a_head_that_was_killed_is_remade_for_the_caller_that_never_had_it() -> None:
    g = task("g", generator=STREAMING)
    state = _restarted_with(g, adopted=True)
    step(state, item(g, 3))  # the executor goes on: item 2 is skipped
    _caller_back(state, g)
    effects = step(state, done(g))
    assert [e.task.name for e in of_type(effects, Dispatch)] == ["g"]  # run again: nobody has item 2
    effects = step(state, item(g, 0), item(g, 1), item(g, 2))
    assert [k for k in delivered(effects) if k[0] == DRIVER] == [(DRIVER, oid(g, 3))]  # 0 and 1 it had
    step(state, item(g, 3), done(g), RecoveryEnded())
    assert g.task_id not in state.tasks and oid(g, 3) in state.objects  # pinned until the caller takes it


def test_an_item_the_executor_resends_reaches_the_caller_without_a_rerun() -> None:
    g = task("g", generator=STREAMING)
    state = _restarted_with(g, adopted=False)
    _caller_back(state, g)  # before the node: g waits to be adopted
    step(state, NodeAdded(N1, {"CPU": 1.0}, running=[copy.copy(g)]))
    step(state, item(g, 3))  # the item after the one the old head took with it
    effects = step(state, item(g, 2))  # resent by the executor's reconnecting client
    assert (DRIVER, oid(g, 3)) in delivered(effects)
    effects = step(state, done(g))
    assert of_type(effects, Dispatch) == [] and g.task_id not in state.tasks


def test_items_the_caller_took_before_the_head_was_killed_are_not_remade() -> None:
    # (commit 333935d ran such a generator again: the restarted head took every item it had not
    # seen for lost, though the caller had them)
    g = task("g", generator=STREAMING)
    state = _restarted_with(g, adopted=True)
    step(state, item(g, 3))
    _caller_back(state, g, arrived=3)  # it has 0, 1 and 2
    effects = step(state, done(g))
    assert of_type(effects, Dispatch) == [] and g.task_id not in state.tasks
    assert set(state.pins) == {oid(g, 4)}  # item 3, kept for the caller until it takes it


def test_an_owed_item_that_the_rerun_does_not_make_is_an_error_for_the_caller() -> None:
    g = task("g", generator=STREAMING)
    state = _restarted_with(g, adopted=True)
    step(state, item(g, 4))
    _caller_back(state, g, arrived=4, missing=frozenset({1, 3}))  # (2 came, 1 and 3 did not)
    step(state, done(g))
    effects = step(state, item(g, 0), item(g, 1), done(g))  # the rerun stops early this time
    got = delivered(effects)
    assert not got[(DRIVER, oid(g, 2))].is_error
    assert got[(DRIVER, oid(g, 4))].failure.kind == "ObjectLostError"
    assert g.task_id not in state.tasks
