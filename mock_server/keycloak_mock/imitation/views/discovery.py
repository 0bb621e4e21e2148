"""Discovery document, JWKS and realm info: what clients read to find and verify tokens."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, request

from keycloak_mock.imitation import cors
from keycloak_mock.imitation.http import json_response, realm_url, state

from .common import require_realm

blueprint = Blueprint("discovery", __name__)
_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"]
NOT_FOUND = {"error": "HTTP 404 Not Found"}

#: Discovery key -> (view endpoint that must exist, path below the realm URL), in Keycloak's order.
_ENDPOINTS = (
    ("token_endpoint", "token.token", "/protocol/openid-connect/token"),
    ("introspection_endpoint", "sessions.introspect", "/protocol/openid-connect/token/introspect"),
    ("userinfo_endpoint", "sessions.userinfo", "/protocol/openid-connect/userinfo"),
    ("end_session_endpoint", "sessions.logout", "/protocol/openid-connect/logout"),
    ("jwks_uri", "discovery.certs", "/protocol/openid-connect/certs"),
)
_REVOCATION = ("revocation_endpoint", "sessions.revoke", "/protocol/openid-connect/revoke")
_CLAIMS = [
    "iss", "sub", "aud", "exp", "iat", "auth_time", "name", "given_name",
    "family_name", "preferred_username", "email", "acr", "azp",
]  # fmt: skip
_CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


@blueprint.route("/realms/<realm_name>/.well-known/openid-configuration", methods=_ALL_METHODS)
def openid_configuration(realm_name: str) -> Response:
    realm = require_realm(realm_name)
    if request.method not in ("GET", "HEAD"):
        return json_response(NOT_FOUND, 404)
    cors.allow_any_origin(expose=False)
    base = realm_url(realm.realm)
    views = current_app.view_functions
    document: dict[str, Any] = {"issuer": base}
    for key, endpoint, path in _ENDPOINTS:
        if endpoint in views:
            document[key] = base + path
    scopes = {"openid"}
    for client in realm.clients:
        scopes.update(client.default_client_scopes, client.optional_client_scopes)
    document.update(
        {
            "grant_types_supported": ["password", "refresh_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": _CLIENT_AUTH_METHODS,
            "claims_supported": _CLAIMS,
            "scopes_supported": sorted(scopes - {"basic", "acr", "roles", "web-origins"}),
        }
    )
    key, endpoint, path = _REVOCATION
    if endpoint in views:
        document[key] = base + path
        document["revocation_endpoint_auth_methods_supported"] = _CLIENT_AUTH_METHODS
    if "sessions.introspect" in views:
        document["introspection_endpoint_auth_methods_supported"] = _CLIENT_AUTH_METHODS
    return json_response(
        document, headers={"Cache-Control": "no-cache, must-revalidate, no-transform, no-store"}
    )


@blueprint.route(
    "/realms/<realm_name>/protocol/openid-connect/certs",
    methods=["GET"],
    provide_automatic_options=False,
)
def certs(realm_name: str) -> Response:
    realm = require_realm(realm_name)
    cors.allow_any_origin(expose=False)
    keys = [key.jwk(realm.realm) for key in state().signing_keys]
    return json_response({"keys": keys}, headers={"Cache-Control": "no-cache"})


@blueprint.route("/realms/<realm_name>/protocol/openid-connect/certs", methods=["OPTIONS"])
def certs_preflight(realm_name: str) -> Response:
    require_realm(realm_name)
    return cors.preflight(request.headers.get("Origin"), ("GET",))


@blueprint.route("/realms/<realm_name>", methods=_ALL_METHODS)
def realm_info(realm_name: str) -> Response:
    realm = require_realm(realm_name)
    if request.method not in ("GET", "HEAD"):
        return json_response(NOT_FOUND, 404)
    base = realm_url(realm.realm)
    body = {
        "realm": realm.realm,
        "public_key": state().active_key.public_key_b64,
        "token-service": f"{base}/protocol/openid-connect",
        "account-service": f"{base}/account",
        "tokens-not-before": realm.not_before,
    }
    return json_response(
        body, headers={"Cache-Control": "no-cache"}, content_type="application/json;charset=UTF-8"
    )
