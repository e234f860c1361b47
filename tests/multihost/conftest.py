"""The namespace cluster of scripts/netns_cluster.py, for the whole session."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import netns_cluster  # noqa: E402


class Hosts:
    """Runs driver programs on the cluster's hosts."""

    def __init__(self, cluster: netns_cluster.Cluster) -> None:
        self.cluster = cluster

    def python(self, code: str, host: str = "drv", timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return self.cluster.run(host, [sys.executable, "-c", code], capture_output=True, timeout=timeout, cwd=ROOT)

    def script(self, path: str, host: str = "drv", timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return self.cluster.run(host, [sys.executable, path], capture_output=True, timeout=timeout, cwd=ROOT)


def namespace_cluster(suffix: str = "", **up: object) -> Iterator[Hosts]:
    """Builds a namespace cluster, yields its hosts, and checks it is gone afterwards."""
    reason = netns_cluster.namespaces_available()
    if reason:
        pytest.skip(f"multi-host tests need network namespaces: {reason}")
    # a prefix of our own: two test runs on one machine do not share namespaces
    cluster = netns_cluster.Cluster(prefix=f"rlt{os.getpid()}{suffix}")
    cluster.up(**up)
    try:
        yield Hosts(cluster)
    finally:
        cluster.down()
    leftover = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert f"{cluster.prefix}-" not in leftover, f"namespaces left behind: {leftover}"


@pytest.fixture(scope="session")
def hosts() -> Iterator[Hosts]:
    yield from namespace_cluster()
