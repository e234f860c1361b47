"""Direct actor calls on a real cluster (docs/design-direct-calls.md (a)), with
RAYLITE_DIRECT_ACTOR_CALLS on for this module's cluster and driver."""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

import raylite
from raylite import batching, config, exceptions
from raylite.client import context
from raylite.client.state.actor_channel import Channel
from tests.cluster.test_cli import cli, free_port, recorded_pids
from tests.cluster.test_tls import TLS_ENVS, Certs, certs  # noqa: F401 - certs: the fixture
from tests.conftest import descendants, run_python

DEADLINE_S = 30


@pytest.fixture(scope="module")
def direct_cluster() -> Iterator[dict]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAYLITE_DIRECT_ACTOR_CALLS", "1")
        mp.setattr(config, "DIRECT_ACTOR_CALLS", True)
        info = raylite.init(num_cpus=2)
        started = descendants()
        yield info
        raylite.shutdown()
    _gone, alive = psutil.wait_procs(started, timeout=15)
    assert not alive, f"processes left after shutdown: {[p.pid for p in alive]}"


def channel_state(handle: Any) -> Channel | None:
    channel = context.current()._channels.get(handle._actor_id)
    return channel.state if channel is not None else None


def wait_for(condition: Any, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {DEADLINE_S}s for {what}")
        time.sleep(0.02)


def wait_open(handle: Any) -> None:
    """Calls until the channel is open (the first calls go by the head while it is located)."""
    deadline = time.monotonic() + DEADLINE_S
    while channel_state(handle) is not Channel.OPEN:
        raylite.get(handle.__ray_ready__.remote())
        assert time.monotonic() < deadline, f"the channel to {handle} did not open"


@raylite.remote
class Log:
    def __init__(self) -> None:
        self.seen: list[int] = []

    def add(self, i: int, _dep: Any = None) -> int:
        self.seen.append(i)
        return i

    def log(self) -> list[int]:
        return self.seen

    def pid(self) -> int:
        return os.getpid()

    def slow(self, i: int, seconds: float) -> int:
        time.sleep(seconds)
        return i

    def marked(self, path: str, seconds: float) -> None:
        open(path, "w").close()  # noqa: SIM115 - the test waits for it to exist
        time.sleep(seconds)

    def held(self, fifo: str) -> str:
        with open(fifo) as f:  # blocks until the test opens the FIFO to write (and closes it)
            return f.read()

    def boxed(self, n: int) -> list[Any]:
        return [raylite.put(b"x" * n)]


@raylite.remote
def late(value: int, seconds: float) -> int:
    time.sleep(seconds)
    return value


def test_the_connection_to_a_call_port_has_the_kernels_liveness_check(direct_cluster: dict) -> None:
    import socket

    actor = Log.remote()
    wait_open(actor)
    conn = context.current()._channels[actor._actor_id].connection
    sock = conn.transport.get_extra_info("socket")
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
    bound_ms = int(config.CALL_LIVENESS_S * 1000)
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == bound_ms


def test_calls_keep_their_order_across_switches_between_the_head_and_the_port(direct_cluster: dict) -> None:
    actor = Log.remote()
    wait_open(actor)
    slow_ref = late.remote(0, 0.5)
    refs = []
    for i in range(30):
        if i % 7 == 3:  # an ObjectRef argument not ready yet: this one goes by the head and waits
            refs.append(actor.add.remote(i, slow_ref if i == 3 else raylite.put(i)))
        else:
            refs.append(actor.add.remote(i))
    assert raylite.get(refs) == list(range(30))
    assert raylite.get(actor.log.remote()) == list(range(30))
    assert channel_state(actor) is Channel.OPEN


def test_direct_calls_send_the_head_no_empty_batches(direct_cluster: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """A call sent direct leaves nothing for the head: its drain must not wake the head's writer
    (it did for every call, an empty ClientBatch each, costing the driver and the head CPU)."""
    actor = Log.remote()
    wait_open(actor)
    written: list[bool] = []  # one per ClientBatch the driver writes: True if it has nothing in it
    split = batching.split

    def counting_split(msg: Any, limit: int) -> Any:
        written.append(not msg.ListFields())
        return split(msg, limit)

    monkeypatch.setattr(batching, "split", counting_split)
    for i in range(50):
        assert raylite.get(actor.add.remote(i)) == i
    assert channel_state(actor) is Channel.OPEN
    assert written.count(True) == 0, f"{written.count(True)} empty batches of {len(written)} for 50 direct calls"


def test_a_killed_actor_restarts_and_its_calls_in_flight_are_resent(direct_cluster: dict) -> None:
    actor = Log.options(max_restarts=1, max_task_retries=2).remote()
    wait_open(actor)
    pid = raylite.get(actor.pid.remote())
    first_life = context.current()._channels[actor._actor_id].incarnation
    refs = [actor.slow.remote(i, 0.3) for i in range(3)]
    os.kill(pid, signal.SIGKILL)
    assert raylite.get(refs, timeout=DEADLINE_S) == [0, 1, 2]  # resent to the next life
    assert raylite.get(actor.pid.remote()) != pid
    wait_for(
        lambda: (
            channel_state(actor) is Channel.OPEN
            and context.current()._channels[actor._actor_id].incarnation != first_life
            or raylite.get(actor.pid.remote()) is None
        ),
        "the channel to the actor's next life",
    )


def test_a_call_in_flight_without_task_retries_fails_with_actor_unavailable(
    direct_cluster: dict, tmp_path: Path
) -> None:
    """Ray 2.60 raises ActorUnavailableError here (the actor restarts), not ActorDiedError."""
    actor = Log.options(max_restarts=1).remote()
    wait_open(actor)
    pid = raylite.get(actor.pid.remote())
    started = tmp_path / "started"
    ref = actor.marked.remote(str(started), 60)
    wait_for(started.exists, "the call to start")
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(exceptions.ActorUnavailableError, match="max_task_retries=0"):
        raylite.get(ref, timeout=DEADLINE_S)
    assert raylite.get(actor.add.remote(5), timeout=DEADLINE_S) == 5  # the restarted actor serves calls


@raylite.remote
class Sleeper:
    def __init__(self) -> None:
        self.started = 0

    async def nap(self) -> str:
        self.started += 1
        import asyncio

        await asyncio.sleep(60)
        return "woke"

    async def count(self) -> int:
        return self.started


def test_a_running_direct_call_is_cancelled(direct_cluster: dict) -> None:
    actor = Sleeper.remote()
    wait_open(actor)
    ref = actor.nap.remote()
    wait_for(lambda: raylite.get(actor.count.remote()) == 1, "the call to start")
    raylite.cancel(ref)
    with pytest.raises(exceptions.TaskCancelledError):
        raylite.get(ref, timeout=DEADLINE_S)


def test_results_holding_refs_and_stored_results_outlive_the_call(direct_cluster: dict) -> None:
    actor = Log.remote()
    wait_open(actor)
    boxed = raylite.get(actor.boxed.remote(10))
    assert raylite.get(boxed[0]) == b"x" * 10
    big = raylite.get(actor.boxed.remote(2 * config.INLINE_MAX_BYTES))
    assert raylite.get(big[0], timeout=DEADLINE_S) == b"x" * (2 * config.INLINE_MAX_BYTES)
    # a result the caller holds may be another task's argument: the head learns it from the record
    ref = actor.add.remote(41)
    assert raylite.get(late.remote(ref, 0)) == 41


def test_the_state_api_lists_direct_calls(direct_cluster: dict) -> None:
    from raylite.util.state import list_tasks

    actor = Log.remote()
    wait_open(actor)
    raylite.get([actor.slow.remote(i, 0) for i in range(5)])

    def listed() -> int:
        rows = list_tasks(filters=[("name", "=", "Log.slow")], limit=1000)
        return sum(1 for r in rows if r["actor_id"] == actor._actor_id.hex() and r["state"] == "FINISHED")

    wait_for(lambda: listed() >= 5, "the state API to list the 5 direct calls")


def test_a_direct_call_in_flight_is_running_in_the_state_api_and_explain(direct_cluster: dict, tmp_path: Path) -> None:
    from raylite.util import state as state_api

    actor = Log.remote()
    wait_open(actor)
    fifo = tmp_path / "release"
    os.mkfifo(fifo)
    ref = actor.held.remote(str(fifo))
    assert channel_state(actor) is Channel.OPEN  # so the call goes direct
    call_id = ref.task_id().hex()

    def state_of_call() -> str | None:
        rows = state_api.list_tasks(filters=[("task_id", "=", call_id)], limit=10)
        return rows[0]["state"] if rows else None

    wait_for(lambda: state_of_call() == "RUNNING", "the direct call to be listed RUNNING")
    [row] = state_api.list_tasks(filters=[("task_id", "=", call_id)], limit=10)
    assert row["node_id"] is not None and row["actor_id"] == actor._actor_id.hex()
    [line] = state_api.explain(ref)["lines"]
    assert "is running on actor Log (" in line and "(direct call), for " in line, line
    with open(fifo, "w") as f:  # the call ends
        f.write("go")
    assert raylite.get(ref, timeout=DEADLINE_S) == "go"
    wait_for(lambda: state_of_call() == "FINISHED", "the direct call's record to make it FINISHED")


SCRIPT = """
import raylite
from raylite.client import context
raylite.init(address="auto")

@raylite.remote
class A:
    def f(self, x):
        return x + 1

a = A.remote()
for i in range(50):
    assert raylite.get(a.f.remote(i)) == i + 1
print(context.current()._channels[a._actor_id].state.value)
"""


def test_direct_calls_over_tls_with_the_token(certs: Certs, tmp_path_factory: pytest.TempPathFactory) -> None:  # noqa: F811
    runtime = tmp_path_factory.mktemp("rt")
    shm = Path(f"/dev/shm/raylite-test-{os.getpid()}-direct-tls")
    procs: list[psutil.Process] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAYLITE_TMPDIR", str(runtime))
        mp.setenv("RAYLITE_SHM_DIR", str(shm))
        mp.setenv("RAYLITE_DIRECT_ACTOR_CALLS", "1")
        for name in TLS_ENVS:  # the daemons take the flags; the drivers get the driver's certificate
            mp.delenv(name, raising=False)
        shm.mkdir(parents=True, exist_ok=True)
        port = free_port()
        flags = ["--host", "127.0.0.1", "--node-ip-address", "127.0.0.1", "--num-cpus", "2", *certs.node.flags()]
        try:
            head = cli("start", "--head", "--port", str(port), *flags)
            assert head.returncode == 0, head.stderr
            procs = [psutil.Process(pid) for pid in recorded_pids(runtime)]
            driver = run_python(SCRIPT, env=certs.driver.env())
            assert driver.returncode == 0, driver.stderr
            assert driver.stdout.strip().splitlines()[-1] == "OPEN", driver.stderr
        finally:
            stop = cli("stop")
            shutil.rmtree(shm, ignore_errors=True)
    assert stop.returncode == 0, stop.stderr
    _gone, alive = psutil.wait_procs(procs, timeout=10)
    assert not alive, f"left running after stop: {[p.pid for p in alive]}"


@raylite.remote
def long_child() -> str:
    time.sleep(60)
    return "done"


@raylite.remote(max_concurrency=2)
class Parent:
    def __init__(self) -> None:
        self.child: Any = None

    def run(self) -> str:
        self.child = long_child.remote()
        return raylite.get(self.child)

    def child_ref(self) -> list[Any]:
        return [self.child]


def test_a_recursive_cancel_of_a_direct_call_reaches_the_tasks_it_submitted(direct_cluster: dict) -> None:
    actor = Parent.remote()
    wait_open(actor)
    ref = actor.run.remote()
    wait_for(lambda: raylite.get(actor.child_ref.remote())[0] is not None, "the call to submit its child")
    child = raylite.get(actor.child_ref.remote())[0]
    raylite.cancel(ref, recursive=True)
    with pytest.raises(exceptions.TaskCancelledError):
        raylite.get(child, timeout=DEADLINE_S)
    with pytest.raises((exceptions.TaskCancelledError, exceptions.RayTaskError)):
        raylite.get(ref, timeout=DEADLINE_S)
