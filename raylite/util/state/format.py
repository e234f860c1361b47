"""Text for the state CLI (`raylite status/list/summary`): pure functions of the records."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from raylite.state_filters import parse_filter

__all__ = ["parse_filter"]  # (re-exported for the CLI)

# the columns `raylite list KIND` shows as a table (json and yaml show every field)
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "nodes": ("node_id", "node_ip", "is_head_node", "state", "resources_total"),
    "tasks": ("task_id", "attempt_number", "name", "state", "type", "node_id", "error_type"),
    "actors": ("actor_id", "class_name", "state", "name", "node_id"),
    "objects": ("object_id", "object_size", "task_status", "reference_type", "ip"),
    "placement_groups": ("placement_group_id", "name", "creator_job_id", "state"),
}

_MAX_CELL = 60


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        text = ", ".join(f"{k}: {cell(v)}" for k, v in value.items())
    elif isinstance(value, float):
        text = str(int(value)) if value.is_integer() else f"{value:g}"
    else:
        text = str(value)
    return text if len(text) <= _MAX_CELL else text[: _MAX_CELL - 3] + "..."


def table(records: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """A plain text table: a header of column names in capitals, one row per record."""
    rows = [[c.upper() for c in columns]] + [[cell(r.get(c)) for c in columns] for r in records]
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    lines = ["  ".join(text.ljust(w) for text, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def as_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=False, default=str)


def as_yaml(value: Any) -> str:
    import yaml

    return yaml.safe_dump(value, sort_keys=False, default_flow_style=False)


def listing(kind: str, answer: dict[str, Any], fmt: str) -> str:
    records = answer["result"]
    if fmt == "json":
        return as_json(records)
    if fmt == "yaml":
        return as_yaml(records)
    shown, total = answer["num_after_truncation"], answer["num_filtered"]
    head = f"{kind.replace('_', ' ')}: {total}" + (f" (showing {shown}; --limit shows more)" if shown < total else "")
    if not records:
        return head
    columns = TABLE_COLUMNS.get(kind) or tuple(records[0])
    return f"{head}\n\n{table(records, columns)}"


def _amount(name: str, used: float, total: float) -> str:
    if name.endswith("memory"):
        return f"{_bytes(used)}/{_bytes(total)} {name}"
    return f"{used:g}/{total:g} {name}"


def _bytes(n: float) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return f"{n:g}B"


def status(head: str, st: dict[str, Any], dashboard_url: str = "") -> str:
    """`raylite status`: nodes, resources used/total, demand."""
    nodes = st["nodes"]
    alive = [n for n in nodes if n["state"] == "ALIVE"]
    dead = [n for n in nodes if n["state"] != "ALIVE"]
    out = [f"======== raylite cluster at {head} ========"]
    if dashboard_url:
        out.append(f"Dashboard: {dashboard_url}")
    if st.get("recovering"):
        out.append("The head restarted and is waiting for its nodes to rejoin: nothing is scheduled yet.")
    out += ["", "Nodes", "-" * 60, f"Alive: {len(alive)}"]
    for n in alive:
        head_mark = "  (head)" if n["is_head_node"] else ""
        out.append(f" node {n['node_id'][:12]}  {n['address'] or n['node_ip']}{head_mark}")
        per_node = [
            _amount(k, n["resources_total"][k] - n["resources_available"].get(k, 0.0), n["resources_total"][k])
            for k in _shown_resources(n["resources_total"])
        ]
        per_node.append(f"{_bytes(n['object_store_used'])}/{_bytes(n['object_store_capacity'])} object store")
        out.append("   " + ", ".join(per_node))
    out.append(f"Dead: {len(dead)}")
    for n in dead:
        out.append(f" node {n['node_id'][:12]}  {n['address'] or n['node_ip']}")
    total, available = st["resources_total"], st["resources_available"]
    out += ["", "Resources", "-" * 60, "Usage:"]
    for name in _shown_resources(total, memory=True):
        out.append(f" {_amount(name, total[name] - available.get(name, 0.0), total[name])}")
    out += ["", "Demands:"]
    pending, infeasible = st["pending_demands"], st["infeasible_demands"]
    if not pending and not infeasible:
        out.append(" (no resource demands)")
    for shape, count in sorted(pending.items()):
        out.append(f" {shape}: {count} pending task(s)/actor(s)")
    for shape, count in sorted(infeasible.items()):
        out.append(f" {shape}: {count} task(s)/actor(s) no node can ever run (infeasible)")
    return "\n".join(out)


def _shown_resources(total: dict[str, float], memory: bool = False) -> list[str]:
    names = [k for k in total if not k.startswith("node:") and (memory or not k.endswith("memory"))]
    first = [k for k in ("CPU", "GPU") if k in names]
    return first + sorted(k for k in names if k not in first)


def task_summary(summary: dict[str, Any]) -> str:
    cluster = summary["cluster"]
    out = [
        "======== Tasks Summary ========",
        f"Total: {cluster['total_tasks']} tasks, {cluster['total_actor_tasks']} actor tasks, "
        f"{cluster['total_actor_scheduled']} actors scheduled",
        "",
    ]
    rows = [
        {"func_or_class_name": name, "type": entry["type"], "state_counts": entry["state_counts"]}
        for name, entry in sorted(cluster["summary"].items())
    ]
    out.append(table(rows, ("func_or_class_name", "type", "state_counts")) if rows else "(no tasks)")
    return "\n".join(out)


def actor_summary(summary: dict[str, Any]) -> str:
    cluster = summary["cluster"]
    out = ["======== Actors Summary ========", f"Total: {cluster['total_actors']} actors", ""]
    rows = [{"class_name": name, "state_counts": e["state_counts"]} for name, e in sorted(cluster["summary"].items())]
    out.append(table(rows, ("class_name", "state_counts")) if rows else "(no actors)")
    return "\n".join(out)
