"""Response helpers that reproduce Keycloak's wire format.

Flask's ``jsonify`` sorts keys and pretty-prints in debug; Keycloak emits compact JSON in field
declaration order, so every JSON body goes through ``json_response``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from flask import Flask, Request, Response, current_app, g, request
from flask.ctx import _AppCtxGlobals

from .config import MockConfig
from .state import MockState
from .tokens import compact_json

EXTENSION_KEY = "keycloak_mock"
JSON = "application/json"

#: Sent by Keycloak 26 on every response of a realm resource.
SECURITY_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "X-Robots-Tag": "none",
}
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def json_response(
    body: Any,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    content_type: str = JSON,
) -> Response:
    response = Response(compact_json(body), status=status, content_type=content_type)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


# Flask's context-locals (``current_app``, ``request``, ``g``) are proxies: every attribute read
# through one looks the object up again, several times the cost of a plain read.  Code on the
# token path takes the object once with these helpers and reads from it.


def current_flask_app() -> Flask:
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    return app


def current_request() -> Request:
    req: Request = request._get_current_object()  # type: ignore[attr-defined]
    return req


def current_globals() -> _AppCtxGlobals:
    """This request's ``g``.  Read names that may be unset with ``.get(name)``: for a missing
    name ``getattr(g, name, None)`` raises and catches an AttributeError."""
    context: _AppCtxGlobals = g._get_current_object()
    return context


def state() -> MockState:
    mock_state: MockState = current_flask_app().extensions[EXTENSION_KEY]["state"]
    return mock_state


def mock_config() -> MockConfig:
    config: MockConfig = current_flask_app().extensions[EXTENSION_KEY]["config"]
    return config


def add_response_headers(headers: Mapping[str, str]) -> None:
    """Headers every later answer of this request carries, errors included."""
    pending: dict[str, str] = current_globals().setdefault("response_headers", {})
    pending.update(headers)


def issuer_base() -> str:
    """Public base URL: ``--issuer-url`` if set, else the URL the request came in on."""
    configured = mock_config().issuer_url
    return (configured or _request_host_url()).rstrip("/")


#: ``request.host_url`` per (scheme, Host header, server name, port).  werkzeug builds it anew
#: for every request (host validation, IRI decoding, on every token call), while a
#: mock sees the same few hosts over and over.  Bounded, since clients choose the Host header.
_host_urls: dict[tuple[object, ...], str] = {}
_HOST_URL_CACHE_SIZE = 256


def _request_host_url() -> str:
    req = current_request()
    environ = req.environ
    key = (
        environ.get("wsgi.url_scheme"),
        environ.get("HTTP_HOST"),
        environ.get("SERVER_NAME"),
        environ.get("SERVER_PORT"),
    )
    url = _host_urls.get(key)
    if url is None:
        url = req.host_url
        if len(_host_urls) >= _HOST_URL_CACHE_SIZE:
            _host_urls.clear()
        _host_urls[key] = url
    return url


def realm_url(realm: str) -> str:
    return f"{issuer_base()}/realms/{realm}"


#: Reason phrases as Keycloak's HTTP layer (Vert.x, i.e. Netty's ``HttpResponseStatus``) writes
#: them in the status line; Werkzeug would send ``401 UNAUTHORIZED``.  Codes missing here get
#: Python's phrase, which agrees with Netty's for the rest of what the mock sends.
_NETTY_REASON_PHRASES = {
    413: "Request Entity Too Large",
    414: "Request-URI Too Long",
    416: "Requested Range Not Satisfiable",
    422: "Unprocessable Entity",
}


@functools.cache
def status_line(code: int) -> str:
    """``"401 Unauthorized"``: the status as Keycloak's status line shows it."""
    phrase = _NETTY_REASON_PHRASES.get(code)
    if phrase is None:
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "Unknown Status"
    return f"{code} {phrase}"
