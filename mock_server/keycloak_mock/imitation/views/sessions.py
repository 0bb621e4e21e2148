"""Userinfo, logout, revocation and introspection: every way a Keycloak session or token ends.

Each endpoint keeps Keycloak's order of checks (``UserInfoEndpoint``, ``LogoutEndpoint``,
``TokenRevocationEndpoint``, ``TokenIntrospectionEndpoint`` of Keycloak 25-26.1) because that
order decides which error a client sees when several things are wrong at once.  The session rules
live in ``_find_session``, shared by all four, so "the session ended" means the same everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, g, request

from keycloak_mock.imitation import cors
from keycloak_mock.imitation.clients import authenticate_client
from keycloak_mock.imitation.config import ClientConfig, RealmConfig, UserConfig
from keycloak_mock.imitation.errors import (
    AccessDenied,
    BearerChallenge,
    InvalidClient,
    InvalidGrant,
    InvalidRequest,
    InvalidToken,
    TokenVerificationError,
    UnsupportedTokenType,
)
from keycloak_mock.imitation.grants import check_refresh_claims, decode_refresh_token
from keycloak_mock.imitation.http import NO_STORE, issuer_base, json_response, realm_url, state
from keycloak_mock.imitation.javaorder import java_hash_order
from keycloak_mock.imitation.state import ClientSession, MockState, UserSession, session_is_valid
from keycloak_mock.imitation.tokens import (
    TOKEN_TYPE_ACCESS,
    TOKEN_TYPE_REFRESH,
    Grant,
    access_token_claims,
    applied_scopes,
    split_scope,
)
from keycloak_mock.imitation.verify import check_access_token, verify_rs256_signature

from .browserlogout import browser_logout, confirmed_logout
from .common import (
    FORM_CONTENT_TYPE,
    duplicated_parameter,
    require_form,
    require_realm,
    single_values,
)

blueprint = Blueprint("sessions", __name__)

_OIDC = "/realms/<realm_name>/protocol/openid-connect"
_TOKEN_TYPE_OFFLINE = "Offline"  # noqa: S105 - a token type, not a secret
#: Sent with Keycloak's empty-bodied successes (logout 204, revocation 200).
_CSP = {"Content-Security-Policy": "frame-src 'self'; frame-ancestors 'self'; object-src 'none';"}
#: Claims the ``profile``/``email`` userinfo mappers add (besides ``sub``).
_USERINFO_CLAIMS = (
    "email_verified",
    "name",
    "preferred_username",
    "given_name",
    "family_name",
    "email",
)
_INTROSPECTION_HINTS = ("access_token", "refresh_token")
_SERVICE_ACCOUNT_CLAIMS = ("client_id", "clientHost", "clientAddress")

SESSION_NOT_FOUND = "User session not found or doesn't have client attached on it"
TOKEN_VERIFICATION_FAILED = "Token verification failed"  # noqa: S105 - a message


# -- shared session rules -----------------------------------------------------------------------


@dataclass(frozen=True)
class _LiveSession:
    session: UserSession
    client: ClientConfig
    user: UserConfig


class SessionProblem(Exception):
    """Why a token's session is unusable, in userinfo's wording."""


def live_session_of(mock: MockState, realm: RealmConfig, claims: dict[str, Any]) -> _LiveSession:
    """The live session behind a verified access token, or ``SessionProblem`` saying why not.

    Userinfo's checks after the signature (Keycloak's ``UserInfoEndpoint``): client, realm
    not-before, revocation, client enabled, then the session itself.  The Demobank stand-in uses
    them too, so ending a session on the mock is seen by the resource as well.
    """
    azp = claims.get("azp")
    client = realm.client(azp) if isinstance(azp, str) else None
    if client is None:
        raise SessionProblem("Client not found")
    now = mock.clock.seconds()
    if not _has_types(claims, iat=int, jti=str) or claims["iat"] < realm.not_before:
        raise SessionProblem(TOKEN_VERIFICATION_FAILED)
    if mock.is_access_token_revoked(claims["jti"], now):
        raise SessionProblem(TOKEN_VERIFICATION_FAILED)
    if not client.enabled:
        raise SessionProblem("Client disabled")
    return _find_session(mock, realm, claims, client, now)


def _find_session(
    mock: MockState, realm: RealmConfig, claims: dict[str, Any], client: ClientConfig, now: int
) -> _LiveSession:
    """The token's user session, alive, with the client attached and an enabled user.

    Keycloak's ``findValidSession`` order: missing session (or client detached), then expiry, then
    "token older than the session", then the user.  A service account's token without ``sid``
    stands for a transient session, which Keycloak rebuilds from the token.
    """
    if "sid" not in claims and claims.get("typ") == TOKEN_TYPE_ACCESS:
        return _transient_session(realm, claims, client, now)
    with mock.lock:
        session = _token_session(mock, realm, claims, client, now)
        if (
            session is None
            or session.realm != realm.realm
            or client.client_id not in session.clients
        ):
            raise SessionProblem(SESSION_NOT_FOUND)
        if not session_is_valid(realm, session, now):
            raise SessionProblem("Session expired")
        if claims.get("iat", 0) + 1 < session.started:
            raise SessionProblem("Stale token")
        user = realm.user_by_id(session.user_id)
    if user is None:
        raise SessionProblem("User not found")
    if not user.enabled:
        raise SessionProblem("User disabled")
    return _LiveSession(session=session, client=client, user=user)


def _transient_session(
    realm: RealmConfig, claims: dict[str, Any], client: ClientConfig, now: int
) -> _LiveSession:
    sub = claims.get("sub")
    user = realm.user_by_id(sub) if isinstance(sub, str) else None
    if user is None or user.service_account_client != client.client_id:
        raise SessionProblem(SESSION_NOT_FOUND)
    if not user.enabled:
        raise SessionProblem("User disabled")
    session = UserSession(
        id="",
        realm=realm.realm,
        user_id=user.id,
        started=claims.get("iat", now),
        last_refresh=now,
        clients={client.client_id: ClientSession(timestamp=now)},
    )
    return _LiveSession(session=session, client=client, user=user)


def _token_session(
    mock: MockState, realm: RealmConfig, claims: dict[str, Any], client: ClientConfig, now: int
) -> UserSession | None:
    """The session a token's ``sid`` names: an offline token's in the offline store; an access
    token's online if it is still usable there, else offline (Keycloak's ``findValidSession``)."""
    sid = claims.get("sid")
    if not isinstance(sid, str):
        return None
    token_type = claims.get("typ")
    if token_type == _TOKEN_TYPE_OFFLINE:
        return mock.session(sid, offline=True)
    online = mock.session(sid)
    if token_type != TOKEN_TYPE_ACCESS:
        return online
    usable = (
        online is not None
        and online.realm == realm.realm
        and client.client_id in online.clients
        and session_is_valid(realm, online, now)
    )
    if usable:
        return online
    return mock.session(sid, offline=True) or online


def _current_claims(
    claims: dict[str, Any], live: _LiveSession, realm: RealmConfig
) -> dict[str, Any]:
    """The token's claims with roles and profile re-resolved now, as Keycloak's mappers do."""
    grant = Grant(
        realm=realm,
        client=live.client,
        user=live.user,
        issuer=claims["iss"],
        session_id=live.session.id or None,
        scopes=applied_scopes(live.client, split_scope(claims.get("scope", ""))),
        # Session notes of a service account's login, which its token carries.
        service_account_claims={
            k: claims[k]
            for k in _SERVICE_ACCOUNT_CLAIMS
            if live.user.service_account_client and isinstance(claims.get(k), str)
        },
    )
    # An offline token without ``exp`` introspects without one, as Keycloak's does.
    return access_token_claims(grant, now=claims["iat"], exp=claims.get("exp"), jti=claims["jti"])


def _decode_any(mock: MockState, realm: RealmConfig, encoded: str) -> dict[str, Any] | None:
    """Claims of a token this realm signed (access: RS256, refresh: HS512), or ``None``.

    Like Keycloak's ``session.tokens().decode`` only the signature is checked, with the realm's
    own keys, plus the issuer.
    """
    import jwt  # here, not at the top: PyJWT slows start-up and only decoding needs it

    try:
        algorithm = jwt.get_unverified_header(encoded).get("alg")
    except jwt.PyJWTError:
        return None
    try:
        if algorithm == "HS512":
            claims = decode_refresh_token(mock, realm, encoded)
        else:
            claims = verify_rs256_signature(encoded, mock, realm.realm)
    except (InvalidGrant, TokenVerificationError):
        return None
    if claims.get("iss") != realm_url(realm.realm):
        return None
    return claims


def _exp_ok(claims: dict[str, Any]) -> bool:
    """``exp`` is a number, or absent on an offline token (no offline session maximum)."""
    if "exp" not in claims:
        return claims.get("typ") == _TOKEN_TYPE_OFFLINE
    return _has_types(claims, exp=int)


def _has_types(claims: dict[str, Any], **types: type) -> bool:
    return all(
        isinstance(claims.get(name), kind) and not isinstance(claims.get(name), bool)
        for name, kind in types.items()
    )


# -- userinfo -----------------------------------------------------------------------------------


@blueprint.route(f"{_OIDC}/userinfo", methods=["GET", "POST"], provide_automatic_options=False)
def userinfo(realm_name: str) -> Response:
    realm = require_realm(realm_name)
    # Refusals before the token checks out may be read by any page; then its client's origins.
    cors.allow_any_origin()
    mock = state()
    token = _userinfo_token(realm)
    if token is None:
        raise BearerChallenge(401, realm=realm.realm)
    try:
        claims = check_access_token(
            token, mock, issuer_base=issuer_base(), realm=realm.realm
        ).claims
    except TokenVerificationError:
        raise _invalid_token(realm, TOKEN_VERIFICATION_FAILED) from None
    if "openid" not in split_scope(claims.get("scope") or ""):
        raise BearerChallenge(403, "insufficient_scope", "Missing openid scope", realm=realm.realm)
    # Keycloak narrows CORS to the token's client once it has found it, after the scope check.
    azp = claims.get("azp")
    token_client = realm.client(azp) if isinstance(azp, str) else None
    if token_client is not None:
        cors.allow_client(token_client)
    try:
        live = live_session_of(mock, realm, claims)
    except SessionProblem as problem:
        raise _invalid_token(realm, str(problem)) from None
    current = _current_claims(claims, live, realm)
    body = {"sub": live.user.id, **{k: current[k] for k in _USERINFO_CLAIMS if k in current}}
    response = json_response({key: body[key] for key in java_hash_order(body)}, headers=NO_STORE)
    # Keycloak's @NoCache adds a second Cache-Control header after its own no-store.
    response.headers.add("Cache-Control", "no-cache")
    return response


def _userinfo_token(realm: RealmConfig) -> str | None:
    """The access token from ``Authorization: Bearer`` or (POST) the form, never both."""
    token = _bearer_token(request.headers.get("Authorization"))
    if request.method == "POST" and request.mimetype == FORM_CONTENT_TYPE:
        values = request.form.getlist("access_token")
        if len(values) > 1:
            raise BearerChallenge(400, "invalid_request", "Duplicate parameter", realm=realm.realm)
        if values:
            if token is not None:
                raise BearerChallenge(
                    400,
                    "invalid_request",
                    "More than one method used for including an access token",
                    realm=realm.realm,
                )
            token = values[0]
    return token


def _bearer_token(header: str | None) -> str | None:
    """Keycloak's ``extractAuthorizationHeaderTokenOrReturnNull``: exactly ``Bearer <token>``."""
    parts = (header or "").split()
    if len(parts) != 2 or parts[0].lower() != "bearer":
        return None
    return parts[1]


def _invalid_token(realm: RealmConfig, description: str) -> BearerChallenge:
    return BearerChallenge(401, "invalid_token", description, realm=realm.realm)


@blueprint.errorhandler(BearerChallenge)
def _userinfo_refusal(refusal: BearerChallenge) -> Response:
    """Keycloak's userinfo errors: empty text/plain body, the error only in the header."""
    response = Response(b"", status=refusal.status, content_type="text/plain;charset=utf-8")
    response.headers["WWW-Authenticate"] = refusal.challenge()
    response.headers.update(NO_STORE)
    g.omitted_security_headers = ("X-Frame-Options",)
    return response


# -- logout -------------------------------------------------------------------------------------


@blueprint.route(f"{_OIDC}/logout", methods=["GET", "POST"], provide_automatic_options=False)
def logout(realm_name: str) -> Response:
    """Non-browser logout with a refresh token: ends its user session, for all clients.

    Without ``refresh_token`` (a GET, or a form without one) it is the browser's logout.
    """
    realm = require_realm(realm_name)
    if request.method == "GET":
        return browser_logout(realm, single_values(request.args))
    form = single_values(require_form())
    if "refresh_token" not in form:
        return browser_logout(realm, form)
    client = authenticate_client(realm, form, request.headers.get("Authorization"))
    cors.allow_client(client)
    if client.bearer_only:
        raise InvalidClient("Bearer-only not allowed", status=400)
    encoded = form.get("refresh_token")
    if encoded is None:
        raise InvalidRequest("No refresh token")
    mock = state()
    claims = decode_refresh_token(mock, realm, encoded)
    # No expiry check: an expired refresh token still logs its session out.
    check_refresh_claims(
        realm, client, claims, realm_url(realm.realm), mock.clock.seconds(), check_expiry=False
    )
    # An offline token ends the offline session only; the online one (if any) lives on.
    offline = claims["typ"] == _TOKEN_TYPE_OFFLINE
    with mock.lock:
        session = mock.session(claims["sid"], offline=offline)
        if session is not None and session.realm == realm.realm:
            mock.end_session(session.id, offline=offline)
    response = Response(status=204)
    del response.headers["Content-Type"]
    response.headers.update({"Cache-Control": "no-cache", **_CSP})
    return response


@blueprint.route(f"{_OIDC}/logout/logout-confirm", methods=["POST"])
def logout_confirm(realm_name: str) -> Response:
    """The confirmation page's form (the browser logout without ``id_token_hint``)."""
    realm = require_realm(realm_name)
    return confirmed_logout(realm, single_values(require_form()))


# -- CORS preflights ----------------------------------------------------------------------------


@blueprint.route(f"{_OIDC}/userinfo", methods=["OPTIONS"])
@blueprint.route(f"{_OIDC}/logout", methods=["OPTIONS"])
def preflight_any_method(realm_name: str) -> Response:
    """Userinfo's and logout's preflights name no methods: Keycloak's default list."""
    require_realm(realm_name)
    return cors.preflight(request.headers.get("Origin"))


@blueprint.route(f"{_OIDC}/revoke", methods=["OPTIONS"])
def preflight_post(realm_name: str) -> Response:
    require_realm(realm_name)
    return cors.preflight(request.headers.get("Origin"), ("POST", "OPTIONS"))


# -- revocation ---------------------------------------------------------------------------------


@blueprint.route(f"{_OIDC}/revoke", methods=["POST"], provide_automatic_options=False)
def revoke(realm_name: str) -> Response:
    """RFC 7009 as Keycloak does it: a refresh token detaches its client, an access token dies."""
    realm = require_realm(realm_name)
    raw_form = require_form()
    if not realm.enabled:
        raise AccessDenied("Realm not enabled")
    form = single_values(raw_form)
    client = authenticate_client(realm, form, request.headers.get("Authorization"))
    cors.allow_client(client)
    if client.bearer_only:
        raise InvalidClient("Bearer-only not allowed", status=400)
    if duplicated_parameter(raw_form):
        raise InvalidRequest("duplicated parameter")
    encoded = form.get("token")
    if encoded is None:
        raise InvalidRequest("Token not provided")
    mock = state()
    claims = _decode_any(mock, realm, encoded)
    if claims is None:
        raise InvalidToken("Invalid token", status=200)
    token_type = claims.get("typ")
    if token_type not in (TOKEN_TYPE_REFRESH, _TOKEN_TYPE_OFFLINE, TOKEN_TYPE_ACCESS):
        raise UnsupportedTokenType("Unsupported token type")
    azp = claims.get("azp")
    if not isinstance(azp, str):
        raise InvalidToken("Invalid token", status=200)
    if azp != client.client_id:
        raise InvalidRequest("Unmatching clients")
    now = mock.clock.seconds()
    if not _has_types(claims, jti=str) or not _exp_ok(claims):
        raise InvalidToken("Invalid token", status=200)
    try:
        live = _find_session(mock, realm, claims, client, now)
    except SessionProblem:
        raise InvalidToken("Invalid token", status=200) from None
    if token_type == TOKEN_TYPE_ACCESS:
        mock.revoke_access_token(claims["jti"], claims["exp"], now)  # access tokens have ``exp``
    else:
        with mock.lock:
            live.session.clients.pop(client.client_id, None)
            if not live.session.clients:
                mock.end_session(live.session.id, offline=live.session.offline)
    response = Response(status=200)
    # Keycloak allows an empty Content-Type here: the success has no body and no media type.
    del response.headers["Content-Type"]
    response.headers.update(_CSP)
    return response


# -- introspection ------------------------------------------------------------------------------


@blueprint.route(f"{_OIDC}/token/introspect", methods=["POST"])
def introspect(realm_name: str) -> Response:
    """RFC 7662 for confidential clients; any token this realm cannot vouch for is inactive."""
    realm = require_realm(realm_name)
    raw_form = require_form()
    if not realm.enabled:
        raise AccessDenied("Realm not enabled")
    form = single_values(raw_form)
    # No CORS here: Keycloak's introspection endpoint has neither a preflight nor CORS headers.
    client = authenticate_client(realm, form, request.headers.get("Authorization"))
    if client.public_client:
        raise InvalidRequest("Client not allowed.", status=403)
    if duplicated_parameter(raw_form):
        raise InvalidRequest("duplicated parameter")
    hint = form.get("token_type_hint", "access_token")
    encoded = form.get("token")
    if encoded is None:
        raise InvalidRequest("Token not provided.")
    if hint not in _INTROSPECTION_HINTS:
        raise InvalidRequest(f"Unsupported token type [{hint}].")
    body = _introspection(state(), realm, encoded, hint) or {"active": False}
    return json_response(body, headers={"Cache-Control": "no-cache"})


def _introspection(
    mock: MockState, realm: RealmConfig, encoded: str, hint: str
) -> dict[str, Any] | None:
    """The active body, or ``None`` for every reason Keycloak answers ``{"active":false}``."""
    claims = _decode_any(mock, realm, encoded)
    if claims is None or not _has_types(claims, iat=int, jti=str, azp=str) or not _exp_ok(claims):
        return None
    token_type = claims.get("typ")
    if hint == "refresh_token" and token_type not in (TOKEN_TYPE_REFRESH, _TOKEN_TYPE_OFFLINE):
        return None
    client = realm.client(claims["azp"])
    now = mock.clock.seconds()
    if client is None or not client.enabled or claims["iat"] < realm.not_before:
        return None
    expired = "exp" in claims and now > claims["exp"]
    if expired or mock.is_access_token_revoked(claims["jti"], now):
        return None
    try:
        live = _find_session(mock, realm, claims, client, now)
    except SessionProblem:
        return None
    if (
        hint == "refresh_token"
        and realm.revoke_refresh_token
        and not _reusable(realm, live, claims)
    ):
        return None
    body = _current_claims(claims, live, realm)
    body["typ"] = token_type
    if token_type != TOKEN_TYPE_ACCESS:
        body = _with_own_audience(body, claims.get("aud"))
    if not body.get("scope", "").strip():
        body.pop("scope", None)
    body.update(
        client_id=claims["azp"],
        username=body.get("preferred_username", live.user.username),
        token_type=token_type,
        active=True,
    )
    return body


def _with_own_audience(claims: dict[str, Any], own: object) -> dict[str, Any]:
    """A refresh token's ``aud`` (the issuer) joins the client audiences the mappers add."""
    if not isinstance(own, str):
        return claims
    mapped = claims.get("aud")
    audiences = [] if mapped is None else [mapped] if isinstance(mapped, str) else list(mapped)
    if own not in audiences:
        audiences.append(own)
    ordered: dict[str, Any] = {}
    for key, value in claims.items():
        if key == "aud":
            continue
        ordered[key] = value
        if key == "iss":
            ordered["aud"] = audiences[0] if len(audiences) == 1 else audiences
    return ordered


def _reusable(realm: RealmConfig, live: _LiveSession, claims: dict[str, Any]) -> bool:
    """``revokeRefreshToken``: a superseded or used-up refresh token introspects inactive.

    The refresh grant's reuse rules (``grants._check_reuse``) without counting this look as a use.
    """
    client_session = live.session.clients.get(live.client.client_id)
    if client_session is None:
        return False
    current = client_session.current_refresh_token
    if claims["jti"] != current:
        return current is None or claims["iat"] >= client_session.timestamp
    return client_session.refresh_token_use_count <= realm.refresh_token_max_reuse
