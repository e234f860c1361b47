"""A `raylite start` cluster of several worker daemons for the state API, CLI and dashboard tests.

The cluster gets a runtime directory and store root of its own (RAYLITE_TMPDIR,
RAYLITE_SHM_DIR), so `raylite stop` stops exactly it; every process it starts
is stopped by pid at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from tests.conftest import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class StateCluster:
    runtime: Path
    env: dict[str, str]
    port: int
    dashboard_port: int
    procs: list[psutil.Process] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def token(self) -> str:
        return (self.runtime / "token").read_text().strip()

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "raylite.cli", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=ROOT,
            env=self.env,
        )

    def driver(self, code: str) -> subprocess.Popen[str]:
        """A driver program, left running: it talks on its stdin and stdout."""
        return subprocess.Popen(
            [sys.executable, "-c", code],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=self.env,
        )


@contextmanager
def state_cluster(
    tmp: Path,
    workers: list[dict],
    head_cpus: float = 2,
    dashboard_host: str = "127.0.0.1",
    dashboard_port: int | None = None,
) -> Iterator[StateCluster]:
    """`raylite start --head` (head_cpus) and one `raylite start --address` per entry of workers
    ({"cpus": n, "resources": {...}})."""
    runtime = tmp / "rt"
    shm = Path("/dev/shm") / f"raylite-state-test-{os.getpid()}-{tmp.name}"
    shm.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "RAYLITE_TMPDIR": str(runtime),
        "RAYLITE_SHM_DIR": str(shm),
        "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    for name in ("RAYLITE_TOKEN", "RAYLITE_ADDRESS", "RAY_ADDRESS"):
        env.pop(name, None)
    cluster = StateCluster(runtime, env, free_port(), dashboard_port or free_port())
    common = ["--host", "127.0.0.1", "--node-ip-address", "127.0.0.1"]
    try:
        head = cluster.cli(
            "start",
            "--head",
            "--port",
            str(cluster.port),
            "--num-cpus",
            str(head_cpus),
            "--dashboard-port",
            str(cluster.dashboard_port),
            "--dashboard-host",
            dashboard_host,
            *common,
        )
        assert head.returncode == 0, head.stderr
        cluster.head_stdout = head.stdout  # type: ignore[attr-defined]
        for worker in workers:
            args = ["start", "--address", cluster.address, "--num-cpus", str(worker["cpus"]), *common]
            if worker.get("resources"):
                args += ["--resources", json.dumps(worker["resources"])]
            joined = cluster.cli(*args)
            assert joined.returncode == 0, joined.stderr
        for path in (runtime / "daemons").glob("*.json"):
            cluster.procs.append(psutil.Process(json.loads(path.read_text())["pid"]))
        yield cluster
    finally:
        children = [c for p in cluster.procs if p.is_running() for c in p.children(recursive=True)]
        stop = cluster.cli("stop")
        _gone, alive = psutil.wait_procs(cluster.procs + children, timeout=15)
        for p in alive:
            p.kill()
        shutil.rmtree(shm, ignore_errors=True)
        assert stop.returncode == 0, stop.stderr
        assert not alive, f"left running after raylite stop: {[p.pid for p in alive]}"
