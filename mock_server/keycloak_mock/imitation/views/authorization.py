"""The authorization endpoint, which the mock does not imitate: it has no login page.

It answers as Keycloak 25-26.1's ``AuthorizationEndpoint`` answers a client that may not use the
browser flow, after the checks that come first, in Keycloak's order:

1. no, an empty, an unknown or a disabled ``client_id``: error page, 400; a bearer-only
   client: error page, 403;
2. a redirect URI the client does not register (compared as literal strings, a trailing ``*``
   matching any rest), or none when the client has not exactly one: error page, 400;
3. then back to the redirect URI: no ``response_type`` is ``invalid_request``; an unknown one
   ``unsupported_response_type`` (no description); a bad ``response_mode`` ``invalid_request``;
   otherwise ``unauthorized_client``, the standard (or implicit) flow being disabled.

The error goes in the query for the code flow and in the fragment for implicit and hybrid ones
(or where ``response_mode`` says), with ``state`` and ``iss``.  A ``GET`` reads the query, a
``POST`` only its form.  So a client that starts a code flow against the mock fails at once
with an error it can show.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, Response, g, request

from keycloak_mock.imitation.config import ClientConfig
from keycloak_mock.imitation.http import realm_url

from .common import require_realm, single_values
from .pages import error_page, redirect, redirect_uri_matches

blueprint = Blueprint("authorization", __name__)

_TYPE_ORDER = ["code", "none", "id_token", "token"]
_RESPONSE_TYPES = {
    "code", "none", "id_token", "token", "id_token token", "code id_token", "code token",
    "code id_token token",
}  # fmt: skip
_STANDARD_FLOW = {"code", "none"}
#: Compared case-sensitively, as Keycloak does.
_RESPONSE_MODES = {
    "query", "fragment", "form_post", "jwt", "query.jwt", "fragment.jwt", "form_post.jwt",
}  # fmt: skip
_FLOW_DISABLED = "Client is not allowed to initiate browser login with given response_type. {}"
#: Keycloak's error redirects carry no X-Frame-Options and a no-store Cache-Control.
_REDIRECT_CACHE = {"Cache-Control": "no-store, must-revalidate, max-age=0"}


@blueprint.route("/realms/<realm_name>/protocol/openid-connect/auth", methods=["GET", "POST"])
def auth(realm_name: str) -> Response:
    realm = require_realm(realm_name)
    params = single_values(request.args if request.method == "GET" else request.form)
    client_id = params.get("client_id") or None
    if client_id is None:
        return error_page(realm, "Missing parameter: client_id")
    client = realm.client(client_id)
    if client is None:
        return error_page(realm, "Client not found.")
    if not client.enabled:
        return error_page(realm, "Client disabled.")
    if client.bearer_only:
        return error_page(
            realm, "Bearer-only clients are not allowed to initiate browser login.", 403
        )
    redirect_uri = _redirect_uri(client, params.get("redirect_uri"))
    if redirect_uri is None:
        return error_page(realm, "Invalid parameter: redirect_uri")

    response_type = params.get("response_type")
    normalised = _normalised(response_type or "")
    mode = params.get("response_mode")
    error: dict[str, str]
    if response_type is None:
        error = {
            "error": "invalid_request",
            "error_description": "Missing parameter: response_type",
        }
    elif normalised not in _RESPONSE_TYPES:
        error = {"error": "unsupported_response_type"}
    elif mode is not None and mode not in _RESPONSE_MODES:
        error = {
            "error": "invalid_request",
            "error_description": "Invalid parameter: response_mode",
        }
    elif normalised in _STANDARD_FLOW:
        description = _FLOW_DISABLED.format("Standard flow is disabled for the client.")
        error = {"error": "unauthorized_client", "error_description": description}
    else:
        description = _FLOW_DISABLED.format("Implicit flow is disabled for the client.")
        error = {"error": "unauthorized_client", "error_description": description}
    if params.get("state") is not None:
        error["state"] = params["state"]
    error["iss"] = realm_url(realm.realm)
    in_fragment = (
        mode.startswith("fragment")
        if mode in _RESPONSE_MODES and mode is not None
        else normalised in _RESPONSE_TYPES and normalised not in _STANDARD_FLOW
    )
    separator = "#" if in_fragment else ("&" if "?" in redirect_uri else "?")
    response = redirect(f"{redirect_uri}{separator}{urlencode(error)}")
    response.headers.update(_REDIRECT_CACHE)
    g.omitted_security_headers = ("X-Frame-Options",)
    return response


def _invalid_request(description: str) -> dict[str, str]:
    return {"error": "invalid_request", "error_description": description}


def _normalised(response_type: str) -> str:
    """Response types in a canonical order (``token id_token`` is ``id_token token``)."""
    parts = set(response_type.split(" "))
    if not parts <= set(_TYPE_ORDER):
        return response_type
    return " ".join(sorted(parts, key=_TYPE_ORDER.index))


def _redirect_uri(client: ClientConfig, requested: str | None) -> str | None:
    """The registered redirect URI the request names; with none named, the only one there is."""
    if requested is None:
        registered = client.redirect_uris
        if len(registered) == 1 and "*" not in registered[0]:
            return registered[0]
        return None
    if any(redirect_uri_matches(requested, pattern) for pattern in client.redirect_uris):
        return requested
    return None
