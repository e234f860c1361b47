"""raylite.util.state: Ray's state API (ray.util.state) over the head's state views.

    from raylite.util.state import list_tasks, summarize_tasks
    list_tasks(filters=[("state", "=", "RUNNING")], limit=10, detail=True)

Lists return records that read both as objects and as dicts (`t.state`,
`t["state"]`, `t.asdict()`), with Ray's field names; filters are Ray's (key,
"=" or "!=", value; values compare as strings, case-insensitively). Without
`detail` a record has Ray's base columns only. With `raise_on_missing_output`
(the default, as Ray's) a list cut short by `limit` prints a warning saying
how many there were. `address` is as Ray's: None (this process's cluster,
else the one on this machine), "auto", or "host:port".
"""

from __future__ import annotations

import sys
from typing import Any

from raylite.util.state.exception import RayStateApiException
from raylite.util.state.logs import get_log, list_logs
from raylite.util.state.rpc import DEFAULT_TIMEOUT_S, fetch

Filters = list[tuple[str, str, Any]] | None


class StateRecord(dict):
    """One record of a state list: a dict whose keys also read as attributes."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"{type(self).__name__} has no field {name!r}") from None

    def asdict(self) -> dict[str, Any]:
        return dict(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.items())})"


class NodeState(StateRecord):
    pass


class TaskState(StateRecord):
    pass


class ActorState(StateRecord):
    pass


class ObjectState(StateRecord):
    pass


class PlacementGroupState(StateRecord):
    pass


_RECORDS: dict[str, type[StateRecord]] = {
    "nodes": NodeState,
    "tasks": TaskState,
    "actors": ActorState,
    "objects": ObjectState,
    "placement_groups": PlacementGroupState,
}


def _list(
    view: str,
    address: str | None,
    filters: Filters,
    limit: int,
    timeout: float,
    detail: bool,
    raise_on_missing_output: bool,
) -> list[Any]:
    answer = fetch(view, filters or (), limit, detail, address, timeout)
    kind = _RECORDS[view]
    records = [kind(r) for r in answer["result"]]
    if raise_on_missing_output and answer["num_after_truncation"] < answer["num_filtered"]:
        print(
            f"raylite.util.state: showing {answer['num_after_truncation']} of {answer['num_filtered']} {view}; "
            "pass a larger limit= to see more",
            file=sys.stderr,
        )
    return records


def list_nodes(
    address: str | None = None,
    filters: Filters = None,
    limit: int = 100,
    timeout: float = DEFAULT_TIMEOUT_S,
    detail: bool = False,
    raise_on_missing_output: bool = True,
    _explain: bool = False,
) -> list[NodeState]:
    """The cluster's nodes, dead ones too (state ALIVE or DEAD)."""
    return _list("nodes", address, filters, limit, timeout, detail, raise_on_missing_output)


def list_tasks(
    address: str | None = None,
    filters: Filters = None,
    limit: int = 100,
    timeout: float = DEFAULT_TIMEOUT_S,
    detail: bool = False,
    raise_on_missing_output: bool = True,
    _explain: bool = False,
) -> list[TaskState]:
    """Tasks the head knows: queued and running ones first, then the last finished ones, newest
    first (the head keeps RAYLITE_TASK_HISTORY of them, 10,000 unless told)."""
    return _list("tasks", address, filters, limit, timeout, detail, raise_on_missing_output)


def list_actors(
    address: str | None = None,
    filters: Filters = None,
    limit: int = 100,
    timeout: float = DEFAULT_TIMEOUT_S,
    detail: bool = False,
    raise_on_missing_output: bool = True,
    _explain: bool = False,
) -> list[ActorState]:
    return _list("actors", address, filters, limit, timeout, detail, raise_on_missing_output)


def list_objects(
    address: str | None = None,
    filters: Filters = None,
    limit: int = 100,
    timeout: float = DEFAULT_TIMEOUT_S,
    detail: bool = False,
    raise_on_missing_output: bool = True,
    _explain: bool = False,
) -> list[ObjectState]:
    """Objects that exist now, with their size, where they are and who holds a ref to them."""
    return _list("objects", address, filters, limit, timeout, detail, raise_on_missing_output)


def list_placement_groups(
    address: str | None = None,
    filters: Filters = None,
    limit: int = 100,
    timeout: float = DEFAULT_TIMEOUT_S,
    detail: bool = False,
    raise_on_missing_output: bool = True,
    _explain: bool = False,
) -> list[PlacementGroupState]:
    return _list("placement_groups", address, filters, limit, timeout, detail, raise_on_missing_output)


def _id_text(some_id: Any) -> str:
    if isinstance(some_id, str):
        return some_id
    for method in ("hex", "task_id"):
        if hasattr(some_id, method):
            value = getattr(some_id, method)()
            return value if isinstance(value, str) else _id_text(value)
    raise TypeError(f"expected an id as a hex string, got {type(some_id).__name__}")


def get_task(
    id: Any, address: str | None = None, timeout: float = DEFAULT_TIMEOUT_S, _explain: bool = False
) -> TaskState | list[TaskState] | None:
    """The task of that id (a hex string, or an ObjectRef it returned), None if unknown."""
    text = _task_id_of(id)
    found = list_tasks(address, [("task_id", "=", text)], 10_000, timeout, detail=True)
    if not found:
        return None
    return found[0] if len(found) == 1 else found


def _task_id_of(some_id: Any) -> str:
    if isinstance(some_id, str):
        return some_id
    task_id = getattr(some_id, "task_id", None)
    if callable(task_id):
        return _id_text(task_id())
    return _id_text(some_id)


def get_actor(
    id: str, address: str | None = None, timeout: float = DEFAULT_TIMEOUT_S, _explain: bool = False
) -> ActorState | None:
    found = list_actors(address, [("actor_id", "=", _id_text(id))], 1, timeout, detail=True)
    return found[0] if found else None


def get_node(
    id: str, address: str | None = None, timeout: float = DEFAULT_TIMEOUT_S, _explain: bool = False
) -> NodeState | None:
    found = list_nodes(address, [("node_id", "=", _id_text(id))], 1, timeout, detail=True)
    return found[0] if found else None


def get_placement_group(
    id: str, address: str | None = None, timeout: float = DEFAULT_TIMEOUT_S, _explain: bool = False
) -> PlacementGroupState | None:
    found = list_placement_groups(address, [("placement_group_id", "=", _id_text(id))], 1, timeout, detail=True)
    return found[0] if found else None


def get_objects(
    id: str, address: str | None = None, timeout: float = DEFAULT_TIMEOUT_S, _explain: bool = False
) -> list[ObjectState]:
    return list_objects(address, [("object_id", "=", _id_text(id))], 10_000, timeout, detail=True)


def summarize_tasks(
    address: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    raise_on_missing_output: bool = True,
    _explain: bool = False,
) -> dict[str, Any]:
    """{"cluster": {"summary": {name: {"func_or_class_name", "type", "state_counts"}}, "total_tasks", ...}}"""
    return fetch("summary_tasks", address=address, timeout=timeout)["result"]


def summarize_actors(
    address: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    raise_on_missing_output: bool = True,
    _explain: bool = False,
) -> dict[str, Any]:
    """{"cluster": {"summary": {class: {"class_name", "state_counts"}}, "total_actors", "summary_by"}}"""
    return fetch("summary_actors", address=address, timeout=timeout)["result"]


def explain(ids: Any, address: str | None = None, timeout: float = DEFAULT_TIMEOUT_S) -> dict[str, Any]:
    """Why objects, tasks or actors are not done: the head's explanation (raylite/head/state/explain.py).

    `ids`: one or a list of ObjectRefs, ActorHandles, or hex ids of objects, tasks or actors.
    Returns {"lines": [...] (as printed by a waiting get and `raylite explain`), "reasons":
    [{"kind", "text", "depth", "subject"}], "counts": {root cause: n}, "total": n}.
    """
    many = ids if isinstance(ids, (list, tuple)) else [ids]
    raw = [_id_bytes(some_id) for some_id in many]
    return fetch("explain", address=address, timeout=timeout, ids=raw)["result"]


def _id_bytes(some_id: Any) -> bytes:
    if isinstance(some_id, bytes):
        return some_id
    actor_id = getattr(some_id, "_actor_id", None)
    if isinstance(actor_id, bytes):
        return actor_id
    if hasattr(some_id, "binary"):
        return some_id.binary()
    text = _id_text(some_id)
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a hex id of an object, task or actor") from None


__all__ = [
    "explain",
    "ActorState",
    "NodeState",
    "ObjectState",
    "PlacementGroupState",
    "RayStateApiException",
    "TaskState",
    "get_actor",
    "get_log",
    "get_node",
    "get_objects",
    "get_placement_group",
    "get_task",
    "list_actors",
    "list_logs",
    "list_nodes",
    "list_objects",
    "list_placement_groups",
    "list_tasks",
    "summarize_actors",
    "summarize_tasks",
]
