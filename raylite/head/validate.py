"""What the head accepts from its peers: each message is checked whole, here,
before any of it reaches HeadState.

A message that no correct raylite peer sends (an id of the wrong length, a
resource amount that is NaN, a task with no return, a result with no value, a
stream that does not start with its hello) ends that peer's call with
INVALID_ARGUMENT and a message naming the field; the head serves everyone else
on, and HeadState only ever sees well-formed events. What a correct peer may
send late or twice is not refused here: a result for a task the head already
forgot, a resubmitted task, a put of an object that exists. HeadState ignores
those (they are replays), so that clients and nodes may resend after a
reconnection.

The checks are plain functions of the message (no I/O); `client_batch` and
`node_batch` return None or the reason, for the servicer to send back.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from raylite import config, ids, labels
from raylite import metrics_wire as mw
from raylite.ids import (
    ACTOR_ID_BYTES,
    CLIENT_ID_BYTES,
    FUNCTION_ID_BYTES,
    JOB_ID_BYTES,
    LEASE_ID_BYTES,
    NODE_ID_BYTES,
    OBJECT_ID_BYTES,
    TASK_ID_BYTES,
)
from raylite.rpc import calls_pb2, common_pb2, head_pb2, lease_pb2

_KINDS = (common_pb2.NORMAL, common_pb2.ACTOR_CREATION, common_pb2.ACTOR_METHOD)
_STRATEGIES = ("", "DEFAULT", "SPREAD", "NODE_AFFINITY", "NODE_LABEL", "PLACEMENT_GROUP")
_MAX_LABEL_MATCHES = 64
_MAX_LABEL_BYTES = 1024
_PG_STRATEGIES = ("PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD")
_GENERATORS = (common_pb2.STREAMING, common_pb2.DYNAMIC)


class BadMessage(ValueError):
    """A peer's message that no correct raylite peer sends; says which field and why."""


def client_batch(batch: head_pb2.ClientBatch, first: bool) -> str | None:
    """Why the head refuses this message of a client stream, or None if it is well formed."""
    try:
        _client_batch(batch, first)
    except BadMessage as exc:
        return f"malformed ClientBatch: {exc}"
    return None


def node_batch(batch: head_pb2.NodeBatch, first: bool) -> str | None:
    """Why the head refuses this message of a node stream, or None if it is well formed."""
    try:
        _node_batch(batch, first)
    except BadMessage as exc:
        return f"malformed NodeBatch: {exc}"
    return None


# ---- the messages -------------------------------------------------------------


def _hello(batch: head_pb2.ClientBatch | head_pb2.NodeBatch, first: bool) -> None:
    if first and not batch.HasField("hello"):
        raise BadMessage("hello: the first message of a stream must carry the hello")
    if not first and batch.HasField("hello"):
        raise BadMessage("hello: only the first message of a stream carries a hello")


def _client_batch(batch: head_pb2.ClientBatch, first: bool) -> None:
    _hello(batch, first)
    if first:
        _id(batch.hello.client_id, CLIENT_ID_BYTES, "hello.client_id")
    for i, export in enumerate(batch.exports):
        _id(export.function_id, FUNCTION_ID_BYTES, "exports", i, "function_id")
        if ids.function_id(export.blob) != export.function_id:
            raise BadMessage(f"exports[{i}].function_id: is not the hash of the exported blob")
    for i, value in enumerate(batch.puts):
        _object_value(value, "puts", i)
    for i, spec in enumerate(batch.tasks):
        _task_spec(spec, i)
    _ids(batch.subscribe, OBJECT_ID_BYTES, "subscribe")
    for i, change in enumerate(batch.block_states):
        _id(change.task_id, TASK_ID_BYTES, "block_states", i, "task_id")
        if change.lease_id:
            _id(change.lease_id, LEASE_ID_BYTES, "block_states", i, "lease_id")
    _ids(batch.kill_actors, ACTOR_ID_BYTES, "kill_actors")
    _ids(batch.restart_actors, ACTOR_ID_BYTES, "restart_actors")
    for i, ref in enumerate(batch.ref_changes):
        _id(ref.object_id, OBJECT_ID_BYTES, "ref_changes", i, "object_id")
    for i, group in enumerate(batch.placement_groups):
        _placement_group(group, i)
    _ids(batch.remove_placement_groups, TASK_ID_BYTES, "remove_placement_groups")
    for i, result in enumerate(batch.results):
        # an executor reports on its own client stream, naming the node it runs on
        _id(result.node_id, NODE_ID_BYTES, "results", i, "node_id")
        _task_result(result, i)
    for i, cancel in enumerate(batch.cancels):
        _id(cancel.object_id, OBJECT_ID_BYTES, "cancels", i, "object_id")
    for i, item in enumerate(batch.generator_items):
        _generator_item(item, i)
    for i, progress in enumerate(batch.generator_consumed):
        _id(progress.task_id, TASK_ID_BYTES, "generator_consumed", i, "task_id")
    for i, report in enumerate(batch.metrics):
        _metric_report(report, i)
    for i, received in enumerate(batch.streams_received):
        _stream_received(received, i)
    for i, request in enumerate(batch.lease_requests):
        _lease_request(request, i)
    for i, end in enumerate(batch.lease_returns):
        _id(end.lease_id, LEASE_ID_BYTES, "lease_returns", i, "lease_id")
    for i, record in enumerate(batch.lease_task_records):
        _lease_task_record(record, i, "lease_task_records")
    _ids(batch.locate_actors, ACTOR_ID_BYTES, "locate_actors")
    for i, record in enumerate(batch.call_records):
        _call_record(record, i)
    for i, running in enumerate(batch.calls_running):
        _task_spec(running.spec, i, "calls_running", "spec.")
        if running.spec.kind != common_pb2.ACTOR_METHOD:
            raise BadMessage(f"calls_running[{i}].spec.kind: only actor calls are made directly")


def _call_record(record: calls_pb2.CallRecord, i: int) -> None:
    """A caller's answered direct call: an actor call of its own, with its kept results."""
    _task_spec(record.spec, i, "call_records", "spec.")
    if record.spec.kind != common_pb2.ACTOR_METHOD:
        raise BadMessage(f"call_records[{i}].spec.kind: only actor calls are made directly")
    if record.node_id:
        _id(record.node_id, NODE_ID_BYTES, "call_records", i, "node_id")
    task_id = record.spec.task_id
    for j, value in enumerate(record.results):
        _object_value(value, f"call_records[{i}].results", j)
        if value.object_id[:TASK_ID_BYTES] != task_id:
            raise BadMessage(f"call_records[{i}].results[{j}].object_id: is not a return of the recorded call")


def _node_batch(batch: head_pb2.NodeBatch, first: bool) -> None:
    _hello(batch, first)
    if first:
        node = batch.hello.node
        _id(node.node_id, NODE_ID_BYTES, "hello.node.node_id")
        if not node.address:
            raise BadMessage("hello.node.address: is empty; a node must say where its worker service listens")
        _amounts(node.total, "hello.node.total")
        if len(node.labels) > _MAX_LABEL_MATCHES or any(
            not k or len(k) > _MAX_LABEL_BYTES or len(v) > _MAX_LABEL_BYTES for k, v in node.labels.items()
        ):
            raise BadMessage(f"hello.node.labels: up to {_MAX_LABEL_MATCHES}, keys of 1 to {_MAX_LABEL_BYTES} bytes")
        _resumed(batch.hello)
    for i, result in enumerate(batch.results):
        if result.node_id:
            _id(result.node_id, NODE_ID_BYTES, "results", i, "node_id")
        _task_result(result, i)
    for i, death in enumerate(batch.deaths):
        if death.task_id:
            _id(death.task_id, TASK_ID_BYTES, "deaths", i, "task_id")
        if death.actor_id:
            _id(death.actor_id, ACTOR_ID_BYTES, "deaths", i, "actor_id")
    _ids(batch.copies_added, OBJECT_ID_BYTES, "copies_added")
    _ids(batch.copies_removed, OBJECT_ID_BYTES, "copies_removed")
    for i, pull in enumerate(batch.pulls):
        _id(pull.object_id, OBJECT_ID_BYTES, "pulls", i, "object_id")
        if pull.received > pull.total:
            raise BadMessage(f"pulls[{i}].received: {pull.received} bytes of an object of {pull.total}")
    for i, logs in enumerate(batch.log_batches):
        _log_batch(logs, i)
    for i, record in enumerate(batch.task_records):
        _started_record(record, i)
    _ids(batch.leased_tasks_ended, TASK_ID_BYTES, "leased_tasks_ended")
    if batch.leases_served and not first:
        raise BadMessage("leases_served: only a node's first message (its resume hello) lists them")
    for i, grant in enumerate(batch.leases_served):
        _lease_grant(grant, "leases_served", i)
    for i, end in enumerate(batch.leases_drained):
        _id(end.lease_id, LEASE_ID_BYTES, "leases_drained", i, "lease_id")

    # metrics (NodeMetrics): counters and sizes, each uint64, so any value is well formed; the
    # head keeps only the last one per node, so their number costs nothing either


_MAX_LEASE_SLOTS = 1024
_MAX_CLASS_KEY_BYTES = 1024


def _lease_request(request: lease_pb2.LeaseRequest, i: int) -> None:
    _id(request.lease_id, LEASE_ID_BYTES, "lease_requests", i, "lease_id")
    if not 1 <= request.slots <= _MAX_LEASE_SLOTS:
        raise BadMessage(f"lease_requests[{i}].slots: 1 to {_MAX_LEASE_SLOTS} slots, not {request.slots}")
    if not request.class_key or len(request.class_key) > _MAX_CLASS_KEY_BYTES:
        raise BadMessage(f"lease_requests[{i}].class_key: 1 to {_MAX_CLASS_KEY_BYTES} bytes")
    if request.job_id:
        _id(request.job_id, JOB_ID_BYTES, "lease_requests", i, "job_id")
    _amounts(request.resources, "lease_requests", i, "resources")


def _lease_grant(grant: lease_pb2.LeaseGrant, field: str, i: int) -> None:
    _id(grant.lease_id, LEASE_ID_BYTES, field, i, "lease_id")
    _id(grant.client_id, CLIENT_ID_BYTES, field, i, "client_id")
    if not 1 <= grant.slots <= _MAX_LEASE_SLOTS:
        raise BadMessage(f"{field}[{i}].slots: 1 to {_MAX_LEASE_SLOTS} slots, not {grant.slots}")
    _amounts(grant.resources, field, i, "resources")


def _lease_task_record(record: lease_pb2.LeaseTaskRecord, i: int, field: str) -> None:
    _task_spec(record.spec, i, field, "spec.")
    if record.spec.kind != common_pb2.NORMAL:
        raise BadMessage(f"{field}[{i}].spec.kind: only normal tasks run on leases")
    _id(record.lease_id, LEASE_ID_BYTES, field, i, "lease_id")
    if record.attempt < 1:
        raise BadMessage(f"{field}[{i}].attempt: attempts count from 1")
    for name, when in (("started", record.started), ("finished", record.finished)):
        if not 0 <= when < math.inf:
            raise BadMessage(f"{field}[{i}].{name}: {when} is not a time")
    _id(record.node_id, NODE_ID_BYTES, field, i, "node_id")
    if not record.results:
        raise BadMessage(f"{field}[{i}].results: is empty; a finished task has at least one value")
    for j, value in enumerate(record.results):
        _object_value(value, field, i, f"results[{j}]")
        if ids.task_of(value.object_id) != record.spec.task_id:
            raise BadMessage(f"{field}[{i}].results[{j}]: not an output of the record's task")


def _started_record(record: lease_pb2.LeaseTaskRecord, i: int) -> None:
    """A node's record of a leased task still running: no results, not finished."""
    field = "task_records"
    _task_spec(record.spec, i, field, "spec.")
    if record.spec.kind != common_pb2.NORMAL:
        raise BadMessage(f"{field}[{i}].spec.kind: only normal tasks run on leases")
    _id(record.lease_id, LEASE_ID_BYTES, field, i, "lease_id")
    if record.attempt < 1:
        raise BadMessage(f"{field}[{i}].attempt: attempts count from 1")
    if not 0 < record.started < math.inf or record.finished or record.results:
        raise BadMessage(f"{field}[{i}]: a node reports a running task: started > 0, finished 0, no results")


def _log_batch(logs: head_pb2.WorkerLogBatch, i: int) -> None:
    """Lines a node's executors printed: forwarded to the drivers of their job only."""
    _id(logs.job_id, JOB_ID_BYTES, "log_batches", i, "job_id")
    if logs.task_id:
        _id(logs.task_id, TASK_ID_BYTES, "log_batches", i, "task_id")
    if logs.actor_id:
        _id(logs.actor_id, ACTOR_ID_BYTES, "log_batches", i, "actor_id")
    if logs.ip or logs.node_id:
        raise BadMessage(f"log_batches[{i}].ip and node_id: the head sets them from the node's stream")


def _metric_report(r: head_pb2.MetricReport, i: int) -> None:
    """A user metric's report (raylite/client/metrics_buffer.py). Values may be NaN or infinite,
    as a user may set them; everything that shapes the head's tables is bounded."""
    where = f"metrics[{i}]"
    if len(r.name) > mw.MAX_NAME or not mw.NAME_RE.match(r.name):
        raise BadMessage(f"{where}.name: {r.name[:100]!r} is not a metric name (letters, digits, _ and :)")
    if r.kind not in mw.KIND_NAMES:
        raise BadMessage(f"{where}.kind: {r.kind} is none of {sorted(mw.KIND_NAMES)}")
    if len(r.description) > mw.MAX_DESCRIPTION:
        raise BadMessage(f"{where}.description: longer than {mw.MAX_DESCRIPTION} characters")
    keys, values = r.tag_keys, r.tag_values
    if len(keys) != len(values) or len(keys) > mw.MAX_TAGS:
        raise BadMessage(f"{where}.tag_keys: {len(keys)} keys for {len(values)} values (at most {mw.MAX_TAGS})")
    if any(not k or len(k) > mw.MAX_NAME for k in keys) or any(a >= b for a, b in zip(keys, keys[1:], strict=False)):
        raise BadMessage(f"{where}.tag_keys: must be non-empty, at most {mw.MAX_NAME} characters, sorted, unique")
    if any(len(v) > mw.MAX_TAG_VALUE for v in values):
        raise BadMessage(f"{where}.tag_values: a value is longer than {mw.MAX_TAG_VALUE} characters")
    if r.kind == mw.COUNTER and r.value < 0:
        raise BadMessage(f"{where}.value: a counter's increase cannot be negative ({r.value})")
    if r.kind != mw.HISTOGRAM:
        if r.boundaries or r.bucket_counts or r.sum:
            raise BadMessage(f"{where}: boundaries, bucket_counts and sum belong to histograms only")
        return
    bounds = r.boundaries
    if not 0 < len(bounds) <= mw.MAX_BOUNDARIES:
        raise BadMessage(f"{where}.boundaries: a histogram has 1 to {mw.MAX_BOUNDARIES} boundaries")
    if any(not (0 < b < math.inf) for b in bounds) or any(a >= b for a, b in zip(bounds, bounds[1:], strict=False)):
        raise BadMessage(f"{where}.boundaries: must be positive, finite and increasing")
    if len(r.bucket_counts) != len(bounds) + 1:
        raise BadMessage(f"{where}.bucket_counts: {len(r.bucket_counts)} counts for {len(bounds)} boundaries (+1)")


def _resumed(hello: head_pb2.NodeHello) -> None:
    """What a node reconnecting to a restarted head says it still runs and holds."""
    for i, assignment in enumerate(hello.running):
        _task_spec(assignment.spec, i, "hello.running", "spec.")
        if assignment.spec.kind != common_pb2.NORMAL:
            raise BadMessage(
                f"hello.running[{i}].spec.kind: only normal tasks are reported running (actors are in actors)"
            )
    for i, actor in enumerate(hello.actors):
        _id(actor.actor_id, ACTOR_ID_BYTES, "hello.actors", i, "actor_id")
        if len(actor.call_address) > 300:
            raise BadMessage(f"hello.actors[{i}].call_address: over 300 characters")
    for i, value in enumerate(hello.objects):
        _object_value(value, "hello.objects", i)
        if not value.in_store or value.node_id != hello.node.node_id:
            raise BadMessage(
                f"hello.objects[{i}]: a node reports only objects in its own store (in_store, its node_id)"
            )
    _ids(hello.copies, OBJECT_ID_BYTES, "hello.copies")


def _task_spec(spec: common_pb2.TaskSpec, i: int, field: str = "tasks", inner: str = "") -> None:
    """tasks[i] (or field[i].inner, for a spec inside another message)."""
    # The hot path of the head's input: one pass, no string built unless refusing.
    kind = spec.kind
    task_id = spec.task_id
    if len(task_id) != TASK_ID_BYTES:
        _id(task_id, TASK_ID_BYTES, field, i, f"{inner}task_id")
    if kind == common_pb2.NORMAL:
        if spec.actor_id:
            raise BadMessage(f"{_prefix(field, i, inner)}actor_id: a normal task has no actor_id")
    elif kind == common_pb2.ACTOR_CREATION:
        if spec.actor_id != task_id:
            raise BadMessage(
                f"{_prefix(field, i, inner)}actor_id: an actor creation task's actor_id must be its task_id"
            )
    elif kind == common_pb2.ACTOR_METHOD:
        _id(spec.actor_id, ACTOR_ID_BYTES, field, i, f"{inner}actor_id")
    else:
        raise BadMessage(f"{_prefix(field, i, inner)}kind: {kind} is not a TaskKind")
    if (spec.call_seq or spec.direct_incarnation) and kind != common_pb2.ACTOR_METHOD:
        raise BadMessage(f"{_prefix(field, i, inner)}call_seq: only actor calls are numbered (or resent direct calls)")
    if kind != common_pb2.ACTOR_METHOD and len(spec.function_id) != FUNCTION_ID_BYTES:
        _id(spec.function_id, FUNCTION_ID_BYTES, field, i, f"{inner}function_id")
    if not 1 <= spec.num_returns <= config.MAX_NUM_RETURNS:
        raise BadMessage(
            f"{_prefix(field, i, inner)}num_returns: {spec.num_returns} is not between 1 and {config.MAX_NUM_RETURNS}"
        )
    if spec.generator:
        if spec.generator not in _GENERATORS or kind == common_pb2.ACTOR_CREATION:
            raise BadMessage(
                f"{_prefix(field, i, inner)}generator: {spec.generator} is not a GeneratorKind of a task or actor call"
            )
        if spec.num_returns != 1:
            raise BadMessage(f"{_prefix(field, i, inner)}num_returns: a generator task has one return (index 0)")
    if spec.max_retries < -1 or spec.max_restarts < -1 or spec.max_task_retries < -1:
        for name in ("max_retries", "max_restarts", "max_task_retries"):
            if getattr(spec, name) < -1:
                raise BadMessage(
                    f"{_prefix(field, i, inner)}{name}: {getattr(spec, name)} is below -1 (-1 means without limit)"
                )
    if spec.resources:
        _amounts(spec.resources, field, i, f"{inner}resources")
    if spec.placement:
        _amounts(spec.placement, field, i, f"{inner}placement")
    if spec.dependencies:
        _ids(spec.dependencies, OBJECT_ID_BYTES, field, i, f"{inner}dependencies")
    if spec.borrowed:
        _ids(spec.borrowed, OBJECT_ID_BYTES, field, i, f"{inner}borrowed")
    if spec.runtime_env or spec.runtime_env_packages:
        _runtime_env(spec, field, i, inner)
    if spec.parent_task_id and len(spec.parent_task_id) != TASK_ID_BYTES:
        _id(spec.parent_task_id, TASK_ID_BYTES, field, i, f"{inner}parent_task_id")
    if spec.HasField("strategy"):
        strategy = spec.strategy
        if strategy.kind not in _STRATEGIES:
            raise BadMessage(
                f"{_prefix(field, i, inner)}strategy.kind: {strategy.kind!r} is not one of {', '.join(_STRATEGIES[1:])}"
            )
        if strategy.hard_labels or strategy.soft_labels:
            _label_matches(strategy, f"{_prefix(field, i, inner)}strategy")
        if strategy.kind == "NODE_AFFINITY":
            _id(strategy.node_id, NODE_ID_BYTES, field, i, f"{inner}strategy.node_id")
        elif strategy.kind == "PLACEMENT_GROUP":
            _id(strategy.placement_group_id, TASK_ID_BYTES, field, i, f"{inner}strategy.placement_group_id")
            if strategy.bundle_index < -1:
                raise BadMessage(
                    f"{_prefix(field, i, inner)}strategy.bundle_index: {strategy.bundle_index} is below -1 (any bundle)"
                )


def _label_matches(strategy: common_pb2.SchedulingStrategy, where: str) -> None:
    if strategy.kind == "PLACEMENT_GROUP":
        raise BadMessage(f"{where}: label conditions do not apply to a placement group's tasks")
    for name, matches in (("hard_labels", strategy.hard_labels), ("soft_labels", strategy.soft_labels)):
        _matches(matches, f"{where}.{name}")


def _matches(matches: Any, where: str) -> None:
    if len(matches) > _MAX_LABEL_MATCHES:
        raise BadMessage(f"{where}: {len(matches)} conditions, more than {_MAX_LABEL_MATCHES}")
    for j, m in enumerate(matches):
        if m.op not in labels.OPS:
            raise BadMessage(f"{where}[{j}].op: {m.op!r} is not one of {', '.join(labels.OPS)}")
        if not m.key or len(m.key) > _MAX_LABEL_BYTES or any(len(v) > _MAX_LABEL_BYTES for v in m.values):
            raise BadMessage(f"{where}[{j}]: a key of 1 to {_MAX_LABEL_BYTES} bytes, values up to as long")
        if (m.op in (labels.IN, labels.NOT_IN)) != bool(m.values) or len(m.values) > _MAX_LABEL_MATCHES:
            raise BadMessage(f"{where}[{j}]: in/not_in take 1 to {_MAX_LABEL_MATCHES} values, the others none")


def _placement_group(group: common_pb2.PlacementGroupSpec, i: int) -> None:
    _id(group.placement_group_id, TASK_ID_BYTES, "placement_groups", i, "placement_group_id")
    if group.strategy not in _PG_STRATEGIES:
        raise BadMessage(
            f"placement_groups[{i}].strategy: {group.strategy!r} is not one of {', '.join(_PG_STRATEGIES)}"
        )
    if not group.bundles:
        raise BadMessage(f"placement_groups[{i}].bundles: is empty; a placement group has at least one bundle")
    for j, bundle in enumerate(group.bundles):
        _amounts(bundle.resources, "placement_groups", i, f"bundles[{j}].resources")
        if bundle.label_selector:
            _matches(bundle.label_selector, f"placement_groups[{i}].bundles[{j}].label_selector")
        if not any(amount > 0 for amount in bundle.resources.values()):
            raise BadMessage(f"placement_groups[{i}].bundles[{j}].resources: asks for nothing")


_CHECKED_ENVS: dict[str, None] = {}  # runtime_env strings seen valid: a job's tasks all carry the same one


def _runtime_env(spec: common_pb2.TaskSpec, field: str, i: int, inner: str) -> None:
    """A spec's runtime_env is a JSON object whose env_vars a process environment can hold
    (a node starts executors with them), and its packages are object ids."""
    if spec.runtime_env_packages:
        _ids(spec.runtime_env_packages.values(), OBJECT_ID_BYTES, field, i, f"{inner}runtime_env_packages")
    text = spec.runtime_env
    if not text or text in _CHECKED_ENVS:
        return
    where = f"{_prefix(field, i, inner)}runtime_env"
    try:
        env = json.loads(text)
    except ValueError:
        raise BadMessage(f"{where}: is not JSON") from None
    if not isinstance(env, dict):
        raise BadMessage(f"{where}: is not a JSON object")
    env_vars = env.get("env_vars", {})
    if not isinstance(env_vars, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and k and "=" not in k and "\0" not in k + v
        for k, v in env_vars.items()
    ):
        raise BadMessage(f"{where}: env_vars must map names (without '=' or NUL) to strings (without NUL)")
    if len(_CHECKED_ENVS) >= 1024:
        _CHECKED_ENVS.clear()
    _CHECKED_ENVS[text] = None


def _task_result(result: head_pb2.TaskResult, i: int) -> None:
    _id(result.task_id, TASK_ID_BYTES, "results", i, "task_id")
    if not result.results:
        raise BadMessage(f"results[{i}].results: is empty; a finished task has at least one value (or its error)")
    for j, value in enumerate(result.results):
        _object_value(value, "results", i, f"results[{j}]")


def _generator_item(item: head_pb2.GeneratorItem, i: int) -> None:
    _id(item.task_id, TASK_ID_BYTES, "generator_items", i, "task_id")
    _id(item.node_id, NODE_ID_BYTES, "generator_items", i, "node_id")
    if item.index >= _MAX_ITEMS:
        raise BadMessage(f"generator_items[{i}].index: {item.index} is beyond the last item a task can have")
    _object_value(item.value, "generator_items", i, "value")
    if item.value.object_id != ids.object_id(item.task_id, item.index + 1):
        raise BadMessage(
            f"generator_items[{i}].value.object_id: is not item {item.index} of task_id (task_id + index + 1)"
        )


def _stream_received(received: head_pb2.StreamReceived, i: int) -> None:
    _id(received.task_id, TASK_ID_BYTES, "streams_received", i, "task_id")
    if received.arrived > _MAX_ITEMS:
        raise BadMessage(f"streams_received[{i}].arrived: {received.arrived} is beyond the last item a task can have")
    last = -1
    for index in received.missing:
        if index <= last or index >= received.arrived:
            raise BadMessage(
                f"streams_received[{i}].missing: {index} is not ascending, or not below arrived ({received.arrived})"
            )
        last = index


_MAX_ITEMS = 2**32 - 2  # item i is return index i + 1, and the error of a stream comes after the last


def _object_value(value: common_pb2.ObjectValue, field: str, i: int, inner: str = "") -> None:
    where = f"{inner}." if inner else ""
    _id(value.object_id, OBJECT_ID_BYTES, field, i, f"{where}object_id")
    if value.in_store:
        _id(value.node_id, NODE_ID_BYTES, field, i, f"{where}node_id")
        if not value.node_address:
            raise BadMessage(f"{field}[{i}].{where}node_address: is empty for a value in a node's store")
    if value.contained:
        _ids(value.contained, OBJECT_ID_BYTES, field, i, f"{where}contained")


# ---- fields ---------------------------------------------------------------------


def _id(value: bytes, size: int, field: str, i: int | None = None, inner: str = "") -> None:
    if len(value) != size:
        raise BadMessage(f"{_where(field, i, inner)}: an id of {size} bytes was expected, got {len(value)} bytes")


def _ids(values: Iterable[bytes], size: int, field: str, i: int | None = None, inner: str = "") -> None:
    for j, value in enumerate(values):
        if len(value) != size:
            raise BadMessage(
                f"{_where(field, i, inner)}[{j}]: an id of {size} bytes was expected, got {len(value)} bytes"
            )


def _amounts(amounts: Mapping[str, float], field: str, i: int | None = None, inner: str = "") -> None:
    for name, amount in amounts.items():
        if not name:
            raise BadMessage(f"{_where(field, i, inner)}: a resource has an empty name")
        if not 0 <= amount < math.inf:  # also false for NaN
            raise BadMessage(f"{_where(field, i, inner)}[{name!r}]: {amount} is not a finite amount >= 0")


def _where(field: str, i: int | None, inner: str) -> str:
    """A field's path in the message, such as tasks[3].resources (built only to refuse)."""
    out = field if i is None else f"{field}[{i}]"
    return f"{out}.{inner}" if inner else out


def _prefix(field: str, i: int | None, inner: str) -> str:
    """The path of a message's own fields: "tasks[3]." or "hello.running[0].spec."."""
    return _where(field, i, inner.rstrip(".")) + "."
