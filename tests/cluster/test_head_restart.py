"""kill -9 of the head mid-job, and a restart on the same port and storage.

The worker daemons and the driver reconnect; the driver's tasks (running,
queued and chained) finish with correct results; its put objects are intact;
a detached named actor keeps its state, for this driver and a new one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import psutil
import pytest

from tests.cluster.test_cli import cli, free_port, recorded_pids
from tests.conftest import ROOT, run_python

DRIVER = """
import sys, time
import numpy as np
import raylite as ray

ray.init(address="auto", namespace="restart-test")  # the later driver finds "keeper" in it

@ray.remote
def square(i):
    time.sleep(0.3)  # the work: long enough that the head dies while tasks run
    return i * i

@ray.remote
def plus_one(x):
    return x + 1

@ray.remote
def stream(n):
    for i in range(n):
        time.sleep(0.25)  # yielding while the head dies and comes back
        yield i * 3

@ray.remote
class Counter:
    def __init__(self):
        self.n = 0
    def inc(self):
        self.n += 1
        return self.n
    def slow_inc(self):
        time.sleep(0.1)
        self.n += 1
        return self.n

counter = Counter.options(name="keeper", lifetime="detached").remote()
assert ray.get([counter.inc.remote() for _ in range(3)]) == [1, 2, 3]
small = ray.put({"small": 1})
big = ray.put(np.arange(500_000, dtype=np.int64))  # 4 MB: in a node's store
squares = [square.remote(i) for i in range(16)]
chain = plus_one.remote(plus_one.remote(square.remote(10)))
incs = [counter.slow_inc.remote() for _ in range(20)]  # in flight when the head dies
gen = stream.remote(12)
first = ray.get(next(gen), timeout=30)
from_put = plus_one.remote(ray.put(41))  # queued behind the squares; no ref to the put is left
print("SUBMITTED", flush=True)
assert ray.get(squares, timeout=90) == [i * i for i in range(16)]
assert ray.get(chain, timeout=90) == 102
assert ray.get(from_put, timeout=90) == 42
assert ray.get(small) == {"small": 1}
assert int(ray.get(big).sum()) == 500_000 * 499_999 // 2
assert ray.get(incs, timeout=90) == list(range(4, 24)), ray.get(incs)  # each call ran once
assert ray.get(counter.inc.remote(), timeout=30) == 24
streamed = [first] + [ray.get(r, timeout=90) for r in gen]
assert streamed == [i * 3 for i in range(12)], streamed
print("DONE", flush=True)
"""


@pytest.fixture
def quick_recovery(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAYLITE_HEAD_RECOVERY_S", "3")


def test_head_killed_mid_job_and_restarted_loses_nothing(isolated_runtime, quick_recovery) -> None:
    port = free_port()
    address = f"127.0.0.1:{port}"
    common = ["--num-cpus", "2", "--host", "127.0.0.1", "--node-ip-address", "127.0.0.1"]
    head = cli("start", "--head", "--port", str(port), *common)
    assert head.returncode == 0, head.stderr
    all_pids = set(recorded_pids(isolated_runtime))
    driver = None
    try:
        worker = cli("start", "--address", address, *common)
        assert worker.returncode == 0, worker.stderr
        all_pids |= set(recorded_pids(isolated_runtime))
        [head_pid] = _pids(isolated_runtime, "head")
        workers = _pids(isolated_runtime, "worker")
        assert len(workers) == 2
        assert (isolated_runtime / f"head-{port}" / "head.sqlite").exists()

        driver = subprocess.Popen(
            [sys.executable, "-c", DRIVER], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
        )
        assert driver.stdout is not None
        assert driver.stdout.readline().strip() == "SUBMITTED"
        os.kill(head_pid, signal.SIGKILL)
        psutil.Process(head_pid).wait(timeout=10)

        again = cli("start", "--head", "--port", str(port), *common)
        assert again.returncode == 0, again.stderr
        assert "survived the head and rejoins it" in again.stdout  # no second worker daemon
        all_pids |= set(recorded_pids(isolated_runtime))

        out, err = driver.communicate(timeout=150)
        assert driver.returncode == 0, err
        assert out.strip() == "DONE", out
        assert "reconnected to the head" in err
        assert all(psutil.pid_exists(p) for p in workers), "worker daemons reconnected rather than restarting"

        # a new driver finds the named actor, state intact
        later = run_python(
            'import raylite as ray\nray.init(address="auto", namespace="restart-test")\n'
            'print(ray.get(ray.get_actor("keeper").inc.remote()), len(ray.nodes()))'
        )
        assert later.returncode == 0, later.stderr
        assert later.stdout.split() == ["25", "2"]
        all_pids |= {c.pid for p in all_pids if psutil.pid_exists(p) for c in psutil.Process(p).children(True)}
    finally:
        if driver is not None and driver.poll() is None:
            driver.kill()
            driver.wait()
        stop = cli("stop")
    assert stop.returncode == 0, stop.stderr
    _gone, alive = psutil.wait_procs([psutil.Process(p) for p in all_pids if psutil.pid_exists(p)], timeout=15)
    assert not alive, f"left running: {alive}"
    assert not (isolated_runtime / f"head-{port}" / "head.sqlite").exists()  # a clean stop starts afresh


def _pids(runtime, role: str) -> set[int]:
    return {int(p.stem.split("-")[1]) for p in (runtime / "daemons").glob(f"{role}-*.json")}


DIRECT_DRIVER = """
import time
import raylite as ray
from raylite.client import context
from raylite.client.state.actor_channel import Channel

ray.init(address="auto", namespace="direct-restart")

@ray.remote
class Counter:
    def __init__(self):
        self.n = 0
    def inc(self):
        self.n += 1
        return self.n

if MODE == "create":
    counter = Counter.options(name="callee", lifetime="detached").remote()
else:
    counter = ray.get_actor("callee")
deadline = time.monotonic() + 60
calls = 0
while True:  # the first calls go by the head while the actor is located
    calls += 1
    ray.get(counter.inc.remote(), timeout=30)
    channel = context.current()._channels.get(counter._actor_id)
    if channel is not None and channel.state is Channel.OPEN:
        break
    assert time.monotonic() < deadline, f"the channel is {channel.state if channel else None} after {calls} calls"
print("OPEN", calls, ray.get(counter.inc.remote()), flush=True)
"""


def test_a_restarted_head_readopts_call_ports_and_callers_call_direct_again(isolated_runtime, quick_recovery) -> None:
    port = free_port()
    common = ["--num-cpus", "2", "--host", "127.0.0.1", "--node-ip-address", "127.0.0.1"]
    head = cli("start", "--head", "--port", str(port), *common)
    assert head.returncode == 0, head.stderr
    all_pids = set(recorded_pids(isolated_runtime))
    try:
        first = run_python('MODE = "create"\n' + DIRECT_DRIVER)
        assert first.returncode == 0, first.stderr
        assert first.stdout.split()[0] == "OPEN"
        [head_pid] = _pids(isolated_runtime, "head")
        all_pids |= {c.pid for p in all_pids if psutil.pid_exists(p) for c in psutil.Process(p).children(True)}
        os.kill(head_pid, signal.SIGKILL)
        psutil.Process(head_pid).wait(timeout=10)
        again = cli("start", "--head", "--port", str(port), *common)
        assert again.returncode == 0, again.stderr
        all_pids |= set(recorded_pids(isolated_runtime))
        # a new caller of the actor that lived through the restart calls it direct, not by the head
        # until its next life (the head knew no call port before the daemon's hello carried it)
        later = run_python('MODE = "again"\n' + DIRECT_DRIVER)
        assert later.returncode == 0, later.stderr
        word, _calls, count = later.stdout.split()
        assert word == "OPEN" and int(count) > int(first.stdout.split()[2])  # the same life, state kept
        all_pids |= {c.pid for p in all_pids if psutil.pid_exists(p) for c in psutil.Process(p).children(True)}
    finally:
        stop = cli("stop")
    assert stop.returncode == 0, stop.stderr
    _gone, alive = psutil.wait_procs([psutil.Process(p) for p in all_pids if psutil.pid_exists(p)], timeout=15)
    assert not alive, f"left running: {alive}"
