"""Signing keys: each realm's RSA keys (published) and HS512 refresh keys (never published).

As in Keycloak, every realm has keys of its own, so a token of one realm never verifies against
another realm's JWKS.  A realm signs with the key its realm file carries (the key-provider
``components`` of a realm export); otherwise the default realm gets the server's key (the dev key
unless ``--signing-key``/``--generate-key`` say otherwise) and every other realm one of a small
pool of shipped TEST-ONLY keys, chosen from its name so that the same realms get the same keys
after a restart (``assign_pool_keys``).  Nothing here generates a key unless the pool runs out.

Keys are parsed once, when a realm first needs them.  Passing a PEM string to ``jwt.encode``
re-parses it on every call, so everything here hands out key *objects*.

By default the RSA key is the dev key shipped in ``mock_server/data`` (TEST-ONLY: it is public in
this repository), so start-up does no key generation and ``kid`` is the same on every restart and
replica.  ``kid`` is the RFC 7638 JWK thumbprint, as Keycloak derives it.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .errors import ConfigError

DEV_KEY_RESOURCE = "dev-signing-key.TEST-ONLY.pem"
#: Realm keys shipped with the package: TEST-ONLY, public in this repository like the dev key.
POOL_KEY_RESOURCES = tuple(f"realm-key-{i}.TEST-ONLY.pem" for i in range(1, 9))
_CERT_NOT_BEFORE = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
_CERT_VALIDITY = datetime.timedelta(days=3652)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_b64url(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@dataclass(frozen=True)
class HmacKey:
    """A realm's HS512 key for refresh tokens: ``kid`` is UUID-shaped like Keycloak's."""

    kid: str
    secret: bytes = field(repr=False)


@dataclass(eq=False)
class SigningKey:
    """An RSA signing key with everything derived from it computed once."""

    private_key: rsa.RSAPrivateKey = field(repr=False)
    kid: str = ""
    n: str = ""
    e: str = ""
    public_key_b64: str = ""
    _certificates: dict[str, str] = field(default_factory=dict, repr=False)
    _cert_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    #: The certificate a realm file carries with the key (DER, base64); else one is built.
    certificate: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        numbers = self.private_key.public_key().public_numbers()
        self.n = _int_b64url(numbers.n)
        self.e = _int_b64url(numbers.e)
        der = self.public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.public_key_b64 = base64.b64encode(der).decode("ascii")
        if not self.kid:
            # The server's own key keeps the RFC 7638 thumbprint it has always had; realm keys
            # are given Keycloak's ``kid`` by their loaders (``keycloak_key_id``).
            thumbprint_input = json.dumps(
                {"e": self.e, "kty": "RSA", "n": self.n}, separators=(",", ":"), sort_keys=True
            )
            self.kid = b64url(hashlib.sha256(thumbprint_input.encode()).digest())

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()

    def public_pem(self) -> str:
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")

    def certificate_b64(self, realm: str) -> str:
        """A self-signed ``CN=<realm>`` certificate (DER, base64), built once per realm.

        The serial and dates are fixed, and PKCS#1 v1.5 signatures are deterministic, so the same
        key always yields the same bytes: ``x5t`` is stable across restarts.
        """
        if self.certificate is not None:
            return self.certificate
        with self._cert_lock:
            cached = self._certificates.get(realm)
            if cached is None:
                # Imported here: cryptography.x509 slows start-up, and only JWKS
                # and realm info need a certificate.
                from cryptography import x509
                from cryptography.x509.oid import NameOID

                name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, realm)])
                serial = int.from_bytes(
                    hashlib.sha256(f"{self.kid}:{realm}".encode()).digest()[:8], "big"
                )
                cert = (
                    x509.CertificateBuilder()
                    .subject_name(name)
                    .issuer_name(name)
                    .public_key(self.public_key)
                    .serial_number(serial or 1)
                    .not_valid_before(_CERT_NOT_BEFORE)
                    .not_valid_after(_CERT_NOT_BEFORE + _CERT_VALIDITY)
                    .sign(self.private_key, hashes.SHA256())
                )
                cached = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
                self._certificates[realm] = cached
            return cached

    def jwk(self, realm: str) -> dict[str, Any]:
        """The key as Keycloak's JWKS lists it, fields in Keycloak's order."""
        der = base64.b64decode(self.certificate_b64(realm))
        return {
            "kid": self.kid,
            "kty": "RSA",
            "alg": "RS256",
            "use": "sig",
            "x5c": [self.certificate_b64(realm)],
            "x5t": b64url(hashlib.sha1(der).digest()),  # noqa: S324 - x5t is defined as SHA-1
            "x5t#S256": b64url(hashlib.sha256(der).digest()),
            "n": self.n,
            "e": self.e,
        }

    def refresh_key(self, realm: str, configured_secret: str | None = None) -> HmacKey:
        """The realm's HS512 key: from the configured secret, else derived from this RSA key.

        Deriving it keeps refresh tokens valid across restarts and between replicas that share a
        signing key, without anyone having to manage a second secret.
        """
        if configured_secret is not None:
            material = configured_secret.encode()
        else:
            d = self.private_key.private_numbers().d
            private_bytes = d.to_bytes((d.bit_length() + 7) // 8, "big")
            material = hmac.new(private_bytes, f"hs512:{realm}".encode(), hashlib.sha512).digest()
        kid = str(uuid.UUID(bytes=hashlib.sha256(b"kid:" + material).digest()[:16], version=4))
        return HmacKey(kid=kid, secret=material)


def load_signing_key(path: str | None = None, *, generate: bool = False) -> SigningKey:
    """The key to sign with: ``path`` if given, a fresh one if ``generate``, else the dev key."""
    if path is not None and generate:
        raise ConfigError("--signing-key and --generate-key exclude each other")
    if generate:
        return generated_key()
    if path is None:
        return bundled_key(DEV_KEY_RESOURCE)
    try:
        with open(path, "rb") as handle:
            pem = handle.read()
    except OSError as exc:
        raise ConfigError(f"cannot read signing key {path}: {exc.strerror or exc}") from None
    return SigningKey(parse_private_key(pem, path))


def keycloak_key_id(public_key: rsa.RSAPublicKey) -> str:
    """Keycloak's ``kid`` for an RSA key (``KeyUtils.createKeyId``): base64url of the SHA-256
    of the public key's X.509 encoding (SubjectPublicKeyInfo DER)."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return b64url(hashlib.sha256(der).digest())


def bundled_key(resource: str, *, keycloak_kid: bool = False) -> SigningKey:
    """A key shipped in ``keycloak_mock/data`` (TEST-ONLY), parsed without OpenSSL's slow check."""
    pem = resources.files("keycloak_mock").joinpath("data").joinpath(resource).read_bytes()
    # Shipped with the package and checked by the test suite: skipping OpenSSL's RSA
    # consistency check shortens start-up (a user's key is still checked).
    key = parse_private_key(pem, f"the bundled key {resource}", validate=False)
    return SigningKey(key, kid=keycloak_key_id(key.public_key()) if keycloak_kid else "")


def realm_file_key(
    pem_or_base64: str, origin: str, certificate: str | None = None, kid: str | None = None
) -> SigningKey:
    """A key from a realm export's key provider: PEM, or base64 DER as Keycloak exports it.

    ``kid`` is the provider's configured one, else Keycloak's, so tokens a real Keycloak signed
    with the exported key name a ``kid`` the mock publishes.
    """
    text = pem_or_base64.strip()
    if text.startswith("-----BEGIN"):
        key = parse_private_key(text.encode(), origin)
    else:
        try:
            der = base64.b64decode(text, validate=True)
            loaded = serialization.load_der_private_key(der, password=None)
        except (ValueError, TypeError):
            raise ConfigError(f"{origin}: not a PEM or base64 DER RSA private key") from None
        if not isinstance(loaded, rsa.RSAPrivateKey) or loaded.key_size < 2048:
            raise ConfigError(f"{origin}: must be an RSA key of at least 2048 bits (RS256)")
        key = loaded
    return SigningKey(key, kid=kid or keycloak_key_id(key.public_key()), certificate=certificate)


def generated_key() -> SigningKey:
    return SigningKey(rsa.generate_private_key(public_exponent=65537, key_size=2048))


def assign_pool_keys(names: Iterable[str], taken: Iterable[int] = ()) -> dict[str, int | None]:
    """Pool key indices for realms, in order: no two share one; ``None`` once the pool is spent.

    A realm starts at the index its name hashes to and takes the next free one, so a realm keeps
    its key across restarts as long as the realms before it in the file stay the same.
    """
    used = set(taken)
    assigned: dict[str, int | None] = {}
    size = len(POOL_KEY_RESOURCES)
    for name in names:
        start = int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big") % size
        index = next(
            ((start + step) % size for step in range(size) if (start + step) % size not in used),
            None,
        )
        if index is not None:
            used.add(index)
        assigned[name] = index
    return assigned


def parse_private_key(
    pem: bytes, origin: str = "signing key", *, validate: bool = True
) -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(
            pem, password=None, unsafe_skip_rsa_key_validation=not validate
        )
    except (ValueError, TypeError):
        raise ConfigError(f"{origin}: not an unencrypted PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 2048:
        raise ConfigError(f"{origin}: must be an RSA key of at least 2048 bits (RS256)")
    return key
