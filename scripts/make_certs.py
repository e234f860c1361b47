"""Makes a certificate authority and certificates signed by it, for raylite's TLS.

    python scripts/make_certs.py DIR --san 127.0.0.1 --san 10.0.0.5 [--san 10.0.1.0/24] [--name node]

writes DIR/ca.pem and DIR/ca.key (the authority; made once, reused by later
runs on the same DIR) and DIR/NAME.pem and DIR/NAME.key (a certificate for
NAME with the given subjectAltNames, signed by the authority). Keys are
written readable only by their owner.

A node's certificate must name the address others reach it at (its IP, or
the hostname in its address) as a subjectAltName: clients check it. One
certificate may name several nodes. A network (`--san 10.77.0.0/24`) names
every address in it, for nodes whose addresses are handed out when they start
(containers of a scaled docker-compose service); a subjectAltName cannot hold
a range, so each address is listed (at most MAX_NETWORK_ADDRESSES). Every certificate here is good both for
serving and for identifying a client, since daemons are both.

The functions are used by the tests (tests/cluster/test_tls.py). Needs the
`cryptography` package.
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import os
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALID_DAYS = 365
# a /20: each address adds 6 bytes to the certificate, which every handshake carries
MAX_NETWORK_ADDRESSES = 4096


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))  # clocks of a cluster differ a little
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
    )


def make_ca(common_name: str = "raylite cluster CA") -> tuple[bytes, bytes]:
    """A self-signed authority: (certificate PEM, key PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        _builder(_name(common_name), _name(common_name), key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def _san(entry: str) -> list[x509.GeneralName]:
    """The subjectAltNames an entry stands for: an IP, every host address of a network, or a hostname."""
    if "/" in entry:
        network = ipaddress.ip_network(entry, strict=False)
        if network.num_addresses > MAX_NETWORK_ADDRESSES:
            raise ValueError(
                f"{entry} has {network.num_addresses} addresses; a certificate lists each one, "
                f"so name a network of at most {MAX_NETWORK_ADDRESSES}"
            )
        return [x509.IPAddress(address) for address in network.hosts()]
    try:
        return [x509.IPAddress(ipaddress.ip_address(entry))]
    except ValueError:
        return [x509.DNSName(entry)]


def make_cert(ca_cert_pem: bytes, ca_key_pem: bytes, common_name: str, sans: list[str]) -> tuple[bytes, bytes]:
    """A certificate for serving and for client authentication, signed by the
    authority, naming `sans` (IP addresses, networks or hostnames): (certificate PEM, key PEM)."""
    if not sans:
        raise ValueError("a certificate needs at least one subjectAltName (the IP or hostname clients dial)")
    ca_cert = x509.load_pem_x509_certificate(ca_cert_pem)
    ca_key = serialization.load_pem_private_key(ca_key_pem, password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        _builder(_name(common_name), ca_cert.subject, key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([name for s in sans for name in _san(s)]), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def _write(path: Path, data: bytes, private: bool) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def write_ca(directory: Path) -> tuple[Path, Path]:
    """Makes DIR/ca.pem and DIR/ca.key unless they exist; returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "ca.pem", directory / "ca.key"
    if not (cert_path.exists() and key_path.exists()):
        cert, key = make_ca()
        _write(key_path, key, private=True)
        _write(cert_path, cert, private=False)
    return cert_path, key_path


def write_cert(directory: Path, name: str, sans: list[str]) -> tuple[Path, Path]:
    """Makes DIR/NAME.pem and DIR/NAME.key signed by DIR's authority (made if missing)."""
    ca_cert_path, ca_key_path = write_ca(directory)
    cert, key = make_cert(ca_cert_path.read_bytes(), ca_key_path.read_bytes(), name, sans)
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
    _write(key_path, key, private=True)
    _write(cert_path, cert, private=False)
    return cert_path, key_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path, help="where the files go (the authority is reused if there)")
    parser.add_argument("--name", default="node", help="file name and common name of the certificate (default: node)")
    parser.add_argument(
        "--san",
        action="append",
        default=[],
        help="an IP address, a network (every address in it) or a hostname the certificate names (repeat)",
    )
    opts = parser.parse_args(argv)
    if not opts.san:
        parser.error("give at least one --san: the IP or hostname others reach the node at (e.g. --san 127.0.0.1)")
    ca_cert, _ = write_ca(opts.directory)
    try:
        cert, key = write_cert(opts.directory, opts.name, opts.san)
    except ValueError as exc:  # a network too large, or one that does not parse
        parser.error(str(exc))
    print(f"authority:   {ca_cert} (its key {opts.directory / 'ca.key'} signs certificates; keep it safe)")
    print(f"certificate: {cert} for {', '.join(opts.san)}")
    print(f"key:         {key}")
    print(f"use: --tls-cert {cert} --tls-key {key} --tls-ca {ca_cert}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
