"""`raylite start/status/stop` with two worker daemons on this machine."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import psutil

from tests.conftest import ROOT, run_python


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "raylite.cli", *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def recorded_pids(runtime) -> list[int]:
    return [json.loads(p.read_text())["pid"] for p in (runtime / "daemons").glob("*.json")]


def test_start_two_nodes_run_tasks_status_and_stop(isolated_runtime) -> None:
    port = free_port()
    head = cli(
        "start",
        "--head",
        "--port",
        str(port),
        "--num-cpus",
        "2",
        "--host",
        "127.0.0.1",
        "--node-ip-address",
        "127.0.0.1",
    )
    procs: list[psutil.Process] = []
    try:
        assert head.returncode == 0, head.stderr
        assert f"raylite start --address 127.0.0.1:{port}" in head.stdout
        token_file = isolated_runtime / "token"
        assert token_file.stat().st_mode & 0o777 == 0o600
        assert token_file.read_text() not in head.stdout  # the token is never printed
        worker = cli(
            "start",
            "--address",
            f"127.0.0.1:{port}",
            "--num-cpus",
            "2",
            "--resources",
            '{"special": 1}',
            "--host",
            "127.0.0.1",
            "--node-ip-address",
            "127.0.0.1",
        )
        assert worker.returncode == 0, worker.stderr
        procs = [psutil.Process(pid) for pid in recorded_pids(isolated_runtime)]
        assert len(procs) == 3  # head + two worker daemons
        procs += [c for p in procs for c in p.children(recursive=True)]

        status = cli("status")
        assert status.returncode == 0, status.stderr
        assert "Alive: 2" in status.stdout and "0/1 special" in status.stdout

        driver = run_python(
            """
import raylite as ray
info = ray.init(address="auto")
nodes = ray.nodes()
assert len(nodes) == 2, nodes
special = [n["NodeID"] for n in nodes if "special" in n["Resources"]]

@ray.remote(resources={"special": 1})
def on_special():
    return ray.get_runtime_context().get_node_id()

@ray.remote
def where():
    return ray.get_runtime_context().get_node_id()

assert ray.get(on_special.remote()) == special[0]
spread = set(ray.get([where.options(scheduling_strategy="SPREAD").remote() for _ in range(8)]))
assert spread == {n["NodeID"] for n in nodes}, spread
print("OK", ray.cluster_resources()["CPU"])
"""
        )
        assert driver.returncode == 0, driver.stderr
        assert "OK 4.0" in driver.stdout
    finally:
        stop = cli("stop")
    assert stop.returncode == 0, stop.stderr
    assert "stopped 3 daemon(s)" in stop.stdout
    _gone, alive = psutil.wait_procs(procs, timeout=10)
    assert not alive, f"left running after stop: {[p.pid for p in alive]}"
    assert not list((isolated_runtime / "daemons").glob("*.json"))


def test_joining_without_a_token_is_refused_with_advice(isolated_runtime) -> None:
    result = cli("start", "--address", "127.0.0.1:1", "--host", "127.0.0.1")
    assert result.returncode == 2
    assert "RAYLITE_TOKEN" in result.stderr


def test_auto_without_cluster_is_a_clear_error(isolated_runtime) -> None:
    result = run_python("import raylite as ray\nray.init(address='auto')")
    assert result.returncode != 0
    assert "raylite start --head" in result.stderr


def test_connect_to_nothing_raises_connection_error_quickly() -> None:
    port = free_port()
    result = run_python(
        f"""
import time, raylite as ray
t = time.monotonic()
try:
    ray.init(address="127.0.0.1:{port}")
except ConnectionError as exc:
    print("ConnectionError", round(time.monotonic() - t, 1), exc)
"""
    )
    assert "ConnectionError" in result.stdout, result.stderr
    seconds = float(result.stdout.split()[1])
    assert seconds < 10
