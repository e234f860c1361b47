"""One order of applying each stream message (raylite/message_order.py), and the
receivers and the splitter follow it."""

from __future__ import annotations

from typing import Any

import pytest

from raylite import message_order
from raylite.batching import Outbox, split
from raylite.head import batch_actions
from raylite.head.service import HeadServicer
from raylite.head.state import (
    ActorKillRequested,
    CallRecorded,
    CallsRunning,
    CancelRequested,
    ClientConnected,
    ExecutorDied,
    GeneratorConsumed,
    GeneratorItemReported,
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
from raylite.head.state.leases import (
    LeaseDrained,
    LeasedTasksEnded,
    LeasedTaskStarted,
    LeaseRequested,
    LeaseReturned,
    LeasesServed,
    TaskRecorded,
)
from raylite.rpc import common_pb2, head_pb2
from raylite.worker.daemon import HeadLink

STREAMS = [head_pb2.ClientBatch, head_pb2.HeadToClient, head_pb2.NodeBatch, head_pb2.HeadToNode]
CLIENT = b"c" * 8
NODE = b"n" * 16


def label(step: message_order.Step) -> str:
    """A step's name in expectations: its field, and for a field with two steps, its place."""
    if step.field == "ref_changes":
        return "ref_changes(held)" if step.where == ("held", True) else "ref_changes(released)"
    return step.field


@pytest.mark.parametrize("message_type", STREAMS, ids=lambda t: t.__name__)
def test_every_field_of_a_stream_message_has_its_place_in_the_order(message_type: type) -> None:
    # a field added to the proto must be placed explicitly (and so be known to the
    # splitter, and have an action in each receiver, which bind() checks)
    fields = {f.name for f in message_type.DESCRIPTOR.fields}  # type: ignore[attr-defined]
    placed = {step.field for step in message_order.ORDER[message_type]}
    assert fields - placed == set(), f"{message_type.__name__}: not in raylite/message_order.py ORDER"
    assert placed - fields == set(), f"{message_type.__name__}: ORDER names fields the message does not have"


@pytest.mark.parametrize("message_type", STREAMS, ids=lambda t: t.__name__)
def test_a_field_placed_twice_has_filters_that_share_its_items_out(message_type: type) -> None:
    order = message_order.ORDER[message_type]
    for field in {step.field for step in order}:
        twice = [step for step in order if step.field == field]
        if len(twice) == 1:
            assert twice[0].where is None, f"{field}: a filter on a field placed once would drop items"
            continue
        assert field == "ref_changes", f"{field}: placed twice; teach this test what its items look like"
        items = [head_pb2.RefChange(object_id=bytes([i]), held=held) for i, held in enumerate([True, False, True])]
        shares = [message_order.select(step)(items) for step in twice]  # type: ignore[misc]
        assert sorted(item.object_id for share in shares for item in share) == [b"\x00", b"\x01", b"\x02"]


def test_single_fields_open_or_close_a_message() -> None:
    # a split puts a single field in the part being filled when its step comes:
    # hello must open the first part, the others (acks, flushes, warnings) close the last
    for message_type in STREAMS:
        order = [step.field for step in message_order.ORDER[message_type]]
        fields = message_type.DESCRIPTOR.fields_by_name  # type: ignore[attr-defined]
        last_repeated = max(i for i, name in enumerate(order) if fields[name].is_repeated)
        for place, name in enumerate(order):
            if not fields[name].is_repeated:
                where = f"{message_type.__name__}.{name}"
                assert place == 0 if name == "hello" else place > last_repeated, where


def place(message_type: type, name: str) -> int:
    return [label(step) for step in message_order.ORDER[message_type]].index(name)


@pytest.mark.parametrize(
    ("message_type", "first", "then"),
    [
        # a put or a task's return reaching the head before any ref to it is freed on arrival
        (head_pb2.ClientBatch, "ref_changes(held)", "puts"),
        (head_pb2.ClientBatch, "ref_changes(held)", "tasks"),
        # a task dispatched in the batch carries its function's body
        (head_pb2.ClientBatch, "exports", "tasks"),
        # a reconnecting client's finished tasks are known done from the values it sends
        (head_pb2.ClientBatch, "puts", "tasks"),
        # an actor created in the batch exists when it is killed
        (head_pb2.ClientBatch, "tasks", "kill_actors"),
        (head_pb2.ClientBatch, "tasks", "restart_actors"),
        # a submitted task, and a result, pin their refs before the client lets them go
        (head_pb2.ClientBatch, "tasks", "ref_changes(released)"),
        (head_pb2.ClientBatch, "results", "ref_changes(released)"),
        (head_pb2.ClientBatch, "ref_changes(released)", "flush"),
        (head_pb2.HeadToClient, "objects", "flush_ack"),
        # a task submitted in the batch is known when it is cancelled; cancel() reads the
        # refusals once its flush is acknowledged
        (head_pb2.ClientBatch, "tasks", "cancels"),
        (head_pb2.ClientBatch, "cancels", "flush"),
        (head_pb2.HeadToClient, "cancel_refused", "flush_ack"),
        # a result reported before its executor died is not retried
        (head_pb2.NodeBatch, "results", "deaths"),
        # kills name incarnations older than any creation in the message
        (head_pb2.HeadToNode, "kill_actors", "tasks"),
        # a task dispatched and cancelled while one message was built is given out first
        (head_pb2.HeadToNode, "tasks", "cancel_tasks"),
    ],
)
def test_the_orders_the_protocol_relies_on(message_type: type, first: str, then: str) -> None:
    assert place(message_type, first) < place(message_type, then)


def test_bind_refuses_actions_that_do_not_match_the_order() -> None:
    actions: dict[str, Any] = {
        "log_batches": print,
        "objects": print,
        "cancel_refused": print,
        "actor_locations": print,
        "generator_consumed": print,
        "leases": print,
        "lease_revokes": print,
        "flush_ack": print,
        "warning": print,
    }
    assert [name for name, _ in message_order.bind(head_pb2.HeadToClient, actions)] == [
        "log_batches",
        "objects",
        "cancel_refused",
        "actor_locations",
        "generator_consumed",
        "leases",
        "lease_revokes",
        "flush_ack",
        "warning",
    ]
    with pytest.raises(ValueError, match="no action for \\['warning'\\]"):
        message_order.bind(
            head_pb2.HeadToClient,
            {
                "objects": print,
                "cancel_refused": print,
                "actor_locations": print,
                "generator_consumed": print,
                "log_batches": print,
                "leases": print,
                "lease_revokes": print,
                "flush_ack": print,
            },
        )
    with pytest.raises(ValueError, match="not in the order \\['extra'\\]"):
        message_order.bind(head_pb2.HeadToClient, {**actions, "extra": print})
    with pytest.raises(ValueError, match="single message field"):
        message_order.bind(head_pb2.NodeBatch, {**dict.fromkeys(batch_actions._NODE_ACTIONS, print)})


def test_a_filtered_step_sees_only_its_items() -> None:
    seen: list[tuple[str, list[bool]]] = []
    actions: dict[str, Any] = {name: None for name in batch_actions._CLIENT_ACTIONS}
    actions["ref_changes"] = lambda items, tag: seen.append((tag, [c.held for c in items]))
    steps = message_order.bind(head_pb2.ClientBatch, actions)
    batch = head_pb2.ClientBatch()
    batch.ref_changes.add(object_id=b"a", held=False)
    batch.ref_changes.add(object_id=b"b", held=True)
    for _, action in steps:
        action(batch.ref_changes, "x")
    assert seen == [("x", [True]), ("x", [False])]
    only_held = head_pb2.ClientBatch()
    only_held.ref_changes.add(object_id=b"b", held=True)
    seen.clear()
    for _, action in steps:
        action(only_held.ref_changes, "x")
    assert seen == [("x", [True])]  # the released step, with nothing to do, is not called


# ---- the head's servicer ------------------------------------------------------------


class Recorder:
    """HeadState.handle standing in: records each item the servicer applies, in order."""

    def __init__(self, svc: HeadServicer, out: Outbox) -> None:
        self.svc, self.out = svc, out
        self.items: list[tuple[str, bytes]] = []  # (the step it came from, its id)
        self.exports_first = False  # the functions were stored before anything was applied
        self.acks: list[int] = []  # the flush ack in the outgoing message at each apply

    def handle(self, *events: Any, now: float | None = None) -> list[Any]:
        if not self.items:
            self.exports_first = bool(self.svc.functions)
        self.acks.append(self.out.msg.flush_ack)
        for event in events:
            self.items += client_items(event)
        return []


def client_items(event: Any) -> list[tuple[str, bytes]]:
    if isinstance(event, ClientConnected):
        return [("hello", event.client_id)]
    if isinstance(event, RefsChanged):
        return [("ref_changes(held)" if held else "ref_changes(released)", oid) for oid, held in event.changes]
    if isinstance(event, ObjectsPut):
        return [("puts", info.object_id) for info in event.objects]
    if isinstance(event, ObjectsSubscribed):
        return [("subscribe", oid) for oid in event.object_ids]
    if isinstance(event, ActorKillRequested):
        return [("kill_actors" if event.no_restart else "restart_actors", event.actor_id)]
    if isinstance(event, TaskSubmitted):
        return [("tasks", event.task.task_id)]
    if isinstance(event, CancelRequested):
        return [("cancels", event.object_id)]
    if isinstance(event, PlacementGroupCreated):
        return [("placement_groups", event.group.pg_id)]
    if isinstance(event, PlacementGroupRemoveRequested):
        return [("remove_placement_groups", event.pg_id)]
    if isinstance(event, LeaseRequested):
        return [("lease_requests", event.lease_id)]
    if isinstance(event, LeaseReturned):
        return [("lease_returns", event.lease_id)]
    if isinstance(event, TaskRecorded):
        return [("lease_task_records", event.task.task_id)]
    if isinstance(event, CallRecorded):
        return [("call_records", event.task.task_id)]
    if isinstance(event, CallsRunning):
        return [("calls_running", task.task_id) for task, _sent in event.calls]
    step = {
        TaskBlockChanged: "block_states",
        TaskFinished: "results",
        GeneratorItemReported: "generator_items",
        GeneratorConsumed: "generator_consumed",
        StreamReceivedReported: "streams_received",
    }[type(event)]
    return [(step, event.task_id)]


def node_step(event: Any) -> str:
    if isinstance(event, ObjectCopiesChanged):
        return "copies_added" if event.added else "copies_removed"
    if isinstance(event, LeasesServed):
        return "leases_served"
    return {
        TaskFinished: "results",
        ExecutorDied: "deaths",
        PullsReported: "pulls",
        LeaseDrained: "leases_drained",
        LeasedTaskStarted: "task_records",
        LeasedTasksEnded: "leased_tasks_ended",
    }[type(event)]


def client_batch(n: int) -> head_pb2.ClientBatch:
    """A batch with n items in every repeated field, and a hello and a flush."""
    b = head_pb2.ClientBatch(hello=head_pb2.ClientHello(protocol_version=1, client_id=CLIENT), flush=7)
    for i in range(n):
        oid = i.to_bytes(20, "big")
        b.exports.add(function_id=bytes([i]) * 16, blob=b"b" * 100)
        b.ref_changes.add(object_id=oid, held=True)
        b.ref_changes.add(object_id=b"r" + oid[1:], held=False)
        b.puts.add(object_id=oid, data=b"v" * 100, size=100)
        b.tasks.add(task_id=i.to_bytes(16, "big"), payload=b"p" * 150, dependencies=[oid])
        b.lease_requests.add(lease_id=CLIENT + i.to_bytes(4, "big"), class_key=b"k", slots=1)
        b.lease_returns.add(lease_id=CLIENT + i.to_bytes(4, "big"))
        record = b.lease_task_records.add(lease_id=CLIENT + i.to_bytes(4, "big"), attempt=1, node_id=NODE)
        record.spec.task_id = (i + 1000).to_bytes(16, "big")
        record.results.add(object_id=(i + 1000).to_bytes(16, "big") + bytes(4), data=b"x", size=1)
        b.subscribe.append(oid)
        b.block_states.add(task_id=i.to_bytes(16, "big"), blocked=True)
        b.results.add(task_id=i.to_bytes(16, "big"), node_id=NODE).results.add(object_id=oid, data=b"x", size=1)
        b.generator_items.add(task_id=i.to_bytes(16, "big"), index=0, node_id=NODE).value.object_id = oid
        b.generator_consumed.add(task_id=i.to_bytes(16, "big"), consumed=1)
        b.streams_received.add(task_id=i.to_bytes(16, "big"), arrived=2, missing=[1])
        b.kill_actors.append(bytes([i]) * 16)
        b.restart_actors.append(bytes([i]) * 16)
        b.cancels.add(object_id=oid, recursive=True)
        group = b.placement_groups.add(placement_group_id=bytes([i + 1]) * 16, strategy="PACK")
        group.bundles.add().resources["CPU"] = 1.0
        b.remove_placement_groups.append(bytes([i + 2]) * 16)
        b.metrics.add(name=f"m{i}", kind=1, value=1.0)
        record = b.call_records.add(node_id=NODE)
        record.spec.task_id = (i + 100).to_bytes(16, "big")
        running = b.calls_running.add(sent=1.0)
        running.spec.task_id = (i + 200).to_bytes(16, "big")
        b.locate_actors.append(bytes([i + 3]) * 16)
    return b


def recorded_servicer() -> tuple[HeadServicer, Outbox, Recorder, batch_actions._ClientSession]:
    svc = HeadServicer("test")
    out = Outbox(head_pb2.HeadToClient)
    svc.clients[CLIENT] = out
    recorder = Recorder(svc, out)
    svc.state.handle = recorder.handle  # type: ignore[method-assign]
    return svc, out, recorder, batch_actions._ClientSession(svc, CLIENT, out)


def expected(message_type: type, n: int, skip: tuple[str, ...] = ()) -> list[str]:
    """The table's steps, n times each for a repeated field (once for a single field)."""
    fields = message_type.DESCRIPTOR.fields_by_name  # type: ignore[attr-defined]
    out = []
    for step in message_order.ORDER[message_type]:
        if step.field not in skip:
            out += [label(step)] * (n if fields[step.field].is_repeated else 1)
    return out


async def test_the_head_applies_a_client_batch_in_the_table_order() -> None:
    svc, out, recorder, session = recorded_servicer()
    svc._on_client_batch(session, client_batch(1), [ClientConnected(CLIENT, b"job", True)])
    # exports are no event: the functions are stored before the batch's events are applied
    # (the table puts them right after hello, whose events have no use for them); a flush
    # is acknowledged after all of them
    assert recorder.exports_first
    # user metrics are no event either: the servicer merges them into its own tables
    assert [step for step, _ in recorder.items] == expected(
        head_pb2.ClientBatch, 1, skip=("exports", "flush", "metrics", "locate_actors")
    )
    assert recorder.acks == [0] and out.msg.flush_ack == 7
    assert svc.metrics.user.series == {("m0", ()): [1.0]}


async def test_a_split_client_batch_is_applied_as_the_whole_would_be() -> None:
    whole = client_batch(20)
    parts = split(whole, 2000)
    assert len(parts) > 5
    applied = []
    for batches in ([whole], parts):
        svc, out, recorder, session = recorded_servicer()
        for i, part in enumerate(batches):
            svc._on_client_batch(session, part, [ClientConnected(CLIENT, b"job", True)] if i == 0 else None)
        assert recorder.exports_first and not any(recorder.acks) and out.msg.flush_ack == 7
        applied.append(recorder.items)
    # the same items in the same order, only spread over several steps of the state
    assert applied[0] == applied[1]


async def test_the_head_applies_a_node_batch_in_the_table_order() -> None:
    svc = HeadServicer("test")
    seen: list[str] = []
    svc.state.handle = lambda *events, now=None: (seen.extend(node_step(e) for e in events), [])[1]  # type: ignore[method-assign]
    batch = head_pb2.NodeBatch()
    batch.results.add(task_id=b"t" * 16)
    batch.deaths.add(task_id=b"d" * 16, reason="killed")
    batch.copies_added.append(b"a" * 20)
    batch.copies_removed.append(b"r" * 20)
    batch.pulls.add(object_id=b"p" * 20, received=1, total=2)
    batch.metrics.add(bytes_sent=5)
    batch.leases_drained.add(lease_id=b"l" * 12)
    batch.leases_served.add(lease_id=b"s" * 12, client_id=CLIENT, slots=1)
    started = batch.task_records.add(lease_id=b"l" * 12, attempt=1, started=1.0)
    started.spec.task_id = b"s" * 16
    batch.leased_tasks_ended.append(b"e" * 16)
    svc._on_node_batch(NODE, batch)
    # lines are not state
    assert seen == expected(head_pb2.NodeBatch, 1, skip=("hello", "log_batches", "metrics"))
    assert svc.metrics.nodes[NODE].bytes_sent == 5  # kept by the servicer, no event


# ---- the worker daemon ------------------------------------------------------------------


class FakeCall:
    """A NodeStream call that delivers the given messages, then ends."""

    def __init__(self, messages: list[head_pb2.HeadToNode]) -> None:
        self.messages = messages

    def __aiter__(self) -> Any:
        return self._gen()

    async def _gen(self) -> Any:
        for msg in self.messages:
            yield msg

    async def write(self, msg: Any) -> None:
        pass

    def cancel(self) -> None:
        pass


class Recording:
    """The pool and the store, as far as the head's messages reach them."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def kill_actor(self, actor_id: bytes) -> None:
        self.calls.append("kill_actors")

    def promote(self, oid: bytes) -> None:
        self.calls.append("promoted_objects")

    def delete(self, oid: bytes) -> None:
        self.calls.append("free_objects")

    def submit(self, assignment: head_pb2.TaskAssignment) -> None:
        self.calls.append("tasks")

    def cancel(self, request: head_pb2.CancelTask) -> None:
        self.calls.append("cancel_tasks")

    def announce(self, grant: Any) -> None:
        self.calls.append("leases")

    def stop(self, end: Any) -> None:
        self.calls.append("lease_ends")

    def lend(self, lend: Any) -> None:
        self.calls.append("lease_lends")


async def test_the_worker_daemon_applies_head_to_node_in_the_table_order() -> None:
    msg = head_pb2.HeadToNode()
    for i in range(2):
        msg.nodes.add(node_id=NODE)
        msg.tasks.add(spec=common_pb2.TaskSpec(task_id=bytes([i]) * 16))
        msg.kill_actors.append(bytes([i]) * 16)
        msg.free_objects.append(bytes([i]) * 20)
        msg.promoted_objects.append(bytes([i]) * 20)
        msg.cancel_tasks.add(task_id=bytes([i]) * 16)
        msg.leases.add(lease_id=bytes([i]) * 12)
        msg.lease_ends.add(lease_id=bytes([i]) * 12)
        msg.lease_lends.add(lease_id=bytes([i]) * 12, blocked=True)
    link = HeadLink("127.0.0.1:1", "token", None)
    recording = Recording()
    link.attach(common_pb2.NodeInfo(node_id=NODE), recording, recording, recording)  # type: ignore[arg-type]
    link.stub = type("Stub", (), {"NodeStream": lambda self, **kw: FakeCall([msg])})()
    try:
        assert await link._session(head_pb2.NodeHello()) is None
    finally:
        await link.close()
    assert link.registered.is_set()  # the nodes field, the acknowledgement, has nothing else to do
    assert recording.calls == expected(head_pb2.HeadToNode, 2, skip=("nodes",))


async def test_a_split_head_to_node_message_keeps_the_table_order() -> None:
    msg = head_pb2.HeadToNode(nodes=[common_pb2.NodeInfo(node_id=NODE)])
    for i in range(30):
        msg.tasks.add(spec=common_pb2.TaskSpec(task_id=i.to_bytes(16, "big"), payload=b"p" * 200))
        msg.free_objects.append(i.to_bytes(20, "big"))
    msg.kill_actors.append(b"a" * 16)
    msg.promoted_objects.append(b"o" * 20)
    msg.cancel_tasks.add(task_id=b"c" * 16)
    parts = split(msg, 2000)
    assert len(parts) > 1

    def in_order(m: head_pb2.HeadToNode) -> list[tuple[str, Any]]:
        return [
            (step.field, item) for step in message_order.ORDER[head_pb2.HeadToNode] for item in getattr(m, step.field)
        ]

    # applying the parts one after another is applying the whole
    assert [pair for part in parts for pair in in_order(part)] == in_order(msg)
