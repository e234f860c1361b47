"""raylite.cancel on a real cluster: queued, waiting, running and forced tasks, actor calls, recursion.

Each test waits for what it cancels to be where it means it to be (running,
queued) through marker files the tasks write, not through sleeps, so a
loaded machine only makes it slower.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import cloudpickle
import psutil
import pytest

import raylite as ray
from raylite import exceptions

# pytest imports this file as a top-level module that executors cannot import
cloudpickle.register_pickle_by_value(sys.modules[__name__])

WAIT_S = 60.0


def wait_for(path: Path, what: str = "", timeout: float = WAIT_S) -> str:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{what or path.name} did not happen within {timeout}s"
        time.sleep(0.02)
    time.sleep(0.02)  # (the writer may still be writing)
    return path.read_text()


def mark(path: str, text: str = "") -> None:
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


@ray.remote
def spin(marker: str, seconds: float = 120.0) -> str:
    """Runs until interrupted, saying when it started (its pid) and how it ended."""
    mark(marker, str(os.getpid()))
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(0.01)
    except KeyboardInterrupt:
        mark(marker + ".interrupted", str(ray.get_runtime_context().is_canceled()))
        raise
    mark(marker + ".finished")
    return "finished"


@ray.remote
def sleeps(marker: str) -> str:
    mark(marker, str(os.getpid()))
    time.sleep(120)  # one blocking call: the interrupt must wake it
    return "slept"


@ray.remote
def note(marker: str) -> str:
    mark(marker)
    return "ran"


def occupy_both_cpus(tmp_path: Path) -> list:
    refs = [spin.remote(str(tmp_path / f"busy{i}")) for i in range(2)]
    for i in range(2):
        wait_for(tmp_path / f"busy{i}", "both CPUs busy")
    return refs


def assert_cancelled(ref, timeout: float = WAIT_S) -> exceptions.TaskCancelledError:
    with pytest.raises(exceptions.TaskCancelledError) as info:
        ray.get(ref, timeout=timeout)
    return info.value


# ---- tasks that have not started ------------------------------------------------------------


def test_a_queued_task_never_runs(cluster, tmp_path) -> None:
    busy = occupy_both_cpus(tmp_path)
    queued = note.remote(str(tmp_path / "queued-ran"))
    ray.cancel(queued)
    err = assert_cancelled(queued)
    assert isinstance(err, exceptions.RayError) and not isinstance(err, exceptions.RayTaskError)
    assert err.task_id == queued.task_id().hex()
    for ref in busy:
        ray.cancel(ref)
    for ref in busy:
        assert_cancelled(ref)
    assert ray.get(note.remote(str(tmp_path / "after")), timeout=WAIT_S) == "ran"
    assert not (tmp_path / "queued-ran").exists()


def test_a_task_waiting_for_its_argument_never_runs(cluster, tmp_path) -> None:
    slow = spin.remote(str(tmp_path / "slow"), 3.0)
    consumer = note.remote(slow)  # waits for slow's value
    ray.cancel(consumer)
    assert_cancelled(consumer)
    assert ray.get(slow, timeout=WAIT_S) == "finished"  # the argument's task is not touched


def test_get_of_a_list_raises_for_a_cancelled_ref_at_once(cluster, tmp_path) -> None:
    long = spin.remote(str(tmp_path / "long"))
    waiting = note.remote(long)
    ray.cancel(waiting)
    started = time.monotonic()
    with pytest.raises(exceptions.TaskCancelledError):
        ray.get([long, waiting], timeout=WAIT_S)
    assert time.monotonic() - started < WAIT_S / 2
    ray.cancel(long)
    assert_cancelled(long)


# ---- running tasks ----------------------------------------------------------------------------


def test_a_running_task_is_interrupted_with_keyboard_interrupt(cluster, tmp_path) -> None:
    ref = spin.remote(str(tmp_path / "t"))
    pid = int(wait_for(tmp_path / "t", "the task's start"))
    ray.cancel(ref)
    err = assert_cancelled(ref)
    # as Ray's: a RayTaskError(TaskCancelledError), its traceback where the task stopped
    assert isinstance(err, exceptions.RayTaskError)
    assert "spin" in str(err) and "was cancelled" in str(err)
    assert wait_for(tmp_path / "t.interrupted") == "True"  # is_canceled() inside
    assert not (tmp_path / "t.finished").exists()
    assert psutil.pid_exists(pid)  # the executor lives on
    assert ray.get(note.remote(str(tmp_path / "next")), timeout=WAIT_S) == "ran"


def test_a_task_blocked_in_a_system_call_is_woken(cluster, tmp_path) -> None:
    ref = sleeps.remote(str(tmp_path / "s"))
    wait_for(tmp_path / "s")
    started = time.monotonic()
    ray.cancel(ref)
    assert_cancelled(ref)
    assert time.monotonic() - started < 30  # not after its 120 s sleep


def test_a_task_that_catches_the_interrupt_returns_its_value(cluster, tmp_path) -> None:
    @ray.remote
    def stubborn(marker: str) -> str:
        mark(marker)
        try:
            time.sleep(120)
        except KeyboardInterrupt:
            return f"caught, canceled={ray.get_runtime_context().is_canceled()}"
        return "slept"

    ref = stubborn.remote(str(tmp_path / "c"))
    wait_for(tmp_path / "c")
    ray.cancel(ref)
    assert ray.get(ref, timeout=WAIT_S) == "caught, canceled=True"


def test_a_cancelled_task_is_never_retried(cluster, tmp_path) -> None:
    @ray.remote(max_retries=3, retry_exceptions=True)
    def counted(folder: str) -> None:
        mark(os.path.join(folder, f"run-{os.getpid()}-{time.monotonic_ns()}"))
        mark(os.path.join(folder, "started"))
        while True:
            time.sleep(0.01)

    folder = tmp_path / "runs"
    folder.mkdir()
    ref = counted.remote(str(folder))
    wait_for(folder / "started")
    ray.cancel(ref)
    assert_cancelled(ref)
    time.sleep(1.0)
    assert len([p for p in folder.iterdir() if p.name.startswith("run-")]) == 1


def test_force_kills_the_executor_and_the_task_is_not_retried(cluster, tmp_path) -> None:
    @ray.remote(max_retries=3)
    def forever(folder: str) -> None:
        mark(os.path.join(folder, f"run-{os.getpid()}"), str(os.getpid()))
        mark(os.path.join(folder, "started"), str(os.getpid()))
        while True:
            time.sleep(0.01)

    folder = tmp_path / "runs"
    folder.mkdir()
    ref = forever.remote(str(folder))
    pid = int(wait_for(folder / "started"))
    ray.cancel(ref, force=True)
    err = assert_cancelled(ref)
    assert not isinstance(err, exceptions.RayTaskError)
    assert "cancel(force=True)" in str(err)
    deadline = time.monotonic() + WAIT_S
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the executor was not killed"
        time.sleep(0.05)
    assert len([p for p in folder.iterdir() if p.name.startswith("run-")]) == 1
    assert ray.get(note.remote(str(tmp_path / "after")), timeout=WAIT_S) == "ran"  # the pool is refilled


def test_a_finished_task_is_not_touched_and_cancelling_twice_is_harmless(cluster, tmp_path) -> None:
    ref = note.remote(str(tmp_path / "n"))
    assert ray.get(ref, timeout=WAIT_S) == "ran"
    ray.cancel(ref)
    ray.cancel(ref, force=True)
    assert ray.get(ref, timeout=WAIT_S) == "ran"

    running = spin.remote(str(tmp_path / "twice"))
    wait_for(tmp_path / "twice")
    ray.cancel(running)
    ray.cancel(running)
    ray.cancel(running, force=True)
    assert_cancelled(running)


# ---- what is not a task's ref ---------------------------------------------------------------------


def test_cancel_of_a_put_does_nothing_and_of_an_unknown_ref_raises(cluster) -> None:
    x = ray.put(41)
    ray.cancel(x)
    assert ray.get(x) == 41
    with pytest.raises(TypeError, match="nothing to cancel"):
        ray.cancel(ray.ObjectRef.from_random())
    for bad in (123, "ref", None):
        with pytest.raises(TypeError, match="ObjectRef"):
            ray.cancel(bad)  # type: ignore[arg-type]


# ---- actor calls ----------------------------------------------------------------------------------


@ray.remote
class Counter:
    def __init__(self) -> None:
        self.n = 0
        self.seen_cancel = False

    def block(self, marker: str, seconds: float) -> str:
        mark(marker)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(0.01)
            self.seen_cancel = self.seen_cancel or ray.get_runtime_context().is_canceled()
        return "blocked"

    def inc(self) -> int:
        self.n += 1
        return self.n

    def state(self) -> tuple[int, bool]:
        return self.n, self.seen_cancel


def test_a_queued_actor_call_never_runs_and_a_running_sync_one_runs_on(cluster, tmp_path) -> None:
    counter = Counter.remote()
    running = counter.block.remote(str(tmp_path / "block"), 3.0)
    queued = counter.inc.remote()
    wait_for(tmp_path / "block")
    ray.cancel(queued)
    ray.cancel(running)
    assert_cancelled(queued)
    err = assert_cancelled(running)
    assert "not interrupted" in str(err)
    # the running call was not interrupted: it saw is_canceled() and finished its work
    assert ray.get(counter.state.remote(), timeout=WAIT_S) == (0, True)
    assert ray.get(counter.inc.remote(), timeout=WAIT_S) == 1


def test_force_is_refused_for_actor_calls(cluster, tmp_path) -> None:
    counter = Counter.remote()
    ref = counter.inc.remote()
    with pytest.raises(ValueError, match="actor call"):
        ray.cancel(ref, force=True)
    assert ray.get(ref, timeout=WAIT_S) == 1
    ray.cancel(ref, force=True)  # finished: nothing to refuse


def test_a_running_async_call_is_cancelled_as_an_asyncio_task(cluster, tmp_path) -> None:
    @ray.remote
    class Waiter:
        def __init__(self) -> None:
            self.log: list[str] = []

        async def wait_long(self, marker: str) -> str:
            mark(marker)
            try:
                await asyncio.sleep(120)
            except asyncio.CancelledError:
                self.log.append("cancelled")
                raise
            return "done"

        async def catches(self, marker: str) -> str:
            mark(marker)
            try:
                await asyncio.sleep(120)
            except asyncio.CancelledError:
                return "caught"
            return "done"

        async def events(self) -> list[str]:
            return self.log

    w = Waiter.remote()
    ref = w.wait_long.remote(str(tmp_path / "w"))
    wait_for(tmp_path / "w")
    ray.cancel(ref)
    err = assert_cancelled(ref)
    assert isinstance(err, exceptions.RayTaskError) and "wait_long" in str(err)
    assert ray.get(w.events.remote(), timeout=WAIT_S) == ["cancelled"]
    # as Ray's: a call that swallows the cancellation is still cancelled
    ref = w.catches.remote(str(tmp_path / "c"))
    wait_for(tmp_path / "c")
    ray.cancel(ref)
    assert_cancelled(ref)


def test_an_async_call_waiting_for_a_slot_never_runs(cluster, tmp_path) -> None:
    @ray.remote(max_concurrency=1)
    class One:
        def __init__(self) -> None:
            self.ran: list[str] = []

        async def work(self, name: str, marker: str, seconds: float) -> str:
            self.ran.append(name)
            mark(marker)
            await asyncio.sleep(seconds)
            return name

        async def history(self) -> list[str]:
            return self.ran

    one = One.remote()
    first = one.work.remote("first", str(tmp_path / "first"), 2.0)
    second = one.work.remote("second", str(tmp_path / "second"), 0.0)
    wait_for(tmp_path / "first")
    ray.cancel(second)
    assert "before it started" in str(assert_cancelled(second))
    assert ray.get(first, timeout=WAIT_S) == "first"
    assert ray.get(one.history.remote(), timeout=WAIT_S) == ["first"]


# ---- recursive ------------------------------------------------------------------------------------


@ray.remote
def parent(folder: str) -> str:
    child = spin.remote(os.path.join(folder, "child"))
    mark(os.path.join(folder, "child-ref"), child.hex())
    ray.get(child)
    return "parent done"


def test_recursive_cancel_stops_the_tasks_a_task_submitted(cluster, tmp_path) -> None:
    ref = parent.remote(str(tmp_path))
    wait_for(tmp_path / "child", "the child's start")
    ray.cancel(ref)  # recursive by default
    assert_cancelled(ref)
    assert wait_for(tmp_path / "child.interrupted", "the child's interrupt") == "True"
    assert not (tmp_path / "child.finished").exists()


def test_non_recursive_cancel_leaves_the_children_running(cluster, tmp_path) -> None:
    @ray.remote
    def short_parent(folder: str) -> str:
        child = spin.remote(os.path.join(folder, "child"), 3.0)
        ray.get(child)
        return "parent done"

    ref = short_parent.remote(str(tmp_path))
    wait_for(tmp_path / "child", "the child's start")
    ray.cancel(ref, recursive=False)
    assert_cancelled(ref)
    wait_for(tmp_path / "child.finished", "the child's own end")
    assert not (tmp_path / "child.interrupted").exists()


def test_a_task_may_cancel_a_task_it_submitted(cluster, tmp_path) -> None:
    @ray.remote
    def canceller(folder: str) -> str:
        child = spin.remote(os.path.join(folder, "child"))
        deadline = time.monotonic() + WAIT_S
        while not os.path.exists(os.path.join(folder, "child")) and time.monotonic() < deadline:
            time.sleep(0.02)
        ray.cancel(child)
        try:
            ray.get(child)
        except ray.exceptions.TaskCancelledError:
            return "child cancelled"
        return "child finished"

    assert ray.get(canceller.remote(str(tmp_path)), timeout=WAIT_S * 2) == "child cancelled"
