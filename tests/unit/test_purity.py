"""The state machines stay pure: no I/O, clocks or randomness under head/state/."""

from __future__ import annotations

import ast
from pathlib import Path

STATE_DIR = Path(__file__).resolve().parents[2] / "raylite" / "head" / "state"
FORBIDDEN = {"asyncio", "grpc", "socket", "time", "os", "random", "threading", "subprocess", "select"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_state_modules_import_no_io() -> None:
    files = sorted(STATE_DIR.glob("*.py"))
    assert files, f"no state modules found in {STATE_DIR}"
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
