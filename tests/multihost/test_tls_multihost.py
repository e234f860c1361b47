"""The namespace cluster over mutual TLS: every connection between hosts
(driver to head, nodes to head, node to node, driver to a node's store)
is made with certificates naming the hosts' IPs."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.multihost.conftest import Hosts, namespace_cluster, netns_cluster
from tests.multihost.test_multihost import PRELUDE

sys.path.insert(0, str(ROOT / "scripts"))
import make_certs  # noqa: E402


@pytest.fixture(scope="module")
def tls_hosts() -> Iterator[Hosts]:
    yield from namespace_cluster("tls", tls=True)


def test_the_cluster_speaks_tls_only(tls_hosts: Hosts) -> None:
    env = tls_hosts.cluster.env("drv")
    assert env["RAYLITE_TLS_CA"].startswith(str(tls_hosts.cluster.tls_dir))
    plaintext = tls_hosts.cluster.popen(
        "drv",
        "import raylite as ray\nray.init()",
        env={"RAYLITE_TLS_CERT": "", "RAYLITE_TLS_KEY": "", "RAYLITE_TLS_CA": ""},
    )
    _out, err = plaintext.communicate(timeout=60)
    assert plaintext.returncode != 0
    assert "requires TLS" in err.strip().splitlines()[-1], err


def test_walkthrough_from_driver_host_over_tls(tls_hosts: Hosts) -> None:
    result = tls_hosts.script("examples/walkthrough.py")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == "8"
    assert "((6, 'Machine'), (7, 'Learning'))" in lines


def test_objects_move_between_hosts_over_tls(tls_hosts: Hosts) -> None:
    code = (
        PRELUDE
        + """
@ray.remote
def make(n):
    return np.arange(n, dtype=np.int64)

@ray.remote
def total(a):
    return int(a.sum()), ray.get_runtime_context().get_node_id()

n = 1_000_000  # 8 MB: lives in w1's store
ref = make.options(scheduling_strategy=Affinity(W1, soft=False)).remote(n)
s, node = ray.get(total.options(scheduling_strategy=Affinity(W2, soft=False)).remote(ref))  # w1 -> w2
mine = ray.get(ref)  # w1 -> this driver, which has no node of its own
print(s == n * (n - 1) // 2, node == W2, int(mine.sum()) == s)
"""
    )
    result = tls_hosts.python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "True True True"


def test_a_driver_with_a_certificate_from_another_ca_is_refused(tls_hosts: Hosts, tmp_path: Path) -> None:
    cert, key = make_certs.write_cert(tmp_path / "other", "intruder", [netns_cluster.HOST_IPS["drv"]])
    env = {
        "RAYLITE_TLS_CERT": str(cert),
        "RAYLITE_TLS_KEY": str(key),
        "RAYLITE_TLS_CA": str(tls_hosts.cluster.tls_dir / "ca.pem"),
    }
    proc = tls_hosts.cluster.popen("drv", "import raylite as ray\nray.init()", env=env)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    last = err.strip().splitlines()[-1]
    assert last.startswith("ConnectionError:") and "RAYLITE_TLS_CA" in last, last


def test_large_objects_take_the_bulk_port_over_tls(tls_hosts: Hosts) -> None:
    from tests.multihost.test_bulk_multihost import BULK_PRELUDE, MAKE, tickets_issued

    code = (
        PRELUDE
        + BULK_PRELUDE
        + MAKE
        + """
ref = make.options(scheduling_strategy=Affinity(W1, soft=False)).remote(3_000_000)  # 24 MB on w1
(d1, n1), (d2, n2) = ray.get([digest.options(scheduling_strategy=Affinity(h, soft=False)).remote(ref) for h in (W1, W2)])
mine = hashlib.blake2b(memoryview(ray.get(ref)).cast("B")).hexdigest()  # w1 -> this driver, no store here
print("same", d1 == d2 == mine, n1 == W1, n2 == W2)
loc = location(ref)
reply = tickets(loc.node_address, loc.object_id, 2)
hello = [bulk.encode_hello(bulk.Hello(t, loc.object_id, 0, 4096)) for t in reply.tickets]
print("plaintext", len(attempt(loc.node_address, reply.port, hello[0])))
print("tls", len(attempt(loc.node_address, reply.port, hello[1], use_tls=True)))
print("object", ref.hex())
"""
    )
    result = tls_hosts.python(code)
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(" ", 1) for line in result.stdout.strip().splitlines()[-4:])
    assert lines["same"] == "True True True", result.stdout
    assert lines["plaintext"] == "0", result.stdout  # a good ticket, but no TLS: refused
    assert lines["tls"] == "4096", result.stdout
    # w2's pull, the driver's get and the test's own request each asked w1 for tickets
    assert tickets_issued(tls_hosts, "w1", lines["object"]) == 3, result.stdout
