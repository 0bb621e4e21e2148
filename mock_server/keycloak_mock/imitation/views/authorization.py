"""The authorization endpoint, which the mock does not imitate: it has no login page.

It answers as Keycloak 25-26.1's ``AuthorizationEndpoint`` answers a client that may not use the
browser flow, after the checks that come first: no or an unknown ``client_id`` and a redirect URI
the client does not register are error pages (400); a missing or unknown ``response_type`` and
then "standard (or implicit) flow disabled" go back to the redirect URI as an OAuth error with
``state`` and ``iss``, in the query (code flow) or the fragment (implicit and hybrid).  So a
client that tries a code flow against the mock fails at once with an error it can show.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, Response, request

from keycloak_mock.imitation.config import ClientConfig, RealmConfig
from keycloak_mock.imitation.http import realm_url

from .browserlogout import error_page, redirect_uri_matches
from .common import require_realm, single_values

blueprint = Blueprint("authorization", __name__)

_RESPONSE_TYPES = {
    "code", "none", "id_token", "token", "id_token token", "code id_token", "code token",
    "code id_token token",
}  # fmt: skip
_STANDARD_FLOW = {"code", "none"}
_STANDARD_DISABLED = (
    "Client is not allowed to initiate browser login with given response_type. "
    "Standard flow is disabled for the client."
)
_IMPLICIT_DISABLED = (
    "Client is not allowed to initiate browser login with given response_type. "
    "Implicit flow is disabled for the client."
)


@blueprint.route("/realms/<realm_name>/protocol/openid-connect/auth", methods=["GET", "POST"])
def auth(realm_name: str) -> Response:
    realm = require_realm(realm_name)
    source = request.args if request.method == "GET" else request.form
    params = single_values(source)
    client_id = params.get("client_id")
    if client_id is None:
        return error_page(realm, "Missing parameter: client_id")
    client = realm.client(client_id)
    if client is None:
        return error_page(realm, "Client not found.")
    if not client.enabled:
        return error_page(realm, "Client disabled.")
    redirect_uri = _redirect_uri(client, params.get("redirect_uri"))
    if redirect_uri is None:
        return error_page(realm, "Invalid parameter: redirect_uri")
    response_type = params.get("response_type")
    normalised = _normalised(response_type or "")
    if response_type is None:
        error = ("invalid_request", "Missing parameter: response_type")
    elif normalised not in _RESPONSE_TYPES:
        error = ("unsupported_response_type", "Unsupported response_type")
    elif normalised in _STANDARD_FLOW:
        error = ("unauthorized_client", _STANDARD_DISABLED)
    else:
        error = ("unauthorized_client", _IMPLICIT_DISABLED)
    fragment = normalised not in _STANDARD_FLOW and normalised in _RESPONSE_TYPES
    return _redirect_error(realm, redirect_uri, error, params.get("state"), fragment=fragment)


_TYPE_ORDER = ["code", "none", "id_token", "token"]


def _normalised(response_type: str) -> str:
    """Response types in a canonical order (``token id_token`` is ``id_token token``)."""
    parts = set(response_type.split())
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


def _redirect_error(
    realm: RealmConfig,
    redirect_uri: str,
    error: tuple[str, str],
    state: str | None,
    *,
    fragment: bool,
) -> Response:
    params = {"error": error[0], "error_description": error[1]}
    if state is not None:
        params["state"] = state
    params["iss"] = realm_url(realm.realm)
    separator = "#" if fragment else ("&" if "?" in redirect_uri else "?")
    response = Response(status=302)
    del response.headers["Content-Type"]
    response.headers["Location"] = f"{redirect_uri}{separator}{urlencode(params)}"
    return response
