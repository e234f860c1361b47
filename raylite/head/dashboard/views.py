"""Records of the head's state, shaped as Ray's state API's (ray.util.state).

Theory of operation
-------------------
Each function reads a HeadState (never changes it) and returns plain dicts of
JSON-able values, one per node, task, actor, object or placement group, with
the keys Ray's `list_*` calls return (`task_id`, `state`, `node_id`, ...)
plus a few of raylite's own (`head_state`: the head's own state name;
`events`: the record's story as time, state, event and cause). Ids are hex.

States are translated to Ray's names: the head's task states are coarser
(raylite/head/state/states.py), so WAITING is PENDING_ARGS_AVAIL, READY is
PENDING_NODE_ASSIGNMENT, a RUNNING task blocked in `get` is
RUNNING_IN_RAY_GET, and a finished task is FINISHED or FAILED.

Finished tasks come from the head's bounded history (history.py); a task
both in the history and in the table (rerun from lineage, an actor's
constructor run again) is listed once, as it is now.

Placement groups: when the state has a `placement_groups` table its records
are read by attribute name, so this module does not depend on their shape;
without one there are none.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from raylite import resources as res
from raylite.head.state import ActorState, HeadState, TaskState
from raylite.head.state.history import FinishedTask
from raylite.head.state.model import ACTOR_CREATION, ACTOR_METHOD, ActorRecord, ObjectInfo, TaskRecord
from raylite.head.state.states import entries
from raylite.ids import task_of

HEAD_NODE_RESOURCE = "node:__internal_head__"

TASK_TYPES = {0: "NORMAL_TASK", ACTOR_CREATION: "ACTOR_CREATION_TASK", ACTOR_METHOD: "ACTOR_TASK"}

_TASK_STATES = {
    TaskState.NEW: "NIL",
    TaskState.WAITING: "PENDING_ARGS_AVAIL",
    TaskState.READY: "PENDING_NODE_ASSIGNMENT",
    TaskState.WAITING_FOR_ACTOR: "PENDING_ACTOR_TASK_ORDERING_OR_CONCURRENCY",
    TaskState.RUNNING: "RUNNING",
    TaskState.FINISHED: "FINISHED",
}

# the error kinds the head and the executors report, as Ray's error_type names them
_ERROR_TYPES = {
    "WorkerCrashedError": "WORKER_DIED",
    "ActorDiedError": "ACTOR_DIED",
    "ActorUnavailableError": "ACTOR_UNAVAILABLE",
    "TaskUnschedulableError": "TASK_UNSCHEDULABLE_ERROR",
    "ObjectLostError": "OBJECT_LOST",
    "OwnerDiedError": "OWNER_DIED",
    "TaskCancelledError": "TASK_CANCELLED",
    "NodeDiedError": "NODE_DIED",
}


def hexid(some_id: bytes | None) -> str | None:
    return some_id.hex() if some_id else None


def events(story: Any) -> list[dict[str, Any]]:
    """A story as Ray's `events` (state and created_ms), with the head's event and cause."""
    return [
        {"state": str(e.state), "created_ms": int(e.at * 1000), "event": e.event, "cause": e.cause}
        for e in entries(story)
    ]


def _times(story: Any) -> tuple[int | None, int | None, int | None]:
    """(creation, start, end) in ms since the epoch, from a flat story: its first entry, its
    last RUNNING entry, and its FINISHED entry when it is the last."""
    if not story:
        return None, None, None
    start = end = None
    for i in range(1, len(story), 4):
        name = story[i]
        if name == "RUNNING":
            start, end = int(story[i - 1] * 1000), None
        elif name == "FINISHED":
            end = int(story[i - 1] * 1000)
    return int(story[0] * 1000), start, end


def error_type(error: str) -> str | None:
    if not error:
        return None
    kind = error.split(":", 1)[0].strip()
    return _ERROR_TYPES.get(kind, "TASK_EXECUTION_EXCEPTION")


# ---- nodes -------------------------------------------------------------------------


def node_records(state: HeadState) -> list[dict[str, Any]]:
    used = store_use(state)
    out = []
    for node in state.nodes.values():
        info = node.info
        ip = getattr(info, "ip", "") or ""
        total = dict(node.total)
        out.append(
            {
                "node_id": node.node_id.hex(),
                "node_ip": ip,
                "is_head_node": HEAD_NODE_RESOURCE in total,
                "state": "ALIVE" if node.alive else "DEAD",
                "state_message": None if node.alive else "the head lost its worker daemon",
                "node_name": ip,
                "resources_total": total,
                "resources_available": dict(node.available) if node.alive else {},
                "labels": {},
                "address": getattr(info, "address", "") or "",
                "object_store_used": used.get(node.node_id, (0, 0))[0],
                "object_store_capacity": total.get("object_store_memory", 0.0),
                "num_objects": used.get(node.node_id, (0, 0))[1],
            }
        )
    return out


def store_use(state: HeadState) -> dict[bytes, tuple[int, int]]:
    """node -> (bytes, objects) of the objects it stores, primaries and copies."""
    out: dict[bytes, tuple[int, int]] = {}
    copies = state.copies
    for oid, info in state.objects.items():
        if info.node_id is None:
            continue
        for node_id in (info.node_id, *copies.get(oid, ())):
            size, count = out.get(node_id, (0, 0))
            out[node_id] = (size + info.size, count + 1)
    return out


# ---- tasks -------------------------------------------------------------------------
#
# A head may keep tens of thousands of tasks, and the dashboard asks every second: a
# query walks the tasks as they are (rows: TaskRecord or FinishedTask), reads the few
# fields its filters name with cheap getters, and builds whole records only for the
# rows it returns.

TaskRow = TaskRecord | FinishedTask


def task_rows(state: HeadState) -> list[TaskRow]:
    """Every task the head knows, each once: those in its table (queued, running) first, then
    direct actor calls in flight and leased tasks running, then the finished ones of its history,
    newest first."""
    live = state.tasks
    rows: list[TaskRow] = list(live.values())
    seen: set[bytes] = set()
    # direct actor calls their callers reported running (the head has them in no table)
    for call in state.running_calls.values():
        if call.task_id not in live:
            seen.add(call.task_id)
            rows.append(call)
    leased = state.leases.running  # leased tasks their node reported running (raylite/head/state/leases.py)
    for task in leased.values():
        if task.task_id not in live and task.task_id not in seen:
            seen.add(task.task_id)
            rows.append(task)
    for done in state.finished_tasks.newest_first():
        if done.task_id in live or done.task_id in seen:
            continue
        seen.add(done.task_id)
        rows.append(done)
    return rows


def ray_task_state(task: TaskRow) -> str:
    if isinstance(task, FinishedTask):
        return "FAILED" if task.failed else "FINISHED"
    if task.state is TaskState.RUNNING and task.blocked:
        return "RUNNING_IN_RAY_GET"
    return _TASK_STATES.get(task.state, str(task.state))  # (a state added later shows as the head names it)


_TASK_FIELDS: dict[str, Any] = {
    "task_id": lambda t: t.task_id.hex(),
    "name": lambda t: t.name,
    "func_or_class_name": lambda t: t.name,
    "state": ray_task_state,
    "type": lambda t: TASK_TYPES.get(t.kind, "NORMAL_TASK"),
    "job_id": lambda t: t.job_id.hex(),
    "node_id": lambda t: hexid(t.node_id),
    "actor_id": lambda t: hexid(t.actor_id) if t.kind != 0 else None,
    "attempt_number": lambda t: max(0, t.attempt - 1),
}


def task_field(task: TaskRow, key: str) -> Any:
    """One field of a task's record, without building the record when it is a cheap one."""
    getter = _TASK_FIELDS.get(key)
    return getter(task) if getter is not None else task_record(task).get(key)


def task_records(state: HeadState) -> list[dict[str, Any]]:
    return [task_record(t) for t in task_rows(state)]


def task_record(task: TaskRow, with_events: bool = True) -> dict[str, Any]:
    created, start, end = _times(task.story)
    finished = isinstance(task, FinishedTask)
    return {
        "task_id": task.task_id.hex(),
        "attempt_number": max(0, task.attempt - 1),
        "name": task.name,
        "func_or_class_name": task.name,
        "state": ray_task_state(task),
        "head_state": str(TaskState.FINISHED) if finished else str(task.state),  # type: ignore[union-attr]
        "type": TASK_TYPES.get(task.kind, "NORMAL_TASK"),
        "job_id": task.job_id.hex(),
        "actor_id": hexid(task.actor_id) if task.kind != 0 else None,
        "node_id": hexid(task.node_id),
        "parent_task_id": None,
        "worker_id": None,
        "worker_pid": None,
        "error_type": error_type(task.error) if finished and task.failed else None,  # type: ignore[union-attr]
        "error_message": (task.error or None) if finished else None,  # type: ignore[union-attr]
        "language": "PYTHON",
        "required_resources": dict(task.resources),
        "creation_time_ms": created,
        "start_time_ms": start,
        "end_time_ms": end,
        "events": events(task.story) if with_events else [],
        "placement_group_id": _hex_any(getattr(task, "placement_group_id", b"")) or None,
    }


# ---- actors ------------------------------------------------------------------------


def actor_records(state: HeadState) -> list[dict[str, Any]]:
    return [actor_record(a) for a in state.actors.values()]


def actor_state(actor: ActorRecord) -> str:
    if actor.state is ActorState.PENDING:
        creation = actor.creation
        waiting = creation is not None and creation.state is TaskState.WAITING
        return "DEPENDENCIES_UNREADY" if waiting else "PENDING_CREATION"
    if actor.state is ActorState.PLACED:
        return "ALIVE" if actor.ready is not None else "PENDING_CREATION"
    if actor.state is ActorState.RECOVERING:
        return "ALIVE"  # saved as placed; its node has not said otherwise yet
    return str(actor.state)  # RESTARTING, DEAD


def actor_record(actor: ActorRecord) -> dict[str, Any]:
    creation = actor.creation
    class_name = creation.name.removesuffix(".__init__") if creation is not None else ""
    required = dict(actor.held) if actor.held else (dict(creation.placement) if creation is not None else {})
    calls = [c for c in actor.inflight if c != actor.actor_id]
    return {
        "actor_id": actor.actor_id.hex(),
        "class_name": class_name,
        "state": actor_state(actor),
        "head_state": str(actor.state),
        "job_id": actor.job_id.hex(),
        "name": actor.name,
        "node_id": hexid(actor.node_id),
        "pid": None,
        "ray_namespace": None,
        "death_cause": actor.death or None,
        "is_detached": actor.detached,
        "num_restarts": actor.restarts,
        "max_restarts": creation.max_restarts if creation is not None else 0,
        "required_resources": required,
        "repr_name": "",
        "placement_group_id": None,
        "pending_calls": len(actor.pending),
        "running_calls": len(calls),
        "events": events(actor.story),
    }


# ---- objects -----------------------------------------------------------------------


def object_records(state: HeadState) -> list[dict[str, Any]]:
    return [object_record(state, info) for info in state.objects.values()]


def object_rows(state: HeadState) -> list[ObjectInfo]:
    return list(state.objects.values())


_OBJECT_FIELDS: dict[str, Any] = {
    "object_id": lambda state, info: info.object_id.hex(),
    "object_size": lambda state, info: info.size,
    "node_id": lambda state, info: hexid(info.node_id),
    "inline": lambda state, info: info.node_id is None,
    "is_error": lambda state, info: info.is_error,
}


def object_field(state: HeadState, info: ObjectInfo, key: str) -> Any:
    getter = _OBJECT_FIELDS.get(key)
    return getter(state, info) if getter is not None else object_record(state, info).get(key)


def object_record(state: HeadState, info: ObjectInfo) -> dict[str, Any]:
    oid = info.object_id
    held_by = state.holders_of(oid)
    pinned = state.pins.get(oid, 0)
    maker = state.tasks.get(task_of(oid))
    locations = [info.node_id, *sorted(state.copies.get(oid, ()))] if info.node_id is not None else []
    primary = state.nodes.get(info.node_id) if info.node_id is not None else None
    return {
        "object_id": oid.hex(),
        "object_size": info.size,
        "task_status": _TASK_STATES.get(maker.state, str(maker.state)) if maker is not None else "FINISHED",
        "attempt_number": 0,
        "reference_type": "LOCAL_REFERENCE" if held_by else ("PINNED_IN_MEMORY" if pinned else "UNKNOWN"),
        "call_site": "disabled",
        "type": "DRIVER",
        "pid": None,
        "ip": getattr(primary.info, "ip", None) if primary is not None else None,
        "node_id": hexid(info.node_id),
        "locations": [n.hex() for n in locations],
        "inline": info.node_id is None,
        "is_error": info.is_error,
        "referenced_by": sorted(c.hex() for c in held_by),
        "pins": pinned,
    }


# ---- placement groups --------------------------------------------------------------


def placement_group_records(state: HeadState) -> list[dict[str, Any]]:
    table = getattr(state, "placement_groups", None)
    if not table:
        return []
    out = []
    for pg_id, pg in table.items():
        bundles = getattr(pg, "bundles", None) or []
        nodes = getattr(pg, "nodes", None) or getattr(pg, "bundle_nodes", None) or []
        out.append(
            {
                "placement_group_id": _hex_any(getattr(pg, "pg_id", None) or getattr(pg, "placement_group_id", pg_id)),
                "name": getattr(pg, "name", "") or "",
                "creator_job_id": _hex_any(getattr(pg, "job_id", b"")),
                "state": str(getattr(pg, "state", "")),
                "strategy": str(getattr(pg, "strategy", "")),
                "is_detached": bool(getattr(pg, "detached", False)),
                "bundles": [
                    {
                        "bundle_id": i,
                        "unit_resources": dict(b),
                        "node_id": _hex_any(nodes[i]) if i < len(nodes) and nodes[i] else None,
                    }
                    for i, b in enumerate(bundles)
                ],
                "events": flat_events(getattr(pg, "story", None)),
            }
        )
    return out


def flat_events(story: Any) -> list[dict[str, Any]]:
    """A flat story (time, state, event, cause, ...) of any record, its states read as text."""
    if not story:
        return []
    return [
        {"state": str(story[i + 1]), "created_ms": int(story[i] * 1000), "event": story[i + 2], "cause": story[i + 3]}
        for i in range(0, len(story) - 3, 4)
    ]


def _hex_any(value: Any) -> Any:
    return value.hex() if isinstance(value, bytes | bytearray) else value


# ---- cluster status ----------------------------------------------------------------


def demands(state: HeadState) -> tuple[dict[str, int], dict[str, int]]:
    """(pending, infeasible): resource requests waiting for a node, counted by shape.

    Pending: tasks READY and actors waiting for placement whose request fits some
    live node's total; infeasible: those that fit none.
    """
    alive = [n for n in state.nodes.values() if n.alive]
    pending: dict[str, int] = {}
    infeasible: dict[str, int] = {}
    for task in _queued(state.tasks.values()):
        request = task.placement if task.kind == ACTOR_CREATION else task.resources
        shape = shape_of(request)
        into = pending if any(res.fits(request, n.total) for n in alive) else infeasible
        into[shape] = into.get(shape, 0) + 1
    return pending, infeasible


def _queued(tasks: Iterable[TaskRecord]) -> Iterator[TaskRecord]:
    for task in tasks:
        if task.state is TaskState.READY:
            yield task


def shape_of(request: dict[str, float]) -> str:
    return "{" + ", ".join(f"{k!r}: {v:g}" for k, v in sorted(request.items())) + "}"


def cluster_status(state: HeadState) -> dict[str, Any]:
    """For `raylite status` and the dashboard's overview: nodes, resources, demand."""
    nodes = node_records(state)
    total: dict[str, float] = {}
    available: dict[str, float] = {}
    for node in nodes:
        if node["state"] != "ALIVE":
            continue
        for name, amount in node["resources_total"].items():
            total[name] = total.get(name, 0.0) + amount
            available[name] = available.get(name, 0.0) + node["resources_available"].get(name, 0.0)
    pending, infeasible = demands(state)
    counts: dict[str, int] = {}
    for task in state.tasks.values():
        key = str(task.state)
        counts[key] = counts.get(key, 0) + 1
    return {
        "nodes": nodes,
        "resources_total": total,
        "resources_available": available,
        "pending_demands": pending,
        "infeasible_demands": infeasible,
        "tasks_by_head_state": counts,
        "num_finished_kept": len(state.finished_tasks),
        "num_actors": sum(1 for a in state.actors.values() if a.state is not ActorState.DEAD),
        "num_objects": len(state.objects),
        "recovering": state.recovering,
    }
