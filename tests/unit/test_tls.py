"""TLS settings (raylite/tls.py) and scripts/make_certs.py, without sockets."""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from pathlib import Path

import pytest
from cryptography import x509

from raylite import tls
from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import make_certs  # noqa: E402

ENVS = (tls.CERT_ENV, tls.KEY_ENV, tls.CA_ENV)


@pytest.fixture(scope="module")
def cert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("certs")
    make_certs.write_cert(directory, "node", ["127.0.0.1", "10.77.0.10", "node.example"])
    return directory


def test_no_flags_and_no_environment_mean_no_tls() -> None:
    assert tls.pick(None, None, None, environ={}) is None


def test_flags_win_over_the_environment_and_become_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = {tls.CERT_ENV: "/env/c", tls.KEY_ENV: "/env/k", tls.CA_ENV: "/env/ca"}
    paths = tls.pick("c.pem", "k.pem", "ca.pem", environ=env)
    assert paths == tls.Paths(str(tmp_path / "c.pem"), str(tmp_path / "k.pem"), str(tmp_path / "ca.pem"))
    assert tls.pick(None, None, None, environ=env) == tls.Paths("/env/c", "/env/k", "/env/ca")


@pytest.mark.parametrize(
    "given, says",
    [
        ({"cert": "c"}, "--tls-cert is set but --tls-key and --tls-ca are not"),
        ({"cert": "c", "key": "k"}, "--tls-cert, --tls-key are set but --tls-ca is not"),
        ({"ca": "ca"}, "--tls-ca is set but --tls-cert and --tls-key are not"),
    ],
)
def test_a_partial_set_of_flags_names_what_is_missing(given: dict, says: str) -> None:
    with pytest.raises(tls.TLSConfigError) as info:
        tls.pick(given.get("cert"), given.get("key"), given.get("ca"), environ={})
    assert says in str(info.value)


def test_a_partial_environment_names_what_is_missing() -> None:
    with pytest.raises(tls.TLSConfigError, match=f"{tls.KEY_ENV} and {tls.CA_ENV} are not"):
        tls.from_env({tls.CERT_ENV: "/c"})


def test_load_reads_pem_files_once(cert_dir: Path) -> None:
    paths = tls.Paths(str(cert_dir / "node.pem"), str(cert_dir / "node.key"), str(cert_dir / "ca.pem"))
    material = tls.load(paths)
    assert material.cert == (cert_dir / "node.pem").read_bytes()
    assert material.key == (cert_dir / "node.key").read_bytes()
    assert (
        tls.load(tls.Paths(*(str(p) for p in (cert_dir / "node.pem", cert_dir / "node.key", cert_dir / "ca.pem"))))
        is material
    )


def test_a_missing_file_is_named(cert_dir: Path) -> None:
    missing = cert_dir / "nowhere.key"
    with pytest.raises(tls.TLSConfigError) as info:
        tls.load(tls.Paths(str(cert_dir / "node.pem"), str(missing), str(cert_dir / "ca.pem")))
    assert str(missing) in str(info.value) and tls.KEY_ENV in str(info.value)
    assert "No such file" in str(info.value)


def test_a_file_that_is_not_pem_is_named(cert_dir: Path, tmp_path: Path) -> None:
    junk = tmp_path / "ca.pem"
    junk.write_text("not a certificate")
    with pytest.raises(tls.TLSConfigError) as info:
        tls.load(tls.Paths(str(cert_dir / "node.pem"), str(cert_dir / "node.key"), str(junk)))
    assert str(junk) in str(info.value) and tls.CA_ENV in str(info.value) and "not PEM" in str(info.value)


def _daemon_opts(cert: str | None, key: str | None, ca: str | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    tls.add_flags(parser)
    args = [
        arg
        for flag, value in (("--tls-cert", cert), ("--tls-key", key), ("--tls-ca", ca))
        if value
        for arg in (flag, value)
    ]
    return parser.parse_args(args)


def test_a_daemon_exports_its_files_for_its_executors(cert_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Into the environment it gives its executors, not into its own os.environ."""
    for name in ENVS:
        monkeypatch.setenv(name, "restored after the test")
        monkeypatch.delenv(name)
    opts = _daemon_opts(str(cert_dir / "node.pem"), str(cert_dir / "node.key"), str(cert_dir / "ca.pem"))
    paths = tls.adopt_for_daemon("worker", opts)
    assert paths is not None
    executors_environ: dict[str, str] = {}
    tls.export(paths, executors_environ)
    assert executors_environ[tls.CERT_ENV] == str(cert_dir / "node.pem")
    assert tls.current(executors_environ) == tls.load(
        tls.Paths(str(cert_dir / "node.pem"), str(cert_dir / "node.key"), str(cert_dir / "ca.pem"))
    )
    assert not any(name in os.environ for name in ENVS)
    assert tls.chosen(tls.load(paths)) == tls.current(executors_environ)


def test_a_daemon_with_a_partial_set_exits_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENVS:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SystemExit, match="raylite head: .*--tls-key and --tls-ca are not"):
        tls.adopt_for_daemon("head", _daemon_opts("c.pem", None, None))


def test_a_daemon_without_tls_settings_runs_without_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENVS:
        monkeypatch.delenv(name, raising=False)
    assert tls.adopt_for_daemon("head", _daemon_opts(None, None, None)) is None
    assert tls.current() is None


# What gRPC 1.85 reports as a connection's last error in each case.
CLIENT_REJECTS_SERVER = (
    "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:45293: Tls handshake failed "
    "(TSI_PROTOCOL_FAILURE): SSL_ERROR_SSL: error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED: "
    "unable to get local issuer certificate: OK"
)
WRONG_NAME = (
    "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:43659: Custom verification check "
    "failed with error: UNAUTHENTICATED: Hostname Verification Check failed."
)
CLOSED = "failed to connect to all addresses; last error: UNAVAILABLE: ipv4:127.0.0.1:45293: Socket closed"
REFUSED = "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:1: Failed to connect to remote host: Connection refused"


def test_diagnose_a_certificate_the_client_does_not_trust() -> None:
    why = tls.diagnose(CLIENT_REJECTS_SERVER, using_tls=True)
    assert why is not None
    assert "TLS handshake failed (CERTIFICATE_VERIFY_FAILED: unable to get local issuer certificate)" in why
    assert all(name in why for name in ENVS)


def test_diagnose_a_server_certificate_that_does_not_name_the_address() -> None:
    why = tls.diagnose(WRONG_NAME, using_tls=True)
    assert why is not None and "does not name the address dialed as a subjectAltName" in why


def test_diagnose_a_server_that_closes_the_handshake() -> None:
    with_tls = tls.diagnose(CLOSED, using_tls=True)
    assert with_tls is not None and "refused this process's certificate" in with_tls and tls.CA_ENV in with_tls
    without = tls.diagnose(CLOSED, using_tls=False)
    assert without is not None and "requires TLS" in without and tls.CERT_ENV in without


def test_diagnose_leaves_other_failures_alone() -> None:
    assert tls.diagnose(REFUSED, using_tls=True) is None
    assert tls.diagnose("Deadline Exceeded", using_tls=False) is None
    # a TCP connection that timed out (a link just restored, say) is no TLS failure
    timed_out = "failed to connect to all addresses; last error: UNKNOWN: ipv4:10.77.0.10:6380: tcp handshaker shutdown"
    assert tls.diagnose(timed_out, using_tls=False) is None


def test_make_certs_signs_certificates_naming_ips_and_hosts(cert_dir: Path) -> None:
    ca = x509.load_pem_x509_certificate((cert_dir / "ca.pem").read_bytes())
    cert = x509.load_pem_x509_certificate((cert_dir / "node.pem").read_bytes())
    cert.verify_directly_issued_by(ca)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("10.77.0.10"),
    ]
    assert sans.get_values_for_type(x509.DNSName) == ["node.example"]
    assert (cert_dir / "node.key").stat().st_mode & 0o777 == 0o600
    assert (cert_dir / "ca.key").stat().st_mode & 0o777 == 0o600


def test_make_certs_reuses_the_authority_of_a_directory(cert_dir: Path) -> None:
    before = (cert_dir / "ca.pem").read_bytes()
    make_certs.write_cert(cert_dir, "second", ["127.0.0.1"])
    assert (cert_dir / "ca.pem").read_bytes() == before
    ca = x509.load_pem_x509_certificate(before)
    x509.load_pem_x509_certificate((cert_dir / "second.pem").read_bytes()).verify_directly_issued_by(ca)


def test_make_certs_names_every_address_of_a_network(cert_dir: Path) -> None:
    # docker-compose.tls.yml: scaled workers get addresses nobody knows in advance
    make_certs.write_cert(cert_dir, "compose", ["head", "10.77.0.0/24"])
    cert = x509.load_pem_x509_certificate((cert_dir / "compose.pem").read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    addresses = sans.get_values_for_type(x509.IPAddress)
    assert addresses[0] == ipaddress.ip_address("10.77.0.1") and addresses[-1] == ipaddress.ip_address("10.77.0.254")
    assert len(addresses) == 254
    assert sans.get_values_for_type(x509.DNSName) == ["head"]


def test_make_certs_refuses_a_network_too_large_to_list(cert_dir: Path) -> None:
    ca_cert, ca_key = (cert_dir / "ca.pem").read_bytes(), (cert_dir / "ca.key").read_bytes()
    with pytest.raises(ValueError, match="at most 4096"):
        make_certs.make_cert(ca_cert, ca_key, "wide", ["10.0.0.0/16"])


def test_make_certs_refuses_a_certificate_naming_nothing(cert_dir: Path) -> None:
    ca_cert, ca_key = (cert_dir / "ca.pem").read_bytes(), (cert_dir / "ca.key").read_bytes()
    with pytest.raises(ValueError, match="subjectAltName"):
        make_certs.make_cert(ca_cert, ca_key, "nameless", [])
