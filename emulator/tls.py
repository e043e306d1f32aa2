"""A local certificate authority for ``gateway dev --tls``: https:// and wss:// on loopback.

Browsers and Amplify JS speak TLS to anything that is not plain localhost http (Amplify
opens wss:// for every real-time host), so front-end work needs certificates a machine
trusts. The first ``--tls`` start creates an authority in the state directory
(``tls/ca.pem``, its key 0600) and a server certificate it signs for ``localhost``,
``127.0.0.1`` and ``::1``; later starts reuse both, so a browser or ``NODE_EXTRA_CA_CERTS``
told once keeps trusting them. The server certificate is issued again under the same
authority when it nears its end, or when it no longer covers the hosts asked for.

The authority can vouch for loopback names only (X.509 name constraints, marked
critical): should its key leak, it still cannot impersonate any other site to a machine
that trusts it.
"""

from __future__ import annotations

import datetime
import ipaddress
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from emulator.private_files import private_dir, write_private

FOLDER = "tls"
AUTHORITY_FILE = "ca.pem"
AUTHORITY_KEY_FILE = "ca-key.pem"
SERVER_FILE = "server.pem"
SERVER_KEY_FILE = "server-key.pem"
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
AUTHORITY_DAYS = 3650
# Apple's limit for TLS server certificates; browsers accept no longer.
SERVER_DAYS = 397
# A server certificate with less left than this is issued again at start-up.
RENEW_BEFORE_DAYS = 30
# What the authority may vouch for, whatever it signs.
PERMITTED = (
    x509.DNSName("localhost"),
    x509.IPAddress(ipaddress.ip_network("127.0.0.0/8")),
    x509.IPAddress(ipaddress.ip_network("::1/128")),
)


class TlsStateCorrupt(Exception):
    """The authority in the state directory cannot be read; it is never replaced silently,
    because every client told to trust it would stop trusting the new one."""


@dataclass(frozen=True)
class TlsFiles:
    """Where the authority and the server's certificate and key are."""

    authority: Path
    certificate: Path
    key: Path


def ensure_certificates(
    state_dir: Path,
    hosts: Sequence[str] = LOOPBACK_HOSTS,
    clock: Callable[[], float] = time.time,
) -> TlsFiles:
    """The authority and a server certificate for ``hosts``, created on first use.

    Raises
    ------
    TlsStateCorrupt
        The authority's certificate or key is there but unreadable, or they do not match.
    ValueError
        A host the authority may not vouch for (not loopback).
    """
    folder = private_dir(state_dir / FOLDER)
    now = datetime.datetime.fromtimestamp(clock(), datetime.UTC)
    names = [_general_name(host) for host in hosts]
    authority, authority_key = _authority(folder, now)
    files = TlsFiles(folder / AUTHORITY_FILE, folder / SERVER_FILE, folder / SERVER_KEY_FILE)
    if not _server_still_good(files, authority, names, now):
        _issue_server(files, authority, authority_key, names, now)
    return files


def trust_instructions(files: TlsFiles) -> list[str]:
    """How to make each kind of client trust the authority, one line each."""
    ca = files.authority
    return [
        f"Node (Amplify, Apollo, graphql-ws): NODE_EXTRA_CA_CERTS={ca}",
        f"Python (boto3, requests, httpx): AWS_CA_BUNDLE={ca} SSL_CERT_FILE={ca}",
        f"Debian/Ubuntu: sudo cp {ca} /usr/local/share/ca-certificates/gateway-dev.crt"
        " && sudo update-ca-certificates",
        f"Chrome/Firefox on Linux: certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n gateway-dev"
        f" -i {ca}",
        f"macOS: sudo security add-trusted-cert -d -r trustRoot"
        f" -k /Library/Keychains/System.keychain {ca}",
    ]


def _general_name(host: str) -> x509.GeneralName:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if host != "localhost":
            raise ValueError(f"{host!r}: the local authority vouches for loopback only") from None
        return x509.DNSName(host)
    if not address.is_loopback:
        raise ValueError(f"{host!r}: the local authority vouches for loopback only")
    return x509.IPAddress(address)


def _authority(
    folder: Path, now: datetime.datetime
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    certificate_path, key_path = folder / AUTHORITY_FILE, folder / AUTHORITY_KEY_FILE
    if certificate_path.exists() or key_path.exists():
        return _load_authority(certificate_path, key_path)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "gateway dev"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"gateway dev local authority {now:%Y-%m-%d}"),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=AUTHORITY_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(signs=True), critical=True)
        .add_extension(x509.NameConstraints(list(PERMITTED), None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    write_private(key_path, _key_pem(key))
    write_private(certificate_path, certificate.public_bytes(serialization.Encoding.PEM))
    return certificate, key


def _load_authority(
    certificate_path: Path, key_path: Path
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    advice = f"delete {certificate_path.parent}/ to make a new authority, then trust it again"
    try:
        certificate = x509.load_pem_x509_certificate(certificate_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as error:
        raise TlsStateCorrupt(f"the local authority cannot be read ({error}); {advice}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != (
        certificate.public_key()
    ):
        raise TlsStateCorrupt(f"{key_path} is not the key of {certificate_path}; {advice}")
    return certificate, key


def _server_still_good(
    files: TlsFiles,
    authority: x509.Certificate,
    names: list[x509.GeneralName],
    now: datetime.datetime,
) -> bool:
    try:
        certificate = x509.load_pem_x509_certificate(files.certificate.read_bytes())
        key = serialization.load_pem_private_key(files.key.read_bytes(), password=None)
        certificate.verify_directly_issued_by(authority)
        covered = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except (OSError, ValueError, TypeError, x509.ExtensionNotFound):
        return False
    fresh = certificate.not_valid_after_utc - now > datetime.timedelta(days=RENEW_BEFORE_DAYS)
    same_key = isinstance(key, ec.EllipticCurvePrivateKey) and (
        key.public_key() == certificate.public_key()
    )
    return fresh and same_key and all(name in covered.value for name in names)


def _issue_server(
    files: TlsFiles,
    authority: x509.Certificate,
    authority_key: ec.EllipticCurvePrivateKey,
    names: list[x509.GeneralName],
    now: datetime.datetime,
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(authority.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=SERVER_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(signs=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(authority_key.public_key()),
            critical=False,
        )
        .sign(authority_key, hashes.SHA256())
    )
    write_private(files.key, _key_pem(key))
    write_private(files.certificate, certificate.public_bytes(serialization.Encoding.PEM))


def _usage(*, signs: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not signs,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=signs,
        crl_sign=signs,
        encipher_only=False,
        decipher_only=False,
    )


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
