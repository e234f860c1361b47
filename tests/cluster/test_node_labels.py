"""Node labels across two worker daemons on this machine: `raylite start --labels` and
`--labels-file`, NodeLabelSchedulingStrategy (hard and soft), the label_selector option for
tasks and actors, bundle_label_selector for placement groups, and a request no node can meet."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

import raylite as ray
from raylite.util.placement_group import placement_group, placement_group_table
from raylite.util.scheduling_strategies import Exists, In, NodeLabelSchedulingStrategy, NotIn
from tests.cluster.test_cli import cli, free_port, recorded_pids
from tests.conftest import ROOT


@ray.remote(num_cpus=0.1)
def where() -> str:
    return ray.get_runtime_context().get_node_id()


@ray.remote(num_cpus=0.1)
class Here:
    def node(self) -> str:
        return ray.get_runtime_context().get_node_id()

    def labels(self) -> dict[str, str]:
        return ray.get_runtime_context().get_node_labels()


def test_work_runs_only_on_nodes_whose_labels_match(
    isolated_runtime: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the daemons run this tree
    port = free_port()
    common = ["--num-cpus", "2", "--host", "127.0.0.1", "--node-ip-address", "127.0.0.1"]
    labels_file = tmp_path / "labels.yaml"
    labels_file.write_text("region: eu\nzone: 'a'\n")
    head = cli("start", "--head", "--port", str(port), "--labels", "region=us,tier=gold", *common)
    assert head.returncode == 0, head.stderr
    all_pids = set(recorded_pids(isolated_runtime))
    try:
        joined = cli("start", "--address", f"127.0.0.1:{port}", "--labels-file", str(labels_file), *common)
        assert joined.returncode == 0, joined.stderr
        all_pids |= set(recorded_pids(isolated_runtime))
        ray.init(address="auto")

        found = {n["Labels"].get("region"): n for n in ray.nodes()}
        assert set(found) == {"us", "eu"}
        us, eu = found["us"]["NodeID"], found["eu"]["NodeID"]
        assert found["us"]["Labels"] == {"region": "us", "tier": "gold", "ray.io/node-id": us}
        assert found["eu"]["Labels"] == {"region": "eu", "zone": "a", "ray.io/node-id": eu}

        in_eu = NodeLabelSchedulingStrategy({"region": In("eu")})
        assert set(ray.get([where.options(scheduling_strategy=in_eu).remote() for _ in range(8)], timeout=60)) == {eu}
        not_eu = NodeLabelSchedulingStrategy({"region": NotIn("eu")})
        assert set(ray.get([where.options(scheduling_strategy=not_eu).remote() for _ in range(8)], timeout=60)) == {us}
        prefer_zone = NodeLabelSchedulingStrategy({}, soft={"zone": Exists()})
        assert set(ray.get([where.options(scheduling_strategy=prefer_zone).remote() for _ in range(4)])) == {eu}
        selected = [where.options(label_selector={"tier": "gold"}).remote() for _ in range(8)]
        assert set(ray.get(selected, timeout=60)) == {us}
        assert set(ray.get([where.options(label_selector={"region": "!in(us)"}).remote() for _ in range(8)])) == {eu}

        actor = Here.options(label_selector={"region": "eu"}).remote()
        assert ray.get(actor.node.remote(), timeout=60) == eu
        assert ray.get(actor.labels.remote(), timeout=60)["zone"] == "a"

        pg = placement_group(
            [{"CPU": 0.5}, {"CPU": 0.5}], strategy="PACK", bundle_label_selector=[{"region": "eu"}, {"region": "us"}]
        )
        ray.get(pg.ready(), timeout=60)
        assert placement_group_table(pg)["bundles_to_node_id"] == {0: eu, 1: us}

        nowhere = where.options(scheduling_strategy=NodeLabelSchedulingStrategy({"region": In("ap")})).remote()
        assert ray.wait([nowhere], timeout=1)[0] == []
        ray.cancel(nowhere)
        all_pids |= {c.pid for p in all_pids if psutil.pid_exists(p) for c in psutil.Process(p).children(True)}
    finally:
        ray.shutdown()
        stop = cli("stop")
    assert stop.returncode == 0, stop.stderr
    _gone, alive = psutil.wait_procs([psutil.Process(p) for p in all_pids if psutil.pid_exists(p)], timeout=15)
    assert not alive, f"left running: {alive}"


def test_start_refuses_malformed_labels_and_init_refuses_labels_for_an_existing_cluster(
    isolated_runtime: Path,
) -> None:
    bad = cli("start", "--head", "--port", str(free_port()), "--labels", "region")
    assert bad.returncode == 2 and "'region' is not key=value" in bad.stderr
    with pytest.raises(ValueError, match="labels describe a new local cluster"):
        ray.init(address="127.0.0.1:1", labels={"region": "us"})
