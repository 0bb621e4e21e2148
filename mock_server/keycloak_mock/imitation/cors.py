"""CORS on the realm's OIDC endpoints, decided the way Keycloak 25-26.1 decides it.

Keycloak answers a preflight (``OPTIONS``) for any ``Origin``; an actual request gets
``Access-Control-Allow-Origin`` only when its ``Origin`` is one of the allowed origins the
endpoint chose: the authenticated client's web origins on the token, revocation, introspection
and logout endpoints, every origin on the JWKS and discovery documents and on userinfo's early
refusals.  Without an ``Origin`` header nothing is added, so such answers stay byte for byte
what they were.  An origin that is not allowed gets the normal answer without CORS headers
(Keycloak 26.6.3 and later refuse it with 403; the mock imitates 25-26.1).

A view names what it allows with ``allow_client``/``allow_any_origin``; the response finisher
(``finish``) writes the headers.  Only the Keycloak views call these, so the control API under
``/_mock`` never becomes readable from another site's page.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Response
from flask.ctx import _AppCtxGlobals

from .config import ClientConfig
from .http import current_globals
from .javaorder import java_hash_order
from .weborigins import ANY_ORIGIN, resolved_web_origins

_ALLOW_HEADERS = (
    "Origin, Accept, X-Requested-With, Content-Type, Access-Control-Request-Method, "
    "Access-Control-Request-Headers"
)
#: What a preflight of an endpoint that takes credentials allows (Keycloak adds Authorization).
PREFLIGHT_ALLOW_HEADERS = f"{_ALLOW_HEADERS}, Authorization"
DEFAULT_ALLOW_METHODS = "GET, HEAD, OPTIONS"
MAX_AGE = "3600"
#: What an actual request's answer exposes (Keycloak's endpoints all name this one header).
EXPOSE_HEADERS = "Access-Control-Allow-Methods"
_CONTEXT_KEY = "cors_allowed"


def allow_client(client: ClientConfig) -> None:
    """This request's answer, errors included, may be read by the client's web origins."""
    current_globals().setdefault(_CONTEXT_KEY, {"expose": True})["client"] = client


def allow_any_origin(*, expose: bool = True) -> None:
    """This request's answer may be read by any origin (JWKS, discovery, userinfo refusals).

    ``expose=False`` for the documents whose answers name no exposed header (JWKS, discovery).
    """
    setattr(current_globals(), _CONTEXT_KEY, {"client": None, "expose": expose})


def allowed(origin: str, client: ClientConfig | None) -> bool:
    if client is None:
        return True
    origins = resolved_web_origins(client)
    return origin in origins or ANY_ORIGIN in origins


def finish(context: _AppCtxGlobals, origin: str | None, response: Response) -> None:
    """Add the CORS headers the view allowed, for a request that came with an ``Origin``."""
    if origin is None:
        return
    decision: dict[str, Any] | None = context.get(_CONTEXT_KEY)
    if decision is None or not allowed(origin, decision["client"]):
        return
    headers = response.headers
    headers["Access-Control-Allow-Origin"] = origin
    if decision["expose"]:
        headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
    headers["Access-Control-Allow-Credentials"] = "true"


def preflight(origin: str | None, methods: Iterable[str] | None = None) -> Response:
    """Keycloak's answer to ``OPTIONS``: 200, no body, and for any ``Origin`` the CORS headers.

    ``methods`` are the endpoint's; Keycloak keeps them in a ``HashSet``, hence the order.
    """
    response = Response(status=200)
    del response.headers["Content-Type"]
    if origin is not None:
        allow_methods = (
            ", ".join(java_hash_order(methods)) if methods is not None else DEFAULT_ALLOW_METHODS
        )
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Methods"] = allow_methods
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.headers["Access-Control-Allow-Headers"] = PREFLIGHT_ALLOW_HEADERS
        response.headers["Access-Control-Max-Age"] = MAX_AGE
    return response
