"""Everything init() starts goes away: after shutdown, exit and SIGKILL of the driver."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil

from tests.cluster.test_cli import cli, free_port, recorded_pids
from tests.conftest import ROOT

DRIVER = """
import os, sys, raylite as ray
import numpy as np
info = ray.init(num_cpus=2)
ref = ray.put(np.ones(1_000_000))          # something in shared memory

@ray.remote
def f():
    return 1

ray.get([f.remote() for _ in range(4)])
print(info.address_info["node_id"], flush=True)
sys.stdin.readline()                        # the test collects our children, then lets us exit
"""


def start_driver() -> tuple[subprocess.Popen[str], str, list[psutil.Process]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", DRIVER], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    node_id = proc.stdout.readline().strip()
    assert node_id, "driver did not start its cluster"
    children = psutil.Process(proc.pid).children(recursive=True)
    assert len(children) >= 4, children  # head, worker daemon, 2 executors
    return proc, node_id, children


def store_dir(node_id: str) -> str:
    return f"/dev/shm/raylite-{node_id[:16]}"


def test_sigkill_of_driver_leaves_no_process_and_no_shared_memory() -> None:
    proc, node_id, children = start_driver()
    assert os.path.isdir(store_dir(node_id))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    _gone, alive = psutil.wait_procs(children, timeout=20)
    assert not alive, f"left running after SIGKILL of the driver: {[p.cmdline() for p in alive]}"
    assert not os.path.exists(store_dir(node_id))


def test_driver_exit_without_shutdown_cleans_up() -> None:
    proc, node_id, children = start_driver()
    proc.communicate("exit now\n", timeout=60)
    assert proc.returncode == 0
    _gone, alive = psutil.wait_procs(children, timeout=20)
    assert not alive
    assert not os.path.exists(store_dir(node_id))


def test_what_tasks_print_reaches_the_driver_output() -> None:
    from tests.conftest import run_python

    result = run_python(
        """
import raylite as ray
ray.init(num_cpus=1)

@ray.remote
def speak(x):
    print("task says", x, flush=True)
    return x

assert ray.get(speak.remote(42)) == 42
ray.shutdown()
"""
    )
    assert result.returncode == 0, result.stderr
    assert "task says 42" in result.stdout


def test_store_of_a_sigkilled_worker_daemon_is_removed_by_the_next_daemon(isolated_runtime) -> None:
    port = free_port()
    common = ["--num-cpus", "1", "--host", "127.0.0.1", "--node-ip-address", "127.0.0.1"]
    assert cli("start", "--head", "--port", str(port), *common).returncode == 0
    pids = set(recorded_pids(isolated_runtime))
    try:
        [record] = list((isolated_runtime / "daemons").glob("worker-*.json"))
        facts = json.loads(record.read_text())
        victim = psutil.Process(facts["pid"])
        pids |= {c.pid for c in victim.children(recursive=True)}
        store_dir = Path(os.environ["RAYLITE_SHM_DIR"]) / f"raylite-{facts['node_id'][:16]}"
        assert store_dir.is_dir()
        victim.kill()
        victim.wait(timeout=10)
        assert store_dir.is_dir()  # nobody cleaned up after it
        joined = cli("start", "--address", f"127.0.0.1:{port}", *common)
        assert joined.returncode == 0, joined.stderr
        pids |= set(recorded_pids(isolated_runtime))
        assert not store_dir.exists()
    finally:
        assert cli("stop").returncode == 0
    _gone, alive = psutil.wait_procs([psutil.Process(p) for p in pids if psutil.pid_exists(p)], timeout=15)
    assert not alive
