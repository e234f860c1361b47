"""Session files: how `raylite start`, `raylite stop` and `init(address="auto")`
find the daemons started on this machine.

Each daemon started by the CLI gets a JSON file in <runtime_dir>/daemons/
naming its pid, role and address. `stop` signals every pid listed there.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from raylite import config


def daemons_dir() -> Path:
    path = Path(config.runtime_dir()) / "daemons"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def record_daemon(pid: int, role: str, **facts: Any) -> Path:
    path = daemons_dir() / f"{role}-{pid}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"pid": pid, "role": role, **facts}))
    os.replace(tmp, path)
    return path


def recorded_daemons() -> list[tuple[Path, dict[str, Any]]]:
    out = []
    for path in sorted(daemons_dir().glob("*.json")):
        try:
            out.append((path, json.loads(path.read_text())))
        except (OSError, ValueError):
            continue
    return out


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie counts as gone
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return True


def local_head_address() -> str | None:
    """The address of a head started on this machine by `raylite start --head`, if it runs."""
    heads = [facts for _, facts in recorded_daemons() if facts.get("role") == "head" and pid_alive(int(facts["pid"]))]
    if not heads:
        return None
    heads.sort(key=lambda f: f.get("started", 0), reverse=True)
    return str(heads[0]["connect_address"])
