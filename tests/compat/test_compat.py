"""The Ray-compatibility corpus under raylite: one test per program of
tests/compat/programs/, comparing what it prints (and its exit status) with
what it printed under Ray 2.60 (tests/compat/expected/, recorded by
`python scripts/compat.py record`).

Programs that fail today are listed in known_failures.txt with a reason; they
are strict expected failures, so one that starts to pass fails the run until
its line is removed (the list stays true as features land).

The programs run in the background, RAYLITE_COMPAT_JOBS (default 3) at a
time, in the order of the tests: each test waits only for its own program.
RAYLITE_COMPAT=0 skips the corpus. `python scripts/compat.py check` runs the
same programs outside pytest and prints the table of first differences.
"""

from __future__ import annotations

import concurrent.futures
import importlib.util
import os
import re
import sys
import threading
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def _load_harness():
    spec = importlib.util.spec_from_file_location("raylite_compat_harness", ROOT / "scripts" / "compat.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


harness = _load_harness()


def known_failures() -> dict[str, str]:
    """name -> reason, from known_failures.txt (`name: reason`, # comments)."""
    out: dict[str, str] = {}
    for line in (HERE / "known_failures.txt").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, reason = line.partition(":")
        out[name.strip()] = reason.strip() or "known failure"
    return out


KNOWN = known_failures()
NAMES = [n for n in harness.program_names() if harness.golden(n) is not None]
# generous: a loaded CI machine is slow, and a hang still ends
TIMEOUT = float(os.environ.get("RAYLITE_COMPAT_TIMEOUT", "120"))


def _requirement_missing(name: str) -> str | None:
    for d in harness.directives(name):
        m = re.match(r"requires=(\S+)", d)
        if m and importlib.util.find_spec(m.group(1)) is None:
            return m.group(1)
    return None


def _params():
    for name in NAMES:
        marks = []
        if name in KNOWN:
            marks.append(pytest.mark.xfail(reason=KNOWN[name], strict=True))
        yield pytest.param(name, id=name, marks=marks)


class _Runner:
    """Runs the selected programs in the background, in test order, a few at a time."""

    def __init__(self, names: list[str], jobs: int) -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(jobs, thread_name_prefix="compat")
        self._futures = {n: self._pool.submit(harness.run_program, n, "raylite", None, TIMEOUT) for n in names}
        self._lock = threading.Lock()

    def result(self, name: str):
        with self._lock:
            fut = self._futures.get(name)
            if fut is None:
                fut = self._futures[name] = self._pool.submit(harness.run_program, name, "raylite", None, TIMEOUT)
        return fut.result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(scope="session")
def compat_runner(request: pytest.FixtureRequest):
    if os.environ.get("RAYLITE_COMPAT", "1") == "0":
        pytest.skip("RAYLITE_COMPAT=0")
    selected = [
        item.callspec.params["name"]
        for item in request.session.items
        if item.originalname == "test_program" and hasattr(item, "callspec")
    ]
    selected = [n for n in selected if _requirement_missing(n) is None]
    runner = _Runner(selected, int(os.environ.get("RAYLITE_COMPAT_JOBS", "3")))
    yield runner
    runner.close()


def test_known_failures_name_programs():
    """Every line of known_failures.txt names a program of the corpus."""
    unknown = sorted(set(KNOWN) - set(harness.program_names()))
    assert not unknown, f"known_failures.txt names programs that do not exist: {unknown}"


def test_every_program_has_a_golden():
    """A program with no recorded Ray output is not run; say which (scripts/compat.py record --missing)."""
    missing = sorted(set(harness.program_names()) - set(NAMES))
    if missing:
        pytest.skip(f"{len(missing)} programs not recorded under Ray yet: {' '.join(missing)}")


@pytest.mark.parametrize("name", list(_params()))
def test_program(name: str, compat_runner: _Runner) -> None:
    missing = _requirement_missing(name)
    if missing:
        pytest.skip(f"needs {missing}, not installed")
    run = compat_runner.result(name)
    verdict = harness.compare(name, run)
    if verdict.status != "pass":
        d = verdict.first_diff or {}
        tail = "\n".join(verdict.stderr_tail[-8:])
        pytest.fail(
            f"{name}: {verdict.status}; {d.get('what')}:\n  expected: {d.get('expected')}\n  got:      {d.get('got')}"
            f"\n--- last lines of stderr ---\n{tail}",
            pytrace=False,
        )
