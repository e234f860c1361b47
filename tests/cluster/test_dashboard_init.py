"""Where init() and `raylite start --head` put the dashboard, and what they say when they cannot."""

from __future__ import annotations

import socket

from tests.cluster.state_cluster import state_cluster
from tests.conftest import run_python


def test_init_prints_the_dashboard_and_serves_it() -> None:
    result = run_python(
        """
import json, urllib.request, raylite as ray
ctx = ray.init(num_cpus=1)
print("URL", ctx.dashboard_url, ctx.address_info["webui_url"])
status = json.loads(urllib.request.urlopen("http://" + ctx.dashboard_url + "/api/status", timeout=30).read())
print("NODES", len(status["result"]["nodes"]))
ray.shutdown()
"""
    )
    assert result.returncode == 0, result.stderr
    url = result.stdout.split("URL ", 1)[1].split()[0]
    assert url.startswith("127.0.0.1:")
    assert f"view the dashboard at http://{url}" in result.stderr
    assert "NODES 1" in result.stdout


def test_init_without_dashboard_and_with_a_taken_port() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = run_python(
            f"""
import raylite as ray
ctx = ray.init(num_cpus=1, dashboard_port={port})
print("URL", repr(ctx.dashboard_url))
assert ray.get(ray.put(1)) == 1
ray.shutdown()
ctx = ray.init(num_cpus=1, include_dashboard=False)
print("OFF", repr(ctx.dashboard_url))
ray.shutdown()
"""
        )
    assert result.returncode == 0, result.stderr
    assert "URL ''" in result.stdout and "OFF ''" in result.stdout
    assert f"no dashboard: port {port} on 127.0.0.1 is in use" in result.stderr
    assert "view the dashboard" not in result.stderr


def test_raylite_start_reports_a_taken_dashboard_port_and_runs_without_it(tmp_path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with state_cluster(tmp_path, [], head_cpus=1, dashboard_port=port) as cluster:
            assert f"No dashboard: port {port} on 127.0.0.1 is in use" in cluster.head_stdout  # type: ignore[attr-defined]
            status = cluster.cli("status")
            assert status.returncode == 0, status.stderr
            assert "Alive: 1" in status.stdout and "Dashboard:" not in status.stdout
