"""Build and sign Keycloak's tokens.  Pure: every function takes ``now`` and ids as arguments.

Keycloak writes the JWS header by string concatenation,
``{"alg":"RS256","typ" : "JWT","kid" : "…"}`` (note the spaces around two of the colons), so we
build the header bytes ourselves and sign with cryptography's key object and ``hmac`` (PyJWT,
which would lengthen every start-up, is imported only where tokens are decoded).  Claim
order follows Keycloak's Jackson serialisation: fixed fields in declaration order, then the
``otherClaims`` hash map in Java hash order.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from .config import (
    DEFAULT_ROLES_ACCOUNT,
    DEFAULT_ROLES_REALM,
    ClientConfig,
    RealmConfig,
    UserConfig,
)
from .javaorder import java_hash_order
from .keys import HmacKey, SigningKey, b64url
from .weborigins import resolved_web_origins

#: RS256 is RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 3.3); HS512 is HMAC-SHA-512.
_PKCS1V15 = padding.PKCS1v15()
_SHA256 = hashes.SHA256()

TOKEN_TYPE_ACCESS = "Bearer"  # noqa: S105 - a `typ` value
TOKEN_TYPE_REFRESH = "Refresh"  # noqa: S105 - a `typ` value
TOKEN_TYPE_OFFLINE = "Offline"  # noqa: S105 - a `typ` value
OFFLINE_ACCESS = "offline_access"
TOKEN_TYPE_ID = "ID"  # noqa: S105 - a `typ` value


def jws_header(alg: str, kid: str) -> bytes:
    """The header exactly as Keycloak's JWSBuilder writes it."""
    return f'{{"alg":"{alg}","typ" : "JWT","kid" : "{kid}"}}'.encode("ascii")


_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")


def is_compact_jws(token: str) -> bool:
    """Whether ``token`` is three base64url segments in canonical form (RFC 7515: no padding).

    Verifiers check this before any decoding, so that a token whose text was altered is refused
    even where the decoded bytes would come out the same (an appended ``==``, stray bits in the
    last character), whichever PyJWT version is installed.
    """
    return _compact_segments(token) is not None


def _compact_segments(token: str) -> list[bytes] | None:
    """The three decoded segments of a canonical compact JWS, or ``None``."""
    segments = token.split(".")
    if len(segments) != 3:
        return None
    decoded_segments = []
    for segment in segments:
        if not _BASE64URL.fullmatch(segment) or len(segment) % 4 == 1:
            return None
        decoded = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        if b64url(decoded) != segment:
            return None
        decoded_segments.append(decoded)
    return decoded_segments


def verify_hs512(token: str, key: HmacKey) -> dict[str, Any] | None:
    """The claims of an HS512 token signed with ``key``, or ``None`` for anything else.

    The refresh grant, logout, revocation and introspection verify one refresh token each.  Done
    here with ``hmac`` rather than PyJWT: PyJWT parses the header twice and validates every
    segment character by character in Python, which made a refresh grant cost a third more
    Python than a password grant.  Accepted are exactly the tokens a JWS library would accept
    with ``algorithms=["HS512"]``: canonical compact form, a JSON-object header naming HS512 and
    this key's ``kid``, a matching signature (compared in constant time), a JSON-object payload.
    """
    decoded = _compact_segments(token)
    if decoded is None:
        return None
    header_bytes, payload_bytes, signature = decoded
    try:
        header = json.loads(header_bytes)
    except ValueError:
        return None
    if not isinstance(header, dict) or header.get("alg") != "HS512" or header.get("kid") != key.kid:
        return None
    signing_input = token.rpartition(".")[0].encode("ascii")
    expected = hmac.new(key.secret, signing_input, hashlib.sha512).digest()
    if not hmac.compare_digest(expected, signature):
        return None
    try:
        claims = json.loads(payload_bytes)
    except ValueError:
        return None
    return claims if isinstance(claims, dict) else None


#: One encoder for every call: ``json.dumps`` with non-default options builds a new encoder each
#: time, which doubled the cost of the three or four encodings of every token response.
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def compact_json(value: Any) -> bytes:
    return _COMPACT.encode(value).encode("utf-8")


@functools.lru_cache(maxsize=64)
def _encoded_header(alg: str, kid: str) -> str:
    """The first segment of every token a key signs: the same for all of them, so built once."""
    return b64url(jws_header(alg, kid))


def sign_rs256(claims: Mapping[str, Any], key: SigningKey) -> str:
    signing_input = f"{_encoded_header('RS256', key.kid)}.{b64url(compact_json(claims))}"
    signature = key.private_key.sign(signing_input.encode("ascii"), _PKCS1V15, _SHA256)
    return f"{signing_input}.{b64url(signature)}"


def sign_hs512(claims: Mapping[str, Any], key: HmacKey) -> str:
    signing_input = f"{_encoded_header('HS512', key.kid)}.{b64url(compact_json(claims))}"
    signature = hmac.new(key.secret, signing_input.encode("ascii"), hashlib.sha512).digest()
    return f"{signing_input}.{b64url(signature)}"


@dataclass(frozen=True, kw_only=True)
class Grant:
    """Who gets a token, for which session and scope: the inputs every token shares."""

    realm: RealmConfig
    client: ClientConfig
    user: UserConfig
    issuer: str
    session_id: str | None
    """``None`` for a transient session (client credentials without refresh token): no ``sid``."""
    scopes: tuple[str, ...]
    """Client scopes applied, in token-scope order, ``openid`` first when requested."""
    service_account_claims: Mapping[str, str] = field(default_factory=dict)
    """``client_id``, ``clientHost``, ``clientAddress``: the ``service_account`` scope's claims."""

    scope: str = field(init=False)
    """The ``scope`` claim/field: applied scopes that are included in token scope.

    Computed once here: the access token, the refresh token and the response body all carry it.
    """

    def __post_init__(self) -> None:
        included = self.realm.includes_in_token_scope
        scope = " ".join(s for s in self.scopes if s == "openid" or included(s))
        object.__setattr__(self, "scope", scope)

    @property
    def session_scope(self) -> str:
        """Every applied scope, hidden ones too: the refresh token's ``scope`` claim.

        Keycloak writes the client session's scope string there with "include in token scope"
        ignored, which is also what a later refresh may narrow its ``scope`` within.
        """
        return " ".join(self.scopes)


def effective_roles(realm: RealmConfig, user: UserConfig) -> tuple[list[str], dict[str, list[str]]]:
    """Realm roles and client roles with ``default-roles-<realm>`` expanded, in Java set order."""
    default_composite = f"default-roles-{realm.realm}"
    assigned = user.realm_roles if user.realm_roles is not None else (default_composite,)
    realm_roles: list[str] = []
    client_roles: dict[str, list[str]] = {k: list(v) for k, v in user.client_roles.items()}
    for role in assigned:
        realm_roles.append(role)
        if role == default_composite:
            realm_roles.extend(DEFAULT_ROLES_REALM)
            client_roles.setdefault("account", []).extend(DEFAULT_ROLES_ACCOUNT)
    ordered_clients = {
        client: java_hash_order(client_roles[client])
        for client in java_hash_order(client_roles)
        if client_roles[client]
    }
    return java_hash_order(realm_roles), ordered_clients


def _profile_claims(grant: Grant, include_email: bool, include_profile: bool) -> dict[str, Any]:
    """Claims from the ``profile``/``email`` scope mappers, in ``otherClaims`` hash order."""
    user = grant.user
    claims: dict[str, Any] = {}
    if include_email:
        claims["email_verified"] = user.email_verified
        if user.email:
            claims["email"] = user.email
    if include_profile:
        full_name = " ".join(p for p in (user.first_name, user.last_name) if p)
        if full_name:
            claims["name"] = full_name
        claims["preferred_username"] = user.username
        if user.first_name:
            claims["given_name"] = user.first_name
        if user.last_name:
            claims["family_name"] = user.last_name
    return {key: claims[key] for key in java_hash_order(claims)}


def access_token_claims(grant: Grant, *, now: int, exp: int | None, jti: str) -> dict[str, Any]:
    """Access-token claims in Keycloak 25/26 order (``exp`` ``None``: re-resolving an offline
    token's claims, which have none)."""
    applied = set(grant.scopes)
    realm_roles, client_roles = (
        effective_roles(grant.realm, grant.user) if "roles" in applied else ([], {})
    )
    audience = [c for c in client_roles if c != grant.client.client_id]
    claims: dict[str, Any] = {"exp": exp, "iat": now, "jti": jti, "iss": grant.issuer}
    if exp is None:
        del claims["exp"]
    if audience:
        claims["aud"] = audience[0] if len(audience) == 1 else audience
    if "basic" in applied:
        claims["sub"] = grant.user.id
    claims.update(typ=TOKEN_TYPE_ACCESS, azp=grant.client.client_id)
    if grant.session_id is not None:
        claims["sid"] = grant.session_id
    if "acr" in applied:
        claims["acr"] = "1"
    if "web-origins" in applied and grant.client.web_origins:
        claims["allowed-origins"] = list(resolved_web_origins(grant.client))
    if realm_roles:
        claims["realm_access"] = {"roles": realm_roles}
    if client_roles:
        claims["resource_access"] = {c: {"roles": roles} for c, roles in client_roles.items()}
    claims["scope"] = grant.scope
    other = _profile_claims(grant, "email" in applied, "profile" in applied)
    if grant.service_account_claims:
        other.update(grant.service_account_claims)
        other = {key: other[key] for key in java_hash_order(other)}
    claims.update(other)
    return claims


def refresh_token_claims(
    grant: Grant, *, now: int, exp: int | None, jti: str, offline: bool = False
) -> dict[str, Any]:
    """Refresh-token claims; ``scope`` names the hidden default scopes as well.

    An offline token has no ``exp`` unless the realm limits offline sessions (Keycloak's
    ``generateRefreshToken`` sets it only then).
    """
    claims: dict[str, Any] = {} if exp is None else {"exp": exp}
    claims.update(
        {
            "iat": now,
            "jti": jti,
            "iss": grant.issuer,
            "aud": grant.issuer,
            "sub": grant.user.id,
            "typ": TOKEN_TYPE_OFFLINE if offline else TOKEN_TYPE_REFRESH,
            "azp": grant.client.client_id,
            "sid": grant.session_id,
            "scope": grant.session_scope,
        }
    )
    return claims


def id_token_claims(
    grant: Grant, *, now: int, exp: int, jti: str, access_token: str
) -> dict[str, Any]:
    """ID-token claims; ``at_hash`` binds it to the access token issued alongside."""
    applied = set(grant.scopes)
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    claims: dict[str, Any] = {
        "exp": exp,
        "iat": now,
        "jti": jti,
        "iss": grant.issuer,
        "aud": grant.client.client_id,
        "sub": grant.user.id,
        "typ": TOKEN_TYPE_ID,
        "azp": grant.client.client_id,
        "sid": grant.session_id,
        "at_hash": b64url(digest[: len(digest) // 2]),
    }
    if grant.session_id is None:
        del claims["sid"]
    if "acr" in applied:
        claims["acr"] = "1"
    claims.update(_profile_claims(grant, "email" in applied, "profile" in applied))
    return claims


def finapi_fields(realm: RealmConfig, user: UserConfig) -> dict[str, str]:
    """finAPI's four extra response fields, in the order Keycloak's response map emits them."""
    fields = {
        "mandator_name": realm.mandator_name,
        "mandator_uuid": realm.mandator_uuid,
        "is_test_mandator": realm.is_test_mandator,
        "is_technical_user": user.is_technical_user,
    }
    return {key: fields[key] for key in java_hash_order(fields)}


def token_response(
    *,
    access_token: str,
    expires_in: int,
    refresh_expires_in: int,
    refresh_token: str | None,
    id_token: str | None,
    not_before_policy: int,
    session_state: str | None,
    scope: str,
    extra: Mapping[str, str],
) -> dict[str, Any]:
    """The token endpoint's JSON body, fields in Keycloak's order, null fields left out."""
    body: dict[str, Any] = {
        "access_token": access_token,
        "expires_in": expires_in,
        "refresh_expires_in": refresh_expires_in,
    }
    if refresh_token is not None:
        body["refresh_token"] = refresh_token
    body["token_type"] = "Bearer"  # noqa: S105 - a token type
    if id_token is not None:
        body["id_token"] = id_token
    body["not-before-policy"] = not_before_policy
    if session_state is not None:
        body["session_state"] = session_state
    body["scope"] = scope
    body.update(extra)
    return body


def split_scope(value: str) -> list[str]:
    """Keycloak splits ``scope`` on single spaces and drops empty parts."""
    return [part for part in value.split(" ") if part]


def applied_scopes(client: ClientConfig, requested: Iterable[str]) -> tuple[str, ...]:
    """Client scopes a grant applies: all defaults, then requested optionals; ``openid`` first."""
    wanted = set(requested)
    scopes = [s for s in client.default_client_scopes]
    scopes += [s for s in client.optional_client_scopes if s in wanted and s not in scopes]
    return ("openid", *scopes) if "openid" in wanted else tuple(scopes)
