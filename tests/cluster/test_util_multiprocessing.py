"""raylite.util.multiprocessing.Pool: the standard library's Pool API on actors."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import sys
from multiprocessing.pool import RemoteTraceback

import cloudpickle
import pytest

import raylite as ray
from raylite.util.multiprocessing import Pool, TimeoutError
from tests.conftest import run_python

# The pool's processes cannot import this test module by name: send its functions by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@ray.remote
class Signal:
    def __init__(self):
        self.event = asyncio.Event()

    async def wait(self):
        await self.event.wait()
        return True

    async def send(self):
        self.event.set()


def square(x):
    return x * x


def add(a, b=0):
    return a + b


def fail_on_two(x):
    if x == 2:
        raise ValueError(f"no {x}")
    return x


def held(signal, value):
    ray.get(signal.wait.remote())
    return value


def pid(_=None):
    return os.getpid()


def set_marker(value):
    os.environ["RAYLITE_POOL_MARKER"] = value


def read_marker(_):
    return os.environ.get("RAYLITE_POOL_MARKER")


@pytest.fixture(scope="module")
def pool(cluster):
    p = Pool()
    yield p
    p.terminate()


def test_timeout_error_is_multiprocessings():
    assert TimeoutError is multiprocessing.TimeoutError


def test_processes_default_to_the_clusters_cpus_and_run_elsewhere(pool):
    assert pool._processes == 2
    pids = set(pool.map(pid, range(8), chunksize=1))
    assert os.getpid() not in pids and 1 <= len(pids) <= 2


def test_map_starmap_apply(pool):
    assert pool.map(square, range(10)) == [x * x for x in range(10)]
    assert pool.map(square, range(10), chunksize=3) == [x * x for x in range(10)]
    assert pool.map(square, (i for i in range(4))) == [0, 1, 4, 9]
    assert pool.map(square, []) == []
    assert pool.starmap(add, [(1, 2), (3, 4)]) == [3, 7]
    assert pool.apply(add, (1,), {"b": 5}) == 6
    assert pool.apply(square, (7,)) == 49


def test_map_raises_the_items_own_error_with_the_remote_traceback(pool):
    with pytest.raises(ValueError, match="^no 2$") as info:
        pool.map(fail_on_two, range(5))
    assert type(info.value) is ValueError  # the function's exception itself, as the standard library raises it
    assert isinstance(info.value.__cause__, RemoteTraceback)
    assert "fail_on_two" in str(info.value.__cause__)
    with pytest.raises(ValueError, match="^no 2$"):
        pool.starmap(fail_on_two, [(1,), (2,)])
    with pytest.raises(ValueError, match="^no 2$"):
        pool.apply(fail_on_two, (2,))
    with pytest.raises(TypeError, match="unexpected keyword argument 'y'"):
        pool.apply(fail_on_two, (1,), {"y": 1})


def test_apply_async_result_before_and_after_it_is_ready(pool):
    signal = Signal.remote()
    seen = []
    result = pool.apply_async(held, (signal, "value"), callback=seen.append)
    assert not result.ready()
    with pytest.raises(ValueError, match="not ready"):
        result.successful()
    with pytest.raises(TimeoutError):
        result.get(timeout=0.2)
    result.wait(0.1)
    assert not result.ready()
    signal.send.remote()
    assert result.get(timeout=60) == "value"
    assert result.ready() and result.successful()
    assert seen == ["value"]  # callbacks ran before the result was ready


def test_apply_async_error_goes_to_error_callback_and_get(pool):
    seen = []
    result = pool.apply_async(fail_on_two, (2,), callback=seen.append, error_callback=lambda e: seen.append(repr(e)))
    result.wait()
    assert result.ready() and not result.successful()
    assert seen == ["ValueError('no 2')"]
    with pytest.raises(ValueError, match="^no 2$"):
        result.get()


def test_map_async_and_starmap_async(pool):
    seen = []
    result = pool.map_async(square, range(6), callback=seen.append)
    assert result.get(timeout=60) == [0, 1, 4, 9, 16, 25]
    assert seen == [[0, 1, 4, 9, 16, 25]]
    failed = pool.map_async(fail_on_two, range(4), callback=seen.append, error_callback=seen.append)
    with pytest.raises(ValueError, match="^no 2$"):
        failed.get(timeout=60)
    assert isinstance(seen[-1], ValueError) and len(seen) == 2
    assert pool.starmap_async(add, [(1, 1), (2, 2)]).get(timeout=60) == [2, 4]


def test_a_failing_callback_does_not_lose_the_result(pool, capfd):
    result = pool.apply_async(square, (3,), callback=lambda _: 1 / 0)
    assert result.get(timeout=60) == 9
    assert "ZeroDivisionError" in capfd.readouterr().err


def test_imap_in_order_and_imap_unordered(pool):
    assert list(pool.imap(square, range(7))) == [x * x for x in range(7)]
    assert list(pool.imap(square, range(7), chunksize=3)) == [x * x for x in range(7)]
    assert sorted(pool.imap_unordered(square, range(7), chunksize=2)) == [x * x for x in range(7)]


def test_imap_unordered_yields_what_finished_first(pool):
    signal = Signal.remote()
    it = pool.imap_unordered(held, [], chunksize=1)
    assert list(it) == []
    it = pool.imap_unordered(_held_or_now, [(signal, "late"), (None, "now")])
    assert next(it) == "now"
    signal.send.remote()
    assert next(it) == "late"
    with pytest.raises(StopIteration):
        next(it)


def _held_or_now(pair):
    signal, value = pair
    return held(signal, value) if signal is not None else value


def test_imap_next_with_timeout(pool):
    signal = Signal.remote()
    it = pool.imap(_held_or_now, [(signal, "late")])
    with pytest.raises(TimeoutError):
        it.next(timeout=0.2)
    signal.send.remote()
    assert it.next(timeout=60) == "late"


def test_imap_errors_as_the_standard_library(pool):
    def drain(it):
        out = []
        while True:
            try:
                out.append(next(it))
            except StopIteration:
                return out
            except ValueError as exc:
                out.append(str(exc))

    # one item a chunk: the failing item raises at its turn and iteration goes on
    assert drain(pool.imap(fail_on_two, range(5))) == [0, 1, "no 2", 3, 4]
    assert sorted(map(str, drain(pool.imap_unordered(fail_on_two, range(5))))) == ["0", "1", "3", "4", "no 2"]
    # larger chunks: the first error ends the iteration
    assert drain(pool.imap(fail_on_two, range(5), chunksize=2)) == [0, 1, "no 2"]


def test_chunksize_below_one_is_refused(pool):
    with pytest.raises(ValueError, match="chunksize must be at least 1"):
        pool.imap(square, [1], chunksize=0)


def test_close_then_join_waits_for_submitted_work(cluster):
    signal = Signal.remote()
    p = Pool(1)
    result = p.apply_async(held, (signal, "done"))
    with pytest.raises(ValueError, match="Pool is still running"):
        p.join()
    p.close()
    for call in (lambda: p.map(square, [1]), lambda: p.apply_async(square, (1,)), lambda: p.imap(square, [1])):
        with pytest.raises(ValueError, match="Pool not running"):
            call()
    signal.send.remote()
    p.join()
    assert result.ready() and result.get() == "done"
    p.close()  # again: nothing happens


def test_terminate_stops_unfinished_work(cluster):
    signal = Signal.remote()
    p = Pool(1)
    result = p.apply_async(held, (signal, "never"))
    p.terminate()
    with pytest.raises(ray.exceptions.ActorDiedError):
        result.get(timeout=60)
    with pytest.raises(ValueError, match="Pool not running"):
        p.map(square, [1])
    p.join()
    p.terminate()


def test_context_manager_terminates_at_exit(cluster):
    with Pool(2) as p:
        assert p.map(square, [1, 2, 3]) == [1, 4, 9]
    with pytest.raises(ValueError, match="Pool not running"):
        p.map(square, [1])


def test_initializer_runs_in_every_process(cluster):
    with Pool(2, initializer=set_marker, initargs=("ready",)) as p:
        assert p.map(read_marker, range(6), chunksize=1) == ["ready"] * 6


def test_maxtasksperchild_replaces_the_process(cluster):
    with Pool(1, maxtasksperchild=1, initializer=set_marker, initargs=("again",)) as p:
        pids = p.map(pid, range(4), chunksize=1)
        assert len(set(pids)) == 4
        assert p.map(read_marker, range(2), chunksize=1) == ["again", "again"]


def test_bad_arguments_are_refused(cluster):
    with pytest.raises(ValueError, match="Number of processes must be at least 1"):
        Pool(0)
    with pytest.raises(TypeError, match="initializer must be a callable"):
        Pool(1, initializer=3)
    with pytest.raises(ValueError, match="maxtasksperchild"):
        Pool(1, maxtasksperchild=0)


def test_a_pool_starts_a_local_cluster_when_none_is_running():
    result = run_python(
        "from raylite.util.multiprocessing import Pool\n"
        "import raylite\n"
        "def square(x):\n"
        "    return x * x\n"
        "with Pool(2) as p:\n"
        "    print(p.map(square, range(5)), raylite.cluster_resources()['CPU'])\n"
        "raylite.shutdown()\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[0, 1, 4, 9, 16] 2.0"
