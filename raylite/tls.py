"""Optional mutual TLS: which certificate files a process uses, and what a
failed handshake means.

TLS is on for a process when RAYLITE_TLS_CERT, RAYLITE_TLS_KEY and
RAYLITE_TLS_CA name PEM files: its certificate, that certificate's key, and the
authority (CA) that signed the certificates of every member of the cluster.
Daemons take the same three as --tls-cert/--tls-key/--tls-ca and pass them
on explicitly: to their own channels and ports, and in the environment of
the executors they start (their own os.environ stays as it was). With TLS on,
servers accept only clients presenting a certificate signed by the CA, and
clients accept only servers whose certificate the CA signed and which names
the address dialed (an IP or hostname) as a subjectAltName. The cluster token
is checked on top (raylite/auth.py).

raylite/auth.py is the only user of this module's credentials: it opens every
channel and every listening port.
"""

from __future__ import annotations

import argparse
import enum
import functools
import os
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # (loaded where credentials are made: an executor reads its TLS paths at start without grpc)
    import grpc

CERT_ENV = "RAYLITE_TLS_CERT"
KEY_ENV = "RAYLITE_TLS_KEY"
CA_ENV = "RAYLITE_TLS_CA"

ADVICE = (
    f"check {CA_ENV} (the cluster's CA certificate), {CERT_ENV} and {KEY_ENV} (a certificate that CA "
    "signed, and its key), and that the server's certificate names the address dialed as a subjectAltName"
)


class TLSConfigError(ValueError):
    """The TLS settings are incomplete, or a file they name cannot be used."""


@dataclass(frozen=True)
class Paths:
    cert: str
    key: str
    ca: str


@dataclass(frozen=True)
class Material:
    """The bytes of the three files, read once per process."""

    cert: bytes
    key: bytes
    ca: bytes


class _FromEnvironment(enum.Enum):
    FROM_ENV = "this process's environment"


# Where a channel or port takes its TLS material: given (None: TLS off), or
# FROM_ENV, as clients and executors do; daemons give theirs explicitly.
FROM_ENV = _FromEnvironment.FROM_ENV
Choice = Material | None | Literal[_FromEnvironment.FROM_ENV]


def chosen(choice: Choice) -> Material | None:
    return current() if isinstance(choice, _FromEnvironment) else choice


def pick(cert: str | None, key: str | None, ca: str | None, environ: Mapping[str, str] = os.environ) -> Paths | None:
    """The files a daemon uses: its --tls-* flags if any is given, else the
    RAYLITE_TLS_* environment; None when neither asks for TLS."""
    if cert or key or ca:
        return _complete({"--tls-cert": cert, "--tls-key": key, "--tls-ca": ca})
    return from_env(environ)


def from_env(environ: Mapping[str, str] = os.environ) -> Paths | None:
    return _complete({CERT_ENV: environ.get(CERT_ENV), KEY_ENV: environ.get(KEY_ENV), CA_ENV: environ.get(CA_ENV)})


def _complete(named: dict[str, str | None]) -> Paths | None:
    given = [name for name, value in named.items() if value]
    if not given:
        return None
    missing = [name for name, value in named.items() if not value]
    if missing:
        raise TLSConfigError(
            f"TLS needs a certificate, its key and the cluster's CA certificate together: "
            f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} set but {' and '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not"
        )
    cert, key, ca = (os.path.abspath(str(v)) for v in named.values())
    return Paths(cert, key, ca)


def export(paths: Paths | None, environ: MutableMapping[str, str]) -> None:
    """Puts the files in an environment, where the channels of a process
    started with it find them."""
    if paths is None:
        for name in (CERT_ENV, KEY_ENV, CA_ENV):
            environ.pop(name, None)
        return
    environ[CERT_ENV], environ[KEY_ENV], environ[CA_ENV] = paths.cert, paths.key, paths.ca


@functools.lru_cache(maxsize=4)
def load(paths: Paths) -> Material:
    """Reads the three files (once per process for the same paths) and checks they hold PEM."""
    return Material(
        cert=_read(paths.cert, f"certificate ({CERT_ENV} / --tls-cert)", b"-----BEGIN CERTIFICATE-----"),
        key=_read(paths.key, f"private key ({KEY_ENV} / --tls-key)", b"PRIVATE KEY-----"),
        ca=_read(paths.ca, f"CA certificate ({CA_ENV} / --tls-ca)", b"-----BEGIN CERTIFICATE-----"),
    )


def _read(path: str, what: str, marker: bytes) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise TLSConfigError(f"cannot read the TLS {what} {path}: {exc.strerror}") from None
    if marker not in data:
        raise TLSConfigError(f"the TLS {what} {path} is not PEM: it lacks {marker.decode()!r}")
    return data


def add_flags(parser: argparse.ArgumentParser) -> None:
    """--tls-cert/--tls-key/--tls-ca, the same for the CLI and both daemons."""
    parser.add_argument(
        "--tls-cert",
        default=None,
        help=f"this node's certificate, PEM (with --tls-key and --tls-ca; default: ${CERT_ENV})",
    )
    parser.add_argument("--tls-key", default=None, help=f"the certificate's private key, PEM (default: ${KEY_ENV})")
    parser.add_argument(
        "--tls-ca",
        default=None,
        help=f"the CA certificate that signed every node's and client's, PEM (default: ${CA_ENV})",
    )


def adopt_for_daemon(role: str, opts: argparse.Namespace) -> Paths | None:
    """Takes a daemon's TLS files from its flags or environment and checks they
    can be read; None when TLS is off. The daemon hands them on itself (`load`
    for its channels and port, `export` for its executors' environment)."""
    try:
        paths = pick(opts.tls_cert, opts.tls_key, opts.tls_ca)
        if paths is not None:
            load(paths)
    except TLSConfigError as exc:
        raise SystemExit(f"raylite {role}: {exc}") from None
    return paths


def current(environ: Mapping[str, str] = os.environ) -> Material | None:
    """This process's TLS material, from the environment; None when TLS is off."""
    paths = from_env(environ)
    return load(paths) if paths is not None else None


def server_credentials(material: Material) -> grpc.ServerCredentials:
    """Serves with our certificate and demands one the cluster's CA signed from every client."""
    import grpc

    return grpc.ssl_server_credentials(
        [(material.key, material.cert)], root_certificates=material.ca, require_client_auth=True
    )


def channel_credentials(material: Material) -> grpc.ChannelCredentials:
    import grpc

    return grpc.ssl_channel_credentials(
        root_certificates=material.ca, private_key=material.key, certificate_chain=material.cert
    )


_OPENSSL_REASON = re.compile(r"OPENSSL_internal:([A-Z0-9_]+)(?::\s*([^:]+))?")


def diagnose(detail: str, using_tls: bool) -> str | None:
    """Says what a connection failure means, if its text (gRPC's "last error")
    points at TLS; None otherwise."""
    lowered = detail.lower()
    if "hostname verification" in lowered:
        return (
            "the TLS handshake failed: the server's certificate does not name the address dialed as a "
            "subjectAltName; each node's certificate must name its IP or hostname (scripts/make_certs.py --san)"
        )
    # not "handshake" alone: gRPC's "tcp handshaker shutdown" is a TCP connection that timed out
    if "tls handshake" in lowered or "ssl" in lowered or "tsi_" in lowered or "certificate" in lowered:
        match = _OPENSSL_REASON.search(detail)
        reason = (match.group(1) + (f": {match.group(2).strip()}" if match.group(2) else "")) if match else detail
        return f"the TLS handshake failed ({reason}); {ADVICE}"
    if "socket closed" in lowered:  # accepted, then closed before any answer: the usual refusal of a handshake
        if using_tls:
            return (
                "the server closed the connection during the TLS handshake: it refused this process's "
                f"certificate (signed by another CA?) or does not use TLS; {ADVICE}"
            )
        return (
            "the server closed the connection before answering: it probably requires TLS; "
            f"set {CERT_ENV}, {KEY_ENV} and {CA_ENV}"
        )
    return None
