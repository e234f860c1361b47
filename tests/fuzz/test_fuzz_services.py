"""Fuzzing the head's and the workers' real servicers with generated input.

Every RPC gets raw random bytes, and messages that hypothesis builds from the
message descriptors (tests/fuzz/strategies.py), alone or as sequences on the
streams, sometimes cut halfway, sometimes replayed. After each example the
oracle (Services.check) asserts that every service still serves and that no
object was lost; each answer must be a status the service means to give
(never UNKNOWN: an exception escaped the servicer).

Each test fuzzes for its share of RAYLITE_FUZZ_SECONDS (default 40, for CI);
RAYLITE_FUZZ_EXAMPLES caps the examples of each test instead. By hand:

    RAYLITE_FUZZ_SECONDS=600 python -m pytest tests/fuzz/test_fuzz_services.py

The number of inputs sent is printed at the end of the run.
"""

from __future__ import annotations

import itertools
import math
import os
import time
from collections.abc import Callable
from typing import Any

import grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from raylite import bulk, config
from raylite.rpc import common_pb2, head_pb2, worker_pb2
from tests.fuzz import harness
from tests.fuzz.harness import (
    ACTORS,
    FUNCTION_BLOB,
    FUNCTION_ID,
    FUZZ_CLIENTS,
    FUZZ_NODES,
    HEAD_SERVICE,
    KEEPER_CLIENT,
    KEEPER_TASK,
    NODE_A,
    NODE_B,
    OBJECTS,
    TALLY,
    TASKS,
    WORKER_SERVICE,
    Services,
)
from tests.fuzz.strategies import messages, mostly

BUDGET_S = float(os.environ.get("RAYLITE_FUZZ_SECONDS", "40"))
MIN_EXAMPLES = 3  # per test, even past its share of the budget
EXAMPLES = int(os.environ.get("RAYLITE_FUZZ_EXAMPLES", "0"))  # 0: as many as the time allows
SHARE = {"raw": 0.15, "head_unary": 0.1, "client_stream": 0.25, "node_stream": 0.2, "worker": 0.2, "bulk": 0.1}
CHUNK = 50  # examples per hypothesis run; runs repeat until the time is up

ALWAYS = {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT}
CUT = {grpc.StatusCode.CANCELLED}


def hints(services: Services) -> dict[str, st.SearchStrategy[Any]]:
    """Better-than-random values by field name: ids the services know, addresses without DNS."""
    objects = st.sampled_from(OBJECTS)
    addresses = st.sampled_from([*services.worker_addresses.values(), "127.0.0.1:1"])
    resource = st.sampled_from(["CPU", "GPU", "special"])
    return {
        # known ids (results, kills and calls then name something), or new ones: a
        # known id that is taken (queued for ever, kept for lineage) is ignored when resent
        "task_id": st.one_of(st.sampled_from([*TASKS, KEEPER_TASK]), st.binary(min_size=16, max_size=16)),
        "object_id": objects,
        "dependencies": objects,
        # a known task (a recursive cancel then walks down to what it submitted), or none
        "parent_task_id": st.sampled_from([*TASKS, KEEPER_TASK, b""]),
        "borrowed": objects,
        "subscribe": objects,
        "contained": objects,
        "copies_added": objects,
        "copies_removed": objects,
        "actor_id": st.sampled_from([*ACTORS, b""]),
        "kill_actors": st.sampled_from(ACTORS),
        "restart_actors": st.sampled_from(ACTORS),
        "node_id": st.sampled_from([NODE_A, NODE_B, *FUZZ_NODES]),
        "client_id": st.sampled_from([*FUZZ_CLIENTS, KEEPER_CLIENT]),
        "function_id": st.just(FUNCTION_ID),
        "blob": st.just(FUNCTION_BLOB),
        "protocol_version": st.just(config.PROTOCOL_VERSION),
        "address": addresses,
        "node_address": addresses,
        "copy_addresses": addresses,
        "SchedulingStrategy.kind": st.sampled_from(["DEFAULT", "SPREAD", "NODE_AFFINITY", ""]),
        "resources.key": resource,
        "placement.key": resource,
        "total.key": resource,
        "available.key": resource,
        "num_returns": st.integers(1, 3),
        "name": st.sampled_from(["counter", "f"]),
        "actor_name": st.sampled_from(["counter", ""]),
        "size": st.sampled_from([len(harness.STORED_BYTES), len(harness.B_BYTES), 10, 1000]),
        "total_size": st.sampled_from([len(harness.STORED_BYTES), 10, 1000]),
        "offset": st.sampled_from([0, 10, 1000]),
    }


def mend(batch: Any) -> Any:
    """A copy of a generated batch with what the head refuses mended, so that many
    examples get past the edge checks into HeadState (the unmended ones test the edge)."""
    out = type(batch)()
    out.CopyFrom(batch)
    out.ClearField("hello")
    if isinstance(out, head_pb2.ClientBatch) and not out.tasks:
        out.tasks.add(task_id=TASKS[0], job_id=b"job-1", name="f", num_returns=1)  # work for the head
    for spec in getattr(out, "tasks", ()):
        spec.kind = spec.kind if spec.kind in (0, 1, 2) else 0
        spec.task_id = spec.task_id if len(spec.task_id) == 16 else TASKS[0]
        spec.actor_id = {0: b"", 1: spec.task_id}.get(
            spec.kind, spec.actor_id if len(spec.actor_id) == 16 else ACTORS[0]
        )
        spec.function_id = b"" if spec.kind == 2 else FUNCTION_ID
        spec.num_returns = min(max(spec.num_returns, 1), 3)
        for name in ("max_retries", "max_restarts", "max_task_retries"):
            setattr(spec, name, min(max(getattr(spec, name), -1), 3))
        for amounts in (spec.resources, spec.placement):
            for key, amount in list(amounts.items()):
                amounts[key] = min(abs(amount), 8.0) if math.isfinite(amount) else 1.0
        if spec.strategy.kind not in ("", "DEFAULT", "SPREAD", "NODE_AFFINITY"):
            spec.strategy.kind = "SPREAD"
        if spec.strategy.kind == "NODE_AFFINITY" and len(spec.strategy.node_id) != 16:
            spec.strategy.node_id = NODE_A
        _mend_ids(spec.dependencies)
        _mend_ids(spec.borrowed)
        if len(spec.parent_task_id) not in (0, 16):
            spec.parent_task_id = TASKS[0]
    for value in [*getattr(out, "puts", ()), *(v for r in out.results for v in r.results)]:
        _mend_value(value)
    for result in out.results:
        result.task_id = result.task_id if len(result.task_id) == 16 else TASKS[0]
        if len(result.node_id) != 16:
            result.node_id = NODE_A
        if not result.results:
            result.results.add(object_id=OBJECTS[0], data=b"v", size=1)
    for name, size in (
        ("subscribe", 20),
        ("copies_added", 20),
        ("copies_removed", 20),
        ("kill_actors", 16),
        ("restart_actors", 16),
    ):
        if hasattr(out, name):
            _mend_ids(getattr(out, name), size)
    for change in getattr(out, "block_states", ()):
        change.task_id = change.task_id if len(change.task_id) == 16 else TASKS[0]
    for ref in getattr(out, "ref_changes", ()):
        ref.object_id = ref.object_id if len(ref.object_id) == 20 else OBJECTS[0]
    for cancel in getattr(out, "cancels", ()):
        cancel.object_id = cancel.object_id if len(cancel.object_id) == 20 else OBJECTS[0]
    for export in getattr(out, "exports", ()):
        export.function_id, export.blob = FUNCTION_ID, FUNCTION_BLOB
    for death in getattr(out, "deaths", ()):
        death.task_id = death.task_id if len(death.task_id) in (0, 16) else b""
        death.actor_id = death.actor_id if len(death.actor_id) in (0, 16) else b""
    return out


def _mend_ids(ids: Any, size: int = 20) -> None:
    kept = [i for i in ids if len(i) == size]
    del ids[:]
    ids.extend(kept)


def _mend_value(value: Any) -> None:
    value.object_id = value.object_id if len(value.object_id) == 20 else OBJECTS[0]
    if value.in_store:
        value.node_id = value.node_id if len(value.node_id) == 16 else NODE_A
        value.node_address = value.node_address or "127.0.0.1:1"
    _mend_ids(value.contained)


def fuzz(
    name: str,
    services: Services,
    strategy: st.SearchStrategy[Any],
    body: Callable[[Any], tuple[int, grpc.StatusCode]],
) -> None:
    """Runs body on examples of strategy for this test's share of the time budget."""
    deadline = time.monotonic() + BUDGET_S * SHARE[name]
    start = time.monotonic()
    done = 0

    def enough() -> bool:
        # a few examples whatever the clock says: on a loaded machine hypothesis can spend a
        # whole share generating its first examples, and a test that ran none tested nothing
        if EXAMPLES:
            return done >= EXAMPLES
        return done >= MIN_EXAMPLES and time.monotonic() > deadline

    @settings(
        max_examples=CHUNK, deadline=None, database=None, suppress_health_check=list(HealthCheck), print_blob=True
    )
    @given(strategy)
    def run(example: Any) -> None:
        nonlocal done
        if enough():
            return
        began = time.monotonic()
        inputs, code = body(example)
        took = time.monotonic() - began
        if took > 1.0:
            print(f"slow example ({took:.1f}s, {code.name}): {example!r}"[:2000])
        TALLY.record(name, inputs, code)
        done += 1

    while not enough():
        run()
    TALLY.seconds += time.monotonic() - start
    TALLY.tasks_run = len(services.tasks_run)
    assert done > 0


def answered(outcome: harness.Outcome, allowed: set[grpc.StatusCode], what: str) -> None:
    assert outcome.code in allowed, f"{what}: {outcome.code.name} {outcome.details}"
    if outcome.code == grpc.StatusCode.INVALID_ARGUMENT:
        assert outcome.details, f"{what}: INVALID_ARGUMENT without a reason"


# ---- raw bytes on every method ------------------------------------------------------

METHODS = [*HEAD_SERVICE.methods, *WORKER_SERVICE.methods]


def test_random_bytes_on_every_method(services: Services) -> None:
    strategy = st.tuples(
        st.sampled_from(METHODS),
        st.lists(st.binary(max_size=48), min_size=1, max_size=3),
        st.booleans(),
    )

    def body(example: Any) -> tuple[int, grpc.StatusCode]:
        method, raws, cut = example
        address = (
            services.head_address if method.containing_service is HEAD_SERVICE else services.worker_addresses[NODE_A]
        )
        requests = raws if method.client_streaming else raws[:1]
        cut = cut and method.client_streaming
        outcome = services.call(address, method.name, requests, cut=cut)
        # bytes that happen to parse are a message like any other
        allowed = ALWAYS | {
            grpc.StatusCode.NOT_FOUND,
            grpc.StatusCode.FAILED_PRECONDITION,
            grpc.StatusCode.ALREADY_EXISTS,
        }
        answered(outcome, allowed | (CUT if cut else set()), method.name)
        services.check()
        return len(requests), outcome.code

    fuzz("raw", services, strategy, body)


# ---- messages on the head's unary calls -----------------------------------------------


def test_head_unary_calls(services: Services) -> None:
    h = hints(services)
    requests = {
        "GetClusterState": messages(head_pb2.ClusterStateRequest, h),
        "GetFunction": messages(head_pb2.GetFunctionRequest, h),
        "GetActor": messages(head_pb2.GetActorRequest, h),
        "GetStateView": messages(head_pb2.StateViewRequest, h),
        "ListNamedActors": messages(head_pb2.ListNamedActorsRequest, h),
    }
    strategy = st.sampled_from(sorted(requests)).flatmap(lambda m: st.tuples(st.just(m), requests[m]))

    def body(example: Any) -> tuple[int, grpc.StatusCode]:
        method, request = example
        outcome = services.unary(services.head_address, method, request)
        answered(outcome, ALWAYS | {grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION}, method)
        services.check()
        return 1, outcome.code

    fuzz("head_unary", services, strategy, body)


# ---- sequences on the head's streams ---------------------------------------------------


def _session(batches: st.SearchStrategy[Any], hello: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A stream: mostly a good hello first, then batches; sometimes one replayed; maybe cut."""
    return st.tuples(
        mostly(hello.map(lambda h: [h]), st.just([]), one_in=6),
        st.lists(st.one_of(batches, batches.map(mend)), max_size=4),
        st.booleans(),  # replay a batch
        st.booleans(),  # cut the stream instead of closing it
    )


_KNOWN_TASKS = {*TASKS, KEEPER_TASK}
NEW_NODE = b"new node, named when sent"
_fresh = itertools.count(1)


def _new_tasks(batch: Any) -> Any:
    """The batch, its well-formed tasks renamed to ids never used before (except the
    known ones, which results, kills and calls name): a taken id makes a task a replay."""
    if not getattr(batch, "tasks", None):
        return batch
    out = type(batch)()
    out.CopyFrom(batch)
    for spec in out.tasks:
        if len(spec.task_id) == 16 and spec.task_id not in _KNOWN_TASKS:
            new = b"fuzz" + next(_fresh).to_bytes(12, "big")
            if spec.actor_id == spec.task_id:
                spec.actor_id = new
            spec.task_id = new
    return out


def _not_the_keepers(first: Any) -> Any:
    """The stream's first message, with the keepers' ids in its hello swapped for others.

    By design a client reconnecting under its id takes over its session, and a
    node id the head knows is declared dead when it says hello again (the head
    restart's rules): another peer that knew the keepers' ids would end their
    sessions. Ids are the peers' own (random, and the token guards who may talk).
    """
    if not first.HasField("hello"):
        return first
    out = type(first)()
    out.CopyFrom(first)
    if isinstance(out, head_pb2.ClientBatch) and out.hello.client_id == KEEPER_CLIENT:
        out.hello.client_id = FUZZ_CLIENTS[0]
    if isinstance(out, head_pb2.NodeBatch) and out.hello.node.node_id == NODE_A:
        out.hello.node.node_id = FUZZ_NODES[0]
    return out


def _stream_body(
    services: Services, method: str, make_first: Callable[[Any], Any]
) -> Callable[[Any], tuple[int, grpc.StatusCode]]:
    def body(example: Any) -> tuple[int, grpc.StatusCode]:
        hello, batches, replay, cut = example
        sent = [make_first(h) for h in hello] + [_new_tasks(b) for b in batches]
        if sent:
            sent[0] = _not_the_keepers(sent[0])
        if replay and sent:
            sent.append(sent[len(sent) // 2])
        outcome = services.call(services.head_address, method, sent, cut=cut)
        allowed = ALWAYS | {grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.ALREADY_EXISTS}
        answered(outcome, allowed | (CUT if cut else set()), method)
        services.check()
        return len(sent), outcome.code

    return body


def test_client_streams(services: Services) -> None:
    h = hints(services)
    hello = st.builds(
        lambda cid, job, driver: head_pb2.ClientHello(
            protocol_version=config.PROTOCOL_VERSION, client_id=cid, job_id=job, is_driver=driver
        ),
        st.sampled_from(FUZZ_CLIENTS),
        st.sampled_from([b"job-1", b"keeper"]),
        st.booleans(),
    )

    def first(hello_msg: head_pb2.ClientHello) -> head_pb2.ClientBatch:
        return head_pb2.ClientBatch(hello=hello_msg)

    strategy = _session(messages(head_pb2.ClientBatch, h), hello)
    fuzz("client_stream", services, strategy, _stream_body(services, "ClientStream", first))


def test_node_streams(services: Services) -> None:
    h = hints(services)

    def node(
        generated: head_pb2.NodeHello, known_id: bool, mend_resume: bool, cpus: float, special: bool
    ) -> head_pb2.NodeHello:
        """A hello with a good version and node; what a resuming node reports is generated
        (and mended or not). Mostly a new node id (the head refuses one it knows)."""
        hello_msg = head_pb2.NodeHello()
        hello_msg.CopyFrom(generated)
        hello_msg.protocol_version = config.PROTOCOL_VERSION
        info = common_pb2.NodeInfo(
            node_id=FUZZ_NODES[0] if known_id else NEW_NODE, address="127.0.0.1:1", ip="127.0.0.1", alive=True
        )
        info.total.update({"CPU": cpus, **({"special": 1.0} if special else {})})
        hello_msg.node.CopyFrom(info)
        if mend_resume:
            for assignment in hello_msg.running:
                assignment.spec.CopyFrom(mend(head_pb2.ClientBatch(tasks=[assignment.spec])).tasks[0])
                assignment.spec.kind = common_pb2.NORMAL
                assignment.spec.actor_id = b""
                assignment.spec.function_id = FUNCTION_ID
            for value in hello_msg.objects:
                _mend_value(value)
                value.in_store = True
            _mend_ids(hello_msg.copies)
            for actor in hello_msg.actors:
                actor.actor_id = actor.actor_id if len(actor.actor_id) == 16 else ACTORS[0]
        return hello_msg

    hello = st.builds(
        node,
        messages(head_pb2.NodeHello, h),
        mostly(st.just(False), st.just(True), one_in=6),
        st.booleans(),
        st.sampled_from([0.0, 1.0, 4.0]),
        st.booleans(),
    )

    def first(hello_msg: head_pb2.NodeHello) -> head_pb2.NodeBatch:
        out = head_pb2.NodeBatch(hello=hello_msg)
        if out.hello.node.node_id == NEW_NODE:
            fresh = b"fuzznode" + next(_fresh).to_bytes(8, "big")
            out.hello.node.node_id = fresh
            for value in out.hello.objects:
                if value.node_id == NODE_A:  # mended to a node it is not: it is this one
                    value.node_id = fresh
        return out

    strategy = _session(messages(head_pb2.NodeBatch, h), hello)
    fuzz("node_stream", services, strategy, _stream_body(services, "NodeStream", first))


# ---- the workers' object service ------------------------------------------------------


def _read_once(request: worker_pb2.ReadLogFileRequest, name: str) -> worker_pb2.ReadLogFileRequest:
    request.name = name
    request.follow = False
    return request


def test_worker_object_service(services: Services) -> None:
    h = hints(services)
    chunks = messages(worker_pb2.ObjectChunk, h)
    names = st.sampled_from(["worker.log", "../secret", "..", "secret", "", "worker.log/../../secret", "x"])
    # never followed: a followed file streams until the caller stops
    log_reads = st.builds(
        _read_once, messages(worker_pb2.ReadLogFileRequest, h), st.one_of(names, st.text(max_size=20))
    )
    calls = st.one_of(
        st.tuples(
            st.just("FetchObject"), messages(worker_pb2.FetchObjectRequest, h).map(lambda m: [m]), st.just(False)
        ),
        st.tuples(st.just("Pull"), messages(worker_pb2.PullRequest, h).map(lambda m: [m]), st.just(False)),
        st.tuples(st.just("Reserve"), messages(worker_pb2.ReserveRequest, h).map(lambda m: [m]), st.just(False)),
        st.tuples(st.just("BulkTicket"), messages(worker_pb2.BulkTicketRequest, h).map(lambda m: [m]), st.just(False)),
        st.tuples(st.just("PushObject"), st.lists(chunks, min_size=1, max_size=4), st.booleans()),
        st.tuples(
            st.just("ListLogFiles"), messages(worker_pb2.ListLogFilesRequest, h).map(lambda m: [m]), st.just(False)
        ),
        st.tuples(st.just("ReadLogFile"), log_reads.map(lambda m: [m]), st.just(False)),
        # task leases: the fuzzer's lease ids are unknown to the node (refused), or malformed
        st.tuples(
            st.just("LeaseStream"), st.lists(messages(worker_pb2.LeaseBatch, h), min_size=1, max_size=3), st.booleans()
        ),
    )
    strategy = st.tuples(st.sampled_from([NODE_A, NODE_B]), calls)

    def body(example: Any) -> tuple[int, grpc.StatusCode]:
        node_id, (method, requests, cut) = example
        outcome = services.call(services.worker_addresses[node_id], method, requests, cut=cut)
        answered(outcome, ALWAYS | {grpc.StatusCode.NOT_FOUND} | (CUT if cut else set()), method)
        assert not any(harness.SECRET in reply for reply in outcome.replies), (
            f"{method} served a file out of its folder"
        )
        services.check()
        return len(requests), outcome.code

    fuzz("worker", services, strategy, body)


# ---- the workers' bulk port ------------------------------------------------------------


def _bulk_inputs() -> st.SearchStrategy[Any]:
    """What a connection to the bulk port sends: raw bytes, or a hello whose ticket is made up, is
    for another object, asks past the object's end, is used twice, or has flipped bits."""
    ranges = st.tuples(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1))
    return st.one_of(
        st.tuples(st.just("raw"), st.binary(max_size=200)),
        st.tuples(st.just("made_up"), st.binary(min_size=32, max_size=32)),
        st.tuples(st.just("other_object"), st.sampled_from(OBJECTS)),
        st.tuples(st.just("past_the_end"), ranges),
        st.tuples(st.just("reused"), st.integers(1, len(harness.STORED_BYTES))),
        # a bit of the magic, the ticket or the object id (one of the range may still ask for good bytes)
        st.tuples(st.just("flipped"), st.integers(0, (bulk.HELLO_BYTES - 16) * 8 - 1)),
    )


def test_bulk_port_refuses_what_a_ticket_does_not_open(services: Services) -> None:
    keeper = harness.KEEPER_STORED
    size = len(harness.STORED_BYTES)

    def hello(ticket: bytes, oid: bytes = keeper, offset: int = 0, length: int = size) -> bytes:
        return bulk.encode_hello(bulk.Hello(ticket, oid, offset, length))

    def ticket() -> bytes:
        return services.bulk_tickets(NODE_A, keeper).tickets[0]

    def body(example: Any) -> tuple[int, grpc.StatusCode]:
        kind, arg = example
        if kind == "raw":
            data = arg
        elif kind == "made_up":
            data = hello(arg)
        elif kind == "other_object":
            data = hello(ticket(), arg if arg != keeper else harness.B_STORED)
        elif kind == "past_the_end":
            offset, length = arg
            if offset + length <= size:
                offset = size  # inside the object would be a good request
            data = hello(ticket(), offset=offset, length=length)
        elif kind == "reused":
            used = ticket()
            # the first use reads the first bytes: the ticket was good
            assert services.bulk_raw(NODE_A, hello(used, length=arg)) == harness.STORED_BYTES[:arg]
            data = hello(used, length=arg)
        else:
            flipped = bytearray(hello(ticket()))
            flipped[arg // 8] ^= 1 << (arg % 8)
            data = bytes(flipped)
        got = services.bulk_raw(NODE_A, data)
        assert got == b"", f"{kind}: the bulk port sent {len(got)} bytes to a connection without a good ticket"
        services.check()
        return 1, grpc.StatusCode.PERMISSION_DENIED

    fuzz("bulk", services, _bulk_inputs(), body)
