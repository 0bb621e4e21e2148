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

_OIDC = "/protocol/openid-connect"
#: Document key -> (view that must exist, path below the realm URL): a deployment with a view
#: switched off must not advertise it.
_ENDPOINTS = {
    "authorization_endpoint": ("authorization.auth", f"{_OIDC}/auth"),
    "token_endpoint": ("token.token", f"{_OIDC}/token"),
    "introspection_endpoint": ("sessions.introspect", f"{_OIDC}/token/introspect"),
    "userinfo_endpoint": ("sessions.userinfo", f"{_OIDC}/userinfo"),
    "end_session_endpoint": ("sessions.logout", f"{_OIDC}/logout"),
    "jwks_uri": ("discovery.certs", f"{_OIDC}/certs"),
    "revocation_endpoint": ("sessions.revoke", f"{_OIDC}/revoke"),
}
_CLAIMS = [
    "iss", "sub", "aud", "exp", "iat", "auth_time", "name", "given_name",
    "family_name", "preferred_username", "email", "acr", "azp",
]  # fmt: skip
_CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
_GRANT_TYPES = [
    "authorization_code",
    "client_credentials",
    "implicit",
    "password",
    "refresh_token",
    "urn:ietf:params:oauth:grant-type:device_code",
    "urn:ietf:params:oauth:grant-type:uma-ticket",
    "urn:openid:params:grant-type:ciba",
]  # fmt: skip
_RESPONSE_TYPES = [
    "code",
    "none",
    "id_token",
    "token",
    "id_token token",
    "code id_token",
    "code token",
    "code id_token token",
]  # fmt: skip
_RESPONSE_MODES = [
    "query",
    "fragment",
    "form_post",
    "query.jwt",
    "fragment.jwt",
    "form_post.jwt",
    "jwt",
]  # fmt: skip
#: Keycloak's document (``OIDCWellKnownProvider``, 25-26.1, default features) in its field order;
#: ``None`` marks values filled in per request.  Grant and response types are all Keycloak's,
#: whatever the mock imitates (the docs list what it does not); the algorithm lists name only
#: what the mock signs with, since a client that picked another one would fail.
_TEMPLATE: dict[str, Any] = {
    "issuer": None,
    "authorization_endpoint": None,
    "token_endpoint": None,
    "introspection_endpoint": None,
    "userinfo_endpoint": None,
    "end_session_endpoint": None,
    "frontchannel_logout_session_supported": True,
    "frontchannel_logout_supported": True,
    "jwks_uri": None,
    "grant_types_supported": _GRANT_TYPES,
    "acr_values_supported": ["0", "1"],
    "response_types_supported": _RESPONSE_TYPES,
    "subject_types_supported": ["public", "pairwise"],
    "prompt_values_supported": ["none", "login", "consent"],
    "id_token_signing_alg_values_supported": ["RS256"],
    "userinfo_signing_alg_values_supported": ["RS256", "none"],
    "request_object_signing_alg_values_supported": ["RS256", "none"],
    "response_modes_supported": _RESPONSE_MODES,
    "token_endpoint_auth_methods_supported": _CLIENT_AUTH_METHODS,
    "introspection_endpoint_auth_methods_supported": _CLIENT_AUTH_METHODS,
    "claims_supported": _CLAIMS,
    "claim_types_supported": ["normal"],
    "claims_parameter_supported": True,
    "scopes_supported": None,
    "request_parameter_supported": True,
    "request_uri_parameter_supported": True,
    "require_request_uri_registration": True,
    "code_challenge_methods_supported": ["plain", "S256"],
    "tls_client_certificate_bound_access_tokens": True,
    "revocation_endpoint": None,
    "revocation_endpoint_auth_methods_supported": _CLIENT_AUTH_METHODS,
    "backchannel_logout_supported": True,
    "backchannel_logout_session_supported": True,
    "require_pushed_authorization_requests": False,
    "authorization_response_iss_parameter_supported": True,
}
#: Keys that go with an endpoint: left out when the endpoint is.
_BELONGS_TO = {
    "introspection_endpoint_auth_methods_supported": "introspection_endpoint",
    "revocation_endpoint_auth_methods_supported": "revocation_endpoint",
}


@blueprint.route(
    "/realms/<realm_name>/.well-known/openid-configuration",
    methods=_ALL_METHODS,
    provide_automatic_options=False,
)
def openid_configuration(realm_name: str) -> Response:
    realm = require_realm(realm_name)
    if request.method not in ("GET", "HEAD"):
        return json_response(NOT_FOUND, 404)
    cors.allow_any_origin(expose=False)
    base = realm_url(realm.realm)
    views = current_app.view_functions
    scopes = {"openid"}
    for client in realm.clients:
        scopes.update(client.default_client_scopes, client.optional_client_scopes)
    values: dict[str, Any] = {
        "issuer": base,
        "scopes_supported": sorted(scopes - {"basic", "acr", "roles", "web-origins"}),
    }
    for key, (endpoint, path) in _ENDPOINTS.items():
        if endpoint in views:
            values[key] = base + path
    document: dict[str, Any] = {}
    for key, default in _TEMPLATE.items():
        value = values.get(key, default)
        if value is not None and _BELONGS_TO.get(key, "issuer") in values:
            document[key] = value
    return json_response(
        document, headers={"Cache-Control": "no-cache, must-revalidate, no-transform, no-store"}
    )


@blueprint.route("/realms/<realm_name>/.well-known/openid-configuration", methods=["OPTIONS"])
def openid_configuration_preflight(realm_name: str) -> Response:
    """Keycloak answers this preflight before it looks the realm up: any realm name gets it."""
    return cors.preflight(request.headers.get("Origin"), ("GET",))


@blueprint.route(
    "/realms/<realm_name>/protocol/openid-connect/certs",
    methods=["GET"],
    provide_automatic_options=False,
)
def certs(realm_name: str) -> Response:
    realm = require_realm(realm_name)
    cors.allow_any_origin(expose=False)
    keys = [key.jwk(realm.realm) for key in state().realm_keys(realm.realm)]
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
        "public_key": state().active_key_of(realm.realm).public_key_b64,
        "token-service": f"{base}/protocol/openid-connect",
        "account-service": f"{base}/account",
        "tokens-not-before": realm.not_before,
    }
    return json_response(
        body, headers={"Cache-Control": "no-cache"}, content_type="application/json;charset=UTF-8"
    )
