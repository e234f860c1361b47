"""The state CLI's text (raylite/util/state/format.py) and filter parsing."""

from __future__ import annotations

import json

import pytest
import yaml

from raylite.util.state import StateRecord, TaskState
from raylite.util.state import format as fmt


def test_parse_filter() -> None:
    assert fmt.parse_filter("state=RUNNING") == ("state", "=", "RUNNING")
    assert fmt.parse_filter("state != FINISHED") == ("state", "!=", "FINISHED")
    assert fmt.parse_filter("name=a=b") == ("name", "=", "a=b")
    with pytest.raises(ValueError, match="KEY=VALUE"):
        fmt.parse_filter("state")


def test_table_aligns_columns_and_shortens_long_cells() -> None:
    rows = [{"a": "x", "b": 1.0}, {"a": "long" * 30, "b": {"CPU": 2.0, "memory": 17693193011.0}}]
    text = fmt.table(rows, ("a", "b"))
    lines = text.splitlines()
    assert lines[0].split() == ["A", "B"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    assert lines[2].split() == ["x", "1"]
    assert "..." in lines[3] and "CPU: 2, memory: 17693193011" in lines[3]


def test_listing_formats() -> None:
    answer = {"result": [{"task_id": "t1", "state": "RUNNING"}], "num_after_truncation": 1, "num_filtered": 3}
    table = fmt.listing("tasks", answer, "table")
    assert table.startswith("tasks: 3 (showing 1; --limit shows more)") and "RUNNING" in table
    assert json.loads(fmt.listing("tasks", answer, "json")) == answer["result"]
    assert yaml.safe_load(fmt.listing("tasks", answer, "yaml")) == answer["result"]


def test_status_text() -> None:
    node = {
        "node_id": "ab" * 16,
        "node_ip": "10.0.0.1",
        "address": "10.0.0.1:7000",
        "is_head_node": True,
        "state": "ALIVE",
        "resources_total": {"CPU": 4.0, "memory": 2.0**31, "node:10.0.0.1": 1.0, "special": 1.0},
        "resources_available": {"CPU": 1.0, "memory": 2.0**31, "special": 1.0},
        "object_store_used": 3 * 2**20,
        "object_store_capacity": 2.0**30,
    }
    st = {
        "nodes": [node, {**node, "node_id": "cd" * 16, "state": "DEAD", "is_head_node": False}],
        "resources_total": {"CPU": 4.0, "special": 1.0},
        "resources_available": {"CPU": 1.0, "special": 1.0},
        "pending_demands": {"{'CPU': 1}": 5},
        "infeasible_demands": {"{'GPU': 1}": 1},
    }
    text = fmt.status("10.0.0.1:6380", st, "http://10.0.0.1:8265")
    assert "Dashboard: http://10.0.0.1:8265" in text
    assert "Alive: 1" in text and "Dead: 1" in text and "(head)" in text
    assert "3/4 CPU" in text and "3.00MiB/1.00GiB object store" in text and "node:" not in text
    assert "{'CPU': 1}: 5 pending" in text and "{'GPU': 1}: 1 task(s)/actor(s) no node can ever run" in text


def test_summaries_text() -> None:
    tasks = {
        "cluster": {
            "summary": {"f": {"func_or_class_name": "f", "type": "NORMAL_TASK", "state_counts": {"FINISHED": 2}}},
            "total_tasks": 2,
            "total_actor_tasks": 0,
            "total_actor_scheduled": 0,
        }
    }
    assert "FINISHED: 2" in fmt.task_summary(tasks) and "Total: 2 tasks" in fmt.task_summary(tasks)
    actors = {"cluster": {"summary": {"A": {"class_name": "A", "state_counts": {"ALIVE": 1}}}, "total_actors": 1}}
    assert "ALIVE: 1" in fmt.actor_summary(actors)


def test_records_read_as_objects_and_dicts() -> None:
    t = TaskState({"task_id": "t1", "state": "RUNNING"})
    assert t.state == t["state"] == "RUNNING" and t.asdict() == {"task_id": "t1", "state": "RUNNING"}
    assert repr(t) == "TaskState(task_id='t1', state='RUNNING')"
    with pytest.raises(AttributeError, match="no field 'colour'"):
        _ = StateRecord().colour


def test_a_head_port_taken_by_another_program_is_named(tmp_path, monkeypatch) -> None:
    import socket

    from raylite import cli

    monkeypatch.setenv("RAYLITE_TMPDIR", str(tmp_path))  # no raylite head recorded here
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        why = cli._head_already_there("127.0.0.1", port)
        assert why is not None and f"port {port} on 127.0.0.1 is taken" in why and "--port" in why
    assert cli._head_already_there("127.0.0.1", port) is None


def test_which_head_a_state_query_asks(tmp_path, monkeypatch) -> None:
    from raylite.util.state import rpc

    monkeypatch.setenv("RAYLITE_TMPDIR", str(tmp_path))  # no cluster started here
    monkeypatch.setenv("RAYLITE_TOKEN", "tok")
    for name in rpc.ADDRESS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(rpc.NoClusterError, match="raylite start --head"):
        rpc.head_of(None)
    with pytest.raises(rpc.NoClusterError):
        rpc.head_of("auto")
    assert rpc.head_of("ray://10.0.0.5:6380") == ("10.0.0.5:6380", "tok")
    with pytest.raises(ValueError, match="host:port"):
        rpc.head_of("10.0.0.5")
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.6:6380")
    assert rpc.head_of(None) == ("10.0.0.6:6380", "tok")
