"""Shared fixtures: every test that starts processes stops them, by pid."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parent.parent


def raylite_processes() -> list[psutil.Process]:
    """raylite daemons and executors on this machine (not pytest itself)."""
    out = []
    for p in psutil.process_iter(["cmdline", "pid"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if p.pid != os.getpid() and ("raylite.head.server" in cmd or "raylite.worker." in cmd):
            out.append(p)
    return out


def descendants() -> list[psutil.Process]:
    return psutil.Process().children(recursive=True)


@pytest.fixture(scope="module")
def cluster() -> Iterator[dict]:
    """A local 2-CPU cluster for the module; checks that shutdown leaves no child behind."""
    import raylite

    info = raylite.init(num_cpus=2)
    started = descendants()
    yield info
    raylite.shutdown()
    _gone, alive = psutil.wait_procs(started, timeout=15)
    assert not alive, f"processes left after shutdown: {[p.pid for p in alive]}"


@pytest.fixture
def isolated_runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Session files and stores under tmp_path, so tests do not see other clusters."""
    runtime = tmp_path / "rt"
    shm = Path("/dev/shm") / f"raylite-test-{os.getpid()}-{tmp_path.name}"
    monkeypatch.setenv("RAYLITE_TMPDIR", str(runtime))
    monkeypatch.setenv("RAYLITE_SHM_DIR", str(shm))
    shm.mkdir(parents=True, exist_ok=True)
    yield runtime
    import shutil

    shutil.rmtree(shm, ignore_errors=True)


def run_python(code: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
    )
