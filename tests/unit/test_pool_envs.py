"""The executor pool keeps runtime environments apart (raylite/worker/state/pool.py), without processes."""

from __future__ import annotations

import random

import pytest

from raylite.worker.state.pool import (
    ActorCallAssigned,
    ActorCreationAssigned,
    ActorKillRequested,
    BounceActorCall,
    ExecutorExited,
    ExecutorSaidHello,
    ExecutorSetupFailed,
    ExecutorStarted,
    FailSetup,
    Instruction,
    PoolStarted,
    ReportDeath,
    ResultReported,
    Retire,
    Send,
    Spawn,
    TaskAssigned,
    Warn,
)
from tests.unit.test_pool_state import Pool, deaths, sends, spawns

A = '{"env_vars":{"X":"a"}}'
B = '{"env_vars":{"X":"b"}}'


def task(n: int, env: str = "") -> TaskAssigned:
    return TaskAssigned(f"t{n}".encode(), 0, b"", b"", f"task {n}", env, f"setup {env}" if env else None)


def spawned(out: list[Instruction]) -> list[tuple[int, str, object]]:
    return [(i.executor, i.env, i.setup) for i in out if isinstance(i, Spawn)]


def test_a_task_of_another_environment_never_takes_an_idle_default_executor() -> None:
    pool = Pool(2)
    pool.started()  # executors 1 and 2, default environment, idle
    out = pool.step(task(1, A))
    assert sends(out) == [] and spawned(out) == [(3, A, f"setup {A}")]
    out = pool.up(3)
    assert sends(out) == [(3, "task 1")]
    # a default task still goes to a default executor (1 was retired to make room for 3)
    assert sends(pool.step(task(2))) == [(2, "task 2")]


def test_an_executor_is_reused_within_its_environment_only() -> None:
    pool = Pool(1)
    pool.started()
    pool.step(task(1, A))
    pool.up(2)
    pool.step(ResultReported(2, b"r1"))  # executor 2 (A) idle again
    assert sends(pool.step(task(2, A))) == [(2, "task 2")]
    pool.step(ResultReported(2, b"r2"))
    out = pool.step(task(3, B))
    assert sends(out) == [] and [env for _, env, _ in spawned(out)] == [B]


def test_past_its_size_the_pool_retires_an_idle_executor_of_another_environment() -> None:
    pool = Pool(2)
    pool.started()
    out = pool.step(task(1, A))
    assert [i.executor for i in out if isinstance(i, Retire)] == [1]  # the oldest idle default one
    assert pool.state.pooled() == 2
    out = pool.exit(1, "exited with code 0")
    assert spawns(out) == [] and not [i for i in out if isinstance(i, Warn)]  # a retired exit is expected


def test_a_busy_pool_grows_rather_than_retiring_busy_executors() -> None:
    pool = Pool(1)
    pool.started()
    pool.step(task(1))  # executor 1 busy
    out = pool.step(task(2, A))
    assert [i for i in out if isinstance(i, Retire)] == [] and spawns(out) == [2]


def test_a_failed_setup_fails_the_tasks_of_its_environment_only() -> None:
    pool = Pool(1)
    pool.started()
    pool.step(task(1))  # default: runs on executor 1
    pool.step(task(2, A), task(3, A), task(4, B))
    a_executors = [e.id for e in pool.state.executors.values() if e.env == A]
    out = pool.step(ExecutorSetupFailed(a_executors[0], "pip install nope failed"))
    assert sorted(i.payload for i in out if isinstance(i, FailSetup)) == ["task 2", "task 3"]
    assert all(isinstance(i, FailSetup) and not i.actor for i in out)
    assert [t.payload for t in pool.state.waiting] == ["task 4"]  # B still waits for its own executor
    # the other executor started for A meets the same error, with nothing left to fail
    assert pool.step(ExecutorSetupFailed(a_executors[1], "pip install nope failed")) == []
    for ex in a_executors:
        out = pool.exit(ex, "exited with code 0")
        assert not [i for i in out if isinstance(i, Warn)]
    # a later task of A tries again with a new executor
    assert [env for _, env, _ in spawned(pool.step(task(5, A)))] == [A]


def test_a_failed_setup_fails_the_actors_creation_and_bounces_its_calls() -> None:
    pool = Pool(1)
    pool.started()
    creation = ActorCreationAssigned(b"actor", 1, b"", b"", "create", A, "setup")
    out = pool.step(creation)
    actor_ex = next(i.executor for i in out if isinstance(i, Spawn) and i.env == A)
    pool.step(ActorCallAssigned(b"actor", b"", b"", "call 1"))
    out = pool.step(ExecutorSetupFailed(actor_ex, "no such package"))
    assert out == [FailSetup("create", "no such package", actor=True), BounceActorCall("call 1")]
    assert pool.state.live_actors() == []
    out = pool.exit(actor_ex, "exited with code 0")
    assert not [i for i in out if isinstance(i, ReportDeath)]  # the creation's result says it all


@pytest.mark.parametrize("seed", range(20))
def test_random_histories_with_environments_keep_the_invariants(seed: int) -> None:
    """Tasks of three environments arrive; executors start, fail their set-up, finish and exit in random order.

    Every step validates the pool; every task goes to an executor of its own
    environment, and only tasks of an environment whose set-up failed fail.
    """
    rng = random.Random(seed)
    pool = Pool(rng.randint(1, 3))
    env_of_task: dict[object, str] = {}
    env_of_executor: dict[int, str] = {}
    unstarted: list[int] = []
    busy: set[int] = set()
    to_exit: set[int] = set()  # retired or failed: they exit next
    failed_envs: set[str] = set()

    def apply(out: list[Instruction]) -> None:
        for ins in out:
            if isinstance(ins, Spawn):
                unstarted.append(ins.executor)
                env_of_executor[ins.executor] = ins.env
            elif isinstance(ins, Send):
                assert env_of_task[ins.payload] == env_of_executor[ins.executor], "a task ran in another environment"
                busy.add(ins.executor)
            elif isinstance(ins, Retire):
                to_exit.add(ins.executor)
            elif isinstance(ins, FailSetup):
                assert env_of_task[ins.payload] in failed_envs

    apply(pool.step(PoolStarted()))
    n = 0
    for _ in range(150):
        choice = rng.random()
        if choice < 0.35:
            n += 1
            t = task(n, rng.choice(["", A, B]))
            env_of_task[t.payload] = t.env
            apply(pool.step(t))
        elif choice < 0.55 and unstarted:
            ex = unstarted.pop(rng.randrange(len(unstarted)))
            apply(pool.step(ExecutorStarted(ex, 1000 + ex)))
            if env_of_executor[ex] and rng.random() < 0.15:
                failed_envs.add(env_of_executor[ex])
                apply(pool.step(ExecutorSetupFailed(ex, "broken")))
                to_exit.add(ex)
            else:
                apply(pool.step(ExecutorSaidHello(ex)))
        elif choice < 0.85 and busy:
            ex = rng.choice(sorted(busy))
            busy.discard(ex)
            apply(pool.step(ResultReported(ex, b"result")))
        elif to_exit:
            ex = min(to_exit)
            to_exit.discard(ex)
            apply(pool.step(ExecutorExited(ex, "exited with code 0")))


def test_an_actor_killed_before_its_set_up_failed_is_not_reported_again() -> None:
    pool = Pool(1)
    pool.started()
    out = pool.step(ActorCreationAssigned(b"actor", 1, b"", b"", "create", A, "setup"))
    actor_ex = next(i.executor for i in out if isinstance(i, Spawn) and i.env == A)
    pool.step(ActorKillRequested(b"actor"))
    assert pool.step(ExecutorSetupFailed(actor_ex, "no such package")) == []
    assert not deaths(pool.exit(actor_ex, "exited with code 0"))
