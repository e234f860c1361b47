"""What a leased task's record costs the head: the submitter sends the spec with its payload and
arguments only when an output is in a store (lineage), and the head keeps it serialized only then."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from raylite.client.lease_link import LeaseLink
from raylite.head import lease_wire
from raylite.rpc import common_pb2, head_pb2, lease_pb2

TASK = b"t" * 16
CLIENT = b"c" * 8


def _spec() -> common_pb2.TaskSpec:
    return common_pb2.TaskSpec(
        task_id=TASK,
        job_id=b"j" * 4,
        name="f",
        kind=common_pb2.NORMAL,
        function_id=b"F" * 16,
        num_returns=1,
        resources={"CPU": 1.0},
        payload=b"p" * 1000,
        dependencies=[b"d" * 20],
        borrowed=[b"b" * 20],
        parent_task_id=b"P" * 16,
        max_retries=3,
    )


def _recorded(in_store: bool) -> lease_pb2.LeaseTaskRecord:
    sent: list[Any] = []
    client = SimpleNamespace(client_id=CLIENT, _enqueue=lambda kind, item: sent.append(item))
    link = LeaseLink.__new__(LeaseLink)
    link.client = client  # type: ignore[assignment]
    stream = SimpleNamespace(grant=lease_pb2.LeaseGrant(lease_id=CLIENT + b"\0\0\0\1", node_id=b"n" * 16))
    value = common_pb2.ObjectValue(object_id=TASK + bytes(4), size=1)
    if in_store:
        value.in_store, value.node_id, value.node_address = True, b"n" * 16, "n:1"
    else:
        value.data = b"v"
    link._record(stream, _spec(), head_pb2.TaskResult(task_id=TASK, results=[value]), 1)  # type: ignore[arg-type]
    (record,) = sent
    return record


def test_a_record_with_inline_outputs_carries_only_names_and_ids() -> None:
    record = _recorded(in_store=False)
    spec = record.spec
    assert not spec.payload and not spec.dependencies and not spec.borrowed
    assert (spec.task_id, spec.name, spec.parent_task_id, dict(spec.resources)) == (TASK, "f", b"P" * 16, {"CPU": 1.0})
    (event,) = lease_wire.recorded([record], CLIENT)
    assert event.task.spec == b"" and event.task.name == "f"  # nothing kept to send a node


def test_a_record_with_an_output_in_a_store_keeps_the_spec_for_lineage() -> None:
    record = _recorded(in_store=True)
    assert record.spec.payload and list(record.spec.dependencies) == [b"d" * 20]
    (event,) = lease_wire.recorded([record], CLIENT)
    assert common_pb2.TaskSpec.FromString(event.task.spec).payload == b"p" * 1000
