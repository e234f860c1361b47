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


def test_walkthrough_prints_expected_results() -> None:
    result = subprocess.run(
        [sys.executable, "examples/walkthrough.py"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    runtimes = [float(m.group(1)) for m in map(re.compile(r"Runtime: ([\d.]+) seconds").match, lines) if m]
    # sequential, parallel, one per wait() round (at least one), and the total
    assert len(runtimes) >= 4
    sequential, parallel = runtimes[0], runtimes[1]
    assert sequential >= 2.8
    assert parallel < 1.4, f"8 parallel tasks on 8 slots took {parallel}s (sequential: 2.8s)"
    assert runtimes[-1] < 1.4
    body = [line for line in lines if not line.startswith("Runtime:")]
    assert body[0:8] == DATA and body[8:16] == DATA  # sequential and parallel results
    assert sorted(body[16:24]) == sorted(DATA) and body[24:32] == DATA  # wait rounds, then the total
    assert body[32:36] == [
        "((0, 'Learning'), (1, 'Ray'))",
        "((2, 'Flexible'), (3, 'Distributed'))",
        "((4, 'Python'), (5, 'for'))",
        "((6, 'Machine'), (7, 'Learning'))",
    ]
    assert body[36] == "[" + ", ".join(DATA) + "]"
    assert body[37] == "8"
    assert len(body) == 38
