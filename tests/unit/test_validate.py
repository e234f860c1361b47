"""The head's edge checks accept what raylite's own peers send, and name what they refuse."""

from __future__ import annotations

from types import SimpleNamespace

import cloudpickle

from raylite import config, ids
from raylite.client import submit
from raylite.head import validate
from raylite.rpc import common_pb2, head_pb2
from raylite.util.scheduling_strategies import NodeAffinitySchedulingStrategy

NODE = ids.random_id(ids.NODE_ID_BYTES)


def client_like() -> SimpleNamespace:
    return SimpleNamespace(
        ids=ids.IdSource(), job_id=ids.random_id(8), runtime_env={}, runtime_env_key="", runtime_env_packages={}
    )


def test_an_export_whose_id_is_not_the_hash_of_its_body_is_refused() -> None:
    blob = cloudpickle.dumps(len)
    batch = head_pb2.ClientBatch()
    batch.exports.add(function_id=ids.function_id(blob), blob=blob)
    assert validate.client_batch(batch, first=False) is None
    batch.exports[0].blob = blob + b"tampered"
    assert "function" in (validate.client_batch(batch, first=False) or "")


def test_a_batch_as_the_client_builds_it_is_accepted() -> None:
    client = client_like()
    fid = ids.function_id(b"body")
    normal = submit.build_spec(
        client,
        kind=common_pb2.NORMAL,
        name="f",
        function_id=fid,
        payload=b"p",
        deps=[ids.object_id(b"t" * 16, 0)],
        options={
            "num_cpus": 0.5,
            "resources": {"special": 2},
            "max_retries": -1,
            "scheduling_strategy": NodeAffinitySchedulingStrategy(NODE.hex(), soft=True),
        },
        default_cpus=1.0,
        num_returns=3,
    )
    creation = submit.build_spec(
        client,
        kind=common_pb2.ACTOR_CREATION,
        name="A.__init__",
        function_id=fid,
        payload=b"p",
        deps=[],
        options={"max_retries": 0},
        default_cpus=0.0,
    )
    creation.placement["CPU"] = 1.0
    call = submit.build_spec(
        client,
        kind=common_pb2.ACTOR_METHOD,
        name="A.m",
        function_id=b"",
        payload=b"m\0p",
        deps=[],
        options={"max_retries": 0},
        default_cpus=0.0,
        actor_id=creation.task_id,
    )
    batch = head_pb2.ClientBatch(
        hello=head_pb2.ClientHello(protocol_version=config.PROTOCOL_VERSION, client_id=client.ids.prefix),
        exports=[common_pb2.ExportedFunction(function_id=fid, blob=b"body")],
        puts=[
            common_pb2.ObjectValue(object_id=ids.object_id(client.ids.task_id(), 0), data=b"v", size=1),
            common_pb2.ObjectValue(
                object_id=ids.object_id(client.ids.task_id(), 0),
                node_id=NODE,
                node_address="10.0.0.1:7000",
                size=10**6,
                in_store=True,
            ),
        ],
        tasks=[normal, creation, call],
        kill_actors=[creation.task_id],
        ref_changes=[head_pb2.RefChange(object_id=ids.object_id(normal.task_id, 2), held=True)],
        flush=1,
    )
    assert validate.client_batch(batch, first=True) is None
    batch.ClearField("hello")
    assert validate.client_batch(batch, first=False) is None


def test_a_node_batch_as_the_daemon_builds_it_is_accepted() -> None:
    info = common_pb2.NodeInfo(node_id=NODE, address="10.0.0.1:7000", ip="10.0.0.1", alive=True)
    info.total.update({"CPU": 4.0, "memory": 1e9, "node:10.0.0.1": 1.0})
    task = b"t" * 16
    batch = head_pb2.NodeBatch(
        hello=head_pb2.NodeHello(protocol_version=config.PROTOCOL_VERSION, node=info),
        results=[head_pb2.TaskResult(task_id=task, results=[common_pb2.ObjectValue(object_id=ids.object_id(task, 0))])],
        deaths=[head_pb2.ExecutorDied(task_id=task, reason="signal 9"), head_pb2.ExecutorDied(reason="idle")],
        copies_added=[ids.object_id(task, 1)],
    )
    assert validate.node_batch(batch, first=True) is None
    # reconnecting to a restarted head, with what it still runs and holds (raylite/worker/daemon.py _hello)
    client = client_like()
    running = submit.build_spec(
        client,
        kind=common_pb2.NORMAL,
        name="f",
        function_id=ids.function_id(b"body"),
        payload=b"p",
        deps=[],
        options={},
        default_cpus=1.0,
    )
    hello = batch.hello
    hello.resume = True
    hello.running.add(spec=running, attempt=2)
    hello.actors.add(actor_id=client.ids.task_id(), attempt=1)
    hello.objects.add(
        object_id=ids.object_id(task, 3), node_id=NODE, node_address=info.address, size=10**6, in_store=True
    )
    hello.copies.append(ids.object_id(task, 4))
    assert validate.node_batch(batch, first=True) is None


def test_refusals_name_the_message_and_the_field() -> None:
    batch = head_pb2.ClientBatch(tasks=[common_pb2.TaskSpec(task_id=b"t" * 16, num_returns=1, function_id=b"f" * 16)])
    batch.tasks[0].resources["GPU"] = float("-inf")
    assert validate.client_batch(batch, first=False) == (
        "malformed ClientBatch: tasks[0].resources['GPU']: -inf is not a finite amount >= 0"
    )
    assert validate.node_batch(head_pb2.NodeBatch(copies_added=[b"x"]), first=False) == (
        "malformed NodeBatch: copies_added[0]: an id of 20 bytes was expected, got 1 bytes"
    )


def test_a_runtime_env_a_node_could_not_start_an_executor_with_is_refused() -> None:
    def refusal(runtime_env: str, packages: dict[str, bytes] | None = None) -> str | None:
        spec = common_pb2.TaskSpec(task_id=b"t" * 16, num_returns=1, function_id=b"f" * 16, runtime_env=runtime_env)
        spec.runtime_env_packages.update(packages or {})
        return validate.client_batch(head_pb2.ClientBatch(tasks=[spec]), first=False)

    assert refusal('{"env_vars":{"A":"1"}}', {"gcs://_ray_pkg_0.zip": b"o" * 20}) is None
    assert refusal("not json") == "malformed ClientBatch: tasks[0].runtime_env: is not JSON"
    assert "JSON object" in (refusal("[1]") or "")
    assert "env_vars" in (refusal('{"env_vars":{"A":"a\\u0000b"}}') or "")
    assert "env_vars" in (refusal('{"env_vars":{"A=B":"1"}}') or "")
    assert "runtime_env_packages" in (refusal('{"env_vars":{}}', {"uri": b"short"}) or "")


def test_placement_group_messages_as_the_client_builds_them_are_accepted_and_bad_ones_named() -> None:
    from raylite.util.placement_group import PlacementGroup, PlacementGroupID
    from raylite.util.scheduling_strategies import PlacementGroupSchedulingStrategy

    client = client_like()
    pg_id = client.ids.task_id()
    group = common_pb2.PlacementGroupSpec(placement_group_id=pg_id, strategy="STRICT_SPREAD", job_id=client.job_id)
    group.bundles.add().resources.update({"CPU": 1.0, "GPU": 0.0})
    pg = PlacementGroup(PlacementGroupID(pg_id), [{"CPU": 1.0}])
    spec = submit.build_spec(
        client,
        kind=common_pb2.NORMAL,
        name="f",
        function_id=ids.function_id(b"body"),
        payload=b"p",
        deps=[],
        options={"scheduling_strategy": PlacementGroupSchedulingStrategy(pg, 0, True)},
        default_cpus=1.0,
    )
    assert (spec.strategy.kind, spec.strategy.bundle_index, spec.strategy.capture_child_tasks) == (
        "PLACEMENT_GROUP",
        0,
        True,
    )
    batch = head_pb2.ClientBatch(placement_groups=[group], tasks=[spec], remove_placement_groups=[pg_id])
    assert validate.client_batch(batch, first=False) is None

    group, spec = batch.placement_groups[0], batch.tasks[0]  # (the batch holds copies)
    group.strategy = "SIDEWAYS"
    assert "placement_groups[0].strategy" in (validate.client_batch(batch, first=False) or "")
    group.strategy = "PACK"
    group.bundles[0].resources["CPU"] = 0.0
    assert validate.client_batch(batch, first=False) == (
        "malformed ClientBatch: placement_groups[0].bundles[0].resources: asks for nothing"
    )
    group.bundles[0].resources["CPU"] = 1.0
    spec.strategy.bundle_index = -2
    assert "strategy.bundle_index" in (validate.client_batch(batch, first=False) or "")
    spec.strategy.bundle_index = 0
    batch.remove_placement_groups[0] = b"short"
    assert "remove_placement_groups[0]" in (validate.client_batch(batch, first=False) or "")


def test_generator_items_and_specs_are_checked() -> None:
    task_id = b"g" * 16
    batch = head_pb2.ClientBatch()
    item = batch.generator_items.add(task_id=task_id, index=2, node_id=NODE)
    item.value.object_id = ids.object_id(task_id, 3)
    item.value.data = b"v"
    batch.generator_consumed.add(task_id=task_id, consumed=1)
    batch.tasks.add(
        task_id=task_id, num_returns=1, function_id=b"f" * 16, generator=common_pb2.STREAMING, generator_backpressure=2
    )
    assert validate.client_batch(batch, first=False) is None
    item.value.object_id = ids.object_id(task_id, 2)  # item 2 is return index 3
    assert "generator_items[0].value.object_id" in (validate.client_batch(batch, first=False) or "")
    item.value.object_id = ids.object_id(task_id, 3)
    batch.tasks[0].num_returns = 2
    assert "num_returns: a generator task has one return" in (validate.client_batch(batch, first=False) or "")
    batch.tasks[0].num_returns = 1
    batch.tasks[0].generator = 7  # type: ignore[assignment]
    assert "generator: 7" in (validate.client_batch(batch, first=False) or "")
    batch.tasks[0].generator = common_pb2.STREAMING
    batch.generator_consumed[0].task_id = b"short"
    assert "generator_consumed[0].task_id" in (validate.client_batch(batch, first=False) or "")


def test_how_far_a_reconnecting_caller_got_in_a_stream_is_checked() -> None:
    batch = head_pb2.ClientBatch()
    received = batch.streams_received.add(task_id=b"g" * 16, arrived=5, missing=[1, 3])
    assert validate.client_batch(batch, first=False) is None
    received.missing[:] = [3, 1]
    assert "streams_received[0].missing: 1 is not ascending" in (validate.client_batch(batch, first=False) or "")
    received.missing[:] = [5]
    assert "not below arrived (5)" in (validate.client_batch(batch, first=False) or "")
    received.missing[:] = []
    received.arrived = 2**32 - 1
    assert "streams_received[0].arrived" in (validate.client_batch(batch, first=False) or "")
    received.arrived, received.task_id = 1, b"short"
    assert "streams_received[0].task_id" in (validate.client_batch(batch, first=False) or "")


def test_pull_progress_reports_are_checked() -> None:
    from raylite.worker.service import pull_messages
    from raylite.worker.state.pull_progress import Report

    good = head_pb2.NodeBatch(pulls=pull_messages([Report(b"o" * 20, 10, 100, 1.5), Report(b"p" * 20, 5, 5, 2, True)]))
    assert validate.node_batch(good, first=False) is None
    assert validate.node_batch(head_pb2.NodeBatch(pulls=[head_pb2.PullProgress(object_id=b"o")]), first=False) == (
        "malformed NodeBatch: pulls[0].object_id: an id of 20 bytes was expected, got 1 bytes"
    )
    over = head_pb2.NodeBatch(pulls=[head_pb2.PullProgress(object_id=b"o" * 20, received=7, total=6)])
    assert validate.node_batch(over, first=False) == "malformed NodeBatch: pulls[0].received: 7 bytes of an object of 6"
