"""Optional https for clients that insist on it (openid-client, browsers with secure cookies, Java).

``--tls`` makes a test-only CA and a server certificate for ``localhost``, ``127.0.0.1`` and
``::1`` (plus ``--tls-hostnames``) at start-up, and writes the CA bundle where a client can be
told to trust it (``--tls-ca-file``, else a fresh temporary folder); ``--tls-cert``/``--tls-key``
serve a certificate of your own instead.  Both are marked TEST ONLY in their names: the key
files sit unencrypted next to the certificate, which is right for a mock and for nothing else.
Plain http stays the default, and nothing here is imported unless TLS is asked for.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from keycloak_mock.imitation.config import MockConfig
from keycloak_mock.imitation.errors import ConfigError

_ORGANISATION = "demobank-keycloak-mock (TEST ONLY)"
_DEFAULT_NAMES = ("localhost", "127.0.0.1", "::1")
#: Long enough for any test run, short enough that a leaked CA ages out.
_VALIDITY = datetime.timedelta(days=30)


@dataclass(frozen=True)
class TlsFiles:
    """What a server loads (certificate chain and key) and what a client trusts (``ca_file``).

    ``ca_file`` is ``None`` for a certificate the user brought: its CA is theirs to hand out.
    """

    cert_file: str
    key_file: str
    ca_file: str | None


def wants_tls(config: MockConfig) -> bool:
    return config.tls or config.tls_cert is not None or config.tls_key is not None


def tls_files(config: MockConfig) -> TlsFiles | None:
    """The files to serve https with, generating them for ``--tls``; ``None`` for plain http."""
    if config.tls_cert is not None or config.tls_key is not None:
        if config.tls_cert is None or config.tls_key is None:
            raise ConfigError("--tls-cert and --tls-key go together")
        for name, path in (("--tls-cert", config.tls_cert), ("--tls-key", config.tls_key)):
            if not Path(path).is_file():
                raise ConfigError(f"{name}: {path!r} is not a readable file")
        return TlsFiles(config.tls_cert, config.tls_key, None)
    if not config.tls:
        return None
    names = [*_DEFAULT_NAMES]
    for name in (config.tls_hostnames or "").split(","):
        if name.strip() and name.strip() not in names:
            names.append(name.strip())
    return generate(names, config.tls_ca_file)


def generate(names: list[str], ca_file: str | None = None) -> TlsFiles:
    """A fresh test-only CA and a server certificate for ``names`` (DNS names or IPs)."""
    # cryptography's x509 module loads only when TLS is asked for: it is not on the default path.
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORGANISATION),
            x509.NameAttribute(NameOID.COMMON_NAME, "keycloak-mock TEST-ONLY CA"),
        ]
    )
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    alt_names: list[x509.GeneralName] = []
    for name in names:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt_names.append(x509.DNSName(name))
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORGANISATION),
                    x509.NameAttribute(NameOID.COMMON_NAME, names[0]),
                ]
            )
        )
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    folder = Path(tempfile.mkdtemp(prefix="keycloak-mock-tls-"))
    pem = serialization.Encoding.PEM
    ca_pem = ca_cert.public_bytes(pem)
    cert_file = folder / "server-cert.TEST-ONLY.pem"
    cert_file.write_bytes(server_cert.public_bytes(pem) + ca_pem)
    key_file = folder / "server-key.TEST-ONLY.pem"
    key_bytes = server_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # Owner-only from the start: the key must not be readable by others even for a moment.
    descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(key_bytes)
    ca_path = Path(ca_file) if ca_file else folder / "ca.TEST-ONLY.pem"
    try:
        ca_path.parent.mkdir(parents=True, exist_ok=True)
        ca_path.write_bytes(ca_pem)
    except OSError as exc:
        raise ConfigError(f"--tls-ca-file: cannot write {str(ca_path)!r}: {exc.strerror}") from None
    return TlsFiles(str(cert_file), str(key_file), str(ca_path))


def server_context(files: TlsFiles) -> ssl.SSLContext:
    """A server-side context with the certificate chain; TLS 1.2 at least, as Keycloak's."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(files.cert_file, files.key_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"--tls-cert/--tls-key: cannot load them: {exc}") from None
    return context


__all__ = ["TlsFiles", "generate", "server_context", "tls_files", "wants_tls"]
