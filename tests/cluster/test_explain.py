"""Why is a get waiting, on a running cluster: the explanation a long get prints, `raylite explain`,
raylite.util.state.explain(), /api/explain, and raylite.util.progress.

A get past RAYLITE_WAIT_EXPLAIN_S prints before it waits for the rest of its timeout, so
`get(ref, timeout=threshold + margin)` has printed by the time it raises: the tests read the
output then, with no sleep and no poll.
"""

from __future__ import annotations

import io
import os
import signal
import time
from collections.abc import Callable

import pytest

import raylite as ray
from raylite import exceptions
from raylite.util import progress
from raylite.util import state as state_api

THRESHOLD_S = "1"


@pytest.fixture(autouse=True)
def short_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAYLITE_WAIT_EXPLAIN_S", THRESHOLD_S)


@ray.remote
def sleeper() -> None:
    time.sleep(3600)


@ray.remote
def consume(x: object) -> object:
    return x


def printed_by_get(capfd: pytest.CaptureFixture[str], ref: ray.ObjectRef, timeout: float = 2.0) -> str:
    capfd.readouterr()
    with pytest.raises(exceptions.GetTimeoutError):
        ray.get(ref, timeout=timeout)
    return capfd.readouterr().err


def until(condition: Callable[[], bool], what: str, deadline_s: float = 30.0) -> None:
    end = time.monotonic() + deadline_s
    while not condition():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_get_of_a_task_sleeping_forever_says_where_it_runs(cluster, capfd) -> None:
    ref = sleeper.remote()
    err = printed_by_get(capfd, ref)
    assert "raylite: get has waited 1 s for 1 object:" in err
    assert "  task sleeper is running on node " in err and " for " in err
    ray.cancel(ref, force=True)


def test_a_dependency_on_a_stuck_task_names_the_argument_and_its_producer(cluster, capfd) -> None:
    stuck = sleeper.remote()
    err = printed_by_get(capfd, consume.remote(stuck))
    assert "  task consume is waiting for 1 of its 1 argument" in err
    assert f"    waiting for argument {stuck.hex()[:12]}, produced by task sleeper, which is running on node" in err
    # the same on demand: raylite explain (the CLI in this process) and the state API
    from raylite import cli

    capfd.readouterr()
    assert cli.main(["explain", stuck.hex()]) == 0
    assert "task sleeper is running on node" in capfd.readouterr().out
    assert state_api.explain(stuck)["counts"] == {"running": 1}
    ray.cancel(stuck, force=True)


def test_an_infeasible_request_is_reported_at_submission(cluster, capfd, monkeypatch) -> None:
    @ray.remote(num_gpus=1)
    def needs_gpu() -> int:
        return 1

    monkeypatch.setenv("RAYLITE_WAIT_EXPLAIN_S", "60")  # so that what prints is the warning at submission
    capfd.readouterr()
    with pytest.raises(exceptions.GetTimeoutError):
        ray.get(needs_gpu.remote(), timeout=3)
    err = capfd.readouterr().err
    assert (
        "raylite: warning: task " in err
        and "needs_gpu is queued: no node has {'CPU': 1.0, 'GPU': 1.0} (infeasible)" in err
    )
    assert "has waited" not in err


def test_a_restarting_actor_says_which_restart_of_how_many(cluster, capfd, tmp_path) -> None:
    marker = tmp_path / "constructed"

    @ray.remote(max_restarts=2, max_task_retries=-1)
    class Slow:
        def __init__(self, marker: str) -> None:
            if os.path.exists(marker):
                time.sleep(3600)  # every restart hangs in its constructor
            open(marker, "w").close()

        def pid(self) -> int:
            return os.getpid()

    actor = Slow.remote(str(marker))
    os.kill(ray.get(actor.pid.remote(), timeout=60), signal.SIGKILL)
    actor_id = actor._actor_id
    until(lambda: any("restarting (1 of 2)" in line for line in state_api.explain(actor_id)["lines"]), "the restart")
    err = printed_by_get(capfd, actor.pid.remote())
    assert "which is restarting (1 of 2): its constructor is running on node" in err
    ray.kill(actor)


def test_the_dashboard_explains_a_task(cluster) -> None:
    import json
    import urllib.request

    from raylite.client import context

    stuck = sleeper.remote()
    client = context.current()
    url = cluster.dashboard_url
    assert url, "the local cluster runs a dashboard"
    url = url if url.startswith("http") else f"http://{url}"
    request = urllib.request.Request(f"{url}/api/explain?id={stuck.task_id().hex()}")
    request.add_header("Authorization", f"Bearer {client.token}")
    until(lambda: _task_running(stuck), "the sleeper to start")
    with urllib.request.urlopen(request, timeout=30) as reply:
        answer = json.load(reply)["result"]
    assert answer["reasons"][0]["text"].startswith("task sleeper is running on node")
    ray.cancel(stuck, force=True)


def _task_running(ref: ray.ObjectRef) -> bool:
    return state_api.explain(ref)["counts"] == {"running": 1}


def test_progress_yields_every_result_and_the_bar_reaches_its_total(cluster) -> None:
    @ray.remote
    def square(x: int) -> int:
        return x * x

    refs = [square.remote(i) for i in range(300)] + [ray.put(7)]
    bar = io.StringIO()
    got = list(progress(refs, desc="squares", file=bar, mininterval=0))
    assert sorted(got) == sorted([i * i for i in range(300)] + [7])
    assert "squares: 100%" in bar.getvalue() and "301/301" in bar.getvalue()
    pairs = dict(progress(refs[:5], with_refs=True, disable=True))
    assert pairs == {r: i * i for i, r in enumerate(refs[:5])}
