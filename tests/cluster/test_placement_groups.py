"""Placement groups on a local cluster: reservation, tasks and actors in bundles, removal."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

import pytest

import raylite as ray
from raylite import exceptions
from raylite.util.placement_group import (
    get_placement_group,
    placement_group,
    placement_group_table,
    remove_placement_group,
)
from raylite.util.scheduling_strategies import PlacementGroupSchedulingStrategy


def until(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    """Polls a condition the head decides (no event tells the driver), up to timeout."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        threading.Event().wait(0.05)
    return True


def cpus_free() -> float:
    return ray.available_resources().get("CPU", 0.0)


@ray.remote(num_cpus=1)
def where() -> tuple[bool, str | None]:
    return ray.util.get_current_placement_group() is not None, ray.get_runtime_context().get_placement_group_id()


def test_a_group_reserves_and_its_tasks_run_in_it(cluster) -> None:
    pg = placement_group([{"CPU": 1}, {"CPU": 1}], name="pair")
    assert ray.get(pg.ready(), timeout=60) == pg
    assert until(lambda: cpus_free() == 0.0)
    in_bundle = PlacementGroupSchedulingStrategy(pg, placement_group_bundle_index=1)
    assert (
        ray.get([where.options(scheduling_strategy=in_bundle).remote() for _ in range(3)], timeout=60)
        == [(True, pg.id.hex())] * 3
    )
    # the older spelling, and a task outside the group that asks for no CPU
    assert ray.get(where.options(placement_group=pg).remote(), timeout=60)[0] is True
    assert ray.get(where.options(num_cpus=0).remote(), timeout=60) == (False, None)
    assert get_placement_group("pair") == pg
    with pytest.raises(exceptions.RaySystemError, match="'pair' is taken"):
        placement_group([{"CPU": 1}], name="pair")
    assert "pair" not in ray.nodes()[0]["Resources"] and pg.id.hex() not in str(ray.nodes())  # hidden, as in Ray
    table = placement_group_table(pg)
    assert (table["state"], table["strategy"], table["bundles"]) == (
        "CREATED",
        "PACK",
        {0: {"CPU": 1.0}, 1: {"CPU": 1.0}},
    )
    assert pg.id.hex() in placement_group_table()
    remove_placement_group(pg)
    assert placement_group_table(pg)["state"] == "REMOVED"
    assert until(lambda: cpus_free() == 2.0)
    with pytest.raises(ValueError, match="pair"):
        get_placement_group("pair")


def test_requests_no_bundle_can_hold_are_refused_at_once(cluster) -> None:
    pg = placement_group([{"CPU": 1}])
    with pytest.raises(ValueError, match="cannot fit"):
        where.options(num_cpus=2, scheduling_strategy=PlacementGroupSchedulingStrategy(pg)).remote()
    with pytest.raises(ValueError, match="bundle index 3"):
        where.options(scheduling_strategy=PlacementGroupSchedulingStrategy(pg, 3)).remote()
    for bad in ([], [{}], [{"CPU": 0}], {"CPU": 1}):
        with pytest.raises(ValueError):
            placement_group(bad)
    with pytest.raises(ValueError, match="strategy"):
        placement_group([{"CPU": 1}], strategy="SIDEWAYS")
    remove_placement_group(pg)


def test_children_join_the_group_only_when_captured(cluster) -> None:
    @ray.remote(num_cpus=0.5)
    def child():
        return ray.util.get_current_placement_group() is not None

    @ray.remote(num_cpus=0.5)
    def parent():
        return ray.get(child.remote())

    pg = placement_group([{"CPU": 1}])
    ray.get(pg.ready(), timeout=60)
    captured = PlacementGroupSchedulingStrategy(pg, placement_group_capture_child_tasks=True)
    assert ray.get(parent.options(scheduling_strategy=captured).remote(), timeout=60) is True
    assert (
        ray.get(parent.options(scheduling_strategy=PlacementGroupSchedulingStrategy(pg)).remote(), timeout=60) is False
    )
    remove_placement_group(pg)


def test_removal_kills_actors_fails_queued_tasks_and_lets_running_ones_finish(cluster, tmp_path) -> None:
    @ray.remote(num_cpus=1)
    class Member:
        def pid(self):
            return os.getpid()

    @ray.remote(num_cpus=1, max_retries=0)
    def hold(path):
        open(path, "w").close()
        while os.path.exists(path):
            threading.Event().wait(0.02)
        return "finished"

    pg = placement_group([{"CPU": 1}, {"CPU": 1}], strategy="STRICT_PACK")
    ray.get(pg.ready(), timeout=60)
    member = Member.options(scheduling_strategy=PlacementGroupSchedulingStrategy(pg, 0)).remote()
    ray.get(member.pid.remote(), timeout=60)
    started = tmp_path / "started"
    running = hold.options(scheduling_strategy=PlacementGroupSchedulingStrategy(pg, 1)).remote(str(started))
    queued = where.options(scheduling_strategy=PlacementGroupSchedulingStrategy(pg, 1)).remote()
    assert until(started.exists, 60)
    remove_placement_group(pg)
    with pytest.raises(exceptions.TaskPlacementGroupRemoved, match="removed"):
        ray.get(queued, timeout=30)
    with pytest.raises(exceptions.ActorDiedError, match="placement group"):
        ray.get(member.pid.remote(), timeout=30)
    with pytest.raises(exceptions.TaskPlacementGroupRemoved):
        ray.get(pg.ready(), timeout=30)
    started.unlink()  # the running task was not stopped: it finishes on the node's own CPU
    assert ray.get(running, timeout=30) == "finished"
    assert until(lambda: cpus_free() == 2.0)


def test_a_group_too_big_stays_pending_and_wait_says_so(cluster) -> None:
    pg = placement_group([{"CPU": 1}, {"CPU": 1}], strategy="STRICT_SPREAD")  # one node only
    assert pg.wait(timeout_seconds=1) is False
    assert placement_group_table(pg)["state"] == "PENDING"
    assert cpus_free() == 2.0  # nothing half-reserved
    remove_placement_group(pg)
