"""Task leases at the head's edge: ClientBatch and NodeBatch fields into lease events, and the
lease table's effects into HeadToClient and HeadToNode (raylite/head/state/leases.py decides)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from raylite.batching import Outbox
from raylite.head import wire
from raylite.head.state.leases import (
    Lease,
    LeaseDrained,
    LeasedTasksEnded,
    LeasedTaskStarted,
    LeaseEffect,
    LeaseGranted,
    LeaseRequested,
    LeaseReturned,
    LeaseRevoked,
    LeaseSlotBlocked,
    LeaseSlotLent,
    LeasesServed,
    LeaseStopped,
    TaskRecorded,
)
from raylite.head.state.model import TaskRecord
from raylite.rpc import lease_pb2

log = logging.getLogger(__name__)


def requested(requests: Any, client_id: bytes) -> list[LeaseRequested]:
    out = []
    for r in requests:
        if not r.lease_id.startswith(client_id):
            # a lease id is its client's id and a counter: another's prefix could collide
            log.warning("ignored a lease request %s not named after client %s", r.lease_id.hex(), client_id.hex())
            continue
        out.append(
            LeaseRequested(client_id, r.lease_id, r.class_key, dict(r.resources), r.slots, r.job_id, r.runtime_env)
        )
    return out


def returned(ends: Any, client_id: bytes) -> list[LeaseReturned]:
    return [LeaseReturned(client_id, e.lease_id, e.why or "returned") for e in ends]


def recorded(records: Any, client_id: bytes) -> list[TaskRecorded]:
    out = []
    for r in records:
        results = [wire.object_info(v) for v in r.results]
        # the spec is kept only for lineage: when an output is in a store (TaskTable.recorded)
        in_store = any(info.node_id is not None for info in results)
        task = wire.task_record(r.spec, client_id) if in_store else _history_only(r.spec, client_id)
        out.append(TaskRecorded(task, results, r.node_id, r.attempt, r.error_summary))
    return out


def _history_only(spec: Any, client_id: bytes) -> TaskRecord:
    """The head's record of a leased task that needs no lineage: what its history and a recursive
    cancel's bookkeeping read (wire.task_record reads some twenty fields of the spec and keeps it
    serialized, which cost the head most of its time per record)."""
    return TaskRecord(
        task_id=spec.task_id,
        job_id=spec.job_id,
        client_id=client_id,
        name=spec.name,
        kind=spec.kind,
        resources=dict(spec.resources) if spec.resources else {},
        num_returns=spec.num_returns,
        function_id=spec.function_id,
        parent_id=spec.parent_task_id,
    )


def started(records: Any, node_id: bytes) -> list[LeasedTaskStarted]:
    """A node's records of leased tasks still running (NodeBatch.task_records)."""
    return [LeasedTaskStarted(node_id, r.lease_id, wire.task_record(r.spec, b""), r.started) for r in records]


def ended(task_ids: Any, node_id: bytes) -> list[LeasedTasksEnded]:
    return [LeasedTasksEnded(node_id, list(task_ids))]


def blocked(changes: Any) -> list[LeaseSlotBlocked]:
    return [LeaseSlotBlocked(c.lease_id, c.blocked) for c in changes if c.lease_id]


def drained(ends: Any, node_id: bytes) -> list[LeaseDrained]:
    return [LeaseDrained(node_id, e.lease_id) for e in ends]


def served(grants: Any, node_id: bytes) -> list[LeasesServed]:
    leases = [
        Lease(g.lease_id, g.client_id, g.class_key, dict(g.resources), g.slots, g.job_id) for g in grants if g.slots
    ]
    return [LeasesServed(node_id, leases)]


def grant_message(lease: Lease, address: str) -> lease_pb2.LeaseGrant:
    return lease_pb2.LeaseGrant(
        lease_id=lease.lease_id,
        node_id=lease.node_id,
        node_address=address,
        slots=lease.slots,
        class_key=lease.class_key,
        resources=lease.resources,
        client_id=lease.client_id,
        job_id=lease.job_id,
    )


def carry_out(
    effects: list[LeaseEffect], clients: Mapping[bytes, Outbox], nodes: Mapping[bytes, Outbox], addresses: Any
) -> None:
    """Writes the lease table's decisions into the streams' outboxes. The node hears of a grant in
    the same step as its client, and its stream is written first (HeadServicer writes the node's
    outboxes before clients' only by wake-up order, so the daemon also keeps an early stream
    waiting for the grant: raylite/worker/lease_service.py)."""
    for effect in effects:
        if isinstance(effect, LeaseGranted):
            lease = effect.lease
            assert lease.node_id is not None
            grant = grant_message(lease, addresses(lease.node_id))
            node = nodes.get(lease.node_id)
            if node is not None:
                node.touch().leases.append(grant)
            client = clients.get(lease.client_id)
            if client is not None:
                client.touch().leases.append(grant)
        elif isinstance(effect, LeaseRevoked):
            client = clients.get(effect.client_id)
            if client is not None:
                client.touch().lease_revokes.add(lease_id=effect.lease_id, why=effect.why)
        elif isinstance(effect, LeaseStopped):
            node = nodes.get(effect.node_id)
            if node is not None:
                node.touch().lease_ends.add(lease_id=effect.lease_id, why=effect.why)
        elif isinstance(effect, LeaseSlotLent):
            node = nodes.get(effect.node_id)
            if node is not None:
                node.touch().lease_lends.add(lease_id=effect.lease_id, blocked=effect.blocked)
