"""Task leases on a real local cluster (RAYLITE_TASK_LEASES=1): tasks go straight to the node's
daemon on a lease the head granted, the head's table still lists them, the submitter retries
them, cancels reach them, and an idle lease goes back so that another class gets the CPUs."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import psutil
import pytest

import raylite as ray
from raylite import exceptions
from raylite.client import context
from tests.conftest import descendants


@pytest.fixture(scope="module")
def leased() -> Iterator[dict]:
    os.environ["RAYLITE_TASK_LEASES"] = "1"
    try:
        info = ray.init(num_cpus=2)
        started = descendants()
        yield info
        ray.shutdown()
    finally:
        os.environ.pop("RAYLITE_TASK_LEASES", None)
    _gone, alive = psutil.wait_procs(started, timeout=15)
    assert not alive, f"processes left after shutdown: {[p.pid for p in alive]}"


def _link():  # the driver's lease link
    link = context.current()._leases
    assert link is not None, "RAYLITE_TASK_LEASES=1 should give the driver a lease link"
    return link


def _wait(condition, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@ray.remote
def echo(x):
    return x


@ray.remote
def inc(x):
    return x + 1


def test_tasks_run_on_a_lease_and_the_head_lists_them(leased) -> None:
    sent = []
    link = _link()
    assert [ray.get(echo.remote(i)) for i in range(30)] == list(range(30))
    sent.extend(link.streams)
    assert sent, "no lease stream was opened: the tasks all went through the head"
    x = inc.remote(0)
    for _ in range(49):
        x = inc.remote(x)  # each waits in the driver for the one before, then runs on the lease
    assert ray.get(x, timeout=60) == 50
    assert ray.get([echo.remote(i) for i in range(300)], timeout=60) == list(range(300))
    from raylite.util.state import list_tasks

    def listed() -> int:
        rows = list_tasks(filters=[("name", "=", "inc")], limit=10_000)
        return sum(1 for r in rows if r["state"] == "FINISHED")

    _wait(lambda: listed() >= 50, "the head to list the 50 leased inc tasks (their records)")


def test_a_crashed_worker_is_retried_by_the_submitter(leased, tmp_path) -> None:
    marker = tmp_path / "crashed-once"

    @ray.remote(max_retries=2)
    def crash_once(path):
        if not os.path.exists(path):
            open(path, "w").close()
            os._exit(1)
        return "second attempt"

    ray.get(echo.remote(0))  # a lease of this class is held
    assert ray.get(crash_once.remote(str(marker)), timeout=60) == "second attempt"


def test_retry_exceptions_on_a_lease(leased, tmp_path) -> None:
    marker = tmp_path / "raised-once"

    @ray.remote(max_retries=1, retry_exceptions=[ValueError])
    def flaky(path):
        if not os.path.exists(path):
            open(path, "w").close()
            raise ValueError("first attempt fails")
        return "ok"

    assert ray.get(flaky.remote(str(marker)), timeout=60) == "ok"

    @ray.remote(max_retries=0)
    def dies():
        os._exit(3)

    with pytest.raises(exceptions.WorkerCrashedError):
        ray.get(dies.remote(), timeout=60)


def test_cancel_reaches_a_leased_task(leased) -> None:
    @ray.remote
    def sleeper():
        time.sleep(60)
        return "not cancelled"

    ray.get(echo.remote(0))
    ref = sleeper.remote()
    _wait(lambda: any(ref.binary()[:16] in s.attempts for s in _link().streams.values()), "the task to be sent")
    ray.cancel(ref)
    with pytest.raises(exceptions.TaskCancelledError):
        ray.get(ref, timeout=30)


def test_an_idle_lease_goes_back_so_another_class_gets_the_cpus(leased) -> None:
    @ray.remote(num_cpus=2)
    def both_cpus():
        return "ran"

    assert ray.get([echo.remote(i) for i in range(20)]) == list(range(20))  # a lease holds the CPUs
    # the lease of echo's class holds both CPUs until it idles and is returned
    assert ray.get(both_cpus.remote(), timeout=30) == "ran"


def test_a_large_result_of_a_leased_task_is_read_from_the_store(leased) -> None:
    import numpy as np

    @ray.remote
    def big(n):
        return np.arange(n, dtype=np.int64)

    ray.get(echo.remote(0))
    ref = big.remote(200_000)  # 1.6 MB: stored on the node, its record keeps it in lineage
    assert int(ray.get(ref, timeout=60).sum()) == 200_000 * 199_999 // 2
    assert int(ray.get(inc.remote(ray.get(ref)[-1]), timeout=60)) == 200_000


@ray.remote
def fan_out(n: int) -> tuple[bool, int]:
    """Submits n children from inside a task; says whether its executor's client leases."""
    leasing = context.current()._leases is not None
    return leasing, sum(ray.get([echo.remote(i) for i in range(n)]))


def test_tasks_submitted_from_inside_tasks_go_through_the_head(leased) -> None:
    # an executor's own lease would wait for the slots its parent's lease holds (nested
    # submission ran at 0.27x Ray with leases): its client submits through the head
    assert ray.get([fan_out.remote(50) for _ in range(2)]) == [(False, sum(range(50)))] * 2
