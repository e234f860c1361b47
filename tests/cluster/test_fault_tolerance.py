"""Retries and actor restarts with real process deaths (SIGKILL, os._exit)."""

from __future__ import annotations

import os
import signal

import pytest

import raylite as ray
from raylite import exceptions


def test_retry_exceptions_retries_listed_errors(cluster, tmp_path) -> None:
    marker = tmp_path / "failed-once"

    @ray.remote(max_retries=2, retry_exceptions=[ValueError])
    def flaky(path):
        if not os.path.exists(path):
            open(path, "w").close()
            raise ValueError("first attempt fails")
        return "ok"

    assert ray.get(flaky.remote(str(marker)), timeout=60) == "ok"


def test_errors_not_listed_are_not_retried(cluster, tmp_path) -> None:
    marker = tmp_path / "attempts"

    @ray.remote(max_retries=3, retry_exceptions=[KeyError])
    def counts(path):
        with open(path, "a") as f:
            f.write("x")
        raise ValueError("not retried")

    with pytest.raises(ValueError, match="not retried"):
        ray.get(counts.remote(str(marker)), timeout=60)
    assert marker.read_text() == "x"


def test_retry_exceptions_must_be_exception_classes(cluster) -> None:
    @ray.remote
    def f():
        return 1

    with pytest.raises(TypeError, match="retry_exceptions"):
        f.options(retry_exceptions=["ValueError"]).remote()


@ray.remote(max_restarts=1, max_task_retries=1)
class Phoenix:
    def __init__(self):
        self.calls = 0

    def pid(self):
        return os.getpid()

    def bump(self):
        self.calls += 1
        return self.calls

    def die_once(self, path):
        if not os.path.exists(path):
            open(path, "w").close()
            os._exit(1)
        return "survived"


def test_actor_restarts_after_its_process_is_killed(cluster) -> None:
    a = Phoenix.remote()
    first_pid = ray.get(a.pid.remote())
    assert ray.get([a.bump.remote() for _ in range(3)]) == [1, 2, 3]
    os.kill(first_pid, signal.SIGKILL)
    # the constructor ran again in a new process: the state starts over
    assert ray.get(a.bump.remote(), timeout=60) == 1
    assert ray.get(a.pid.remote()) != first_pid


def test_call_in_flight_is_retried_on_the_restarted_actor(cluster, tmp_path) -> None:
    a = Phoenix.remote()
    assert ray.get(a.die_once.remote(str(tmp_path / "died")), timeout=60) == "survived"


def test_actor_without_restarts_left_stays_dead(cluster) -> None:
    @ray.remote(max_restarts=0)
    class Mortal:
        def pid(self):
            return os.getpid()

    m = Mortal.remote()
    os.kill(ray.get(m.pid.remote()), signal.SIGKILL)
    with pytest.raises(exceptions.ActorDiedError, match="killed by SIGKILL"):
        ray.get(m.pid.remote(), timeout=60)


def test_kill_with_restart_allowed(cluster) -> None:
    a = Phoenix.remote()
    assert ray.get(a.bump.remote()) == 1
    ray.kill(a, no_restart=False)
    assert ray.get(a.bump.remote(), timeout=60) == 1
    ray.kill(a)
    with pytest.raises(exceptions.ActorDiedError):
        ray.get(a.bump.remote(), timeout=60)


def test_a_passing_failure_to_read_from_a_live_node_is_retried(cluster, monkeypatch) -> None:
    """The head still names the same live node after a failed read (a connection
    that could not be made in time, say): get reads there again instead of
    calling the object lost."""
    import numpy as np

    from raylite.client import context

    client = context.current()
    ref = ray.put(np.arange(1_000_000))  # in the store: read from the node
    real_read, failures = client._read_stored, []

    def flaky_read(value):
        if not failures:
            failures.append(value.node_address)
            raise exceptions.ObjectLostError(f"simulated: could not connect to {value.node_address}")
        return real_read(value)

    monkeypatch.setattr(client, "_read_stored", flaky_read)
    assert int(ray.get(ref, timeout=60)[-1]) == 999_999
    assert len(failures) == 1
