"""The password and refresh-token grants, with Keycloak's checks in Keycloak's order.

Each function takes the authenticated client and the form and returns the token response body,
or raises the ``OAuthError`` Keycloak would answer with.  Session bookkeeping happens under the
state lock; signing happens after it is released.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .config import ClientConfig, RealmConfig
from .errors import InvalidClient, InvalidGrant, InvalidRequest, InvalidScope, UnauthorizedClient
from .ids import random_uuid
from .state import ClientSession, MockState, UserSession
from .tokens import (
    TOKEN_TYPE_REFRESH,
    Grant,
    access_token_claims,
    applied_scopes,
    finapi_fields,
    id_token_claims,
    refresh_token_claims,
    sign_hs512,
    sign_rs256,
    split_scope,
    token_response,
    verify_hs512,
)

INVALID_CREDENTIALS = "Invalid user credentials"
INVALID_REFRESH_TOKEN = "Invalid refresh token"  # noqa: S105 - an error text
_REFRESH_CLAIM_TYPES: dict[str, type] = {
    "exp": int,
    "iat": int,
    "jti": str,
    "iss": str,
    "sub": str,
    "typ": str,
    "azp": str,
    "sid": str,
    "scope": str,
}


def requested_scopes(client: ClientConfig, form: Mapping[str, str]) -> list[str] | None:
    """Names in ``scope`` (``None`` if absent); names the client lacks are ``invalid_scope``."""
    raw = form.get("scope")
    if raw is None:
        return None
    names = split_scope(raw)
    allowed = {"openid", *client.default_client_scopes, *client.optional_client_scopes}
    if not names or any(name not in allowed for name in names):
        raise InvalidScope(f"Invalid scopes: {raw}")
    return names


def password_grant(
    state: MockState, realm: RealmConfig, client: ClientConfig, form: Mapping[str, str], issuer: str
) -> dict[str, Any]:
    if not client.direct_access_grants_enabled:
        raise UnauthorizedClient("Client not allowed for direct access grants", status=400)
    if client.consent_required:
        raise InvalidClient("Client requires user consent", status=400)
    requested = requested_scopes(client, form) or []
    username = form.get("username")
    if username is None:
        raise InvalidRequest("Missing parameter: username", status=401)
    user = realm.find_user(username)
    if user is None or user.service_account_client is not None:
        raise InvalidGrant(INVALID_CREDENTIALS, status=401)
    if not user.enabled:
        raise InvalidGrant("Account disabled")
    if not user.check_password(form.get("password")):
        raise InvalidGrant(INVALID_CREDENTIALS, status=401)
    if user.required_actions:
        raise InvalidGrant("Account is not fully set up")
    now = state.clock.seconds()
    session = state.create_session(realm, user.id, client.client_id, now)
    grant = Grant(
        realm=realm,
        client=client,
        user=user,
        issuer=issuer,
        session_id=session.id,
        scopes=applied_scopes(client, requested),
    )
    return issue_tokens(state, grant, session, now)


def refresh_grant(
    state: MockState, realm: RealmConfig, client: ClientConfig, form: Mapping[str, str], issuer: str
) -> dict[str, Any]:
    encoded = form.get("refresh_token")
    if encoded is None:
        raise InvalidRequest("No refresh token")
    requested = requested_scopes(client, form)
    claims = decode_refresh_token(state, realm, encoded)
    now = state.clock.seconds()
    check_refresh_claims(realm, client, claims, issuer, now, check_expiry=True)

    with state.lock:
        session = state.live_session(realm, claims["sid"], now)
        user = realm.user_by_id(session.user_id) if session is not None else None
        if session is None or user is None:
            raise InvalidGrant("Session not active")
        if not user.enabled:
            raise InvalidGrant("User disabled")
        if claims["iat"] < session.started:
            raise InvalidGrant("Refresh token issued before the user session started")
        client_session = session.clients.get(client.client_id)
        if client_session is None:
            raise InvalidGrant("Session doesn't have required client")
        if realm.revoke_refresh_token:
            _check_reuse(realm, session, client.client_id, client_session, claims)
        session.last_refresh = now
        client_session.timestamp = now

    original = split_scope(claims["scope"])
    if requested is None:
        kept = original
    else:
        # Keycloak's refreshAccessToken: only within the refresh token's scope, and ``openid``
        # (so the ID token) follows the login, whatever this request names.
        if not set(requested) <= set(original):
            raise InvalidScope(f"Invalid scopes: {form.get('scope')}")
        kept = [*requested, "openid"] if "openid" in original else requested
    grant = Grant(
        realm=realm,
        client=client,
        user=user,
        issuer=issuer,
        session_id=session.id,
        scopes=applied_scopes(client, kept),
    )
    return issue_tokens(state, grant, session, now, refresh_scope=claims["scope"])


def authorization_code_grant(
    state: MockState, realm: RealmConfig, client: ClientConfig, form: Mapping[str, str], issuer: str
) -> dict[str, Any]:
    """Keycloak's answers to a code exchange; the mock issues no codes, so none is ever valid."""
    if form.get("code") is None:
        raise InvalidRequest("Missing parameter: code")
    raise InvalidGrant("Code not valid")


def decode_refresh_token(state: MockState, realm: RealmConfig, encoded: str) -> dict[str, Any]:
    """Verify the HS512 signature with the realm's key; anything unreadable is invalid."""
    claims = verify_hs512(encoded, state.refresh_key(realm))
    if claims is None or any(
        not isinstance(claims.get(name), kind) or isinstance(claims.get(name), bool)
        for name, kind in _REFRESH_CLAIM_TYPES.items()
    ):
        raise InvalidGrant(INVALID_REFRESH_TOKEN)
    return claims


def check_refresh_claims(
    realm: RealmConfig,
    client: ClientConfig,
    claims: Mapping[str, Any],
    issuer: str,
    now: int,
    *,
    check_expiry: bool,
) -> None:
    """Keycloak's ``verifyRefreshToken``: type, issuer, not-before, expiry, client."""
    if claims["typ"] != TOKEN_TYPE_REFRESH:
        raise InvalidGrant(INVALID_REFRESH_TOKEN)
    if claims["iss"] != issuer:
        raise InvalidGrant(f"Invalid token issuer. Expected '{issuer}'")
    if check_expiry:
        if claims["iat"] < realm.not_before:
            raise InvalidGrant("Stale token")
        if now > claims["exp"]:
            raise InvalidGrant("Token is not active")
    if claims["azp"] != client.client_id:
        raise InvalidGrant("Invalid refresh token. Token client and authorized client don't match")


def _check_reuse(
    realm: RealmConfig,
    session: UserSession,
    client_id: str,
    client_session: ClientSession,
    claims: Mapping[str, Any],
) -> None:
    """``revokeRefreshToken``: any failure detaches the client from the session, as in Keycloak."""
    token_id = claims["jti"]
    try:
        current = client_session.current_refresh_token
        if current is not None and token_id != current and claims["iat"] < client_session.timestamp:
            raise InvalidGrant("Stale token")
        if token_id != current:
            client_session.current_refresh_token = token_id
            client_session.refresh_token_use_count = 0
        if client_session.refresh_token_use_count > realm.refresh_token_max_reuse:
            raise InvalidGrant("Maximum allowed refresh token reuse exceeded")
        client_session.refresh_token_use_count += 1
    except InvalidGrant:
        session.clients.pop(client_id, None)
        raise


def issue_tokens(
    state: MockState,
    grant: Grant,
    session: UserSession,
    now: int,
    *,
    refresh_scope: str | None = None,
) -> dict[str, Any]:
    """Sign the access (and ID) token and a new refresh token; build the response body."""
    realm = grant.realm
    session_end = session.started + realm.sso_session_max_lifespan
    access_exp = min(now + realm.access_token_lifespan, session_end)
    refresh_exp = min(now + realm.sso_session_idle_timeout, session_end)
    access_token = sign_rs256(
        access_token_claims(grant, now=now, exp=access_exp, jti=random_uuid()), state.active_key
    )
    refresh_claims = refresh_token_claims(grant, now=now, exp=refresh_exp, jti=random_uuid())
    if refresh_scope is not None:
        refresh_claims["scope"] = refresh_scope
    refresh_token = sign_hs512(refresh_claims, state.refresh_key(realm))
    id_token = None
    if "openid" in grant.scopes:
        id_claims = id_token_claims(
            grant, now=now, exp=access_exp, jti=random_uuid(), access_token=access_token
        )
        id_token = sign_rs256(id_claims, state.active_key)
    return token_response(
        access_token=access_token,
        expires_in=access_exp - now,
        refresh_expires_in=refresh_exp - now,
        refresh_token=refresh_token,
        id_token=id_token,
        not_before_policy=realm.not_before,
        session_state=session.id,
        scope=grant.scope,
        extra=finapi_fields(realm, grant.user),
    )
