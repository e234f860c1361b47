"""docker-compose.yml describes the same cluster as scripts/netns_cluster.py."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
import yaml

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import netns_cluster  # noqa: E402

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.mark.parametrize("host", ["head", "w1", "w2"])
def test_nodes_run_the_same_commands_at_the_same_addresses(host: str) -> None:
    service = COMPOSE["services"][host]
    assert service["command"] == netns_cluster.raylite_command(host) + ["--block"]
    assert service["networks"]["raylite"]["ipv4_address"] == netns_cluster.HOST_IPS[host]


def test_driver_reaches_the_head_like_the_namespace_driver() -> None:
    driver = COMPOSE["services"]["driver"]
    assert driver["networks"]["raylite"]["ipv4_address"] == netns_cluster.HOST_IPS["drv"]
    assert driver["environment"]["RAYLITE_ADDRESS"] == netns_cluster.Cluster().head_address
    assert driver["command"] == ["python", "examples/walkthrough.py"]


def test_subnet_and_shared_memory() -> None:
    subnet = COMPOSE["networks"]["raylite"]["ipam"]["config"][0]["subnet"]
    assert subnet == f"{netns_cluster.SUBNET}.0/24"
    for name in ("head", "w1", "w2"):
        assert COMPOSE["services"][name]["shm_size"]
        assert "RAYLITE_TOKEN" in COMPOSE["services"][name]["environment"]


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose is not installed (CI installs it)")
def test_docker_compose_accepts_the_file() -> None:
    result = subprocess.run(["docker-compose", "config", "-q"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
