"""Shared fixtures: every test that starts processes stops them, by pid."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


class SharedCluster:
    """The local 2-CPU cluster of the `cluster` fixture, kept from one module to the next.

    Starting a cluster is the slow part of a cluster test (three processes or more that
    import the runtime), so a module that asks for `cluster` gets the one the previous
    module used, when that module left it as a new one would be: every resource free and
    no named actor (detached actors included). Otherwise, and before any test that does
    not use it (it may start a cluster of its own in this process), it is shut down, and
    the check that shutdown leaves no child behind runs then.
    """

    info: Any = None
    started: list[psutil.Process] = []
    modules: set[object] = set()  # the test modules that ask for it
    starts: list[str] = []  # the module each start was for, shown at the end of the run

    @classmethod
    def get(cls, module: str) -> Any:
        import raylite

        if cls.info is None:
            cls.starts.append(module)
            cls.info = raylite.init(num_cpus=2)
            cls.started = descendants()
        return cls.info

    @classmethod
    def as_new(cls) -> bool:
        """True when the next module can take the cluster as if it were just started."""
        import raylite
        from raylite.util import list_named_actors

        if not raylite.is_initialized():
            return False
        return raylite.available_resources() == raylite.cluster_resources() and not list_named_actors(
            all_namespaces=True
        )

    @classmethod
    def stop(cls) -> None:
        import raylite

        if cls.info is None:
            return
        cls.info = None
        raylite.shutdown()
        _gone, alive = psutil.wait_procs(cls.started, timeout=15)
        assert not alive, f"processes left after shutdown: {[p.pid for p in alive]}"


def uses_shared_cluster(item: pytest.Item) -> bool:
    """Whether a test's `cluster` is the fixture below (not a module's own of that name)."""
    info = getattr(item, "_fixtureinfo", None)
    defs = info.name2fixturedefs.get("cluster", ()) if info is not None else ()
    return bool(defs) and defs[-1].func.__module__ == __name__


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Notes the modules that use the shared cluster and runs those of tests/cluster first (each
    group in its order), so one cluster serves them one after the other."""
    SharedCluster.modules = {getattr(item, "module", None) for item in items if uses_shared_cluster(item)}
    block = [i for i, item in enumerate(items) if item.nodeid.startswith("tests/cluster/")]
    if not block or block != list(range(block[0], block[-1] + 1)):
        return
    ours = items[block[0] : block[-1] + 1]
    ours.sort(key=lambda item: getattr(item, "module", None) not in SharedCluster.modules)
    items[block[0] : block[-1] + 1] = ours


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Stops the shared cluster before the tests of a module that does not use it."""
    if SharedCluster.info is not None and getattr(item, "module", None) not in SharedCluster.modules:
        SharedCluster.stop()


@pytest.fixture(scope="module")
def cluster(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A local 2-CPU cluster (shared by consecutive modules, see SharedCluster); shutdown leaves no
    child behind."""
    yield SharedCluster.get(request.module.__name__)
    if not SharedCluster.as_new():
        SharedCluster.stop()


@pytest.fixture(scope="session", autouse=True)
def _stop_shared_cluster() -> Iterator[None]:
    yield
    SharedCluster.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if SharedCluster.starts:
        served = len({m for m in SharedCluster.modules if m is not None})
        terminalreporter.write_line(
            f"shared cluster: {len(SharedCluster.starts)} starts for {served} modules"
            f" (started for: {' '.join(m.rsplit('.', 1)[-1] for m in SharedCluster.starts)})"
        )


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
