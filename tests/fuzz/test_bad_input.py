"""Each kind of bad input, once, against the real servicers (tests/fuzz/harness.py).

After every case the oracle (Services.check) asserts that the services still
serve, HeadState.validate() holds and the keepers' objects are intact.
"""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from raylite import config, ids
from raylite.rpc import common_pb2, head_pb2, worker_pb2
from tests.fuzz.harness import (
    B_BYTES,
    B_STORED,
    FUNCTION_BLOB,
    FUNCTION_ID,
    FUZZ_CLIENTS,
    FUZZ_NODES,
    HEAD_SERVICE,
    KEEPER_STORED,
    NODE_A,
    NODE_B,
    STORED_BYTES,
    TASKS,
    WORKER_SERVICE,
    Services,
)

OK, BAD = grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT


@pytest.fixture
def svc(services: Services) -> Iterator[Services]:
    yield services
    services.check()


def hello(
    client_id: bytes = FUZZ_CLIENTS[0], version: int = config.PROTOCOL_VERSION, driver: bool = True
) -> head_pb2.ClientBatch:
    return head_pb2.ClientBatch(
        hello=head_pb2.ClientHello(protocol_version=version, client_id=client_id, job_id=b"job", is_driver=driver)
    )


def node_hello(
    node_id: bytes | None = None, version: int = config.PROTOCOL_VERSION, **total: float
) -> head_pb2.NodeBatch:
    """A new node's hello (a node id is used by one session: the head refuses a dead node's id)."""
    node_id = node_id or ids.random_id(16)
    info = common_pb2.NodeInfo(node_id=node_id, address="127.0.0.1:1", ip="127.0.0.1", alive=True)
    info.total.update(total or {"CPU": 1.0})
    return head_pb2.NodeBatch(hello=head_pb2.NodeHello(protocol_version=version, node=info))


def resumed(**fields) -> head_pb2.NodeBatch:
    """The hello of a node reconnecting to a restarted head, with what it still runs and holds."""
    first = node_hello()
    first.hello.resume = True
    for name, values in fields.items():
        getattr(first.hello, name).extend(values)
    return first


def spec(task_id: bytes = TASKS[0], **fields) -> common_pb2.TaskSpec:
    s = common_pb2.TaskSpec(task_id=task_id, job_id=b"job", name="f", num_returns=1, function_id=FUNCTION_ID)
    for name, value in fields.items():
        if name in ("resources", "placement"):
            getattr(s, name).update(value)
        elif name in ("dependencies", "borrowed"):
            getattr(s, name).extend(value)
        elif name == "strategy":
            s.strategy.CopyFrom(value)
        else:
            setattr(s, name, value)
    return s


def batch(**fields) -> head_pb2.ClientBatch:
    return head_pb2.ClientBatch(**fields)


def fresh_task() -> bytes:
    """A task id no other test uses (the services live for the whole module)."""
    return ids.random_id(16)


# ---- bytes that do not parse ---------------------------------------------------------


@pytest.mark.parametrize("method", [*HEAD_SERVICE.methods, *WORKER_SERVICE.methods], ids=lambda m: m.name)
def test_garbage_bytes_end_the_call_with_invalid_argument(svc: Services, method) -> None:
    address = svc.head_address if method.containing_service is HEAD_SERVICE else svc.worker_addresses[NODE_A]
    outcome = svc.call(address, method.name, [b"\xff\xff\xff\xff"])
    assert outcome.code == BAD, outcome
    assert method.name in outcome.details and "not a valid message" in outcome.details


# ---- well-formed messages with wrong contents -----------------------------------------

CLIENT_CASES = {
    "first message without hello": ([batch(flush=1)], "hello: the first message"),
    "a second hello": ([hello(), hello()], "only the first message"),
    "short client id": ([hello(b"abc")], "hello.client_id"),
    "short task id": ([hello(), batch(tasks=[spec(b"short")])], "tasks[0].task_id"),
    "NaN resource": ([hello(), batch(tasks=[spec(resources={"CPU": float("nan")})])], "tasks[0].resources['CPU']"),
    "negative resource": ([hello(), batch(tasks=[spec(resources={"CPU": -2.0})])], "tasks[0].resources['CPU']"),
    "infinite placement": (
        [hello(), batch(tasks=[spec(kind=1, actor_id=TASKS[0], placement={"CPU": float("inf")})])],
        "tasks[0].placement['CPU']",
    ),
    "huge num_returns": ([hello(), batch(tasks=[spec(num_returns=2**32 - 1)])], "tasks[0].num_returns"),
    "no return": ([hello(), batch(tasks=[spec(num_returns=0)])], "tasks[0].num_returns"),
    "unknown task kind": ([hello(), batch(tasks=[spec(kind=7)])], "tasks[0].kind"),
    "creation naming another actor": (
        [hello(), batch(tasks=[spec(kind=1, actor_id=TASKS[1])])],
        "tasks[0].actor_id",
    ),
    "retries below -1": ([hello(), batch(tasks=[spec(max_retries=-5)])], "tasks[0].max_retries"),
    "unknown strategy": (
        [hello(), batch(tasks=[spec(strategy=common_pb2.SchedulingStrategy(kind="NEAREST"))])],
        "tasks[0].strategy.kind",
    ),
    "short dependency id": ([hello(), batch(tasks=[spec(dependencies=[b"x"])])], "tasks[0].dependencies[0]"),
    "export that is not its hash": (
        [hello(), batch(exports=[common_pb2.ExportedFunction(function_id=FUNCTION_ID, blob=b"other")])],
        "exports[0].function_id",
    ),
    "stored put without a node": (
        [hello(), batch(puts=[common_pb2.ObjectValue(object_id=ids.object_id(TASKS[0], 0), in_store=True)])],
        "puts[0].node_id",
    ),
    "result without a value": (
        [hello(), batch(results=[head_pb2.TaskResult(task_id=TASKS[0], node_id=NODE_A)])],
        "results[0].results",
    ),
    "short subscribe id": ([hello(), batch(subscribe=[b"x" * 19])], "subscribe[0]"),
    "short ref id": ([hello(), batch(ref_changes=[head_pb2.RefChange(object_id=b"", held=True)])], "ref_changes[0]"),
}


@pytest.mark.parametrize("case", sorted(CLIENT_CASES))
def test_malformed_client_batch_is_refused_naming_the_field(svc: Services, case: str) -> None:
    sent, field = CLIENT_CASES[case]
    outcome = svc.call(svc.head_address, "ClientStream", sent)
    assert outcome.code == BAD, outcome
    assert field in outcome.details, outcome.details
    svc.check()  # waits for the head to end the session
    assert svc.on_loop(lambda: FUZZ_CLIENTS[0] not in svc.head.state.clients)


NODE_CASES = {
    "first message without hello": ([head_pb2.NodeBatch(copies_added=[KEEPER_STORED])], "hello: the first message"),
    "short node id": ([node_hello(b"n1")], "hello.node.node_id"),
    "NaN total": ([node_hello(CPU=float("nan"))], "hello.node.total['CPU']"),
    "no address": (
        [
            head_pb2.NodeBatch(
                hello=head_pb2.NodeHello(
                    protocol_version=config.PROTOCOL_VERSION, node=common_pb2.NodeInfo(node_id=FUZZ_NODES[0])
                )
            )
        ],
        "hello.node.address",
    ),
    "a second hello": ([node_hello(), node_hello()], "only the first message"),
    "result without a value": (
        [node_hello(), head_pb2.NodeBatch(results=[head_pb2.TaskResult(task_id=TASKS[0])])],
        "results[0].results",
    ),
    "short death id": (
        [node_hello(), head_pb2.NodeBatch(deaths=[head_pb2.ExecutorDied(actor_id=b"a")])],
        "deaths[0].actor_id",
    ),
    "resumed with an actor creation running": (
        [resumed(running=[head_pb2.TaskAssignment(spec=spec(TASKS[2], kind=1, actor_id=TASKS[2]))])],
        "hello.running[0].spec.kind",
    ),
    "resumed with a malformed running task": (
        [resumed(running=[head_pb2.TaskAssignment(spec=spec(TASKS[0], num_returns=0))])],
        "hello.running[0].spec.num_returns",
    ),
    "resumed with another node's object": (
        [
            resumed(
                objects=[common_pb2.ObjectValue(object_id=B_STORED, node_id=NODE_B, node_address="x:1", in_store=True)]
            )
        ],
        "hello.objects[0]: a node reports only objects in its own store",
    ),
    "resumed with a short actor id": (
        [resumed(actors=[head_pb2.LiveActor(actor_id=b"a", attempt=1)])],
        "hello.actors[0].actor_id",
    ),
    "resumed with a short copy id": ([resumed(copies=[b"c"])], "hello.copies[0]"),
}


@pytest.mark.parametrize("case", sorted(NODE_CASES))
def test_malformed_node_batch_is_refused_naming_the_field(svc: Services, case: str) -> None:
    sent, field = NODE_CASES[case]
    outcome = svc.call(svc.head_address, "NodeStream", sent)
    assert outcome.code == BAD, outcome
    assert field in outcome.details, outcome.details


def test_malformed_batch_mid_stream_ends_only_that_session(svc: Services) -> None:
    """The client's earlier batches were applied; the bad one ends its session like a disconnect."""
    put = common_pb2.ObjectValue(object_id=ids.object_id(TASKS[0], 0), data=b"v", size=1)
    good = batch(puts=[put], ref_changes=[head_pb2.RefChange(object_id=put.object_id, held=True)])
    outcome = svc.call(svc.head_address, "ClientStream", [hello(), good, batch(tasks=[spec(b"bad")])])
    assert outcome.code == BAD and "tasks[0].task_id" in outcome.details
    svc.check()
    # its put went with its session, as for any client that leaves
    assert svc.on_loop(lambda: put.object_id not in svc.head.state.objects)


# ---- ids: unknown, duplicate, replayed ------------------------------------------------------


def test_unknown_ids_are_ignored(svc: Services) -> None:
    unknown_task, unknown_actor = b"u" * 16, b"v" * 16
    sent = [
        hello(),
        batch(
            results=[
                head_pb2.TaskResult(
                    task_id=unknown_task,
                    node_id=NODE_A,
                    results=[common_pb2.ObjectValue(object_id=ids.object_id(unknown_task, 0))],
                )
            ],
            kill_actors=[unknown_actor],
            block_states=[head_pb2.BlockState(task_id=unknown_task, blocked=True)],
            ref_changes=[head_pb2.RefChange(object_id=ids.object_id(unknown_task, 3), held=False)],
        ),
    ]
    assert svc.call(svc.head_address, "ClientStream", sent).code == OK
    node = head_pb2.NodeBatch(
        deaths=[head_pb2.ExecutorDied(task_id=unknown_task, actor_id=unknown_actor)], copies_removed=[b"w" * 20]
    )
    assert svc.call(svc.head_address, "NodeStream", [node_hello(), node]).code == OK


def test_a_put_naming_a_node_that_never_joined_is_delivered_as_put(svc: Services) -> None:
    """Once made the head to fail each delivery of that object (an IndexError in whoever's apply())."""
    value = common_pb2.ObjectValue(
        object_id=ids.object_id(fresh_task(), 0), node_id=b"z" * 16, node_address="10.9.9.9:1", size=1000, in_store=True
    )
    sent = [
        hello(),
        batch(
            puts=[value],
            ref_changes=[head_pb2.RefChange(object_id=value.object_id, held=True)],
            subscribe=[value.object_id],
        ),
        batch(flush=5),
    ]
    outcome = svc.call(
        svc.head_address, "ClientStream", sent, cut=True, until=lambda r: head_pb2.HeadToClient.FromString(r).flush_ack
    )
    replies = [head_pb2.HeadToClient.FromString(r) for r in outcome.replies]
    assert any(o == value for r in replies for o in r.objects), replies


def test_duplicate_ids_in_one_batch_count_once(svc: Services) -> None:
    before = len(svc.tasks_run)
    task = spec(fresh_task(), resources={"special": 1.0})
    oid = ids.object_id(task.task_id, 0)
    sent = [
        hello(),
        batch(
            exports=[common_pb2.ExportedFunction(function_id=FUNCTION_ID, blob=FUNCTION_BLOB)] * 2,
            tasks=[task, task],
            ref_changes=[head_pb2.RefChange(object_id=oid, held=True)] * 2,
            subscribe=[oid, oid],
            flush=1,
        ),
    ]
    outcome = svc.call(svc.head_address, "ClientStream", sent)
    assert outcome.code == OK
    svc.check()
    assert svc.tasks_run[before:] == [task.task_id]


def test_a_replayed_batch_changes_nothing(svc: Services) -> None:
    """A batch sent again, in the same session and in a later one, once what it
    started has moved on: the actor is not made twice, the queued task not queued
    twice, the put not put twice (validate() checks the resources and the pins)."""
    before = len(svc.tasks_run)
    put = common_pb2.ObjectValue(object_id=ids.object_id(fresh_task(), 0), data=b"v", size=1)
    actor_id = fresh_task()
    # detached: it outlives the sessions, whose refs to its handle go with them
    creation = spec(actor_id, kind=1, actor_id=actor_id, resources={"CPU": 1.0}, placement={"CPU": 1.0}, detached=True)
    waiting = spec(fresh_task(), resources={"GPU": 1.0}, dependencies=[put.object_id])  # no node has a GPU
    # of a job whose driver stays (the keeper's): when a driver of the fuzz clients' job leaves,
    # that job's queued work goes with it, and its later tasks fail at once
    waiting.job_id = b"keeper"
    once = batch(
        puts=[put], ref_changes=[head_pb2.RefChange(object_id=put.object_id, held=True)], tasks=[waiting, creation]
    )

    def after() -> tuple:
        head = svc.head.state
        return (
            head.tasks[waiting.task_id].state,
            head.actors[actor_id].state,
            head.pins.get(put.object_id),
            head.nodes[NODE_A].available["CPU"],
        )

    cpus = svc.on_loop(lambda: svc.head.state.nodes[NODE_A].available["CPU"])
    client = hello(FUZZ_CLIENTS[1], driver=False)
    assert svc.call(svc.head_address, "ClientStream", [client, once, once]).code == OK
    svc.check()
    assert svc.tasks_run[before:] == [actor_id]
    assert svc.on_loop(after) == ("READY", "PLACED", 1, cpus - 1)
    assert svc.call(svc.head_address, "ClientStream", [client, once]).code == OK
    svc.check()
    assert svc.tasks_run[before:] == [actor_id]
    assert svc.on_loop(after) == ("READY", "PLACED", 1, cpus - 1)
    assert svc.call(svc.head_address, "ClientStream", [client, batch(kill_actors=[actor_id])]).code == OK
    svc.check()
    assert svc.on_loop(after) == ("READY", "DEAD", 1, cpus)


def test_a_node_that_comes_back_with_the_id_of_a_dead_node_is_refused(svc: Services) -> None:
    """A node id names one daemon's session with one head; a second session is a new node."""
    node_id = ids.random_id(16)
    assert svc.call(svc.head_address, "NodeStream", [node_hello(node_id)]).code == OK
    svc.check()
    outcome = svc.call(svc.head_address, "NodeStream", [node_hello(node_id)])
    assert outcome.code == grpc.StatusCode.FAILED_PRECONDITION
    assert "was declared dead by this head; restart its worker daemon" in outcome.details


# ---- streams cut halfway -----------------------------------------------------------------


def test_client_stream_cut_halfway_is_a_disconnect(svc: Services) -> None:
    put = common_pb2.ObjectValue(object_id=ids.object_id(TASKS[2], 0), data=b"v", size=1)
    sent = [
        hello(FUZZ_CLIENTS[1]),
        batch(puts=[put], ref_changes=[head_pb2.RefChange(object_id=put.object_id, held=True)], flush=9),
    ]
    # cut once the head has applied the batch (it acknowledges the flush)
    outcome = svc.call(
        svc.head_address, "ClientStream", sent, cut=True, until=lambda r: head_pb2.HeadToClient.FromString(r).flush_ack
    )
    assert outcome.code == grpc.StatusCode.CANCELLED and outcome.replies
    svc.check()  # waits until the head has cleaned up
    assert svc.on_loop(lambda: FUZZ_CLIENTS[1] not in svc.head.state.clients)
    assert svc.on_loop(lambda: put.object_id not in svc.head.state.objects)  # its refs went with it


def test_node_stream_cut_halfway_is_a_dead_node(svc: Services) -> None:
    # cut once the head has registered the node (it acknowledges with the node list)
    node_id = ids.random_id(16)
    outcome = svc.call(
        svc.head_address,
        "NodeStream",
        [node_hello(node_id, CPU=2.0)],
        cut=True,
        until=lambda r: head_pb2.HeadToNode.FromString(r).nodes,
    )
    assert outcome.code == grpc.StatusCode.CANCELLED and outcome.replies
    svc.check()
    assert svc.on_loop(lambda: not svc.head.state.nodes[node_id].alive)
    assert svc.on_loop(lambda: svc.head.state.nodes[NODE_A].alive)


def test_fetch_cut_halfway_leaves_the_object_alone(svc: Services) -> None:
    oid = ids.object_id(fresh_task(), 0)
    data = bytes(range(256)) * (12 * 1024)  # 3 MiB: three chunks
    step = 1 << 20
    chunks = [chunk(oid if o == 0 else b"", len(data), o, data[o : o + step]) for o in range(0, len(data), step)]
    assert svc.call(svc.worker_addresses[NODE_B], "PushObject", chunks).code == OK
    outcome = svc.call(
        svc.worker_addresses[NODE_B],
        "FetchObject",
        [worker_pb2.FetchObjectRequest(object_id=oid)],
        until=lambda r: True,
    )
    assert len(outcome.replies) == 1
    svc.check()
    assert svc.fetch(NODE_B, oid) == data


def test_push_cut_halfway_leaves_nothing_behind(svc: Services) -> None:
    oid = ids.object_id(TASKS[3], 0)
    chunk = worker_pb2.ObjectChunk(object_id=oid, total_size=100, offset=0, data=b"x" * 50)
    outcome = svc.call(svc.worker_addresses[NODE_A], "PushObject", [chunk], cut=True)
    assert outcome.code == grpc.StatusCode.CANCELLED
    svc.check()
    node_store = svc.stores[NODE_A]
    assert svc.on_loop(lambda: node_store.index.where(oid)) is None
    assert svc.fetch_outcome(NODE_A, oid).code == grpc.StatusCode.NOT_FOUND


# ---- the object service ---------------------------------------------------------------


def chunk(oid: bytes, total: int, offset: int, data: bytes) -> worker_pb2.ObjectChunk:
    return worker_pb2.ObjectChunk(object_id=oid, total_size=total, offset=offset, data=data)


PUSH_CASES = {
    "offset beyond the object": ([chunk(b"p" * 20, 3, 2**40, b"abc")], "offset 1099511627776"),
    "more bytes than its size": ([chunk(b"p" * 20, 3, 0, b"abcdef")], "past the object's size of 3"),
    "fewer bytes than its size": ([chunk(b"p" * 20, 10, 0, b"abc")], "ended after 3 of its 10 bytes"),
    "a gap": ([chunk(b"p" * 20, 10, 0, b"abc"), chunk(b"", 10, 5, b"fgh")], "offset 5 arrived where offset 3"),
    "another object midway": ([chunk(b"p" * 20, 10, 0, b"abc"), chunk(b"q" * 20, 10, 3, b"d")], "another object"),
    "short id": ([chunk(b"p", 3, 0, b"abc")], "object_id of the first chunk"),
    "no size": ([chunk(b"p" * 20, 0, 0, b"")], "total_size of the first chunk"),
}


@pytest.mark.parametrize("case", sorted(PUSH_CASES))
def test_push_whose_chunks_do_not_add_up_is_refused(svc: Services, case: str) -> None:
    chunks, why = PUSH_CASES[case]
    outcome = svc.call(svc.worker_addresses[NODE_B], "PushObject", chunks)
    assert outcome.code == BAD, outcome
    assert why in outcome.details
    assert svc.on_loop(lambda: svc.stores[NODE_B].index.where(b"p" * 20)) is None


def test_a_push_of_an_object_the_store_holds_changes_nothing(svc: Services) -> None:
    for cut in (False, True):
        outcome = svc.call(svc.worker_addresses[NODE_A], "PushObject", [chunk(KEEPER_STORED, 3, 0, b"abc")], cut=cut)
        assert outcome.code in (OK, grpc.StatusCode.CANCELLED)
        assert svc.fetch(NODE_A, KEEPER_STORED) == STORED_BYTES


def test_pull_from_a_peer_whose_object_is_not_the_size_named_fails_cleanly(svc: Services) -> None:
    for size in (10, len(B_BYTES) + 10):
        location = common_pb2.ObjectValue(
            object_id=B_STORED, node_id=NODE_B, node_address=svc.worker_addresses[NODE_B], size=size, in_store=True
        )
        outcome = svc.unary(svc.worker_addresses[NODE_A], "Pull", worker_pb2.PullRequest(location=location))
        assert outcome.code == OK
        error = worker_pb2.PullReply.FromString(outcome.replies[0]).error
        assert "could not be fetched" in error and str(len(B_BYTES)) in error, error
        assert svc.on_loop(lambda: svc.stores[NODE_A].index.where(B_STORED)) is None


def test_a_reservation_nobody_writes_lapses(svc: Services) -> None:
    """A writer that reserved the whole store and died does not wedge it (lease of LEASE_S)."""
    big = ids.object_id(TASKS[3], 1)
    outcome = svc.unary(svc.worker_addresses[NODE_B], "Reserve", worker_pb2.ReserveRequest(object_id=big, size=8 << 20))
    assert outcome.code == OK and not worker_pb2.ReserveReply.FromString(outcome.replies[0]).error
    svc.check()  # admits a new object once the lease lapsed
    assert svc.on_loop(lambda: svc.stores[NODE_B].index.where(big)) is None


def test_a_reservation_larger_than_the_store_says_how_to_fix_it(svc: Services) -> None:
    outcome = svc.unary(
        svc.worker_addresses[NODE_B], "Reserve", worker_pb2.ReserveRequest(object_id=b"r" * 20, size=2**63)
    )
    assert outcome.code == OK
    error = worker_pb2.ReserveReply.FromString(outcome.replies[0]).error
    assert "larger than" in error and "object-store-memory" in error


@pytest.mark.parametrize(
    "method, request_",
    [
        ("FetchObject", worker_pb2.FetchObjectRequest(object_id=b"")),
        ("Reserve", worker_pb2.ReserveRequest(object_id=b"x", size=1)),
        ("Pull", worker_pb2.PullRequest(location=common_pb2.ObjectValue(object_id=b"x" * 20, node_id=b"n" * 16))),
        ("Pull", worker_pb2.PullRequest(location=common_pb2.ObjectValue(object_id=b"", node_id=NODE_A))),
    ],
    ids=["fetch empty id", "reserve short id", "pull with no address", "pull empty id"],
)
def test_malformed_object_requests_are_refused(svc: Services, method: str, request_) -> None:
    outcome = svc.unary(svc.worker_addresses[NODE_A], method, request_)
    assert outcome.code == BAD, outcome
    assert "object_id" in outcome.details or "node_address" in outcome.details


# ---- another protocol version -------------------------------------------------------------


@pytest.mark.parametrize("stream", ["ClientStream", "NodeStream"])
def test_a_stream_of_another_protocol_version_gets_both_versions(svc: Services, stream: str) -> None:
    first = hello(version=99) if stream == "ClientStream" else node_hello(version=99)
    outcome = svc.call(svc.head_address, stream, [first])
    assert outcome.code == grpc.StatusCode.FAILED_PRECONDITION
    assert f"protocol {config.PROTOCOL_VERSION}," in outcome.details and "speaks 99" in outcome.details


# ---- task leases (WorkerService.LeaseStream) ---------------------------------------------------


def lease_hello(lease_id: bytes = b"L" * 12, client_id: bytes = b"c" * 8) -> worker_pb2.LeaseBatch:
    return worker_pb2.LeaseBatch(lease_id=lease_id, client_id=client_id, protocol_version=config.PROTOCOL_VERSION)


@pytest.mark.parametrize(
    "first, field",
    [
        (lease_hello(lease_id=b"short"), "lease_id"),
        (lease_hello(client_id=b""), "client_id"),
        (worker_pb2.LeaseBatch(lease_id=b"L" * 12, client_id=b"c" * 8, protocol_version=99), "protocol_version"),
    ],
    ids=["bad lease id", "no client id", "another version"],
)
def test_a_malformed_lease_stream_is_refused_naming_the_field(svc: Services, first, field: str) -> None:
    outcome = svc.call(svc.worker_addresses[NODE_A], "LeaseStream", [first])
    assert outcome.code == BAD, outcome
    assert field in outcome.details


def test_a_lease_the_node_does_not_serve_is_refused_and_tasks_with_no_attempts_are_malformed(svc: Services) -> None:
    outcome = svc.call(svc.worker_addresses[NODE_A], "LeaseStream", [lease_hello()])
    assert outcome.code == grpc.StatusCode.OK, outcome
    (reply,) = [worker_pb2.LeaseReplyBatch.FromString(r) for r in outcome.replies]
    assert reply.refused and not reply.results
    tasks = lease_hello()
    tasks.tasks.add(task_id=fresh_task(), function_id=b"f" * 16, num_returns=1)  # and no attempt for it
    outcome = svc.call(svc.worker_addresses[NODE_A], "LeaseStream", [tasks])
    assert outcome.code == BAD and "attempts" in outcome.details


def test_a_lease_stream_without_the_token_is_refused(svc: Services) -> None:
    outcome = svc.call(svc.worker_addresses[NODE_A], "LeaseStream", [lease_hello()], token=None)
    assert outcome.code == grpc.StatusCode.UNAUTHENTICATED, outcome
