"""Actors on a local cluster."""

from __future__ import annotations

import asyncio
import gc
import os
import time

import psutil
import pytest

import raylite as ray
from raylite import exceptions
from raylite.client import context
from raylite.client.state.actor_channel import Channel


@ray.remote
class Counter:
    def __init__(self, start=0):
        self.n = start
        self.log = []

    def add(self, x):
        self.n += x
        self.log.append(x)
        return self.n

    def history(self):
        return self.log

    def pid(self):
        return os.getpid()


def test_calls_from_one_caller_run_in_order(cluster):
    c = Counter.remote(10)
    refs = [c.add.remote(i) for i in range(200)]
    assert ray.get(c.history.remote()) == list(range(200))
    assert ray.get(refs[-1]) == 10 + sum(range(200))


def test_actor_handle_passed_to_tasks_counts_every_call(cluster):
    @ray.remote
    def bump(counter):
        counter.add.remote(1)
        return True

    c = Counter.remote()
    assert all(ray.get([bump.remote(c) for _ in range(8)]))
    # the tasks' own submissions reached the head before their results
    assert ray.get(c.history.remote()) == [1] * 8


def test_a_tasks_first_call_to_an_actor_is_not_overtaken_by_the_drivers_next_direct_call(cluster):
    # The walkthrough's tracker: a task's first call to an actor used to go by the head while the
    # task's result went to the driver, whose next call (direct: its channel to the actor was open)
    # could reach the actor first, which then counted 7 of 8.
    @ray.remote
    def bump(counters, i):
        for counter in counters:
            counter.add.remote(i)
        return i

    client = context.current()
    for _ in range(5):
        counters = [Counter.remote() for _ in range(4)]
        assert ray.get([c.history.remote() for c in counters]) == [[]] * 4
        deadline = time.monotonic() + 30
        while any(client._channels[c._actor_id].state is not Channel.OPEN for c in counters):
            assert time.monotonic() < deadline, "the driver's channels to the actors did not open"
            time.sleep(0.01)
        assert ray.get([bump.remote(counters, i) for i in range(8)]) == list(range(8))
        assert [sorted(h) for h in ray.get([c.history.remote() for c in counters])] == [list(range(8))] * 4
        for c in counters:
            ray.kill(c)


def test_actor_in_own_process(cluster):
    a, b = Counter.remote(), Counter.remote()
    pa, pb = ray.get([a.pid.remote(), b.pid.remote()])
    assert pa != pb and os.getpid() not in (pa, pb)


def test_unknown_method_is_an_attribute_error_listing_the_methods(cluster):
    c = Counter.remote()
    with pytest.raises(
        AttributeError, match="Counter has no method 'nope'; call one of its methods: add, history, pid$"
    ):
        c.nope.remote()


def test_calling_an_actor_class_or_method_directly_says_use_remote(cluster):
    with pytest.raises(TypeError, match=r"cannot be instantiated directly.*use 'Counter\.remote\(\)'"):
        Counter(1)
    c = Counter.remote()
    with pytest.raises(TypeError, match=r"cannot be called directly.*use 'actor\.add\.remote\(\)'"):
        c.add(1)


def test_wrong_arguments_fail_at_call_time_with_the_signature(cluster):
    with pytest.raises(
        TypeError, match=r"Counter\.remote\(\) got arguments that do not fit Counter\.__init__\(self, start=0\)"
    ):
        Counter.remote(1, 2)
    c = Counter.remote()
    with pytest.raises(
        TypeError, match=r"Counter\.add\.remote\(\) got arguments that do not fit Counter\.add\(x\): missing"
    ):
        c.add.remote()
    with pytest.raises(TypeError, match=r"do not fit Counter\.history\(\): got an unexpected keyword argument 'x'"):
        c.history.remote(x=1)
    assert ray.get(c.add.remote(x=2)) == 2  # keyword arguments that fit are fine


def test_actor_no_node_can_place_warns_with_what_it_needs(cluster, capfd):
    @ray.remote(num_gpus=2)
    class Greedy:
        def ping(self):
            return 1

    g = Greedy.remote()
    with pytest.raises(exceptions.GetTimeoutError):
        ray.get(g.ping.remote(), timeout=1)
    err = capfd.readouterr().err
    assert "raylite: warning: actor creation " in err
    assert "Greedy.__init__ is queued: no node has {'GPU': 2.0} (infeasible)" in err
    assert "(live nodes have [{'GPU': 0.0}])" in err
    assert "add such a node, or lower its num_cpus/num_gpus/resources" in err
    ray.kill(g)


def test_constructor_error_kills_actor(cluster):
    @ray.remote
    class Broken:
        def __init__(self):
            raise RuntimeError("cannot start")

        def f(self):
            return 1

    b = Broken.remote()
    with pytest.raises(exceptions.ActorDiedError, match="cannot start"):
        ray.get(b.f.remote(), timeout=30)


def test_killed_actor_raises_actor_died(cluster):
    c = Counter.remote()
    assert ray.get(c.add.remote(1)) == 1
    ray.kill(c)
    with pytest.raises(exceptions.ActorDiedError, match="kill"):
        ray.get(c.add.remote(1), timeout=30)


def test_actor_process_death_raises_actor_died(cluster):
    @ray.remote
    class Fragile:
        def die(self):
            os._exit(7)

        def ok(self):
            return 1

    f = Fragile.remote()
    assert ray.get(f.ok.remote()) == 1
    with pytest.raises(exceptions.ActorDiedError, match="exited with code 7"):
        ray.get(f.die.remote(), timeout=30)


def test_async_actor_runs_calls_concurrently(cluster):
    @ray.remote
    class Gate:
        def __init__(self):
            self.event = None

        async def wait(self):
            if self.event is None:
                self.event = asyncio.Event()
            await asyncio.wait_for(self.event.wait(), 20)
            return "released"

        async def release(self):
            if self.event is None:
                self.event = asyncio.Event()
            self.event.set()
            return "set"

    g = Gate.remote()
    waiting = g.wait.remote()
    # a sequential actor would never run release() while wait() blocks
    assert ray.get(g.release.remote(), timeout=30) == "set"
    assert ray.get(waiting, timeout=30) == "released"


def test_named_actor_lookup(cluster):
    c = Counter.options(name="the-counter").remote(5)
    same = ray.get_actor("the-counter")
    assert same == c
    assert ray.get(same.add.remote(1)) == 6
    with pytest.raises(ValueError, match="no live actor named"):
        ray.get_actor("nobody")


def test_actor_method_num_returns(cluster):
    @ray.remote
    class Two:
        @ray.method(num_returns=2)
        def pair(self):
            return "a", "b"

    t = Two.remote()
    a, b = t.pair.remote()
    assert ray.get([a, b]) == ["a", "b"]


def test_actor_calls_actor(cluster):
    @ray.remote
    class Forwarder:
        def __init__(self, target):
            self.target = target

        def forward(self, x):
            return ray.get(self.target.add.remote(x))

    c = Counter.remote()
    f = Forwarder.remote(c)
    assert ray.get([f.forward.remote(2) for _ in range(3)]) == [2, 4, 6]


@ray.remote
class Pid:
    def pid(self):
        return os.getpid()


@ray.remote
def pid_through(handle):
    return ray.get(handle.pid.remote())


def test_actor_ends_when_its_last_handle_goes_detached_one_stays(cluster) -> None:
    temp, kept = Pid.remote(), Pid.options(name="stays", lifetime="detached").remote()
    temp_pid, kept_pid = ray.get([temp.pid.remote(), kept.pid.remote()])
    assert ray.get(pid_through.remote(temp)) == temp_pid  # a handle passed to a task works there
    del temp, kept
    gc.collect()
    try:
        _gone, alive = psutil.wait_procs([psutil.Process(temp_pid)], timeout=20)
    except psutil.NoSuchProcess:
        alive = []  # (gone already, before it could be watched)
    assert not alive, "the actor's process outlived its last handle"
    again = ray.get_actor("stays")
    assert ray.get(again.pid.remote()) == kept_pid
    ray.kill(again)


def test_temporary_handle_call_completes(cluster) -> None:
    # the handle is dropped right after .remote(); the call in flight keeps the actor alive
    assert ray.get(Pid.remote().pid.remote()) > 0
