"""The password, client-credentials and refresh-token grants, with Keycloak's checks in its order.

Each function takes the authenticated client and the form and returns the token response body,
or raises the ``OAuthError`` Keycloak would answer with.  Session bookkeeping happens under the
state lock; signing happens after it is released.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .config import ClientConfig, RealmConfig, UserConfig
from .errors import (
    InvalidClient,
    InvalidGrant,
    InvalidRequest,
    InvalidScope,
    NotAllowed,
    UnauthorizedClient,
)
from .ids import random_uuid
from .state import ClientSession, MockState, UserSession, session_is_valid
from .tokens import (
    OFFLINE_ACCESS,
    TOKEN_TYPE_OFFLINE,
    TOKEN_TYPE_REFRESH,
    Grant,
    access_token_claims,
    applied_scopes,
    effective_roles,
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
#: Claims every refresh token carries, with their types; ``exp`` too, except on offline tokens.
_REFRESH_CLAIM_TYPES: dict[str, type] = {
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
    state: MockState,
    realm: RealmConfig,
    client: ClientConfig,
    form: Mapping[str, str],
    issuer: str,
    remote_addr: str = "127.0.0.1",
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
    scopes = applied_scopes(client, requested)
    offline = OFFLINE_ACCESS in scopes
    if offline:
        check_offline_allowed(realm, user)
    now = state.clock.seconds()
    session = state.create_session(realm, user.id, client.client_id, now)
    grant = Grant(
        realm=realm, client=client, user=user, issuer=issuer, session_id=session.id, scopes=scopes
    )
    if offline:
        # The refresh token belongs to the offline session, which takes the online one's id;
        # an online session created only for this first offline access is removed (Keycloak's
        # FIRST_OFFLINE_ACCESS note), so the access token's ``sid`` finds the offline one.
        online = session
        session = state.create_offline_session(online, client.client_id, now)
        state.end_session(online.id)
    return issue_tokens(state, grant, session, now)


def check_offline_allowed(realm: RealmConfig, user: UserConfig) -> None:
    """Keycloak's ``isOfflineTokenAllowed``: the user needs the ``offline_access`` realm role."""
    realm_roles, _ = effective_roles(realm, user)
    if OFFLINE_ACCESS not in realm_roles:
        raise NotAllowed("Offline tokens not allowed for the user or client")


def client_credentials_grant(
    state: MockState,
    realm: RealmConfig,
    client: ClientConfig,
    form: Mapping[str, str],
    issuer: str,
    remote_addr: str = "127.0.0.1",
) -> dict[str, Any]:
    """The client's service account logs in; a session only if the client wants refresh tokens."""
    if client.public_client:
        raise UnauthorizedClient("Public client not allowed to retrieve service account")
    if not client.service_accounts_enabled:
        raise UnauthorizedClient("Client not enabled to retrieve service account")
    user = service_account_of(realm, client)
    if user is None:
        raise InvalidRequest(
            "The associated service account for the client does not exist", status=401
        )
    if not user.enabled:
        raise InvalidRequest(f"User '{user.username}' disabled", status=401)
    requested = requested_scopes(client, form) or []
    now = state.clock.seconds()
    session = None
    if client.client_credentials_refresh_token:
        session = state.create_session(realm, user.id, client.client_id, now)
    grant = Grant(
        realm=realm,
        client=client,
        user=user,
        issuer=issuer,
        # Without refresh tokens Keycloak's session is transient: no ``sid``, no session_state.
        session_id=session.id if session is not None else None,
        scopes=applied_scopes(client, requested),
        service_account_claims=service_account_claims(client, remote_addr),
    )
    return issue_tokens(state, grant, session, now)


def service_account_of(realm: RealmConfig, client: ClientConfig) -> UserConfig | None:
    return next((u for u in realm.users if u.service_account_client == client.client_id), None)


def service_account_claims(client: ClientConfig, remote_addr: str) -> dict[str, str]:
    """What the ``service_account`` client scope's mappers add (Keycloak 26.1 names)."""
    return {"client_id": client.client_id, "clientHost": remote_addr, "clientAddress": remote_addr}


def refresh_grant(
    state: MockState,
    realm: RealmConfig,
    client: ClientConfig,
    form: Mapping[str, str],
    issuer: str,
    remote_addr: str = "127.0.0.1",
) -> dict[str, Any]:
    encoded = form.get("refresh_token")
    if encoded is None:
        raise InvalidRequest("No refresh token")
    requested = requested_scopes(client, form)
    claims = decode_refresh_token(state, realm, encoded)
    now = state.clock.seconds()
    check_refresh_claims(realm, client, claims, issuer, now, check_expiry=True)

    with state.lock:
        session, user, client_session = refresh_session(state, realm, client, claims, now)
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
        service_account_claims=(
            service_account_claims(client, remote_addr) if user.service_account_client else {}
        ),
    )
    return issue_tokens(state, grant, session, now, refresh_scope=claims["scope"])


def _check_offline_session(state: MockState, realm: RealmConfig, sid: str, now: int) -> None:
    """Keycloak's wording for offline tokens: a missing offline session, or a timed-out one
    (which it revokes on the spot)."""
    session = state.session(sid, offline=True)
    if session is None or session.realm != realm.realm:
        raise InvalidGrant("Offline user session not found")
    if not session_is_valid(realm, session, now):
        state.end_session(sid, offline=True)
        raise InvalidGrant("Offline session not active")


def authorization_code_grant(
    state: MockState,
    realm: RealmConfig,
    client: ClientConfig,
    form: Mapping[str, str],
    issuer: str,
    remote_addr: str = "127.0.0.1",
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
    exp = claims.get("exp")
    if (exp is None and claims["typ"] != TOKEN_TYPE_OFFLINE) or (
        exp is not None and (not isinstance(exp, int) or isinstance(exp, bool))
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
    if claims["typ"] not in (TOKEN_TYPE_REFRESH, TOKEN_TYPE_OFFLINE):
        raise InvalidGrant(INVALID_REFRESH_TOKEN)
    if claims["iss"] != issuer:
        raise InvalidGrant(f"Invalid token issuer. Expected '{issuer}'")
    if check_expiry:
        if claims["iat"] < realm.not_before:
            raise InvalidGrant("Stale token")
        if "exp" in claims and now > claims["exp"]:
            raise InvalidGrant("Token is not active")
    if claims["azp"] != client.client_id:
        raise InvalidGrant("Invalid refresh token. Token client and authorized client don't match")


def refresh_session(
    state: MockState,
    realm: RealmConfig,
    client: ClientConfig,
    claims: Mapping[str, Any],
    now: int,
) -> tuple[UserSession, UserConfig, ClientSession]:
    """The live session a verified refresh token continues, else Keycloak's refusal, in order.

    Call under ``state.lock``; changes nothing, so the control API's token check shares it.
    """
    offline = claims["typ"] == TOKEN_TYPE_OFFLINE
    if offline:
        _check_offline_session(state, realm, claims["sid"], now)
    session = state.live_session(realm, claims["sid"], now, offline=offline)
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
    return session, user, client_session


def reuse_refusal(
    realm: RealmConfig, client_session: ClientSession, claims: Mapping[str, Any]
) -> str | None:
    """Why ``revokeRefreshToken`` refuses this token's next use, or ``None`` (changes nothing)."""
    token_id = claims["jti"]
    current = client_session.current_refresh_token
    if current is not None and token_id != current and claims["iat"] < client_session.timestamp:
        return "Stale token"
    used = client_session.refresh_token_use_count if token_id == current else 0
    if used > realm.refresh_token_max_reuse:
        return "Maximum allowed refresh token reuse exceeded"
    return None


def _check_reuse(
    realm: RealmConfig,
    session: UserSession,
    client_id: str,
    client_session: ClientSession,
    claims: Mapping[str, Any],
) -> None:
    """``revokeRefreshToken``: any failure detaches the client from the session, as in Keycloak."""
    refusal = reuse_refusal(realm, client_session, claims)
    if refusal is not None:
        session.clients.pop(client_id, None)
        raise InvalidGrant(refusal)
    token_id = claims["jti"]
    if token_id != client_session.current_refresh_token:
        client_session.current_refresh_token = token_id
        client_session.refresh_token_use_count = 0
    client_session.refresh_token_use_count += 1


def issue_tokens(
    state: MockState,
    grant: Grant,
    session: UserSession | None,
    now: int,
    *,
    refresh_scope: str | None = None,
) -> dict[str, Any]:
    """Sign the access (and ID) token and, with a session, a new refresh token; build the body.

    The refresh token is an offline token when ``session`` is the offline session.
    """
    realm = grant.realm
    key = state.active_key_of(realm.realm)
    access_exp = now + realm.access_token_lifespan
    refresh_exp: int | None = None
    if session is not None and session.offline:
        if realm.offline_session_max_lifespan_enabled:
            session_end = session.started + realm.offline_session_max_lifespan
            access_exp = min(access_exp, session_end)
            refresh_exp = min(now + realm.offline_session_idle_timeout, session_end)
    elif session is not None:
        session_end = session.started + realm.sso_session_max_lifespan
        access_exp = min(access_exp, session_end)
        refresh_exp = min(now + realm.sso_session_idle_timeout, session_end)
    access_token = sign_rs256(
        access_token_claims(grant, now=now, exp=access_exp, jti=random_uuid()), key
    )
    refresh_token = None
    if session is not None:
        refresh_claims = refresh_token_claims(
            grant, now=now, exp=refresh_exp, jti=random_uuid(), offline=session.offline
        )
        if refresh_scope is not None:
            refresh_claims["scope"] = refresh_scope
        refresh_token = sign_hs512(refresh_claims, state.refresh_key(realm))
    id_token = None
    if "openid" in grant.scopes:
        id_claims = id_token_claims(
            grant, now=now, exp=access_exp, jti=random_uuid(), access_token=access_token
        )
        id_token = sign_rs256(id_claims, key)
    return token_response(
        access_token=access_token,
        expires_in=access_exp - now,
        # Keycloak sends 0 when the refresh token has no ``exp`` (offline) or there is none.
        refresh_expires_in=refresh_exp - now if refresh_exp is not None else 0,
        refresh_token=refresh_token,
        id_token=id_token,
        not_before_policy=realm.not_before,
        session_state=session.id if session is not None else None,
        scope=grant.scope,
        extra=finapi_fields(realm, grant.user),
    )
