"""docker-compose.yml describes the same cluster as scripts/netns_cluster.py, and
refuses to start without a token of the user's own (tests/docker/ runs it)."""

from __future__ import annotations

import ipaddress
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import netns_cluster  # noqa: E402

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
TLS = yaml.safe_load((ROOT / "docker-compose.tls.yml").read_text())
SERVICES = COMPOSE["services"]
HEAD_BY_NAME = f"head:{netns_cluster.HEAD_PORT}"
NETNS_WORKERS = [h for h in netns_cluster.HOST_CPUS if h != "head"]
needs_compose = pytest.mark.skipif(
    shutil.which("docker-compose") is None, reason="docker-compose is not installed (CI installs it)"
)


def option(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def worker_argv() -> list[str]:
    """The worker's command as the shell in its container runs it (compose turns $$ into $)."""
    shell, dash_c, script = SERVICES["worker"]["command"]
    assert [shell, dash_c] == ["sh", "-c"]
    argv = shlex.split(script.replace("$$", "$"))
    assert argv[0] == "exec"  # raylite is the container's main process and gets its signals
    return argv[1:]


def test_head_runs_the_namespace_head_command_at_its_address() -> None:
    head = SERVICES["head"]
    store = int(option(head["command"], "--object-store-memory"))
    assert head["command"] == netns_cluster.raylite_command("head", object_store_memory=store) + ["--block"]
    assert head["networks"]["raylite"]["ipv4_address"] == netns_cluster.HOST_IPS["head"]


def test_head_by_name_is_the_namespace_head_address() -> None:
    # workers and drivers dial head:6380; compose resolves `head` to the head's fixed address
    ip = SERVICES["head"]["networks"]["raylite"]["ipv4_address"]
    assert HEAD_BY_NAME.replace("head", ip) == netns_cluster.Cluster().head_address


@pytest.mark.parametrize("host", NETNS_WORKERS)
def test_workers_run_the_namespace_worker_command_at_their_own_address(host: str) -> None:
    argv = worker_argv()
    store = int(option(argv, "--object-store-memory"))
    expected = netns_cluster.raylite_command(host, object_store_memory=store) + ["--block"]
    # the same command, but joining the head by name and advertising the container's own address
    expected[expected.index("--address") + 1] = HEAD_BY_NAME
    expected[expected.index("--node-ip-address") + 1] = "$(hostname -i)"
    assert argv == expected


def test_workers_scale_from_the_namespace_count_without_fixed_addresses() -> None:
    worker = SERVICES["worker"]
    assert worker["scale"] == len(NETNS_WORKERS)
    assert worker["networks"] == ["raylite"]  # no ipv4_address: each replica gets its own


def test_driver_reaches_the_head_like_the_namespace_driver() -> None:
    driver = SERVICES["driver"]
    assert driver["networks"]["raylite"]["ipv4_address"] == netns_cluster.HOST_IPS["drv"]
    assert driver["environment"]["RAYLITE_ADDRESS"] == HEAD_BY_NAME
    assert driver["command"] == ["python", "examples/walkthrough.py"]
    assert driver["depends_on"] == {
        "head": {"condition": "service_healthy"},
        "worker": {"condition": "service_healthy"},
    }


def test_workers_get_addresses_that_no_fixed_host_uses() -> None:
    ipam = COMPOSE["networks"]["raylite"]["ipam"]["config"][0]
    subnet = ipaddress.ip_network(ipam["subnet"])
    assert subnet == ipaddress.ip_network(f"{netns_cluster.SUBNET}.0/24")
    workers = ipaddress.ip_network(ipam["ip_range"])
    assert workers.subnet_of(subnet)
    for host in ("head", "drv"):
        assert ipaddress.ip_address(netns_cluster.HOST_IPS[host]) not in workers


def _bytes(size: str) -> int:
    number, unit = re.fullmatch(r"(\d+)\s*([kmg]?)b?", size.lower()).groups()  # type: ignore[union-attr]
    return int(number) * 1024 ** "_kmg".index(unit or "_")


@pytest.mark.parametrize("name", ["head", "worker"])
def test_each_store_fits_in_its_shared_memory(name: str) -> None:
    argv = SERVICES["head"]["command"] if name == "head" else worker_argv()
    store = int(option(argv, "--object-store-memory"))
    assert 0 < store < _bytes(SERVICES[name]["shm_size"])


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_has_a_healthcheck_and_no_default_token(name: str) -> None:
    service = SERVICES[name]
    assert service["healthcheck"]["test"]
    assert service["environment"]["RAYLITE_TOKEN"].startswith("${RAYLITE_TOKEN:?")


def test_nodes_come_back_after_a_failure_but_the_driver_runs_once() -> None:
    assert SERVICES["head"]["restart"] == SERVICES["worker"]["restart"] == "unless-stopped"
    assert "restart" not in SERVICES["driver"]


def test_tls_override_mounts_the_node_files_but_not_the_ca_key() -> None:
    for name in SERVICES:
        tls = TLS["services"][name]
        targets = {Path(v["target"]).name: Path(v["source"]).name for v in tls["volumes"]}
        assert targets == {"node.pem": "node.pem", "node.key": "node.key", "ca.pem": "ca.pem"}
        mounted = {v["target"] for v in tls["volumes"]}
        env = tls["environment"]
        assert {env["RAYLITE_TLS_CERT"], env["RAYLITE_TLS_KEY"], env["RAYLITE_TLS_CA"]} == mounted


def _config(*files: str, token: str | None, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env_file = tmp_path / "empty.env"  # the checkout's own .env (a user's token) must not count
    env_file.write_text("")
    env = {k: v for k, v in os.environ.items() if k != "RAYLITE_TOKEN"}
    if token is not None:
        env["RAYLITE_TOKEN"] = token
    argv = ["docker-compose", "--env-file", str(env_file)] + [a for f in files for a in ("-f", f)] + ["config", "-q"]
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, env=env)


@needs_compose
@pytest.mark.parametrize("files", [["docker-compose.yml"], ["docker-compose.yml", "docker-compose.tls.yml"]])
def test_docker_compose_accepts_the_files(files: list[str], tmp_path: Path) -> None:
    result = _config(*files, token="t0ken", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr


@needs_compose
@pytest.mark.parametrize("token", [None, ""])
def test_docker_compose_refuses_to_run_without_a_token(token: str | None, tmp_path: Path) -> None:
    result = _config("docker-compose.yml", token=token, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "set RAYLITE_TOKEN to a secret of your own" in result.stderr
