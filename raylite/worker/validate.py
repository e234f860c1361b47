"""What a worker daemon's object service accepts from its peers.

A request that no correct raylite peer sends (an id of the wrong length, a
location with no address, a push whose chunks do not add up to the object)
ends that call with INVALID_ARGUMENT and a message naming the field; the
daemon serves everyone else on. Chunk offsets and sizes are checked as the
bytes arrive (raylite/store.py ChunkWriter). These are plain functions: None,
or the reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from raylite import config, ids
from raylite.ids import (
    ACTOR_ID_BYTES,
    CLIENT_ID_BYTES,
    FUNCTION_ID_BYTES,
    LEASE_ID_BYTES,
    NODE_ID_BYTES,
    OBJECT_ID_BYTES,
    TASK_ID_BYTES,
)
from raylite.rpc import calls_pb2, common_pb2
from raylite.worker.state.log_lines import safe_file_name

if TYPE_CHECKING:  # (an executor checks call batches here at start, and needs no worker_pb2)
    from raylite.rpc import worker_pb2


def object_id(value: bytes, where: str = "object_id") -> str | None:
    if len(value) != OBJECT_ID_BYTES:
        return f"{where}: an object id of {OBJECT_ID_BYTES} bytes was expected, got {len(value)} bytes"
    return None


def location(loc: common_pb2.ObjectValue, own_node_id: bytes) -> str | None:
    """A PullRequest's location: the object, and a node that holds it (unless it is this one)."""
    problem = object_id(loc.object_id, "location.object_id")
    if problem is not None or loc.node_id == own_node_id:
        return problem
    if len(loc.node_id) != NODE_ID_BYTES:
        return f"location.node_id: a node id of {NODE_ID_BYTES} bytes was expected, got {len(loc.node_id)} bytes"
    if not loc.node_address or not all(loc.copy_addresses):
        return "location.node_address: every holder of the object needs an address (host:port)"
    return None


def first_chunk(chunk: worker_pb2.ObjectChunk) -> str | None:
    """The first chunk of a push names the object and its size."""
    problem = object_id(chunk.object_id, "object_id of the first chunk")
    if problem is not None:
        return problem
    if chunk.total_size == 0:
        return "total_size of the first chunk: is 0; an object has at least one byte"
    return None


def next_chunk(chunk: worker_pb2.ObjectChunk, first: worker_pb2.ObjectChunk) -> str | None:
    """Later chunks repeat the first one's object id and size, or leave them out."""
    if chunk.object_id not in (b"", first.object_id):
        return "object_id of a later chunk: names another object than the first chunk"
    if chunk.total_size not in (0, first.total_size):
        return "total_size of a later chunk: differs from the first chunk's"
    return None


def read_log_file(request: worker_pb2.ReadLogFileRequest) -> str | None:
    """A file name of the log folder (never a path), or a task or actor to look for in every executor log."""
    if request.name:
        problem = safe_file_name(request.name)
        if problem is not None:
            return f"name: {problem}"
    elif not (request.task_id or request.actor_id):
        return "name: a log file name, or a task_id or actor_id, is required"
    if request.task_id and request.actor_id:
        return "task_id and actor_id: give one or the other"
    for field, value, size in (
        ("task_id", request.task_id, TASK_ID_BYTES),
        ("actor_id", request.actor_id, ACTOR_ID_BYTES),
    ):
        if value and len(value) != size:
            return f"{field}: an id of {size} bytes was expected, got {len(value)} bytes"
    return None


def bulk_ticket(request: worker_pb2.BulkTicketRequest) -> str | None:
    """Tickets for one object, one per connection, at most config.BULK_MAX_CONNECTIONS."""
    problem = object_id(request.object_id)
    if problem is not None:
        return problem
    if not 1 <= request.connections <= config.BULK_MAX_CONNECTIONS:
        return f"connections: 1 to {config.BULK_MAX_CONNECTIONS} tickets may be asked for, not {request.connections}"
    return None


def lease_batch(batch: worker_pb2.LeaseBatch, first: bool) -> str | None:
    """A message of a LeaseStream: the first names the lease and its client; every one carries
    normal tasks with an attempt each, dependency values, function bodies and cancels."""
    if first:
        if len(batch.lease_id) != LEASE_ID_BYTES:
            return f"lease_id: the first message names the lease ({LEASE_ID_BYTES} bytes), got {len(batch.lease_id)}"
        if len(batch.client_id) != CLIENT_ID_BYTES:
            return f"client_id: a client id of {CLIENT_ID_BYTES} bytes was expected, got {len(batch.client_id)}"
        if batch.protocol_version != config.PROTOCOL_VERSION:
            return (
                f"protocol_version: this node speaks version {config.PROTOCOL_VERSION}, the client "
                f"{batch.protocol_version}; run the same raylite version everywhere"
            )
    if len(batch.attempts) != len(batch.tasks):
        return f"attempts: one per task was expected, got {len(batch.attempts)} for {len(batch.tasks)} tasks"
    for i, spec in enumerate(batch.tasks):
        problem = _leased_task(spec, batch.attempts[i], i)
        if problem is not None:
            return problem
    for i, value in enumerate(batch.args):
        problem = object_id(value.object_id, f"args[{i}].object_id")
        if problem is None and value.in_store and (len(value.node_id) != NODE_ID_BYTES or not value.node_address):
            problem = f"args[{i}]: a value in a store needs its node's id and address"
        if problem is not None:
            return problem
    for i, export in enumerate(batch.functions):
        if len(export.function_id) != FUNCTION_ID_BYTES or ids.function_id(export.blob) != export.function_id:
            return f"functions[{i}].function_id: is not the hash of the blob"
    for i, task_id in enumerate(batch.cancels):
        if len(task_id) != TASK_ID_BYTES:
            return f"cancels[{i}]: a task id of {TASK_ID_BYTES} bytes was expected, got {len(task_id)} bytes"
    return None


def _leased_task(spec: common_pb2.TaskSpec, attempt: int, i: int) -> str | None:
    if spec.kind != common_pb2.NORMAL:
        return f"tasks[{i}].kind: only normal tasks run on a lease"
    if len(spec.task_id) != TASK_ID_BYTES or len(spec.function_id) != FUNCTION_ID_BYTES:
        return f"tasks[{i}]: task_id of {TASK_ID_BYTES} bytes and function_id of {FUNCTION_ID_BYTES} expected"
    if not 1 <= spec.num_returns <= config.MAX_NUM_RETURNS and not spec.generator:
        return f"tasks[{i}].num_returns: {spec.num_returns} is not between 1 and {config.MAX_NUM_RETURNS}"
    if attempt < 1:
        return f"attempts[{i}]: attempts count from 1"
    for j, dep in enumerate(spec.dependencies):
        if len(dep) != OBJECT_ID_BYTES:
            return f"tasks[{i}].dependencies[{j}]: an object id of {OBJECT_ID_BYTES} bytes was expected"
    return None


def call_batch(batch: calls_pb2.CallBatch, actor_id: bytes) -> str | None:
    """Why an actor's call port refuses a caller's CallBatch, or None if it is well formed:
    calls of this actor, numbered, with no dependency (a direct call carries its arguments)."""
    for i, spec in enumerate(batch.calls):
        where = f"calls[{i}]"
        if len(spec.task_id) != TASK_ID_BYTES:
            return f"{where}.task_id: {len(spec.task_id)} bytes, not {TASK_ID_BYTES}"
        if spec.kind != common_pb2.ACTOR_METHOD or spec.actor_id != actor_id:
            return f"{where}: not a call of actor {actor_id.hex()[:12]}"
        if not spec.call_seq:
            return f"{where}.call_seq: a direct call is numbered (from 1)"
        if spec.dependencies or spec.generator:
            return f"{where}: a call with ObjectRef arguments or a generator goes by the head"
        if not 1 <= spec.num_returns <= config.MAX_NUM_RETURNS:
            return f"{where}.num_returns: {spec.num_returns} is not between 1 and {config.MAX_NUM_RETURNS}"
        if b"\0" not in spec.payload:
            return f"{where}.payload: no method name"
    for i, call_id in enumerate(batch.cancels):
        if len(call_id) != TASK_ID_BYTES:
            return f"cancels[{i}]: {len(call_id)} bytes, not {TASK_ID_BYTES}"
    return None
