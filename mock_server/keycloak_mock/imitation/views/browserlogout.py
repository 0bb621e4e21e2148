"""RP-initiated logout: ``GET /logout``, or a form ``POST /logout`` with no refresh token.

What Keycloak 25-26.1's ``LogoutEndpoint`` does, in its order: ``post_logout_redirect_uri`` needs
``id_token_hint`` or ``client_id``; a hint must carry this realm's signature (an expired one still
counts); ``client_id`` must name a client, the hint's own when both are given; the redirect URI
must match the client's post-logout redirect URIs (``+``: its redirect URIs).  Each refusal is an
HTML error page with status 400.  With a good hint the hinted session ends without a question and
the browser goes to the redirect URI (with ``state``) or sees the logged-out page.  Without a hint
Keycloak asks for confirmation; the mock has no browser sessions, so confirming ends none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from flask import Response, render_template

from keycloak_mock.imitation.config import ClientConfig, RealmConfig
from keycloak_mock.imitation.errors import TokenVerificationError
from keycloak_mock.imitation.http import realm_url, state
from keycloak_mock.imitation.tokens import TOKEN_TYPE_ID
from keycloak_mock.imitation.verify import verify_rs256_signature

_HTML = "text/html;charset=utf-8"
_PAGE_HEADERS = {
    "Cache-Control": "no-store, must-revalidate, max-age=0",
    "Content-Security-Policy": "frame-src 'self'; frame-ancestors 'self'; object-src 'none';",
}
INCLUDE_REDIRECTS = "+"
CONFIRM_PATH = "/protocol/openid-connect/logout/logout-confirm"


class _Refusal(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def browser_logout(realm: RealmConfig, params: Mapping[str, str]) -> Response:
    """The answer to a browser's logout request (query of a GET, form of a POST)."""
    try:
        return _logout(realm, params)
    except _Refusal as refusal:
        return error_page(realm, refusal.message)


def confirmed_logout(realm: RealmConfig, form: Mapping[str, str]) -> Response:
    """The confirmation form came back: no browser session to end, so redirect or say done."""
    try:
        client = _named_client(realm, form.get("client_id"), None)
        redirect = _validated_redirect(client, form.get("post_logout_redirect_uri"))
    except _Refusal as refusal:
        return error_page(realm, refusal.message)
    return _finish(realm, redirect, form.get("state"))


def _logout(realm: RealmConfig, params: Mapping[str, str]) -> Response:
    hint = params.get("id_token_hint")
    client_id = params.get("client_id")
    redirect_uri = params.get("post_logout_redirect_uri")
    if redirect_uri is not None and hint is None and client_id is None:
        raise _Refusal("Missing parameters: id_token_hint")
    claims = _id_token_claims(realm, hint) if hint is not None else None
    client = _named_client(realm, client_id, claims)
    redirect = _validated_redirect(client, redirect_uri)
    if claims is None:
        return _confirmation_page(realm, client, redirect, params.get("state"))
    mock = state()
    sid = claims.get("sid")
    with mock.lock:
        session = mock.session(sid) if isinstance(sid, str) else None
        if session is not None and session.realm == realm.realm:
            mock.end_session(session.id)
    return _finish(realm, redirect, params.get("state"))


def _id_token_claims(realm: RealmConfig, encoded: str) -> dict[str, Any]:
    """Signature and issuer only: a hint may be expired, as the spec lets a client send it."""
    try:
        claims = verify_rs256_signature(encoded, state())
    except TokenVerificationError:
        raise _Refusal("Session not active.") from None
    if claims.get("iss") != realm_url(realm.realm) or claims.get("typ") != TOKEN_TYPE_ID:
        raise _Refusal("Session not active.")
    return claims


def _named_client(
    realm: RealmConfig, client_id: str | None, claims: Mapping[str, Any] | None
) -> ClientConfig | None:
    hinted = claims.get("azp") if claims is not None else None
    if client_id is None:
        return realm.client(hinted) if isinstance(hinted, str) else None
    client = realm.client(client_id)
    if client is None or (claims is not None and hinted != client_id):
        raise _Refusal("Invalid parameter: client_id")
    return client


def _validated_redirect(client: ClientConfig | None, uri: str | None) -> str | None:
    if uri is None:
        return None
    patterns = _post_logout_patterns(client) if client is not None else []
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


def redirect_uri_matches(uri: str, pattern: str) -> bool:
    """Keycloak's redirect URI rule: equal, or a pattern ending in ``*`` is a prefix."""
    if pattern.endswith("*"):
        return uri.startswith(pattern[:-1])
    return uri == pattern


def _finish(realm: RealmConfig, redirect: str | None, state_param: str | None) -> Response:
    if redirect is None:
        return _page(realm, 200, title="Logging out", heading="You are logged out")
    if state_param is not None:
        separator = "&" if "?" in redirect else "?"
        redirect = f"{redirect}{separator}{urlencode({'state': state_param})}"
    response = Response(status=302)
    del response.headers["Content-Type"]
    response.headers["Location"] = redirect
    return response


def _confirmation_page(
    realm: RealmConfig, client: ClientConfig | None, redirect: str | None, state_param: str | None
) -> Response:
    hidden = {
        name: value
        for name, value in (
            ("client_id", client.client_id if client is not None else None),
            ("post_logout_redirect_uri", redirect),
            ("state", state_param),
        )
        if value is not None
    }
    return _page(
        realm,
        200,
        title="Logging out",
        heading="Do you want to logout?",
        confirm_action=realm_url(realm.realm) + CONFIRM_PATH,
        hidden=hidden,
    )


def error_page(realm: RealmConfig, message: str) -> Response:
    """Keycloak's error page (status 400) with ``message``."""
    return _page(realm, 400, title="Error", heading="We are sorry...", message=message)


def _page(realm: RealmConfig, status: int, **context: Any) -> Response:
    context.setdefault("hidden", {})
    body = render_template("logout_page.html", realm=realm.realm, **context)
    response = Response(body, status=status, content_type=_HTML)
    response.headers.update(_PAGE_HEADERS)
    return response
