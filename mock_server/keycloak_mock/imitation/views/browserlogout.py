"""RP-initiated logout: ``GET /logout``, or a form ``POST /logout`` with no refresh token.

What Keycloak's ``LogoutEndpoint`` (25-26.1) does, in its order, for a browser without a
Keycloak session cookie (the mock has no browser sessions):

- the legacy ``redirect_uri`` parameter is refused, and ``post_logout_redirect_uri`` needs
  ``id_token_hint`` or ``client_id``;
- a hint must be an ID token this realm signed (an expired one still counts), and the one of
  ``client_id`` when both are given, else "Invalid parameter: id_token_hint";
- an unknown ``client_id`` is no refusal but forces the confirmation page, unless a redirect URI
  was asked for: that can then not be valid;
- the redirect URI must match the client's post-logout redirect URIs (``+``: its redirect
  URIs), or with no client at all, any client's redirect URIs.

A hint whose client is known ends the hinted session without a question; so does a known
``client_id`` with a valid redirect URI and no hint (there is no session to end).  Then the
browser goes to the redirect URI (with ``state``) or sees the logged-out page.  Otherwise Keycloak
asks for confirmation.  Refusals are HTML error pages with status 400.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from flask import Response

from keycloak_mock.imitation.config import ClientConfig, RealmConfig
from keycloak_mock.imitation.errors import TokenVerificationError
from keycloak_mock.imitation.http import realm_url, state
from keycloak_mock.imitation.tokens import TOKEN_TYPE_ID
from keycloak_mock.imitation.verify import verify_rs256_signature

from .pages import NO_CACHE, error_page, page, redirect, redirect_uri_matches

INCLUDE_REDIRECTS = "+"
CONFIRM_PATH = "/protocol/openid-connect/logout/logout-confirm"
_INVALID_HINT = "Invalid parameter: id_token_hint"


class _Refusal(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def browser_logout(realm: RealmConfig, params: Mapping[str, str]) -> Response:
    """The answer to a browser's logout request (query of a GET, form of a POST)."""
    try:
        response = _logout(realm, params)
    except _Refusal as refusal:
        response = error_page(realm, refusal.message)
    # The endpoint is @NoCache: every answer of it says so.
    response.headers.update(NO_CACHE)
    return response


def confirmed_logout(realm: RealmConfig, form: Mapping[str, str]) -> Response:
    """The confirmation page's form came back (with its button, ``confirmLogout``).

    Keycloak keeps the request in a logout session behind a one-time code; the mock's page
    carries it in hidden fields instead and checks it again here.
    """
    try:
        if "confirmLogout" not in form:
            raise _Refusal("Logout failed")
        hint = form.get("id_token_hint")
        claims = _id_token_claims(realm, hint) if hint is not None else None
        client = _client(realm, form.get("client_id"), claims)
        uri = _validated_redirect(realm, form.get("client_id"), client, form.get("redirect"))
    except _Refusal as refusal:
        response = error_page(realm, refusal.message)
    else:
        if claims is not None:
            _end_hinted_session(realm, claims)
        response = _finish(realm, uri, form.get("state"))
    response.headers.update(NO_CACHE)
    return response


def _logout(realm: RealmConfig, params: Mapping[str, str]) -> Response:
    hint = params.get("id_token_hint")
    client_id = params.get("client_id")
    redirect_uri = params.get("post_logout_redirect_uri")
    if "redirect_uri" in params:
        raise _Refusal("Invalid parameter: redirect_uri")
    if redirect_uri is not None and hint is None and client_id is None:
        raise _Refusal("Missing parameters: id_token_hint")
    claims = _id_token_claims(realm, hint) if hint is not None else None
    client = _client(realm, client_id, claims)
    uri = _validated_redirect(realm, client_id, client, redirect_uri)
    if client is not None and (claims is not None or uri is not None):
        if claims is not None:
            _end_hinted_session(realm, claims)
        return _finish(realm, uri, params.get("state"))
    hidden = {
        "id_token_hint": hint,
        "client_id": client_id,
        "redirect": uri,
        "state": params.get("state"),
    }
    return _confirmation_page(realm, {k: v for k, v in hidden.items() if v is not None})


def _end_hinted_session(realm: RealmConfig, claims: Mapping[str, Any]) -> None:
    mock = state()
    sid = claims.get("sid")
    with mock.lock:
        session = mock.session(sid) if isinstance(sid, str) else None
        if session is not None and session.realm == realm.realm:
            mock.end_session(session.id)


def _id_token_claims(realm: RealmConfig, encoded: str) -> dict[str, Any]:
    """Signature and type only: a hint may be expired, as the specification lets it be."""
    try:
        claims = verify_rs256_signature(encoded, state())
    except TokenVerificationError:
        raise _Refusal(_INVALID_HINT) from None
    # One key serves every realm here, where Keycloak's keys are per realm: the issuer tells.
    if claims.get("iss") != realm_url(realm.realm) or claims.get("typ") != TOKEN_TYPE_ID:
        raise _Refusal(_INVALID_HINT)
    return claims


def _client(
    realm: RealmConfig, client_id: str | None, claims: Mapping[str, Any] | None
) -> ClientConfig | None:
    hinted = claims.get("azp") if claims is not None else None
    if client_id is None:
        return realm.client(hinted) if isinstance(hinted, str) else None
    if isinstance(hinted, str) and hinted != client_id:
        raise _Refusal(_INVALID_HINT)
    return realm.client(client_id)


def _validated_redirect(
    realm: RealmConfig, client_id: str | None, client: ClientConfig | None, uri: str | None
) -> str | None:
    if uri is None:
        return None
    if client is not None:
        patterns = _post_logout_patterns(client)
    elif client_id is None:
        patterns = [p for c in realm.clients for p in c.redirect_uris]
    else:
        patterns = []  # a client_id that names no client: nothing can be valid
    if not any(redirect_uri_matches(uri, pattern) for pattern in patterns):
        raise _Refusal("Invalid redirect uri")
    return uri


def _post_logout_patterns(client: ClientConfig) -> list[str]:
    patterns: list[str] = []
    for value in client.post_logout_redirect_uris:
        if value == INCLUDE_REDIRECTS:
            patterns.extend(client.redirect_uris)
        else:
            patterns.append(value)
    return patterns


def _finish(realm: RealmConfig, redirect_uri: str | None, state_param: str | None) -> Response:
    if redirect_uri is None:
        return page(realm, 200, title="Logging out", heading="You are logged out")
    if state_param is not None:
        separator = "&" if "?" in redirect_uri else "?"
        redirect_uri = f"{redirect_uri}{separator}{urlencode({'state': state_param})}"
    return redirect(redirect_uri)


def _confirmation_page(realm: RealmConfig, hidden: dict[str, str]) -> Response:
    return page(
        realm,
        200,
        title="Logging out",
        heading="Do you want to logout?",
        confirm_action=realm_url(realm.realm) + CONFIRM_PATH,
        hidden=hidden,
    )
