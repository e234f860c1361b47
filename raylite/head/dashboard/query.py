"""Filters, limits and summaries over the views: what a state query answers.

`query(state, view, filters, limit, detail)` is the one entry: the
GetStateView RPC (raylite/head/dashboard/rpc.py) and the dashboard's JSON API
(server.py) both call it, so `raylite list`, `raylite.util.state` and the
browser all see the same records. It returns a dict:
`{"result": ..., "total": n, "num_filtered": m, "num_after_truncation": k}`.

Filter semantics are Ray's: a filter is (key, predicate, value), predicate
"=" or "!="; values compare as strings, case-insensitively (so
("state", "=", "running") and ("is_head_node", "=", "True") both match);
several filters must all hold. A key that no record of the view has is an
error naming the keys there are, not an empty answer.

Tasks and objects may number tens of thousands and the dashboard asks every
second, so those views are lazy (`_LAZY`): a query walks the rows as the head
keeps them, reads only the fields its filters and search name, and builds
records only for the rows it returns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from raylite.head.dashboard import timeline, views
from raylite.head.state import HeadState

DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000

# Ray's columns without detail=True; detail adds the rest of the record.
BASE_COLUMNS: dict[str, tuple[str, ...]] = {
    "nodes": (
        "node_id",
        "node_ip",
        "is_head_node",
        "state",
        "state_message",
        "node_name",
        "resources_total",
        "labels",
    ),
    "tasks": (
        "task_id",
        "attempt_number",
        "name",
        "state",
        "job_id",
        "actor_id",
        "type",
        "func_or_class_name",
        "parent_task_id",
        "node_id",
        "worker_id",
        "worker_pid",
        "error_type",
    ),
    "actors": ("actor_id", "class_name", "state", "job_id", "name", "node_id", "pid", "ray_namespace"),
    "objects": (
        "object_id",
        "object_size",
        "task_status",
        "attempt_number",
        "reference_type",
        "call_site",
        "type",
        "pid",
        "ip",
    ),
    "placement_groups": ("placement_group_id", "name", "creator_job_id", "state"),
}

LISTS: dict[str, Callable[[HeadState], list[dict[str, Any]]]] = {
    "nodes": views.node_records,
    "tasks": views.task_records,
    "actors": views.actor_records,
    "objects": views.object_records,
    "placement_groups": views.placement_group_records,
}

VIEWS = (*LISTS, "summary_tasks", "summary_actors", "status", "timeline")


class QueryError(ValueError):
    """A query no answer fits (an unknown view, key or predicate); its text says what to ask instead."""


Filter = tuple[str, str, Any]


def check_filters(view: str, filters: Sequence[Filter]) -> None:
    for key, predicate, _value in filters:
        if predicate not in ("=", "!="):
            raise QueryError(f"unsupported filter predicate {predicate!r} (in {key} {predicate}): use '=' or '!='")
        known = _keys(view)
        if known and key not in known:
            raise QueryError(f"{view} cannot be filtered by {key!r}; the keys are: {', '.join(sorted(known))}")


def _keys(view: str) -> set[str]:
    if view not in BASE_COLUMNS:
        return set()
    return set(BASE_COLUMNS[view]) | _DETAIL_KEYS.get(view, set())


# the keys of a detailed record of each view (those of raylite beyond Ray's base columns)
_DETAIL_KEYS: dict[str, set[str]] = {
    "nodes": {
        "resources_available",
        "address",
        "object_store_used",
        "object_store_capacity",
        "num_objects",
    },
    "tasks": {
        "language",
        "required_resources",
        "creation_time_ms",
        "start_time_ms",
        "end_time_ms",
        "events",
        "placement_group_id",
        "head_state",
        "error_message",
    },
    "actors": {
        "head_state",
        "death_cause",
        "is_detached",
        "num_restarts",
        "max_restarts",
        "required_resources",
        "repr_name",
        "placement_group_id",
        "pending_calls",
        "running_calls",
        "events",
    },
    "objects": {"node_id", "locations", "inline", "is_error", "referenced_by", "pins"},
    "placement_groups": {"strategy", "is_detached", "bundles", "events"},
}


def matches(record: dict[str, Any], filters: Sequence[Filter]) -> bool:
    for key, predicate, value in filters:
        equal = _text(record.get(key)) == _text(value)
        if equal != (predicate == "="):
            return False
    return True


def _text(value: Any) -> str:
    return str(value).lower()


def select(
    records: list[dict[str, Any]],
    view: str,
    filters: Sequence[Filter] = (),
    limit: int | None = None,
    detail: bool = False,
) -> dict[str, Any]:
    total = len(records)
    kept = [r for r in records if matches(r, filters)] if filters else records
    limit = DEFAULT_LIMIT if not limit or limit < 0 else min(limit, MAX_LIMIT)
    shown = kept[:limit]
    if not detail and view in BASE_COLUMNS:
        columns = BASE_COLUMNS[view]
        shown = [{c: r.get(c) for c in columns} for r in shown]
    return {"result": shown, "total": total, "num_filtered": len(kept), "num_after_truncation": len(shown)}


# the fields a dashboard search looks in, by view
SEARCH_KEYS = ("task_id", "actor_id", "node_id", "object_id", "placement_group_id", "name", "class_name", "node_ip")


def search_records(records: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    """The records one of whose ids or names contains `text`, case-insensitively."""
    needle = text.lower()
    return [r for r in records if any(needle in str(r.get(k) or "").lower() for k in SEARCH_KEYS)]


def summarize_tasks(tasks: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts of tasks by function (or name) and state, as Ray's summarize_tasks."""
    summary: dict[str, dict[str, Any]] = {}
    totals = {"NORMAL_TASK": 0, "ACTOR_TASK": 0, "ACTOR_CREATION_TASK": 0}
    for task in tasks:
        key = task.get("name") or task["func_or_class_name"]
        entry = summary.setdefault(key, {"func_or_class_name": key, "type": task["type"], "state_counts": {}})
        counts = entry["state_counts"]
        counts[task["state"]] = counts.get(task["state"], 0) + 1
        totals[task["type"]] = totals.get(task["type"], 0) + 1
    return _task_summary(summary, totals)


def summarize_actors(actors: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts of actors by class and state, as Ray's summarize_actors."""
    summary: dict[str, dict[str, Any]] = {}
    for actor in actors:
        key = actor["class_name"]
        entry = summary.setdefault(key, {"class_name": key, "state_counts": {}})
        counts = entry["state_counts"]
        counts[actor["state"]] = counts.get(actor["state"], 0) + 1
    return {"cluster": {"summary": summary, "total_actors": len(actors), "summary_by": "class"}}


def query(
    state: HeadState,
    view: str,
    filters: Sequence[Filter] = (),
    limit: int | None = None,
    detail: bool = False,
    search: str = "",
) -> dict[str, Any]:
    """The answer to one state query (see the module docstring); QueryError for a bad one.
    `search` (the dashboard's): keep records one of whose ids or names contains it."""
    if view not in VIEWS:
        raise QueryError(f"unknown state view {view!r}; the views are: {', '.join(VIEWS)}")
    check_filters(view, filters)
    if view in _LAZY:
        return _lazy(state, view, filters, limit, detail, search)
    if view in LISTS:
        records = LISTS[view](state)
        return select(search_records(records, search) if search else records, view, filters, limit, detail)
    if view == "summary_tasks":
        return {"result": summarize_task_rows(views.task_rows(state))}
    if view == "summary_actors":
        return {"result": summarize_actors(views.actor_records(state))}
    if view == "timeline":
        ran = [views.task_record(t, with_events=False) for t in views.task_rows(state) if t.node_id is not None]
        return {"result": timeline.trace_events(ran, views.node_records(state))}
    return {"result": views.cluster_status(state)}


def summarize_task_rows(rows: list[views.TaskRow]) -> dict[str, Any]:
    """summarize_tasks of the tasks as the head keeps them: counted first, named after."""
    counts: dict[tuple[str, int, str], int] = {}
    state_of = views.ray_task_state
    for task in rows:
        key = (task.name, task.kind, state_of(task))
        counts[key] = counts.get(key, 0) + 1
    summary: dict[str, dict[str, Any]] = {}
    totals = {"NORMAL_TASK": 0, "ACTOR_TASK": 0, "ACTOR_CREATION_TASK": 0}
    for (name, kind, state), n in counts.items():
        kind_name = views.TASK_TYPES.get(kind, "NORMAL_TASK")
        entry = summary.setdefault(name, {"func_or_class_name": name, "type": kind_name, "state_counts": {}})
        entry["state_counts"][state] = entry["state_counts"].get(state, 0) + n
        totals[kind_name] += n
    return _task_summary(summary, totals)


def _task_summary(summary: dict[str, dict[str, Any]], totals: dict[str, int]) -> dict[str, Any]:
    return {
        "cluster": {
            "summary": summary,
            "total_tasks": totals["NORMAL_TASK"],
            "total_actor_tasks": totals["ACTOR_TASK"],
            "total_actor_scheduled": totals["ACTOR_CREATION_TASK"],
            "summary_by": "func_name",
        }
    }


class _Lazy(NamedTuple):
    """A view too large to build a record per row for each query: its rows as the head keeps
    them, a record of one row, one field of a row (cheap for the fields filters mostly name),
    and the texts a search looks in."""

    rows: Callable[[HeadState], list[Any]]
    record: Callable[[HeadState, Any, bool], dict[str, Any]]
    field: Callable[[HeadState, Any, str], Any]
    texts: Callable[[Any], tuple[str, ...]]


_LAZY: dict[str, _Lazy] = {
    "tasks": _Lazy(
        lambda state: views.task_rows(state),
        lambda state, t, detail: views.task_record(t, with_events=detail),
        lambda state, t, key: views.task_field(t, key),
        lambda t: (t.task_id.hex(), t.name.lower()),
    ),
    "objects": _Lazy(
        views.object_rows,
        lambda state, info, detail: views.object_record(state, info),
        views.object_field,
        lambda info: (info.object_id.hex(),),
    ),
}


def _lazy(
    state: HeadState, view: str, filters: Sequence[Filter], limit: int | None, detail: bool, search: str
) -> dict[str, Any]:
    """A large view without building a record per row: filters read only the fields they name."""
    spec = _LAZY[view]
    rows = spec.rows(state)
    total = len(rows)
    if search:
        needle = search.lower()
        rows = [r for r in rows if any(needle in text for text in spec.texts(r))]
    if filters:
        field = spec.field
        wanted = [(key, predicate == "=", _text(value)) for key, predicate, value in filters]
        rows = [r for r in rows if all((_text(field(state, r, key)) == value) == equal for key, equal, value in wanted)]
    limit = DEFAULT_LIMIT if not limit or limit < 0 else min(limit, MAX_LIMIT)
    shown = [spec.record(state, r, detail) for r in rows[:limit]]
    if not detail:
        columns = BASE_COLUMNS[view]
        shown = [{c: r.get(c) for c in columns} for r in shown]
    return {"result": shown, "total": total, "num_filtered": len(rows), "num_after_truncation": len(shown)}
