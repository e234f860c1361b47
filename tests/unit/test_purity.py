"""The state machines stay pure: no I/O, clocks or randomness under head/state/ and worker/state/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

STATE_DIR = Path(__file__).resolve().parents[2] / "raylite" / "head" / "state"
CLIENT_STATE_DIR = STATE_DIR.parents[1] / "client" / "state"
FORBIDDEN = {"asyncio", "grpc", "socket", "time", "os", "random", "threading", "subprocess", "select"}


def imported_modules(path: Path) -> set[str]:
    # Parsed in a fresh interpreter: CPython 3.11.7's ast.parse can fail with
    # "AST constructor recursion depth mismatch" inside a long-running test process.
    script = (
        "import ast, sys\n"
        "tree = ast.parse(open(sys.argv[1]).read())\n"
        "for n in ast.walk(tree):\n"
        "    if isinstance(n, ast.Import):\n"
        "        print(*(a.name.split('.')[0] for a in n.names))\n"
        "    elif isinstance(n, ast.ImportFrom) and n.module and n.level == 0:\n"
        "        print(n.module.split('.')[0])\n"
    )
    out = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_state_modules_import_no_io() -> None:
    files = sorted(STATE_DIR.glob("*.py")) + sorted(CLIENT_STATE_DIR.glob("*.py"))
    assert files, f"no state modules found in {STATE_DIR}"
    for path in files:
        bad = imported_modules(path) & FORBIDDEN
        assert not bad, f"{path.name} imports {sorted(bad)}: state machines must stay pure"


def test_client_state_modules_import_no_io() -> None:
    """The caller's channel for direct actor calls (raylite/client/state/) is pure too."""
    client_state = STATE_DIR.parents[1] / "client" / "state"
    files = sorted(client_state.glob("*.py"))
    assert files, f"no state modules found in {client_state}"
    for path in files:
        bad = imported_modules(path) & FORBIDDEN
        assert not bad, f"{path.name} imports {sorted(bad)}: state machines must stay pure"


def test_checker_notices_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import time\nfrom asyncio import sleep\n")
    assert imported_modules(sample) & FORBIDDEN == {"time", "asyncio"}


def test_worker_state_modules_import_no_io() -> None:
    worker_state = STATE_DIR.parents[1] / "worker" / "state"
    files = sorted(worker_state.glob("*.py"))
    assert files
    for path in files:
        bad = imported_modules(path) & FORBIDDEN
        assert not bad, f"{path.name} imports {sorted(bad)}: state machines must stay pure"
