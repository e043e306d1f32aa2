"""The local certificate authority of ``gateway dev --tls``: made once, trusted by clients."""

from __future__ import annotations

import contextlib
import datetime
import ssl
import stat
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from emulator.tls import (
    AUTHORITY_KEY_FILE,
    FOLDER,
    SERVER_DAYS,
    TlsFiles,
    TlsStateCorrupt,
    ensure_certificates,
    trust_instructions,
)

DAY_S = 86_400.0


def handshake(files: TlsFiles, server_hostname: str, certificate: Path | None = None) -> str:
    """A TLS handshake in memory, the client trusting only the authority; the version."""
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(certificate or files.certificate, files.key)
    client = ssl.create_default_context(cafile=str(files.authority))
    pipes = [ssl.MemoryBIO() for _ in range(4)]
    client_end = client.wrap_bio(pipes[0], pipes[1], server_hostname=server_hostname)
    server_end = server.wrap_bio(pipes[2], pipes[3], server_side=True)
    for _ in range(10):
        for end, outgoing, incoming in ((client_end, 1, 2), (server_end, 3, 0)):
            with contextlib.suppress(ssl.SSLWantReadError):
                end.do_handshake()
            pipes[incoming].write(pipes[outgoing].read())
        try:
            client_end.do_handshake()
            server_end.do_handshake()
        except ssl.SSLWantReadError:
            continue
        return str(client_end.version())
    raise AssertionError("the handshake did not finish")


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "::1"])
def test_a_client_trusting_the_authority_connects_to_every_loopback_name(
    tmp_path: Path, host: str
) -> None:
    """GIVEN a fresh state directory WHEN --tls makes its certificates THEN a client that
    trusts only the authority completes a verified TLS handshake for localhost,
    127.0.0.1 and ::1, the names a browser or Node client uses."""
    files = ensure_certificates(tmp_path)

    assert handshake(files, host) in {"TLSv1.3", "TLSv1.2"}


def test_the_keys_are_private_and_the_authority_is_reused(tmp_path: Path) -> None:
    """GIVEN certificates made once WHEN gateway dev starts again THEN the authority and
    the server certificate are the same files' contents (a trusted authority stays
    trusted), and both keys are readable by their owner only."""
    first = ensure_certificates(tmp_path)
    authority, certificate = first.authority.read_bytes(), first.certificate.read_bytes()

    second = ensure_certificates(tmp_path)

    assert (second.authority.read_bytes(), second.certificate.read_bytes()) == (
        authority,
        certificate,
    )
    for key in (second.key, tmp_path / FOLDER / AUTHORITY_KEY_FILE):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_a_server_certificate_near_its_end_is_issued_again_by_the_same_authority(
    tmp_path: Path,
) -> None:
    """GIVEN certificates made a year ago WHEN gateway dev starts with 20 days left on the
    server certificate THEN a new one is issued under the same authority, which clients
    keep trusting."""
    made = time.time() - (SERVER_DAYS - 20) * DAY_S
    old = ensure_certificates(tmp_path, clock=lambda: made)
    authority, certificate = old.authority.read_bytes(), old.certificate.read_bytes()

    files = ensure_certificates(tmp_path)

    assert files.authority.read_bytes() == authority
    assert files.certificate.read_bytes() != certificate
    assert handshake(files, "localhost")


def test_the_authority_cannot_vouch_for_any_other_site(tmp_path: Path) -> None:
    """GIVEN the authority's key in a thief's hands WHEN it signs a certificate for
    bank.example THEN a client that trusts the authority refuses it: the authority is
    constrained to loopback names."""
    files = ensure_certificates(tmp_path)
    authority = x509.load_pem_x509_certificate(files.authority.read_bytes())
    authority_key = serialization.load_pem_private_key(
        (tmp_path / FOLDER / AUTHORITY_KEY_FILE).read_bytes(), password=None
    )
    server_key = serialization.load_pem_private_key(files.key.read_bytes(), password=None)
    assert isinstance(authority_key, ec.EllipticCurvePrivateKey)
    assert isinstance(server_key, ec.EllipticCurvePrivateKey)
    now = datetime.datetime.now(datetime.UTC)
    forged = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bank.example")]))
        .issuer_name(authority.subject)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("bank.example")]), False)
        .sign(authority_key, hashes.SHA256())
    )
    path = tmp_path / "forged.pem"
    path.write_bytes(forged.public_bytes(serialization.Encoding.PEM))

    with pytest.raises(ssl.SSLCertVerificationError, match=r"name constraint|permitted"):
        handshake(files, "bank.example", certificate=path)


def test_a_damaged_authority_is_reported_and_never_replaced(tmp_path: Path) -> None:
    """GIVEN an authority key that was truncated WHEN gateway dev --tls starts THEN it
    stops with a message saying what to delete, and the damaged file is left as it was
    (a new authority would silently break every client told to trust the old one)."""
    ensure_certificates(tmp_path)
    key = tmp_path / FOLDER / AUTHORITY_KEY_FILE
    key.write_bytes(key.read_bytes()[:40])

    with pytest.raises(TlsStateCorrupt, match=r"delete .*tls/ to make a new authority"):
        ensure_certificates(tmp_path)

    assert len(key.read_bytes()) == 40


@pytest.mark.parametrize("host", ["example.com", "10.0.0.8", "0.0.0.0"])
def test_a_host_beyond_loopback_is_refused(tmp_path: Path, host: str) -> None:
    """GIVEN a host that is not loopback THEN no certificate is made for it: gateway dev
    binds to 127.0.0.1 only, and the authority could not vouch for it anyway."""
    with pytest.raises(ValueError, match="loopback only"):
        ensure_certificates(tmp_path, hosts=("localhost", host))


def test_the_instructions_name_the_authority_for_node_python_and_the_system(
    tmp_path: Path,
) -> None:
    """GIVEN the certificates THEN the printed instructions point Node's and Python's
    trust variables and the system stores at the authority's file."""
    files = ensure_certificates(tmp_path)

    lines = trust_instructions(files)

    assert f"NODE_EXTRA_CA_CERTS={files.authority}" in lines[0]
    assert f"AWS_CA_BUNDLE={files.authority}" in lines[1]
    assert all(str(files.authority) in line for line in lines)
