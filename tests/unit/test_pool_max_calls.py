"""Ray's max_calls in the executor pool (raylite/worker/state/pool.py), without processes.

An executor that finished a function's max_calls is retired (Retire: it sends
what it holds and exits) instead of becoming idle, the pool starts another in
its place, and its exit is neither a crash nor a warning.
"""

from __future__ import annotations

import random

import pytest

from raylite.worker.state.pool import (
    DoneReported,
    ExecutorExited,
    ForwardResult,
    Instruction,
    PoolStarted,
    ReleaseReservations,
    ReportDeath,
    ResultReported,
    Retire,
    Send,
    Spawn,
    TaskAssigned,
    Warn,
)
from tests.unit.test_pool_state import Pool, sends, spawns

F, G = b"function-f", b"function-g"


def task(n: int, function_id: bytes = F, max_calls: int = 0, env: str = "") -> TaskAssigned:
    return TaskAssigned(f"t{n}".encode(), 0, function_id, b"", f"task {n}", env, None, max_calls)


def retired(out: list[Instruction]) -> list[int]:
    return [i.executor for i in out if isinstance(i, Retire)]


def test_an_executor_that_ran_max_calls_is_retired_after_its_result_and_replaced() -> None:
    pool = Pool(1)
    [ex] = pool.started()
    assert sends(pool.step(task(1, max_calls=2))) == [(ex, "task 1")]
    assert retired(pool.step(ResultReported(ex, b"result 1"))) == []  # one call of two
    assert sends(pool.step(task(2, max_calls=2))) == [(ex, "task 2")]
    out = pool.step(ResultReported(ex, b"result 2"))
    assert retired(out) == [ex] and spawns(out) == [2]
    assert ForwardResult(b"result 2") in out  # the result goes out all the same
    assert pool.state.pooled() == 1 and not pool.state.idle
    # its exit is clean: no death for the head (the task had its result), no warning
    out = pool.exit(ex, f"pid {1000 + ex} exited with code 0")
    assert [i for i in out if isinstance(i, (ReportDeath, Warn))] == []
    assert ReleaseReservations(1000 + ex) in out and spawns(out) == []  # its replacement is starting
    # the next call of the function goes to the fresh executor
    pool.step(task(3, max_calls=2))
    assert sends(pool.up(2)) == [(2, "task 3")]


def test_max_calls_counts_each_function_apart_and_no_limit_means_none() -> None:
    pool = Pool(1)
    [ex] = pool.started()
    for n in range(1, 6):  # unlimited calls of g keep the executor
        pool.step(task(n, function_id=G))
        assert retired(pool.step(ResultReported(ex, b"r"))) == []
    pool.step(task(6, function_id=F, max_calls=1))
    assert retired(pool.step(DoneReported(ex))) == [ex]  # the first call of f is its last


def test_a_task_waiting_when_an_executor_is_retired_gets_the_replacement() -> None:
    """Two tasks, one executor: the waiting one has an executor starting for it (the pool grew past
    its size), which is then the pool's one; the retired executor is given nothing more."""
    pool = Pool(1)
    [ex] = pool.started()
    pool.step(task(1, max_calls=1))
    assert spawns(pool.step(task(2, max_calls=1))) == [2]  # starting for task 2
    out = pool.step(ResultReported(ex, b"result 1"))
    assert retired(out) == [ex] and spawns(out) == []
    assert [i for i in out if isinstance(i, Send)] == []  # not given to the retired executor
    assert sends(pool.up(2)) == [(2, "task 2")]
    out = pool.step(ResultReported(2, b"result 2"))
    assert retired(out) == [2] and spawns(out) == [3]  # now the pool would shrink: 3 takes 2's place


def test_a_retired_executor_that_delivered_on_its_own_stream_reports_that_task_only_as_done() -> None:
    """DONE: the result went on the executor's own client stream, which EXIT flushes before the process
    goes; the death report of that task that follows is the one any DONE executor's exit sends, and the
    head ignores it for a task it has the result of."""
    pool = Pool(1)
    [ex] = pool.started()
    pool.step(task(1, max_calls=1))
    out = pool.step(DoneReported(ex))
    assert retired(out) == [ex] and isinstance(out[-1], Spawn)
    out = pool.exit(ex, "exited with code 0")
    assert [(d.task_id, d.actor_id) for d in out if isinstance(d, ReportDeath)] == [(b"t1", b"")]
    assert [i for i in out if isinstance(i, Warn)] == []


def test_an_executor_that_dies_mid_call_is_a_crash_whatever_its_max_calls() -> None:
    pool = Pool(1)
    [ex] = pool.started()
    pool.step(task(1, max_calls=1))
    out = pool.step(ExecutorExited(ex, "killed by SIGKILL"))
    assert [(d.task_id, d.reason) for d in out if isinstance(d, ReportDeath)] == [(b"t1", "killed by SIGKILL")]


@pytest.mark.parametrize("seed", range(10))
def test_random_histories_with_max_calls_keep_the_invariants(seed: int) -> None:
    """Tasks of a limited and an unlimited function finish, and executors die, in random order:
    no executor runs a limited function more than its max_calls, none is sent anything once retired,
    and every task is sent once."""
    rng = random.Random(seed)
    pool = Pool(rng.randint(1, 3))
    alive: set[int] = set()
    unstarted: list[int] = []
    retired_ones: set[int] = set()
    runs: dict[int, list[object]] = {}

    def apply(out: list[Instruction]) -> None:
        for i in out:
            if isinstance(i, Spawn):
                unstarted.append(i.executor)
            elif isinstance(i, Send):
                assert i.executor in alive and i.executor not in retired_ones
                runs.setdefault(i.executor, []).append(i.payload)
            elif isinstance(i, Retire):
                retired_ones.add(i.executor)

    apply(pool.step(PoolStarted()))
    n = 0
    limited: dict[str, bool] = {}
    for _ in range(300):
        choice = rng.random()
        state = pool.state
        if choice < 0.35:
            n += 1
            limited[f"task {n}"] = rng.random() < 0.5
            apply(pool.step(task(n, F, 2) if limited[f"task {n}"] else task(n, G)))
        elif choice < 0.55 and unstarted:
            ex = unstarted.pop(rng.randrange(len(unstarted)))
            alive.add(ex)
            apply(pool.up(ex))
        elif choice < 0.9:
            busy = [ex for ex in alive if state.executors[ex].task_id]
            if busy:
                ex = rng.choice(busy)
                apply(pool.step(DoneReported(ex) if rng.random() < 0.5 else ResultReported(ex, b"r")))
        elif alive:
            ex = rng.choice(sorted(alive))
            alive.discard(ex)
            apply(pool.step(ExecutorExited(ex, "exited")))
    sent = [p for payloads in runs.values() for p in payloads]
    assert len(sent) == len(set(sent)) and len(sent) > 20 and retired_ones
    for payloads in runs.values():
        assert sum(1 for p in payloads if limited[str(p)]) <= 2
