"""The worker daemon's executor pool when executors die at awkward moments."""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import time

import psutil
import pytest

import raylite as ray
from tests.cluster.test_placement_groups import until

EXECUTOR = "raylite.worker.executor_main"


@pytest.fixture(scope="module")
def one_cpu():
    """A local cluster with one pooled executor, so a second task needs one started on demand."""
    ray.init(num_cpus=1)
    yield
    ray.shutdown()


def executors() -> set[int]:
    """The executor processes of this test's local cluster (children of its worker daemon)."""
    out = set()
    for p in psutil.Process().children(recursive=True):
        try:
            if EXECUTOR in p.cmdline():
                out.add(p.pid)
        except psutil.NoSuchProcess:
            continue
    return out


def test_a_task_waiting_for_an_executor_gets_another_when_the_one_started_for_it_dies(one_cpu) -> None:
    """outer holds the only pooled executor, blocked in get on inner; the executor
    started on demand for inner is SIGKILLed before it says hello. Another must
    be started for inner, or outer waits for ever."""

    @ray.remote
    def inner():
        return "inner ran"

    @ray.remote
    def outer():
        return ray.get(inner.remote(), timeout=30)

    deadline = time.monotonic() + 30
    while len(executors()) != 1:  # the pooled executor the daemon prestarts
        assert time.monotonic() < deadline, f"expected one prestarted executor, found {executors()}"
    before = executors()
    ref = outer.remote()
    started: set[int] = set()
    while not started:  # the executor started for inner; killed the moment it appears
        assert time.monotonic() < deadline, "no executor was started for the nested task"
        started = executors() - before
    for pid in started:
        os.kill(pid, signal.SIGKILL)
    assert ray.get(ref, timeout=60) == "inner ran"


def test_max_calls_retires_an_executor_after_its_result_and_the_pool_starts_another(one_cpu) -> None:
    """@remote(max_calls=n): the executor that ran n calls of the function exits (cleanly: its
    result arrives and no retry is spent, max_retries=0) and a fresh one runs the next call."""

    @ray.remote(max_calls=2, max_retries=0)
    def twice():
        ray.put("the executor's own client stream delivers this result")  # (the DONE path)
        return os.getpid()

    @ray.remote(max_calls=1, max_retries=0)
    def once():
        return os.getpid()  # (the RESULT path: no client in the executor)

    # (idle executors take turns, so which calls share a process is not fixed; how many is)
    pids = [ray.get(twice.remote(), timeout=60) for _ in range(5)]
    assert max(collections.Counter(pids).values()) <= 2 and len(set(pids)) >= 3
    once_pids = [ray.get(once.remote(), timeout=60) for _ in range(3)]
    assert len(set(once_pids)) == 3
    spent = [pid for pid, n in collections.Counter(pids).items() if n == 2]
    for pid in [*spent, *once_pids]:
        # gone and reaped, not lingering: wait() raises TimeoutExpired for a process (or a zombie)
        # still there after 30 s; NoSuchProcess is a process reaped before we looked
        with contextlib.suppress(psutil.NoSuchProcess):
            psutil.Process(pid).wait(timeout=30)

    # the pool is back at its size, and still serves unlimited functions from one process
    @ray.remote
    def reused():
        return os.getpid()

    assert len({ray.get(reused.remote(), timeout=60) for _ in range(6)}) < 6


@ray.remote
class Barrier:
    """Answers wait(n) once n callers have called it."""

    def __init__(self):
        import asyncio

        self.arrived = 0
        self.all_here = asyncio.Event()

    async def wait(self, n):
        self.arrived += 1
        if self.arrived >= n:
            self.all_here.set()
        await self.all_here.wait()
        return self.arrived

    def ready(self):
        return True


def test_executors_started_for_blocked_tasks_retire_once_idle_and_the_pool_is_back_at_its_size(one_cpu) -> None:
    """Six tasks blocked in get at once on one CPU hold an executor each; once they are done the
    executors past the pool's size retire after a tick or two idle, as Ray's idle workers above its
    soft limit do, instead of staying for the daemon's life."""

    @ray.remote
    def blocked(barrier, n):
        return ray.get(barrier.wait.remote(n)), os.getpid()

    barrier = Barrier.remote()
    ray.get(barrier.ready.remote(), timeout=60)  # placed, with an executor of its own
    baseline = len(executors())  # the pool (1) and the actor's
    out = ray.get([blocked.remote(barrier, 6) for _ in range(6)], timeout=120)
    assert len({pid for _, pid in out}) == 6  # each blocked in its own executor
    assert len(executors()) >= baseline + 5
    assert until(lambda: len(executors()) <= baseline, 30), f"{len(executors())} executors, {baseline} before"
    ray.kill(barrier)


def test_executors_are_forked_by_the_fork_server_and_those_with_a_runtime_env_start_afresh(one_cpu) -> None:
    """An executor without a runtime environment is a child of the daemon's fork server and
    looks like one started with `python -m raylite.worker.executor_main`; one with a
    runtime environment is the daemon's own child, started from a fresh interpreter, and
    sees its environment's variables. Both run tasks, and an actor's executor is forked too."""

    @ray.remote
    def where():
        return os.getpid(), os.getppid(), os.environ.get("RAYLITE_TEST_MARK")

    @ray.remote
    class Where:
        def parent(self):
            return os.getppid()

    pid, parent, mark = ray.get(where.remote(), timeout=60)
    assert mark is None
    assert "raylite.worker.fork_server" in psutil.Process(parent).cmdline()
    assert EXECUTOR in psutil.Process(pid).cmdline()
    assert pid in executors()
    actor = Where.remote()
    assert ray.get(actor.parent.remote(), timeout=60) == parent
    ray.kill(actor)

    env = {"env_vars": {"RAYLITE_TEST_MARK": "afresh"}}
    pid, parent, mark = ray.get(where.options(runtime_env=env).remote(), timeout=60)
    assert mark == "afresh"
    assert "raylite.worker.daemon" in psutil.Process(parent).cmdline()
    assert pid in executors()
