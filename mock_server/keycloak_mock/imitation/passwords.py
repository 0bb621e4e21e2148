"""Password credentials as a realm export stores them: plain ``value`` or a PBKDF2 hash.

Comparisons are constant-time, and no credential ever shows its secret in a repr.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Protocol

#: Keycloak's PBKDF2 provider ids and the hashlib digest behind each.
PBKDF2_ALGORITHMS = {
    "pbkdf2": "sha1",
    "pbkdf2-sha256": "sha256",
    "pbkdf2-sha512": "sha512",
}


class Credential(Protocol):
    """Something that can check a password without revealing it."""

    temporary: bool

    def verify(self, password: str) -> bool: ...


class PlainCredential:
    """A clear-text password, as realm files for tests usually give it."""

    __slots__ = ("_value", "temporary")

    def __init__(self, value: str, *, temporary: bool = False) -> None:
        self._value = value.encode()
        self.temporary = temporary

    def verify(self, password: str) -> bool:
        return hmac.compare_digest(self._value, password.encode())

    def __repr__(self) -> str:
        return "PlainCredential(<hidden>)"


class Pbkdf2Credential:
    """A hashed password from a real export (``secretData``/``credentialData``)."""

    __slots__ = ("_digest", "_hash", "_iterations", "_salt", "temporary")

    def __init__(
        self,
        *,
        algorithm: str,
        iterations: int,
        salt: bytes,
        hashed: bytes,
        temporary: bool = False,
    ) -> None:
        self._digest = PBKDF2_ALGORITHMS[algorithm]
        self._iterations = iterations
        self._salt = salt
        self._hash = hashed
        self.temporary = temporary

    def verify(self, password: str) -> bool:
        candidate = hashlib.pbkdf2_hmac(
            self._digest, password.encode(), self._salt, self._iterations, dklen=len(self._hash)
        )
        return hmac.compare_digest(candidate, self._hash)

    @classmethod
    def from_export(
        cls, algorithm: str, iterations: int, salt_b64: str, hash_b64: str, *, temporary: bool
    ) -> Pbkdf2Credential:
        return cls(
            algorithm=algorithm,
            iterations=iterations,
            salt=base64.b64decode(salt_b64),
            hashed=base64.b64decode(hash_b64),
            temporary=temporary,
        )

    def __repr__(self) -> str:
        return f"Pbkdf2Credential({self._digest}, <hidden>)"
