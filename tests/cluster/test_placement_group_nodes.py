"""A placement group across worker daemons on this machine: a node holding a bundle dies.

The group goes RESCHEDULING, keeps the bundle on the live node, and is
CREATED again once a new node joins; a task queued for the lost bundle runs
on the new node, and a task that ran there is retried.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import psutil
import pytest

import raylite as ray
from tests.cluster.test_cli import cli, free_port, recorded_pids
from tests.cluster.test_head_restart import _pids
from tests.cluster.test_placement_groups import until
from tests.conftest import ROOT


@ray.remote(num_cpus=1)
def node_of() -> str:
    return ray.get_runtime_context().get_node_id()


@ray.remote(num_cpus=1, max_retries=1)
def node_of_second_attempt(marker: str) -> str:
    """Blocks in its first attempt (until its node dies); returns its node in the second."""
    if not os.path.exists(marker):
        open(marker, "w").close()
        threading.Event().wait(600)
    return ray.get_runtime_context().get_node_id()


def test_a_dead_nodes_bundle_is_reserved_again_on_a_new_node(
    isolated_runtime: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from raylite.util.placement_group import placement_group, placement_group_table
    from raylite.util.scheduling_strategies import PlacementGroupSchedulingStrategy

    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the daemons run this tree
    port = free_port()
    common = ["--num-cpus", "1", "--host", "127.0.0.1", "--node-ip-address", "127.0.0.1"]
    head = cli("start", "--head", "--port", str(port), *common)
    assert head.returncode == 0, head.stderr
    all_pids = set(recorded_pids(isolated_runtime))
    try:
        first = _pids(isolated_runtime, "worker")
        joined = cli("start", "--address", f"127.0.0.1:{port}", "--resources", '{"doomed": 1}', *common)
        assert joined.returncode == 0, joined.stderr
        all_pids |= set(recorded_pids(isolated_runtime))
        [doomed_pid] = _pids(isolated_runtime, "worker") - first
        ray.init(address="auto")

        pg = placement_group([{"CPU": 1}, {"CPU": 1}], strategy="STRICT_SPREAD")
        ray.get(pg.ready(), timeout=60)
        placed = placement_group_table(pg)["bundles_to_node_id"]
        assert len(set(placed.values())) == 2
        in_bundle = {i: PlacementGroupSchedulingStrategy(pg, placement_group_bundle_index=i) for i in (0, 1)}
        homes = {i: ray.get(node_of.options(scheduling_strategy=in_bundle[i]).remote(), timeout=60) for i in (0, 1)}
        assert homes == placed
        [doomed_node] = [n["NodeID"] for n in ray.nodes() if "doomed" in n["Resources"]]
        lost = next(i for i, node in placed.items() if node == doomed_node)
        marker = tmp_path / "first-attempt"
        retried = node_of_second_attempt.options(scheduling_strategy=in_bundle[lost]).remote(str(marker))
        assert until(marker.exists, 60)
        all_pids |= {c.pid for p in all_pids if psutil.pid_exists(p) for c in psutil.Process(p).children(True)}

        os.kill(doomed_pid, signal.SIGKILL)
        assert until(lambda: placement_group_table(pg)["state"] == "RESCHEDULING", 60)
        assert placement_group_table(pg)["bundles_to_node_id"][lost] == ""
        waiting = node_of.options(scheduling_strategy=in_bundle[lost]).remote()
        ready, _ = ray.wait([waiting], timeout=1)
        assert not ready  # its bundle has no node now

        again = cli("start", "--address", f"127.0.0.1:{port}", *common)
        assert again.returncode == 0, again.stderr
        all_pids |= set(recorded_pids(isolated_runtime))
        new_node = ray.get(waiting, timeout=60)
        assert new_node not in placed.values()
        table = placement_group_table(pg)
        assert table["state"] == "CREATED" and table["bundles_to_node_id"][lost] == new_node
        assert table["bundles_to_node_id"][1 - lost] == placed[1 - lost]  # the survivor stayed
        assert ray.get(retried, timeout=60) == new_node
    finally:
        ray.shutdown()
        stop = cli("stop")
        all_pids |= {c.pid for p in all_pids if psutil.pid_exists(p) for c in psutil.Process(p).children(True)}
    assert stop.returncode == 0, stop.stderr
    _gone, alive = psutil.wait_procs([psutil.Process(p) for p in all_pids if psutil.pid_exists(p)], timeout=15)
    assert not alive, f"left running: {alive}"
