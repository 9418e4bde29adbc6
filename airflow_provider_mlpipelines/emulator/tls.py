"""The emulator's TLS material: a private CA and a server certificate signed by it.

The CA is a proper one (basicConstraints CA:true critical, keyUsage keyCertSign, subject and
authority key identifiers) and the server certificate names ``127.0.0.1``, ``localhost`` and
``::1``, so Python's strict X.509 verification accepts it with ``ca.pem`` as the only trust
anchor. Both are kept in the state dir and reused, so clients keep trusting a restarted
emulator; the server certificate is re-issued (from the same CA) when it nears expiry or
lacks the host being served.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import os
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

log = logging.getLogger(__name__)

CA_FILE = "ca.pem"
CA_KEY_FILE = "ca-key.pem"
SERVER_FILE = "server.pem"
SERVER_KEY_FILE = "server-key.pem"
DEFAULT_NAMES = ("127.0.0.1", "localhost", "::1")
_RENEW_BEFORE = dt.timedelta(days=30)


@dataclass(frozen=True)
class TlsFiles:
    """Paths of the TLS files in the state dir."""

    ca: Path
    ca_key: Path
    server: Path
    server_key: Path

    @classmethod
    def in_folder(cls, folder: Path) -> TlsFiles:
        return cls(
            folder / CA_FILE, folder / CA_KEY_FILE, folder / SERVER_FILE, folder / SERVER_KEY_FILE
        )


def ensure_certificates(folder: Path, host: str, also: Sequence[str] = ()) -> TlsFiles:
    """Create (or reuse) the CA and the server certificate in ``folder``.

    :param folder: the state dir.
    :param host: the host the server listens on; added to the certificate's names.
    :param also: more host names or addresses the certificate must name (the host of an
        advertised URL, for clients on other machines).
    """
    files = TlsFiles.in_folder(folder)
    if files.ca.exists() and files.ca_key.exists():
        ca_cert = x509.load_pem_x509_certificate(files.ca.read_bytes())
        ca_key = serialization.load_pem_private_key(files.ca_key.read_bytes(), password=None)
    else:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_cert = _make_ca(ca_key)
        _write_key(files.ca_key, ca_key)
        _write_atomic(files.ca, ca_cert.public_bytes(serialization.Encoding.PEM))
        log.info("Created the emulator CA %s", files.ca)
    names = _names_for(host, also)
    if not _server_cert_usable(files, ca_cert, names):
        server_key = ec.generate_private_key(ec.SECP256R1())
        cert = _make_server_cert(server_key, ca_cert, ca_key, names)  # type: ignore[arg-type]
        _write_key(files.server_key, server_key)
        _write_atomic(files.server, cert.public_bytes(serialization.Encoding.PEM))
        log.info("Issued the emulator server certificate for %s", ", ".join(names))
    return files


def server_ssl_context(files: TlsFiles) -> ssl.SSLContext:
    """An SSL context serving the server certificate.

    :param files: the TLS files.
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(files.server), str(files.server_key))
    return context


def _names_for(host: str, also: Sequence[str] = ()) -> list[str]:
    names = list(DEFAULT_NAMES)
    for name in (host, *also):
        if name and name not in names and name not in ("0.0.0.0", "::"):
            names.append(name)
    return names


def _server_cert_usable(files: TlsFiles, ca_cert: x509.Certificate, names: list[str]) -> bool:
    if not (files.server.exists() and files.server_key.exists()):
        return False
    cert = x509.load_pem_x509_certificate(files.server.read_bytes())
    if cert.issuer != ca_cert.subject:
        return False
    if _expiry(cert) - _RENEW_BEFORE < dt.datetime.now(dt.timezone.utc):
        return False
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    present = {str(v) for v in san.get_values_for_type(x509.IPAddress)}
    present |= set(san.get_values_for_type(x509.DNSName))
    return all(str(_as_ip(n) or n) in present for n in names)


def _expiry(cert: x509.Certificate) -> dt.datetime:
    # cryptography < 42 has only the naive (UTC) ``not_valid_after``.
    expiry = getattr(cert, "not_valid_after_utc", None)
    if expiry is None:
        expiry = cert.not_valid_after.replace(tzinfo=dt.timezone.utc)
    return expiry


def _make_ca(key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "mlpipelines emulator CA"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "airflow-provider-mlpipelines"),
        ]
    )
    now = dt.datetime.now(dt.timezone.utc)
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=3650))
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )


def _make_server_cert(
    key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    names: list[str],
) -> x509.Certificate:
    now = dt.datetime.now(dt.timezone.utc)
    alt_names: list[x509.GeneralName] = []
    for name in names:
        ip = _as_ip(name)
        alt_names.append(x509.IPAddress(ip) if ip is not None else x509.DNSName(name))
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=825))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )


def _as_ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_atomic(path, data, mode=0o600)


def _write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)
