"""Pure checks at the client's edge: ObjectRef ids, init()'s options and context, the job-info id,
the GPU shares of a node's executors, and the pickler that keeps code file names."""

from __future__ import annotations

import os
import warnings

import pytest

from raylite import ids, runtime_context
from raylite.client import ray_context
from raylite.client.api import _address_to_use
from raylite.client.object_ref import ObjectRef
from raylite.serialization import deserialize, dumps
from raylite.worker.gpus import GpuSlots, choose_gpus

# ---- ObjectRef ids ----------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [b"", b"x", b"x" * 19, b"x" * 21, b"x" * 28, b"0" * 100])
def test_object_ref_of_the_wrong_length_is_refused_where_it_is_made(bad: bytes) -> None:
    with pytest.raises(ValueError, match=f"20 bytes, got {len(bad)}"):
        ObjectRef(bad)


def test_a_ray_sized_id_says_why() -> None:
    with pytest.raises(ValueError, match="Ray's object ids are 28 bytes; raylite's are 20"):
        ObjectRef(b"x" * 28)


@pytest.mark.parametrize("bad", ["not bytes", 5, None, bytearray(20)])
def test_object_ref_of_something_else_than_bytes_is_a_type_error(bad: object) -> None:
    with pytest.raises(TypeError, match="takes the id's bytes"):
        ObjectRef(bad)  # type: ignore[arg-type]


def test_object_ref_ids_round_trip_and_special_refs() -> None:
    oid = os.urandom(ids.OBJECT_ID_BYTES)
    ref = ObjectRef(oid)
    assert ObjectRef(ref.binary()) == ref and ObjectRef.from_hex(ref.hex()) == ref
    assert ObjectRef.from_binary(oid) == ref and hash(ObjectRef(oid)) == hash(ref)
    assert ObjectRef.nil().is_nil() and not ref.is_nil() and ObjectRef.nil() == ObjectRef.nil()
    a, b = ObjectRef.from_random(), ObjectRef.from_random()
    assert a != b and len(a.binary()) == ObjectRef.size() == ids.OBJECT_ID_BYTES
    assert deserialize(dumps(ref)) == ref


def test_job_info_id_is_an_object_id_no_task_of_a_client_has() -> None:
    job = os.urandom(ids.JOB_ID_BYTES)
    oid = runtime_context.job_info_id(job)
    assert len(oid) == ids.OBJECT_ID_BYTES and ObjectRef(oid).binary() == oid
    assert ids.task_of(oid)[8:] == b"\xff" * 8  # a client's counter never gets there
    assert runtime_context.job_info_id(job) == oid != runtime_context.job_info_id(os.urandom(ids.JOB_ID_BYTES))


# ---- init() -----------------------------------------------------------------------------------


def test_unknown_init_keywords_are_a_runtime_error_naming_them_and_the_valid_ones() -> None:
    with pytest.raises(RuntimeError, match=r"Unknown keyword argument\(s\): definitely_not, nor_this.*num_cpus"):
        ray_context.check_extra_options({"definitely_not": 1, "nor_this": 2})
    ray_context.check_extra_options({"_temp_dir": "/tmp", "_system_config": {}, "object_spilling_directory": "/x"})
    for removed in ("allow_multiple", "storage"):
        with pytest.raises(RuntimeError, match=removed):
            ray_context.check_extra_options({removed: True})


def test_the_address_init_uses(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RAY_ADDRESS", "RAYLITE_ADDRESS"):
        monkeypatch.delenv(name, raising=False)
    assert _address_to_use(None) == ("local", None)
    assert _address_to_use("auto") == ("auto", None)
    assert _address_to_use("local") == ("local", None)
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.1:6380")
    assert _address_to_use(None) == ("10.0.0.1:6380", "RAY_ADDRESS")
    assert _address_to_use("auto") == ("10.0.0.1:6380", "RAY_ADDRESS")
    assert _address_to_use("local") == ("local", None)  # "local" always starts a new cluster
    assert _address_to_use("10.0.0.2:1") == ("10.0.0.2:1", None)
    monkeypatch.setenv("RAYLITE_ADDRESS", "10.0.0.3:6380")
    assert _address_to_use(None) == ("10.0.0.3:6380", "RAYLITE_ADDRESS")
    monkeypatch.setenv("RAY_ADDRESS", "local")
    monkeypatch.delenv("RAYLITE_ADDRESS")
    assert _address_to_use(None) == ("local", "RAY_ADDRESS")


def test_ray_context_is_a_mapping_of_address_info_with_rays_warnings() -> None:
    ctx = ray_context.RayContext({"address": "127.0.0.1:1", "node_id": "ab", "webui_url": ""})
    assert ctx.address_info["address"] == "127.0.0.1:1" and ctx.dashboard_url == ""
    assert ctx.python_version.count(".") == 2 and isinstance(ctx.ray_version, str) and ctx.ray_commit
    with pytest.warns(DeprecationWarning, match="address_info"):
        assert ctx["node_id"] == "ab"
    with pytest.warns(UserWarning):
        assert len(ctx) == 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert sorted(ctx) == ["address", "node_id", "webui_url"] and ctx.get("nope", 1) == 1


# ---- GPUs -------------------------------------------------------------------------------------


def test_whole_gpus_go_to_the_least_used_and_fractions_pack_together() -> None:
    assert choose_gpus({}, 4, 1) == [0]
    assert choose_gpus({0: 1.0}, 4, 2) == [1, 2]
    assert choose_gpus({}, 0, 1) == [] and choose_gpus({}, 2, 0) == []
    assert choose_gpus({0: 1.0, 1: 0.5}, 3, 0.5) == [1]  # the fullest one with room
    assert choose_gpus({0: 0.25, 1: 0.5}, 2, 0.5) == [1]
    assert choose_gpus({0: 0.75, 1: 0.75}, 2, 0.5) == [0]  # none fits: the least used
    assert choose_gpus({}, 2, 1.5) == [0, 1]
    assert choose_gpus({}, 2, 8) == [0, 1]  # never more than the node has


def test_gpu_claims_are_shared_through_the_file_and_dropped_for_dead_processes(tmp_path) -> None:
    path = str(tmp_path / GpuSlots.FILE)
    slots = GpuSlots(path, 2, None)
    mine = f"{os.getpid()}:aa"
    assert slots.claim(mine, 1) == [0]
    assert slots.claim(f"{os.getpid()}:bb", 1) == [1]
    slots.release(mine)
    assert slots.claim(f"{os.getpid()}:cc", 1) == [0]
    # a claim left by a process that died is given back at the next claim
    dead = GpuSlots(path, 2, ["7", "9"])
    with dead._locked() as claims:
        claims.clear()
        claims["999999999:dd"] = {"0": 1.0, "1": 1.0}
    assert dead.claim(f"{os.getpid()}:ee", 1) == ["7"]  # named by CUDA_VISIBLE_DEVICES


# ---- pickling code keeps its file -------------------------------------------------------------


def test_pickled_functions_keep_their_file_name() -> None:
    def nested() -> int:
        return 1

    for fn in (nested, lambda: 2):
        code = deserialize(dumps(fn)).__code__
        assert code.co_filename == __file__


# ---- cancels a client keeps for a restarted head ---------------------------------------------


def test_a_cancel_of_an_unfinished_task_is_kept_until_its_output_arrives() -> None:
    from raylite.client.unfinished import UnfinishedTasks as _UnfinishedTasks
    from raylite.rpc import common_pb2, head_pb2

    tasks = _UnfinishedTasks()
    spec = common_pb2.TaskSpec(task_id=b"t" * 16, num_returns=1)
    tasks.add(spec)
    assert tasks.unfinished(spec.task_id) == spec
    request = head_pb2.CancelRequest(object_id=ids.object_id(spec.task_id, 0), recursive=True)
    tasks.cancelled(spec.task_id, request)
    assert tasks.cancels() == [request]  # said again to a restarted head, after the task
    tasks.output_arrived(spec.task_id)
    assert tasks.unfinished(spec.task_id) is None and tasks.cancels() == []
