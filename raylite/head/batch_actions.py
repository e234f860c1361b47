"""What each field of a client's or a node's batch becomes at the head: events.

The servicer (raylite/head/service.py) runs `_CLIENT_STEPS` on every batch of a
client's stream and `_NODE_STEPS` on every batch of a node's, in the order
raylite/message_order.py gives; each action turns its field's items into events
(decoded here, with raylite/head/wire.py and raylite/head/lease_wire.py) and adds
them to the batch's events, which the servicer applies in one HeadState step.
A few fields are no events: the servicer keeps them itself (exports, metrics).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from raylite import message_order
from raylite.batching import Outbox
from raylite.head import lease_wire, wire
from raylite.head.state import (
    ActorKillRequested,
    CallRecorded,
    CallsRunning,
    CancelRequested,
    ExecutorDied,
    GeneratorConsumed,
    GeneratorItemReported,
    NodeAdded,
    ObjectCopiesChanged,
    ObjectsPut,
    ObjectsSubscribed,
    PlacementGroupCreated,
    PlacementGroupRemoveRequested,
    PullsReported,
    RefsChanged,
    StreamReceivedReported,
    TaskBlockChanged,
    TaskFinished,
    TaskSubmitted,
)
from raylite.rpc import calls_pb2, common_pb2, head_pb2

if TYPE_CHECKING:
    from raylite.head.metrics import HeadMetrics


class _Servicer(Protocol):
    """What the actions use of the servicer (raylite/head/service.py: HeadServicer),
    named here so that this module does not import the servicer's."""

    metrics: HeadMetrics

    def apply(self, *events: Any) -> None: ...

    def take_exports(self, exports: Any) -> None: ...


class _ClientSession(NamedTuple):
    """A client's stream, as the actions applying its batches see it."""

    servicer: _Servicer
    client_id: bytes
    out: Outbox  # the stream's own: a reconnection of the same client has another


# What each field of a batch becomes, in the order raylite/message_order.py gives: an
# action gets the field's items (those its step keeps), the stream (a client's session,
# or a node's id) and the batch's events so far, to which it adds its own.
_ClientAction = Callable[[Any, _ClientSession, list[Any]], None]
_NodeAction = Callable[[Any, bytes, list[Any]], None]


def _ack_flush(flush: int, session: _ClientSession, events: list[Any]) -> None:
    # the ack says that everything before it was applied: apply it first
    if events:
        session.servicer.apply(*events)
        events.clear()
    session.out.touch().flush_ack = flush


_CLIENT_ACTIONS: dict[str, _ClientAction | None] = {
    "hello": None,  # ClientStream adds the session's start to the first batch's events
    "exports": lambda exports, session, events: session.servicer.take_exports(exports),
    "ref_changes": lambda changes, session, events: events.append(
        RefsChanged(session.client_id, [(c.object_id, c.held) for c in changes])
    ),
    "puts": lambda puts, session, events: events.append(ObjectsPut([wire.object_info(v) for v in puts])),
    "tasks": lambda specs, session, events: events.extend(
        [TaskSubmitted(wire.task_record(spec, session.client_id)) for spec in specs]
    ),
    "subscribe": lambda oids, session, events: events.append(ObjectsSubscribed(session.client_id, list(oids))),
    "block_states": lambda changes, session, events: events.extend(
        [TaskBlockChanged(c.task_id, c.blocked) for c in changes] + lease_wire.blocked(changes)
    ),
    # executors report results on their client stream; each names the node it ran on
    "results": lambda results, session, events: events.extend([_finished(r.node_id, r) for r in results]),
    "generator_items": lambda items, session, events: events.extend(
        [
            GeneratorItemReported(i.node_id, session.client_id, i.task_id, i.index, wire.object_info(i.value))
            for i in items
        ]
    ),
    "streams_received": lambda received, session, events: events.extend(
        [StreamReceivedReported(session.client_id, r.task_id, r.arrived, frozenset(r.missing)) for r in received]
    ),
    "generator_consumed": lambda progress, session, events: events.extend(
        [GeneratorConsumed(session.client_id, p.task_id, p.consumed) for p in progress]
    ),
    "kill_actors": lambda actor_ids, session, events: events.extend([ActorKillRequested(a) for a in actor_ids]),
    "cancels": lambda cancels, session, events: events.extend(
        [CancelRequested(session.client_id, c.object_id, c.force, c.recursive, c.direct_call) for c in cancels]
    ),
    "restart_actors": lambda actor_ids, session, events: events.extend(
        [ActorKillRequested(a, "killed by raylite.kill(no_restart=False)", no_restart=False) for a in actor_ids]
    ),
    "placement_groups": lambda specs, session, events: events.extend(
        [PlacementGroupCreated(wire.placement_group_record(spec, session.client_id)) for spec in specs]
    ),
    "remove_placement_groups": lambda pg_ids, session, events: events.extend(
        [PlacementGroupRemoveRequested(pg_id) for pg_id in pg_ids]
    ),
    "metrics": lambda reports, session, events: session.servicer.metrics.user.merge(reports),
    "lease_requests": lambda requests, session, events: events.extend(
        lease_wire.requested(requests, session.client_id)
    ),
    "lease_returns": lambda ends, session, events: events.extend(lease_wire.returned(ends, session.client_id)),
    "lease_task_records": lambda records, session, events: events.extend(
        lease_wire.recorded(records, session.client_id)
    ),
    "locate_actors": None,  # _on_client_batch answers them once the batch's events are applied
    "calls_running": lambda calls, session, events: events.append(
        CallsRunning(session.client_id, [(wire.task_record(c.spec, session.client_id), c.sent) for c in calls])
    ),
    "call_records": lambda records, session, events: events.extend(
        [_call_recorded(r, session.client_id) for r in records]
    ),
    "flush": _ack_flush,
}

_NODE_ACTIONS: dict[str, _NodeAction | None] = {
    "hello": None,  # NodeStream applies NodeAdded before the first batch
    "results": lambda results, node_id, events: events.extend([_finished(node_id, r) for r in results]),
    "deaths": lambda deaths, node_id, events: events.extend(
        [ExecutorDied(node_id, d.task_id, d.actor_id, d.reason, d.attempt, d.intentional) for d in deaths]
    ),
    "copies_added": lambda oids, node_id, events: events.append(ObjectCopiesChanged(node_id, list(oids), [])),
    "copies_removed": lambda oids, node_id, events: events.append(ObjectCopiesChanged(node_id, [], list(oids))),
    "pulls": lambda pulls, node_id, events: events.append(
        PullsReported(node_id, [(p.object_id, p.received, p.total, p.elapsed_ms / 1000, p.done) for p in pulls])
    ),
    "log_batches": None,  # not state: _on_node_batch hands them to the LogRouter
    "metrics": None,  # _on_node_batch keeps it: it is no event of the state
    # a finished leased task's record comes from its submitter (ClientBatch.lease_task_records), whose
    # stream orders it after the refs held to its outputs; a node reports only those still running
    "task_records": lambda records, node_id, events: events.extend(lease_wire.started(records, node_id)),
    "leased_tasks_ended": lambda task_ids, node_id, events: events.extend(lease_wire.ended(task_ids, node_id)),
    "leases_drained": lambda ends, node_id, events: events.extend(lease_wire.drained(ends, node_id)),
    "leases_served": lambda grants, node_id, events: events.extend(lease_wire.served(grants, node_id)),
}

_CLIENT_STEPS = message_order.bind(head_pb2.ClientBatch, _CLIENT_ACTIONS)
_NODE_STEPS = message_order.bind(head_pb2.NodeBatch, _NODE_ACTIONS)


def _node_added(info: common_pb2.NodeInfo, hello: head_pb2.NodeHello) -> NodeAdded:
    running = []
    for assignment in hello.running:
        task = wire.task_record(assignment.spec, b"")  # its submitter says who it is when it resubmits
        task.attempt = assignment.attempt
        running.append(task)
    return NodeAdded(
        info.node_id,
        dict(info.total),
        info,
        running=running,
        live_actors=[(a.actor_id, a.attempt) for a in hello.actors],
        call_ports={a.actor_id: a.call_address for a in hello.actors if a.call_address},
        objects=[wire.object_info(v) for v in hello.objects],
        copies=list(hello.copies),
        labels=dict(info.labels),
    )


def _finished(node_id: bytes, result: head_pb2.TaskResult) -> TaskFinished:
    return TaskFinished(
        node_id,
        result.task_id,
        [wire.object_info(v) for v in result.results],
        result.error_summary,
        result.retryable,
        result.call_address,
    )


def _call_recorded(record: calls_pb2.CallRecord, client_id: bytes) -> CallRecorded:
    return CallRecorded(
        wire.task_record(record.spec, client_id),
        [wire.object_info(v) for v in record.results],
        record.error_summary,
        record.failed,
        record.node_id,
        record.started,
        record.finished,
    )
