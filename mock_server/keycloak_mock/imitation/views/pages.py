"""The few HTML pages and redirects of the browser endpoints (logout, authorization).

Keycloak renders them from its login theme; the mock has one self-contained template with the
same messages.  Header sets are what Keycloak 26 sends: a page has ``Content-Language`` and a
``Content-Security-Policy`` and no ``Cache-Control``; an endpoint marked ``@NoCache`` (logout)
adds ``Cache-Control: no-cache`` to whatever it answers.
"""

from __future__ import annotations

from typing import Any

from flask import Response, render_template

from keycloak_mock.imitation.config import RealmConfig

HTML = "text/html;charset=utf-8"
_PAGE_HEADERS = {
    "Content-Language": "en",
    "Content-Security-Policy": "frame-src 'self'; frame-ancestors 'self'; object-src 'none';",
}
NO_CACHE = {"Cache-Control": "no-cache"}


def page(realm: RealmConfig, status: int, **context: Any) -> Response:
    """The template with ``title``, ``heading`` and optionally ``message`` or a confirm form."""
    context.setdefault("hidden", {})
    body = render_template("page.html", realm=realm.realm, **context)
    response = Response(body, status=status, content_type=HTML)
    response.headers.update(_PAGE_HEADERS)
    return response


def error_page(realm: RealmConfig, message: str, status: int = 400) -> Response:
    """Keycloak's error page with ``message``."""
    return page(realm, status, title="Error", heading="We are sorry...", message=message)


def redirect(location: str) -> Response:
    """A 302 without a body or a media type, as Keycloak's redirects are."""
    response = Response(status=302)
    del response.headers["Content-Type"]
    response.headers["Location"] = location
    return response


def redirect_uri_matches(uri: str, pattern: str) -> bool:
    """Keycloak's redirect URI rule: equal, or a pattern ending in ``*`` is a prefix.

    Literal strings on purpose: Keycloak normalises neither side, so a trailing slash, another
    case or an encoded character make a different URI.
    """
    if pattern.endswith("*"):
        return uri.startswith(pattern[:-1])
    return uri == pattern
