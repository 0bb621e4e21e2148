"""The token decoder's verdict: what a token says, and whether this mock would take it now.

The page shows it; the verdict comes from here, not from the browser, and uses the endpoints' own
checks, in their order:

- an access token is checked as the ``/demobank`` stand-in checks it (``check_access_token``, then
  userinfo's session rules), so "accepted" means a resource call with it gets through;
- a refresh token is checked as the refresh grant checks it (HS512 with the realm's key,
  ``verifyRefreshToken``, the session, ``revokeRefreshToken`` reuse), without using it up;
- an ID token gets the signature, issuer, ``typ`` and expiry checks, then the session rules.

Nothing changes state: asking twice gives the same answer, and a refresh token asked about is
still good for the refresh it was kept for.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from keycloak_mock.imitation.config import RealmConfig
from keycloak_mock.imitation.errors import InvalidGrant, TokenVerificationError
from keycloak_mock.imitation.grants import (
    check_refresh_claims,
    decode_refresh_token,
    refresh_session,
    reuse_refusal,
)
from keycloak_mock.imitation.state import MockState
from keycloak_mock.imitation.tokens import TOKEN_TYPE_ACCESS, TOKEN_TYPE_ID, TOKEN_TYPE_REFRESH
from keycloak_mock.imitation.verify import check_access_token, verify_rs256_signature
from keycloak_mock.imitation.views.sessions import SessionProblem, live_session_of

#: Longer than any token the mock issues by far; the page sends what was pasted.
MAX_TOKEN_CHARS = 16_384
_KINDS = {TOKEN_TYPE_ACCESS: "access", TOKEN_TYPE_REFRESH: "refresh", TOKEN_TYPE_ID: "id"}


class _Refused(Exception):
    """Why the mock would refuse the token."""


def inspect_token(token: str, state: MockState, *, issuer_base: str) -> dict[str, Any]:
    """Header, claims, kind and the verdict for ``token`` as JSON.

    ``issuer_base`` is the base URL ``iss`` must start with: the one the caller reached the mock
    at, as for the endpoints.
    """
    token = token.strip()
    header = _segment(token, 0)
    claims = _segment(token, 1)
    kind = _kind(header, claims)
    now = state.clock.seconds()
    result: dict[str, Any] = {
        "kind": kind,
        "header": header,
        "claims": claims,
        "accepted": False,
        "reason": None,
        "realm": None,
        "now": now,
    }
    if header is None or claims is None:
        result["reason"] = "Malformed token: not a signed JWT"
        return result
    try:
        if kind == "refresh":
            realm = _check_refresh(token, claims, state, issuer_base, now)
        elif kind == "id":
            realm = _check_id(token, state, issuer_base, now)
        else:
            realm = _check_access(token, state, issuer_base)
    except _Refused as refusal:
        result["reason"] = str(refusal)
        return result
    result.update(accepted=True, realm=realm)
    return result


def _check_access(token: str, state: MockState, issuer_base: str) -> str:
    try:
        verified = check_access_token(token, state, issuer_base=issuer_base)
    except TokenVerificationError as failure:
        raise _Refused(failure.reason) from None
    _check_session(state, verified.realm, verified.claims)
    return verified.realm


def _check_id(token: str, state: MockState, issuer_base: str, now: int) -> str:
    try:
        claims = verify_rs256_signature(token, state)
    except TokenVerificationError as failure:
        raise _Refused(failure.reason) from None
    realm = _realm_of(claims, state, issuer_base)
    if claims.get("typ") != TOKEN_TYPE_ID:
        raise _Refused(f"Token type is incorrect. Expected '{TOKEN_TYPE_ID}'")
    if not isinstance(claims.get("exp"), int):
        raise _Refused("Malformed token: no 'exp' claim")
    if now > claims["exp"]:
        raise _Refused("Token expired")
    _check_session(state, realm.realm, claims)
    return realm.realm


def _check_refresh(
    token: str, claims: dict[str, Any], state: MockState, issuer_base: str, now: int
) -> str:
    realm = _realm_of(claims, state, issuer_base)
    try:
        verified = decode_refresh_token(state, realm, token)
        azp = verified.get("azp")
        client = realm.client(azp) if isinstance(azp, str) else None
        if client is None:
            raise _Refused("Client not found")
        if not client.enabled:
            raise _Refused("Client disabled")
        issuer = f"{issuer_base}/realms/{realm.realm}"
        check_refresh_claims(realm, client, verified, issuer, now, check_expiry=True)
        with state.lock:
            _, _, client_session = refresh_session(state, realm, client, verified, now)
            refusal = reuse_refusal(realm, client_session, verified)
    except InvalidGrant as failure:
        raise _Refused(failure.description) from None
    if realm.revoke_refresh_token and refusal is not None:
        raise _Refused(refusal)
    return realm.realm


def _check_session(state: MockState, realm_name: str, claims: dict[str, Any]) -> None:
    realm = state.realm(realm_name)
    try:
        if realm is None:
            raise SessionProblem("Realm does not exist")
        live_session_of(state, realm, claims)
    except SessionProblem as problem:
        raise _Refused(str(problem)) from None


def _realm_of(claims: dict[str, Any], state: MockState, issuer_base: str) -> RealmConfig:
    """The realm ``iss`` names, which must be a realm of this server at ``issuer_base``."""
    issuer = claims.get("iss")
    prefix = f"{issuer_base}/realms/"
    name = issuer[len(prefix) :] if isinstance(issuer, str) and issuer.startswith(prefix) else ""
    realm = state.realm(name) if name and "/" not in name else None
    if realm is None:
        raise _Refused(f"Invalid token issuer: not a realm of {issuer_base}")
    return realm


def _kind(header: dict[str, Any] | None, claims: dict[str, Any] | None) -> str | None:
    typ = claims.get("typ") if claims else None
    if isinstance(typ, str) and typ in _KINDS:
        return _KINDS[typ]
    if header is None:
        return None
    return "refresh" if header.get("alg") == "HS512" else "access"


def _segment(token: str, index: int) -> dict[str, Any] | None:
    """A JWS segment's JSON object, unverified: what the decoder shows."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    raw = parts[index]
    try:
        document = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (ValueError, binascii.Error):
        return None
    return document if isinstance(document, dict) else None
