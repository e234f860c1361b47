"""Chrome trace events (chrome://tracing, Perfetto) from the tasks' stories.

Theory of operation
-------------------
Each task that ran (its record has a start time) becomes one complete event
("ph": "X") from its last start to its end (or to `now`, still running).
Events are grouped as Ray's timeline groups them: one trace "process" per
node (named after it by a metadata event), and within it one "thread" per
lane. The head does not know which executor ran a task, so lanes are worked
out here: tasks of a node are laid out in start order, each on the lowest
lane free at its start, so overlapping tasks never share a lane and the
number of lanes shows the node's concurrency. Times are microseconds.
"""

from __future__ import annotations

from typing import Any


def trace_events(
    tasks: list[dict[str, Any]], nodes: list[dict[str, Any]], now_ms: int | None = None
) -> list[dict[str, Any]]:
    ran = [t for t in tasks if t.get("start_time_ms") is not None and t.get("node_id")]
    if now_ms is None:
        now_ms = max([t["end_time_ms"] or t["start_time_ms"] for t in ran], default=0)
    node_index = {n["node_id"]: i for i, n in enumerate(nodes)}
    events: list[dict[str, Any]] = []
    for node in nodes:
        pid = node_index[node["node_id"]]
        label = f"node {node['node_id'][:12]} ({node['node_ip']})"
        events.append({"name": "process_name", "ph": "M", "pid": pid, "tid": 0, "args": {"name": label}})
    lanes: dict[str, list[int]] = {}  # node -> end time of each lane's last task
    for task in sorted(ran, key=lambda t: (t["start_time_ms"], t["task_id"])):
        node_id = task["node_id"]
        if node_id not in node_index:
            node_index[node_id] = len(node_index)
        start = task["start_time_ms"]
        end = task["end_time_ms"] if task["end_time_ms"] is not None else max(now_ms, start)
        busy = lanes.setdefault(node_id, [])
        lane = next((i for i, until in enumerate(busy) if until <= start), len(busy))
        if lane == len(busy):
            busy.append(end)
        else:
            busy[lane] = end
        events.append(
            {
                "name": task["name"],
                "cat": task["type"].lower(),
                "ph": "X",
                "ts": start * 1000,
                "dur": max(0, end - start) * 1000,
                "pid": node_index[node_id],
                "tid": lane,
                "args": {
                    "task_id": task["task_id"],
                    "state": task["state"],
                    "job_id": task["job_id"],
                    "attempt_number": task["attempt_number"],
                    **({"error": task["error_message"]} if task.get("error_message") else {}),
                },
            }
        )
    return events
