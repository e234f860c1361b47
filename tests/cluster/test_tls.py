"""Mutual TLS: a cluster started with `raylite start --tls-*` serves only
clients presenting a certificate its CA signed, and the token on top.

The test makes its own CA with a node and a driver certificate, and an
unrelated CA with a certificate of its own (the intruder's).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import psutil
import pytest

from raylite import auth, config, tls
from raylite.rpc import head_pb2, head_pb2_grpc, worker_pb2, worker_pb2_grpc
from tests.cluster.test_cli import cli, free_port, recorded_pids
from tests.conftest import ROOT, run_python

sys.path.insert(0, str(ROOT / "scripts"))
import make_certs  # noqa: E402

TLS_ENVS = (tls.CERT_ENV, tls.KEY_ENV, tls.CA_ENV)


@dataclass(frozen=True)
class Identity:
    """A certificate, its key, and the CA its holder trusts."""

    cert: Path
    key: Path
    ca: Path

    def flags(self) -> list[str]:
        return ["--tls-cert", str(self.cert), "--tls-key", str(self.key), "--tls-ca", str(self.ca)]

    def env(self) -> dict[str, str]:
        return {tls.CERT_ENV: str(self.cert), tls.KEY_ENV: str(self.key), tls.CA_ENV: str(self.ca)}

    def credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(self.ca.read_bytes(), self.key.read_bytes(), self.cert.read_bytes())


@dataclass(frozen=True)
class Certs:
    node: Identity
    driver: Identity
    named_elsewhere: Identity  # the cluster's CA, but naming another address than the node's
    intruder_trusting_cluster_ca: Identity  # another CA's certificate, presented to a server it trusts
    intruder: Identity  # another CA's certificate, trusting only that CA


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    root = tmp_path_factory.mktemp("certs")
    ours, theirs = root / "cluster", root / "other"
    node = make_certs.write_cert(ours, "node", ["127.0.0.1"])
    driver = make_certs.write_cert(ours, "driver", ["127.0.0.1"])
    elsewhere = make_certs.write_cert(ours, "elsewhere", ["10.9.9.9"])
    intruder = make_certs.write_cert(theirs, "intruder", ["127.0.0.1"])
    return Certs(
        node=Identity(*node, ours / "ca.pem"),
        driver=Identity(*driver, ours / "ca.pem"),
        named_elsewhere=Identity(*elsewhere, ours / "ca.pem"),
        intruder_trusting_cluster_ca=Identity(*intruder, ours / "ca.pem"),
        intruder=Identity(*intruder, theirs / "ca.pem"),
    )


@dataclass
class TlsCluster:
    address: str
    token: str
    runtime: Path
    processes: list[psutil.Process]


@pytest.fixture(scope="module")
def tls_cluster(certs: Certs, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsCluster]:
    """A head (with its node) and a second node, started by `raylite start` with --tls-* flags."""
    runtime = tmp_path_factory.mktemp("rt")
    shm = Path("/dev/shm") / f"raylite-test-{os.getpid()}-tls"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAYLITE_TMPDIR", str(runtime))
        mp.setenv("RAYLITE_SHM_DIR", str(shm))
        for name in TLS_ENVS:  # only the flags configure the daemons; the test process itself has no TLS
            mp.delenv(name, raising=False)
        shm.mkdir(parents=True, exist_ok=True)
        port = free_port()
        node_flags = ["--host", "127.0.0.1", "--node-ip-address", "127.0.0.1", "--num-cpus", "2"]
        procs: list[psutil.Process] = []
        try:
            head = cli("start", "--head", "--port", str(port), *node_flags, *certs.node.flags())
            assert head.returncode == 0, head.stderr
            assert "TLS is on" in head.stdout
            joined = cli("start", "--address", f"127.0.0.1:{port}", *node_flags, *certs.node.flags())
            assert joined.returncode == 0, joined.stderr
            procs = [psutil.Process(pid) for pid in recorded_pids(runtime)]
            assert len(procs) == 3
            procs += [c for p in procs for c in p.children(recursive=True)]
            yield TlsCluster(f"127.0.0.1:{port}", (runtime / "token").read_text(), runtime, procs)
        finally:
            stop = cli("stop")
            shutil.rmtree(shm, ignore_errors=True)
        assert stop.returncode == 0, stop.stderr
        assert "stopped 3 daemon(s)" in stop.stdout
        _gone, alive = psutil.wait_procs(procs, timeout=10)
        assert not alive, f"left running after stop: {[p.pid for p in alive]}"


# ---- one cheap call per service, over a channel the test makes itself -------


async def _head_call(channel: grpc.aio.Channel, metadata: list) -> object:
    stub = head_pb2_grpc.HeadServiceStub(channel)
    return await stub.GetClusterState(
        head_pb2.ClusterStateRequest(protocol_version=config.PROTOCOL_VERSION), metadata=metadata, timeout=10
    )


async def _worker_call(channel: grpc.aio.Channel, metadata: list) -> object:
    stub = worker_pb2_grpc.WorkerServiceStub(channel)
    async for chunk in stub.FetchObject(
        worker_pb2.FetchObjectRequest(object_id=b"x" * 20), metadata=metadata, timeout=10
    ):
        return chunk


CALLS = {"HeadService": _head_call, "WorkerService": _worker_call}
# What a served call answers: the head its state, a node "not found" for an object it lacks.
SERVED = {"HeadService": None, "WorkerService": grpc.StatusCode.NOT_FOUND}


def call(address: str, service: str, credentials: grpc.ChannelCredentials | None, token: str | None):
    """(status code or None, details) of one call; no credentials: plaintext."""

    async def go():
        if credentials is None:
            channel = grpc.aio.insecure_channel(address)
        else:
            channel = grpc.aio.secure_channel(address, credentials)
        metadata = [(auth.METADATA_KEY, token)] if token else []
        async with channel:
            try:
                await CALLS[service](channel, metadata)
            except grpc.aio.AioRpcError as exc:
                return exc.code(), exc.details()
        return None, ""

    return asyncio.run(go())


def addresses(cluster: TlsCluster, certs: Certs, service: str) -> list[str]:
    if service == "HeadService":
        return [cluster.address]

    async def nodes():
        async with grpc.aio.secure_channel(cluster.address, certs.driver.credentials()) as channel:
            stub = head_pb2_grpc.HeadServiceStub(channel)
            reply = await stub.GetClusterState(
                head_pb2.ClusterStateRequest(protocol_version=config.PROTOCOL_VERSION),
                metadata=[(auth.METADATA_KEY, cluster.token)],
            )
            return [n.address for n in reply.nodes if n.alive]

    found = asyncio.run(nodes())
    assert len(found) == 2, found
    return found


def test_the_walkthrough_runs_over_tls(tls_cluster: TlsCluster, certs: Certs) -> None:
    env = {**os.environ, "RAYLITE_ADDRESS": tls_cluster.address, **certs.driver.env()}
    result = subprocess.run(
        [sys.executable, "examples/walkthrough.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == "8"
    assert lines[-2] == str(
        [
            (i, w)
            for i, w in enumerate(
                ["Learning", "Ray", "Flexible", "Distributed", "Python", "for", "Machine", "Learning"]
            )
        ]
    )
    status = run_python("import sys\nfrom raylite.cli import main\nsys.exit(main(['status']))", env=certs.driver.env())
    assert status.returncode == 0, status.stderr
    assert "Alive: 2" in status.stdout


CLIENTS = {
    "plaintext": lambda certs: None,
    "TLS without a client certificate": lambda certs: grpc.ssl_channel_credentials(certs.node.ca.read_bytes()),
    "a certificate from another CA": lambda certs: certs.intruder_trusting_cluster_ca.credentials(),
}


@pytest.mark.parametrize("client", sorted(CLIENTS))
@pytest.mark.parametrize("service", sorted(CALLS))
def test_services_refuse_clients_without_a_cluster_certificate(
    tls_cluster: TlsCluster, certs: Certs, service: str, client: str
) -> None:
    for address in addresses(tls_cluster, certs, service):
        # the right token does not make up for the missing certificate
        code, details = call(address, service, CLIENTS[client](certs), tls_cluster.token)
        assert code == grpc.StatusCode.UNAVAILABLE, (address, code, details)
        # and the daemon still serves a client that has one
        code, details = call(address, service, certs.driver.credentials(), tls_cluster.token)
        assert code == SERVED[service], (address, code, details)


@pytest.mark.parametrize("token", [None, "wrong-token"], ids=["no token", "wrong token"])
@pytest.mark.parametrize("service", sorted(CALLS))
def test_the_token_is_still_needed_over_tls(
    tls_cluster: TlsCluster, certs: Certs, service: str, token: str | None
) -> None:
    for address in addresses(tls_cluster, certs, service):
        code, details = call(address, service, certs.driver.credentials(), token)
        assert code == grpc.StatusCode.UNAUTHENTICATED, (address, code, details)
        assert "RAYLITE_TOKEN" in details


@pytest.mark.parametrize(
    "identity, says",
    [
        ("intruder_trusting_cluster_ca", "refused this process's certificate"),
        ("intruder", "TLS handshake failed (CERTIFICATE_VERIFY_FAILED"),
    ],
    ids=["the cluster refuses it", "it refuses the cluster"],
)
def test_a_driver_with_a_certificate_from_another_ca_gets_a_clear_error(
    tls_cluster: TlsCluster, certs: Certs, identity: str, says: str
) -> None:
    code = f"import raylite as ray\nray.init(address={tls_cluster.address!r})"
    result = run_python(code, env=getattr(certs, identity).env())
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"ConnectionError: could not connect to the raylite head at {tls_cluster.address}"), last
    assert says in last and all(name in last for name in TLS_ENVS), last


def test_a_plaintext_driver_is_told_the_cluster_needs_tls(tls_cluster: TlsCluster) -> None:
    result = run_python(f"import raylite as ray\nray.init(address={tls_cluster.address!r})")
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ConnectionError:") and "requires TLS" in last and tls.CA_ENV in last, last


def test_a_node_with_a_certificate_from_another_ca_cannot_join(tls_cluster: TlsCluster, certs: Certs) -> None:
    flags = ["--host", "127.0.0.1", "--node-ip-address", "127.0.0.1", "--num-cpus", "1"]
    result = cli("start", "--address", tls_cluster.address, *flags, *certs.intruder_trusting_cluster_ca.flags())
    assert result.returncode == 1
    assert "refused this process's certificate" in result.stderr, result.stderr
    assert len(recorded_pids(tls_cluster.runtime)) == 3  # nothing new recorded, nothing left running


def test_a_node_certificate_not_naming_its_address_is_reported(isolated_runtime, certs: Certs) -> None:
    # init() with no address starts its own head and node on 127.0.0.1, with the environment's certificate
    result = run_python("import raylite as ray\nray.init(num_cpus=1)", env=certs.named_elsewhere.env())
    assert result.returncode != 0
    assert "does not name the address dialed as a subjectAltName" in result.stderr, result.stderr[-2000:]


@pytest.mark.parametrize(
    "flags, says",
    [
        (["--tls-cert", "c.pem"], "--tls-cert is set but --tls-key and --tls-ca are not"),
        (["--tls-key", "k.pem", "--tls-ca", "ca.pem"], "--tls-key, --tls-ca are set but --tls-cert is not"),
    ],
)
def test_start_with_part_of_the_tls_flags_says_what_is_missing(isolated_runtime, flags, says) -> None:
    result = cli("start", "--head", "--port", str(free_port()), "--host", "127.0.0.1", *flags)
    assert result.returncode == 2
    assert says in result.stderr
    assert not recorded_pids(isolated_runtime)


def test_start_with_a_missing_certificate_file_names_it(isolated_runtime, certs: Certs, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.pem"
    flags = ["--tls-cert", str(missing), "--tls-key", str(certs.node.key), "--tls-ca", str(certs.node.ca)]
    result = cli("start", "--head", "--port", str(free_port()), "--host", "127.0.0.1", *flags)
    assert result.returncode == 2
    assert str(missing) in result.stderr and "No such file" in result.stderr
    assert not recorded_pids(isolated_runtime)
