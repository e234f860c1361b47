"""docker-compose.yml with docker-compose.tls.yml: the walkthrough over mutual TLS."""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster.test_walkthrough import check_walkthrough_output
from tests.conftest import ROOT
from tests.docker.engine import Compose, Engine

sys.path.insert(0, str(ROOT / "scripts"))
import make_certs  # noqa: E402

pytestmark = [pytest.mark.docker, pytest.mark.timeout(1200)]

FILES = ("docker-compose.yml", "docker-compose.tls.yml")


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # what the override file's comment tells a user to run
    directory = tmp_path_factory.mktemp("certs")
    make_certs.main([str(directory), "--san", "head", "--san", "10.77.0.0/24"])
    return directory


@pytest.fixture(scope="module")
def tls_cluster(engine: Engine, image: str, certs: Path) -> Iterator[Compose]:
    compose = Compose(
        engine,
        project=f"rlt{os.getpid()}tls",
        token=secrets.token_hex(32),
        files=FILES,
        env={"RAYLITE_CERTS": str(certs)},
    )
    try:
        yield compose
    finally:
        compose.down()


def test_walkthrough_over_tls(tls_cluster: Compose) -> None:
    # nothing is up yet: `run` starts the head and two workers, and waits until they are healthy
    result = tls_cluster.compose("run", "--rm", "-T", "driver", timeout=600)
    check_walkthrough_output(result.stdout)
    assert len(tls_cluster.wait_for_nodes(3)) == 3


def test_the_ca_key_stays_out_of_the_containers(tls_cluster: Compose) -> None:
    tls_cluster.wait_for_nodes(3)
    head = tls_cluster.containers("head")[0]
    listing = tls_cluster.engine.docker("exec", head, "ls", "/run/raylite-tls").stdout.split()
    assert sorted(listing) == ["ca.pem", "node.key", "node.pem"]


def test_a_driver_without_tls_is_turned_away(tls_cluster: Compose, engine: Engine) -> None:
    tls_cluster.wait_for_nodes(3)
    # the same project and token, but the plain file: no certificate
    plain = Compose(engine, project=tls_cluster.project, token=tls_cluster.env["RAYLITE_TOKEN"])
    result = plain.compose(
        "run", "--rm", "--no-deps", "-T", "driver", "python", "-c",
        "import raylite as ray; ray.init(address='head:6380'); print('connected')",
        check=False,
    )  # fmt: skip
    assert result.returncode != 0 and "connected" not in result.stdout
    assert "requires TLS" in result.stderr, result.stderr
