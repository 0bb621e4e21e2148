"""Verify an access token the way a resource server behind this Keycloak does.

One function does the work for three callers: the userinfo endpoint, the ``/demobank`` stand-in and
users who write their own fake resources in tests (``verify_access_token``).  Sharing it means a
token the stand-in accepts is exactly a token userinfo gets past its signature checks with.

The checks are those of Keycloak's ``TokenVerifier.withDefaultChecks()`` plus the signature: RS256
only, a ``kid`` among the published keys, the issuer is a realm of this server, a subject, ``typ``
``Bearer`` and ``exp`` not passed (no leeway; Keycloak has none for ``exp``).  The algorithm comes
from us, never from the token header, so ``alg: none`` and HS256 signed with the public key fail.

Keys are the ``SigningKey`` objects the server signs with; PyJWT gets key objects, never PEM text,
so verifying costs one RSA operation and no parsing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from .errors import TokenExpired, TokenVerificationError
from .state import MockState
from .tokens import TOKEN_TYPE_ACCESS, is_compact_jws

if TYPE_CHECKING:
    from .config import MockConfig

ACCESS_TOKEN_ALGORITHM = "RS256"  # noqa: S105 - an algorithm name, not a secret
_MAX_ECHO = 60
#: Claims whose type we rely on; a token with another type is malformed, not a crash.
_CLAIM_TYPES: dict[str, type] = {
    "exp": int,
    "iat": int,
    "nbf": int,
    "iss": str,
    "sub": str,
    "typ": str,
}
_DECODE_OPTIONS: Any = {
    "verify_signature": True,
    # Time and identity claims are ours to check, against the mock's clock.
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "verify_aud": False,
    "verify_iss": False,
    "verify_sub": False,
    "verify_jti": False,
}


class ServerLike(Protocol):
    """What ``verify_access_token`` needs of a server handle (a Protocol: no import cycle).

    ``MockServer`` and the pytest plugin's ``keycloak_mock`` handle both fit.  The issuer base is
    taken from an ``issuer_base`` attribute, else ``config.issuer_url``, else ``url``.
    """

    @property
    def state(self) -> MockState: ...

    @property
    def url(self) -> str: ...


@dataclass(frozen=True)
class VerifiedAccessToken:
    """A token that passed every check, with the realm its issuer names."""

    realm: str
    claims: dict[str, Any]


def verify_access_token(
    token: str,
    server: ServerLike | MockState,
    *,
    issuer_base: str | None = None,
    realm: str | None = None,
    now: int | None = None,
) -> dict[str, Any]:
    """The claims of ``token`` if it is a valid access token of ``server``; else raise.

    ``server`` is an in-process mock (``MockServer``, the ``keycloak_mock`` fixture) or its
    ``MockState``.  ``issuer_base`` is the URL your code reached the mock at (``iss`` follows the
    request URL, as in Keycloak); it defaults to the server's ``--issuer-url`` or its ``url`` and is
    required with a bare ``MockState``.  ``realm`` additionally pins the mandator.  ``now`` defaults
    to the server's clock, so ``state.clock.advance`` expires tokens here too.

    Raises ``TokenExpired`` when only ``exp`` has passed and ``TokenVerificationError`` otherwise;
    ``reason`` says what failed.
    """
    if isinstance(server, MockState):
        state = server
        if issuer_base is None:
            raise TypeError("issuer_base is required when verifying against a MockState")
    else:
        state = server.state
        if issuer_base is None:
            issuer_base = _default_issuer_base(server)
    return check_access_token(
        token, state, issuer_base=issuer_base.rstrip("/"), realm=realm, now=now
    ).claims


def _default_issuer_base(server: ServerLike) -> str:
    handle_base = getattr(server, "issuer_base", None)
    if isinstance(handle_base, str):
        return handle_base
    config: MockConfig | None = getattr(server, "config", None)
    if config is not None and config.issuer_url:
        return config.issuer_url
    return server.url


def check_access_token(
    token: str,
    state: MockState,
    *,
    issuer_base: str,
    realm: str | None = None,
    now: int | None = None,
) -> VerifiedAccessToken:
    """``verify_access_token`` for callers that have the state and want the realm as well."""
    # Any realm's key first, so a token of another realm gets the clearer issuer message.
    claims = verify_rs256_signature(token, state)
    realm_name = _check_issuer(claims, state, issuer_base, realm)
    if state.key_by_kid(_kid_of(token), realm_name) is None:
        # Genuine, but signed by another realm's key: that realm's JWKS would not verify it.
        raise TokenVerificationError(
            f"Unknown signing key: realm '{realm_name}' does not publish the token's key"
        )
    if "sub" not in claims:
        raise TokenVerificationError("Subject missing in token")
    if claims.get("typ") != TOKEN_TYPE_ACCESS:
        actual = _echo(claims.get("typ"))
        raise TokenVerificationError(
            f"Token type is incorrect. Expected '{TOKEN_TYPE_ACCESS}' but was {actual}"
        )
    current = state.clock.seconds() if now is None else now
    if "exp" not in claims:
        raise TokenVerificationError("Malformed token: no 'exp' claim")
    if current > claims["exp"]:
        raise TokenExpired("Token expired")
    if "nbf" in claims and current < claims["nbf"]:
        raise TokenVerificationError("Token is not yet valid (nbf)")
    return VerifiedAccessToken(realm=realm_name, claims=claims)


def verify_rs256_signature(
    token: str, state: MockState, realm: str | None = None
) -> dict[str, Any]:
    """The claims of a JWS signed RS256 by a key ``realm`` publishes (with ``None``: any realm of
    ``state``); claims unchecked.

    This is Keycloak's ``session.tokens().decode``: what revocation relies on before it looks at
    the claims itself.
    """
    if not isinstance(token, str) or not token:
        raise TokenVerificationError("Malformed token: empty")
    if not is_compact_jws(token):
        raise TokenVerificationError("Malformed token: not a signed JWT")
    import jwt  # here, not at the top: PyJWT slows start-up and only decoding needs it

    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise TokenVerificationError("Malformed token: not a signed JWT") from None
    algorithm = header.get("alg")
    if algorithm != ACCESS_TOKEN_ALGORITHM:
        hint = " (refresh tokens are not access tokens)" if algorithm == "HS512" else ""
        raise TokenVerificationError(
            f"Unsupported algorithm {_echo(algorithm)}: access tokens are RS256{hint}"
        )
    kid = header.get("kid")
    key = state.key_by_kid(kid, realm) if isinstance(kid, str) else None
    if key is None:
        raise TokenVerificationError(f"Unknown signing key: kid {_echo(kid)} is not published")
    try:
        claims: Any = jwt.decode(
            token, key.public_key, algorithms=[ACCESS_TOKEN_ALGORITHM], options=_DECODE_OPTIONS
        )
    except jwt.InvalidSignatureError:
        raise TokenVerificationError("Invalid token signature") from None
    except jwt.PyJWTError:
        raise TokenVerificationError("Malformed token: payload is not a JSON object") from None
    for name, kind in _CLAIM_TYPES.items():
        value = claims.get(name)
        if name in claims and (not isinstance(value, kind) or isinstance(value, bool)):
            raise TokenVerificationError(f"Malformed token: claim '{name}' has the wrong type")
    result: dict[str, Any] = claims
    return result


def _kid_of(token: str) -> str:
    import jwt  # already loaded: the signature was verified with it

    kid = jwt.get_unverified_header(token).get("kid")
    return kid if isinstance(kid, str) else ""


def _check_issuer(
    claims: dict[str, Any], state: MockState, issuer_base: str, realm: str | None
) -> str:
    """The realm named by ``iss``, which must be a realm of this server at ``issuer_base``."""
    issuer = claims.get("iss")
    prefix = f"{issuer_base}/realms/"
    if realm is not None:
        expected = prefix + realm
        if issuer != expected:
            raise TokenVerificationError(f"Invalid token issuer. Expected '{expected}'")
        return realm
    name = issuer[len(prefix) :] if isinstance(issuer, str) and issuer.startswith(prefix) else ""
    if not name or "/" in name or state.realm(name) is None:
        raise TokenVerificationError(
            f"Invalid token issuer {_echo(issuer)}: not a realm of {issuer_base}"
        )
    return name


def _echo(value: object) -> str:
    """A token-supplied value, quoted and cut short, safe to put in a message or header."""
    text = repr(value) if not isinstance(value, str) else f"'{value}'"
    return text if len(text) <= _MAX_ECHO else text[: _MAX_ECHO - 4] + "...'"
