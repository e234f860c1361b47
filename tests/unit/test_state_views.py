"""The head's state views (raylite/head/dashboard): records, filters, summaries, timeline."""

from __future__ import annotations

import json

import pytest

from raylite.head.dashboard import query as q
from raylite.head.dashboard import timeline, views
from raylite.head.dashboard.rpc import answer
from raylite.head.state import HeadState
from raylite.head.state.history import TaskHistory
from raylite.head.state.model import (
    ACTOR_CREATION,
    ClientConnected,
    NodeAdded,
    ObjectInfo,
    ObjectsPut,
    RefsChanged,
    TaskBlockChanged,
    TaskFinished,
    TaskRecord,
    TaskSubmitted,
)
from raylite.ids import TASK_ID_BYTES, object_id
from raylite.rpc import common_pb2, head_pb2

DRIVER, JOB = b"driver-A", b"job-A"
N1, N2 = b"node-1".ljust(16, b"."), b"node-2".ljust(16, b".")


def tid(label: str) -> bytes:
    return label.encode().ljust(TASK_ID_BYTES, b".")


def task(label: str, cpus: float = 1.0, **kw) -> TaskRecord:
    kw.setdefault("name", label)
    return TaskRecord(task_id=tid(label), job_id=JOB, client_id=DRIVER, resources={"CPU": cpus}, **kw)


def node(node_id: bytes, cpus: float, ip: str, head: bool = False) -> NodeAdded:
    total = {"CPU": cpus, "object_store_memory": 1000.0, **({views.HEAD_NODE_RESOURCE: 1.0} if head else {})}
    info = common_pb2.NodeInfo(node_id=node_id, address=f"{ip}:7000", ip=ip, total=total)
    return NodeAdded(node_id, total, info)


def result(label: str, size: int = 10, node_id: bytes | None = None, error: bool = False) -> ObjectInfo:
    return ObjectInfo(object_id(tid(label), 0), node_id=node_id, size=size, is_error=error)


@pytest.fixture
def state() -> HeadState:
    """Two nodes (2 CPUs, 1 CPU); a finished task, a failed one, one running (blocked), one queued,
    one that no node can run, and an actor placed on node 2."""
    s = HeadState()
    s.handle(node(N1, 2, "10.0.0.1", head=True), node(N2, 1, "10.0.0.2"), ClientConnected(DRIVER, JOB, True), now=1.0)
    held = RefsChanged(DRIVER, [(object_id(tid("done"), 0), True), (object_id(tid("bad"), 0), True)])
    s.handle(held, TaskSubmitted(task("done")), TaskSubmitted(task("bad")), now=2.0)
    where = {label: s.tasks[tid(label)].node_id for label in ("done", "bad")}
    assert where["done"] == N1  # (the scheduler fills the first node first)
    s.handle(
        TaskFinished(N1, tid("done"), [result("done", 500, node_id=N1)]),
        TaskFinished(where["bad"], tid("bad"), [result("bad", error=True)], "ValueError: no"),  # type: ignore[arg-type]
        now=3.0,
    )
    s.handle(TaskSubmitted(task("run", name="work")), now=4.0)
    s.handle(TaskBlockChanged(tid("run"), True), now=4.5)
    creation = TaskRecord(
        task_id=tid("Counter"),
        job_id=JOB,
        client_id=DRIVER,
        name="Counter.__init__",
        kind=ACTOR_CREATION,
        placement={"CPU": 1.0},
        actor_id=tid("Counter"),
        actor_name="counter",
    )
    s.handle(TaskSubmitted(creation), now=5.0)
    s.handle(TaskSubmitted(task("huge", cpus=64)), now=6.0)
    put = ObjectInfo(b"put-1".ljust(28, b"."), node_id=N2, size=300)
    s.handle(RefsChanged(DRIVER, [(put.object_id, True)]), ObjectsPut([put]), now=6.0)
    s.validate()
    return s


def by_name(records: list[dict]) -> dict[str, dict]:
    return {r["name"]: r for r in records}


def test_tasks_finished_failed_running_and_pending_are_listed_with_rays_states(state: HeadState) -> None:
    tasks = by_name(views.task_records(state))
    assert tasks["done"]["state"] == "FINISHED" and tasks["done"]["error_type"] is None
    assert tasks["bad"]["state"] == "FAILED"
    assert tasks["bad"]["error_type"] == "TASK_EXECUTION_EXCEPTION"
    assert tasks["bad"]["error_message"] == "ValueError: no"
    assert tasks["work"]["state"] == "RUNNING_IN_RAY_GET"  # it blocked in get
    assert tasks["huge"]["state"] == "PENDING_NODE_ASSIGNMENT"
    assert tasks["Counter.__init__"]["type"] == "ACTOR_CREATION_TASK"
    done = tasks["done"]
    assert (done["creation_time_ms"], done["start_time_ms"], done["end_time_ms"]) == (2000, 2000, 3000)
    assert [e["state"] for e in done["events"]] == ["NEW", "READY", "RUNNING", "FINISHED"]
    assert done["node_id"] == N1.hex()


def test_a_task_finished_twice_is_listed_once() -> None:
    history = TaskHistory(limit=3)
    t = task("again")
    for _ in range(2):
        history.add(t, [result("again")], "")
    s = HeadState()
    s._tasks.history = history
    assert [r["name"] for r in views.task_records(s)] == ["again"]


def test_the_head_keeps_as_many_finished_tasks_as_told() -> None:
    s = HeadState(task_history=0)
    assert s.finished_tasks.limit == 0
    s.finished_tasks.add(task("gone"), [result("gone")], "")
    assert list(s.finished_tasks) == [] and len(s.finished_tasks) == 0


def test_history_is_bounded() -> None:
    history = TaskHistory(limit=2)
    for label in "abc":
        history.add(task(label), [result(label)], "")
    assert [t.name for t in history] == ["b", "c"]


def test_nodes_show_resources_store_use_and_the_head(state: HeadState) -> None:
    nodes = {n["node_ip"]: n for n in views.node_records(state)}
    one, two = nodes["10.0.0.1"], nodes["10.0.0.2"]
    assert one["is_head_node"] and not two["is_head_node"]
    assert one["resources_available"]["CPU"] == 2.0  # "work" blocked in get: its CPU went back
    assert two["resources_available"]["CPU"] == 1.0  # the actor needed a CPU to be placed, and holds none
    assert (one["object_store_used"], one["num_objects"]) == (500, 1)
    assert (two["object_store_used"], two["object_store_capacity"]) == (300, 1000.0)


def test_actor_record(state: HeadState) -> None:
    (counter,) = views.actor_records(state)
    assert counter["class_name"] == "Counter" and counter["name"] == "counter"
    assert counter["state"] == "PENDING_CREATION"  # placed, its constructor has not returned
    assert counter["head_state"] == "PLACED"


def test_objects_say_where_and_who_holds_them(state: HeadState) -> None:
    objects = {o["object_id"]: o for o in views.object_records(state)}
    put = objects[b"put-1".ljust(28, b".").hex()]
    assert put["reference_type"] == "LOCAL_REFERENCE" and put["referenced_by"] == [DRIVER.hex()]
    assert put["locations"] == [N2.hex()] and put["ip"] == "10.0.0.2" and put["object_size"] == 300


def test_status_counts_pending_and_infeasible_demand(state: HeadState) -> None:
    status = views.cluster_status(state)
    assert status["infeasible_demands"] == {"{'CPU': 64}": 1}
    assert status["resources_total"]["CPU"] == 3.0
    assert status["tasks_by_head_state"]["RUNNING"] >= 1


def test_filters_are_rays_equal_and_not_equal_case_insensitive(state: HeadState) -> None:
    out = q.query(state, "tasks", [("state", "=", "failed")])
    assert [t["name"] for t in out["result"]] == ["bad"]
    out = q.query(state, "tasks", [("state", "!=", "FINISHED"), ("state", "!=", "FAILED")])
    assert {t["name"] for t in out["result"]} == {"work", "huge", "Counter.__init__"}
    assert out["total"] == 5 and out["num_filtered"] == 3
    nodes = q.query(state, "nodes", [("is_head_node", "=", "True")])["result"]
    assert [n["node_ip"] for n in nodes] == ["10.0.0.1"]


def test_limit_and_detail(state: HeadState) -> None:
    out = q.query(state, "tasks", limit=2)
    assert out["num_after_truncation"] == 2 and out["total"] == 5
    assert set(out["result"][0]) == set(q.BASE_COLUMNS["tasks"])
    detailed = q.query(state, "tasks", detail=True)["result"][0]
    assert "events" in detailed and "required_resources" in detailed


def test_bad_queries_say_what_there_is(state: HeadState) -> None:
    with pytest.raises(q.QueryError, match="'=' or '!='"):
        q.query(state, "tasks", [("state", "~", "x")])
    with pytest.raises(q.QueryError, match="the keys are: .*func_or_class_name"):
        q.query(state, "tasks", [("colour", "=", "x")])
    with pytest.raises(q.QueryError, match="the views are"):
        q.query(state, "jobs")


def test_summaries(state: HeadState) -> None:
    tasks = q.query(state, "summary_tasks")["result"]["cluster"]
    assert tasks["summary"]["bad"]["state_counts"] == {"FAILED": 1}
    assert tasks["total_tasks"] == 4 and tasks["total_actor_scheduled"] == 1
    actors = q.query(state, "summary_actors")["result"]["cluster"]
    assert actors["summary"]["Counter"]["state_counts"] == {"PENDING_CREATION": 1}
    assert actors["total_actors"] == 1


def test_placement_groups_absent_or_present(state: HeadState) -> None:
    assert views.placement_group_records(state) == []

    class PG:  # the shape of raylite/head/state/placement_model.py's PlacementGroupRecord, by attribute
        pg_id = b"pg-1"
        name = "pg"
        state = "CREATED"
        bundles = [{"CPU": 1.0}, {"CPU": 1.0}]
        nodes = [N1, None]
        story = (1.0, "PENDING", "PlacementGroupCreated", "asked for", 2.0, "CREATED", "end of step", "reserved")

    class WithPGs:
        placement_groups = {b"pg-1": PG()}

    (record,) = views.placement_group_records(WithPGs())  # type: ignore[arg-type]
    assert record["placement_group_id"] == b"pg-1".hex() and record["state"] == "CREATED"
    assert [b["node_id"] for b in record["bundles"]] == [N1.hex(), None]
    assert [e["state"] for e in record["events"]] == ["PENDING", "CREATED"]


def test_timeline_lays_overlapping_tasks_on_separate_lanes() -> None:
    def t(name: str, start: int, end: int | None, node_id: str = "n1") -> dict:
        return {
            "task_id": name,
            "name": name,
            "type": "NORMAL_TASK",
            "state": "FINISHED",
            "job_id": "j",
            "attempt_number": 0,
            "node_id": node_id,
            "start_time_ms": start,
            "end_time_ms": end,
        }

    nodes = [{"node_id": "n1", "node_ip": "10.0.0.1"}, {"node_id": "n2", "node_ip": "10.0.0.2"}]
    tasks = [t("a", 0, 10), t("b", 5, 20), t("c", 12, 15), t("d", 1, 2, "n2"), t("e", 30, None)]
    tasks.append({**t("never", 0, 0), "start_time_ms": None})
    events = timeline.trace_events(tasks, nodes, now_ms=40)
    spans = {e["name"]: e for e in events if e["ph"] == "X"}
    assert set(spans) == {"a", "b", "c", "d", "e"}
    assert (spans["a"]["tid"], spans["b"]["tid"], spans["c"]["tid"]) == (0, 1, 0)
    assert spans["d"]["pid"] == 1 and spans["d"]["tid"] == 0
    assert spans["b"]["ts"] == 5000 and spans["b"]["dur"] == 15000
    assert spans["e"]["dur"] == 10000  # still running: up to now
    assert sum(1 for e in events if e["ph"] == "M") == 2


def test_the_rpc_answers_json_and_refuses_bad_requests(state: HeadState) -> None:
    request = head_pb2.StateViewRequest(view="tasks", limit=1)
    request.filters.add(key="name", predicate="=", value="DONE")
    out = json.loads(answer(state, request))
    assert [t["name"] for t in out["result"]] == ["done"]
    with pytest.raises(q.QueryError):
        answer(state, head_pb2.StateViewRequest(view="nothing"))


def test_history_reads_make_each_record_once_and_keep_the_bound() -> None:
    history = TaskHistory(limit=3)
    for label in "ab":
        history.add(task(label), [result(label)], "")
    first = list(history)
    history.add(task("c"), [result("c")], "")
    history.add(task("d"), [result("d", error=True)], "ValueError: d")
    assert len(history) == 3
    again = list(history)
    assert [t.name for t in again] == ["b", "c", "d"] and again[0] is first[1]  # made once
    assert [t.name for t in history.newest_first()] == ["d", "c", "b"]
    assert again[-1].failed and again[-1].error == "ValueError: d"


def test_the_summary_of_rows_equals_the_summary_of_records(state: HeadState) -> None:
    records = views.task_records(state)
    assert q.summarize_task_rows(views.task_rows(state)) == q.summarize_tasks(records)
