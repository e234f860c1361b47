"""Ray Core semantics on a local 2-CPU cluster started by raylite.init()."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

import raylite as ray
from raylite import exceptions


@ray.remote
def double(x):
    return 2 * x


@ray.remote
def kinds(a, b):
    return type(a).__name__, type(b[0]).__name__


def test_tasks_return_values_in_order(cluster):
    refs = [double.remote(i) for i in range(50)]
    assert isinstance(refs[0], ray.ObjectRef)
    assert ray.get(refs) == [2 * i for i in range(50)]
    assert ray.get(refs[7]) == 14


def test_top_level_refs_arrive_as_values_nested_as_refs(cluster):
    ref = ray.put(21)
    top, nested = ray.get(kinds.remote(ref, [ref]))
    assert top == "int"
    assert nested == "ObjectRef"


def test_refs_travel_into_tasks_and_can_be_got_there(cluster):
    @ray.remote
    def get_inner(refs):
        return sum(ray.get(refs))

    inner = [double.remote(i) for i in range(5)]
    assert ray.get(get_inner.remote(inner)) == 20


def test_remote_error_is_instance_of_cause_with_remote_traceback(cluster):
    @ray.remote
    def fails(x):
        raise ValueError(f"bad value {x}")

    with pytest.raises(ValueError) as info:
        ray.get(fails.remote(3))
    err = info.value
    assert isinstance(err, exceptions.RayTaskError)
    assert "bad value 3" in str(err)
    assert str(err).startswith(
        "ray::test_remote_error_is_instance_of_cause_with_remote_traceback.<locals>.fails() (pid="
    )
    assert "Traceback" not in str(err)


def test_error_propagates_through_dependent_tasks(cluster):
    @ray.remote
    def fails():
        raise KeyError("missing")

    with pytest.raises(KeyError):
        ray.get(double.remote(fails.remote()))


def test_calling_remote_function_directly_says_use_remote(cluster):
    with pytest.raises(TypeError, match=r"cannot be called directly.*try 'double\.remote\(\)'"):
        double(1)


def test_remote_with_wrong_arguments_fails_at_call_time_with_the_signature(cluster):
    with pytest.raises(TypeError, match=r"double\.remote\(\) got arguments that do not fit double\(x\): too many"):
        double.remote(1, 2)
    with pytest.raises(TypeError, match=r"do not fit double\(x\): missing a required argument: 'x'"):
        double.options(num_cpus=1).remote()


def test_get_timeout_raises_get_timeout_error(cluster):
    @ray.remote
    def slow():
        time.sleep(5)

    ref = slow.remote()
    start = time.monotonic()
    with pytest.raises(exceptions.GetTimeoutError):
        ray.get(ref, timeout=0.3)
    assert time.monotonic() - start < 3


def test_wait_returns_at_most_num_returns_in_given_order(cluster):
    @ray.remote
    def sleepy(t):
        time.sleep(t)
        return t

    refs = [sleepy.remote(1.0), ray.put(0), ray.put(1)]
    ready, rest = ray.wait(refs, num_returns=2, timeout=10)
    assert ready == [refs[1], refs[2]]
    assert rest == [refs[0]]
    ready, rest = ray.wait(refs, num_returns=3, timeout=10)
    assert ready == refs and rest == []


def test_wait_timeout_returns_partial(cluster):
    @ray.remote
    def slow():
        time.sleep(3)

    fast = double.remote(1)
    ray.get(fast)
    slow_ref = slow.remote()
    ready, rest = ray.wait([slow_ref, fast], num_returns=2, timeout=0.2)
    assert ready == [fast] and rest == [slow_ref]


def test_unpicklable_argument_fails_at_remote_naming_it(cluster):
    import threading

    lock = threading.Lock()
    with pytest.raises(TypeError, match="argument 1") as info:
        kinds.remote(1, lock)
    assert "lock" in str(info.value)


def test_get_of_non_ref_says_what_to_pass(cluster):
    with pytest.raises(
        TypeError,
        match=r"expects ObjectRefs, got int: 1; pass the ObjectRef that \.remote\(\.\.\.\) or put\(\) returned",
    ):
        ray.get([1, 2])
    # as Ray's: what is neither a ref nor a list of them is a ValueError
    with pytest.raises(
        ValueError, match=r"got dict: .*; pass the ObjectRef that \.remote\(\.\.\.\) or put\(\) returned"
    ):
        ray.get({"a": 1})
    with pytest.raises(ValueError, match=r"got RemoteFunction.*call its \.remote\(\.\.\.\) to run it"):
        ray.get(double)


def test_num_returns(cluster):
    @ray.remote(num_returns=2)
    def pair():
        return 1, 2

    a, b = pair.remote()
    assert ray.get([a, b]) == [1, 2]
    c, d, e = (
        double.options(num_returns=3).remote([1, 2, 3]) if False else pair.options(num_returns=2).remote() + [None]
    )
    assert e is None and ray.get(c) == 1


@ray.remote
class _Inbox:
    """Collects what tasks send it; wait_for(n) returns once n items came (no polling)."""

    def __init__(self):
        import asyncio

        self.items = []
        self.changed = asyncio.Event()

    async def put(self, item):
        self.items.append(item)
        self.changed.set()

    async def wait_for(self, n):
        while len(self.items) < n:
            self.changed.clear()
            await self.changed.wait()
        return sorted(self.items)


def test_num_returns_zero_returns_none_and_still_runs(cluster):
    # as Ray's: no ref comes back, the task (or actor call) runs all the same, and its exception
    # (which nobody can get) leaves the caller alone
    inbox = _Inbox.remote()

    @ray.remote(num_returns=0)
    def send(inbox, item):
        ray.get(inbox.put.remote(item))
        return "a value nobody gets"

    @ray.remote
    def send_then_fail(inbox, item):
        ray.get(inbox.put.remote(item))
        raise ValueError("nobody can get this error")

    @ray.remote
    class Sender:
        def send(self, inbox, item):
            ray.get(inbox.put.remote(item))

    sender = Sender.remote()
    assert send.remote(inbox, "decorated") is None
    assert send.options(num_returns=0).remote(inbox, "options") is None
    assert send_then_fail.options(num_returns=0).remote(inbox, "failed") is None
    assert sender.send.options(num_returns=0).remote(inbox, "actor call") is None
    got = ray.get(inbox.wait_for.remote(4), timeout=60)
    assert got == ["actor call", "decorated", "failed", "options"]
    assert ray.get(double.remote(4), timeout=30) == 8


def test_nested_tasks_do_not_deadlock_a_full_cluster(cluster):
    @ray.remote
    def leaf(i):
        return i

    @ray.remote
    def parent(n):
        return sum(ray.get([leaf.remote(i) for i in range(n)]))

    # 4 parents on 2 CPUs, each blocking on children that need CPUs too
    assert ray.get([parent.remote(4) for _ in range(4)], timeout=60) == [6] * 4


def test_blocked_parents_give_their_cpus_to_their_children_not_to_more_parents(cluster):
    # Ray's cap per scheduling class: with 2 CPUs and 60 parents queued, each blocking in get on
    # one child, the CPU a blocked parent lends runs its child, so a few executors serve every
    # parent. Without the cap the next parent in line took it, and each parent needed a new
    # executor process (60 of them) before any child ran.
    @ray.remote
    def child(i):
        return i

    @ray.remote
    def parent(i):
        return ray.get(child.remote(i)), os.getpid()

    out = ray.get([parent.remote(i) for i in range(60)], timeout=120)
    assert [value for value, _ in out] == list(range(60))
    pids = {pid for _, pid in out}
    assert len(pids) <= 8, f"the 60 parents ran in {len(pids)} executors"


def test_large_numpy_get_is_zero_copy_shared_memory(cluster):
    arr = np.arange(4_000_000, dtype=np.float64)
    ref = ray.put(arr)
    out = ray.get(ref)
    assert np.array_equal(out, arr)
    assert not out.flags.owndata and not out.flags.writeable

    @ray.remote
    def total(a):
        return float(a.sum())

    assert ray.get(total.remote(ref)) == float(arr.sum())


def test_large_result_from_task(cluster):
    @ray.remote
    def make(n):
        return np.full(n, 7, dtype=np.int32)

    out = ray.get(make.remote(1_000_000))
    assert out.shape == (1_000_000,) and int(out.sum()) == 7_000_000


def test_large_argument_is_stored_not_inlined(cluster):
    @ray.remote
    def length(b):
        return len(b)

    assert ray.get(length.remote(b"x" * 5_000_000)) == 5_000_000


def test_executor_crash_is_retried(cluster, tmp_path):
    marker = tmp_path / "attempted"

    @ray.remote(max_retries=2)
    def crash_once(path):
        if not os.path.exists(path):
            open(path, "w").close()
            os._exit(1)
        return "second try"

    assert ray.get(crash_once.remote(str(marker)), timeout=60) == "second try"


def test_executor_crash_without_retries_raises_worker_crashed(cluster):
    @ray.remote(max_retries=0)
    def crash():
        os._exit(3)

    with pytest.raises(exceptions.WorkerCrashedError, match="exited with code 3"):
        ray.get(crash.remote(), timeout=60)


def test_resources_and_nodes(cluster):
    res = ray.cluster_resources()
    assert res["CPU"] == 2.0
    assert any(k.startswith("node:") for k in res)
    nodes = ray.nodes()
    assert len(nodes) == 1 and nodes[0]["Alive"]
    assert nodes[0]["NodeID"] == cluster.address_info["node_id"]


def test_infeasible_task_warns_and_times_out(cluster, capfd):
    @ray.remote(num_gpus=4)
    def needs_gpus():
        return 1

    ref = needs_gpus.remote()
    with pytest.raises(exceptions.GetTimeoutError):
        ray.get(ref, timeout=1)
    err = capfd.readouterr().err
    assert "raylite: warning: task" in err
    assert "needs_gpus is queued: no node has {'CPU': 1.0, 'GPU': 4.0} (infeasible)" in err
    assert "can ever provide it (live nodes have [{'CPU': 2.0, 'GPU': 0.0}])" in err
    assert "add such a node, or lower its num_cpus/num_gpus/resources" in err


def test_options_the_head_would_refuse_fail_at_call_time(cluster):
    from raylite.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    with pytest.raises(ValueError, match=r"max_retries must be a whole number >= 0, or -1 for no limit, got -2"):
        double.options(max_retries=-2)
    with pytest.raises(ValueError, match=r"num_returns must be a whole number from 0 to 100000, got 1000000"):
        double.options(num_returns=1_000_000)
    with pytest.raises(ValueError, match=r"resource names must be non-empty strings, got ''"):
        double.options(resources={"": 1})
    with pytest.raises(ValueError, match=r"'abcd' is not a node id; use the hex id of a live node, as ray\.nodes\(\)"):
        double.options(scheduling_strategy=NodeAffinitySchedulingStrategy("abcd", soft=True))
    assert ray.get(double.remote(4)) == 8  # the session is unharmed


def test_function_too_large_to_send_says_what_to_do(cluster, monkeypatch):
    from raylite import config

    monkeypatch.setattr(config, "FUNCTION_SIZE_ERROR_BYTES", 1 << 20)
    captured = b"x" * (1 << 20)

    @ray.remote
    def uses_big():
        return len(captured)

    with pytest.raises(
        ValueError,
        match=r"uses_big is too large to send to the cluster \(1 MiB >= FUNCTION_SIZE_ERROR_THRESHOLD=1 MiB\)"
        r".*put\(\) such objects",
    ):
        uses_big.remote()
    assert ray.get(double.remote(5)) == 10
