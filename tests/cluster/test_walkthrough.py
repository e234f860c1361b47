"""The user's walkthrough runs unchanged and prints what WALKTHROUGH.md says."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import ROOT

DATA = [
    "(0, 'Learning')",
    "(1, 'Ray')",
    "(2, 'Flexible')",
    "(3, 'Distributed')",
    "(4, 'Python')",
    "(5, 'for')",
    "(6, 'Machine')",
    "(7, 'Learning')",
]


def check_walkthrough_output(stdout: str) -> list[float]:
    """Checks what the walkthrough prints, whatever cluster it ran on; returns its runtimes."""
    lines = stdout.splitlines()
    runtimes = [float(m.group(1)) for m in map(re.compile(r"Runtime: ([\d.]+) seconds").match, lines) if m]
    # sequential, parallel, one per wait() round (at least one), and the total
    assert len(runtimes) >= 4, stdout
    body = [line for line in lines if not line.startswith("Runtime:")]
    assert body[0:8] == DATA and body[8:16] == DATA  # sequential and parallel results
    # the wait() rounds, in the order tasks finished, then all of them again in that order
    assert sorted(body[16:24]) == sorted(DATA) and body[24:32] == body[16:24]
    assert body[32:36] == [
        "((0, 'Learning'), (1, 'Ray'))",
        "((2, 'Flexible'), (3, 'Distributed'))",
        "((4, 'Python'), (5, 'for'))",
        "((6, 'Machine'), (7, 'Learning'))",
    ]
    assert body[36] == "[" + ", ".join(DATA) + "]"
    assert body[37] == "8"
    assert len(body) == 38
    return runtimes


def test_walkthrough_prints_expected_results() -> None:
    result = subprocess.run(
        [sys.executable, "examples/walkthrough.py"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    runtimes = check_walkthrough_output(result.stdout)
    # with a slot for each task, they finish in the order of their sleeps
    assert [line for line in result.stdout.splitlines() if not line.startswith("Runtime:")][24:32] == DATA
    sequential, parallel = runtimes[0], runtimes[1]
    assert sequential >= 2.8
    assert parallel < 1.4, f"8 parallel tasks on 8 slots took {parallel}s (sequential: 2.8s)"
    assert runtimes[-1] < 1.4
