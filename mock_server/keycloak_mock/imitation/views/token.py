"""``POST /realms/<realm>/protocol/openid-connect/token``: the endpoint finAPI's page documents."""

from __future__ import annotations

from flask import Blueprint, Response, request

from keycloak_mock.imitation import cors
from keycloak_mock.imitation.clients import authenticate_client
from keycloak_mock.imitation.errors import (
    AccessDenied,
    InvalidClient,
    InvalidRequest,
    UnsupportedGrantType,
)
from keycloak_mock.imitation.grants import (
    authorization_code_grant,
    client_credentials_grant,
    password_grant,
    refresh_grant,
)
from keycloak_mock.imitation.http import (
    NO_STORE,
    add_response_headers,
    json_response,
    realm_url,
    state,
)

from .common import duplicated_parameter, require_form, require_realm, single_values

blueprint = Blueprint("token", __name__)
GRANTS = {
    "password": password_grant,
    "refresh_token": refresh_grant,
    "client_credentials": client_credentials_grant,
    "authorization_code": authorization_code_grant,
}


@blueprint.route(
    "/realms/<realm_name>/protocol/openid-connect/token",
    methods=["POST"],
    provide_automatic_options=False,
)
def token(realm_name: str) -> Response:
    realm = require_realm(realm_name)
    raw_form = require_form()
    # From here on every answer, errors included, carries Keycloak's no-store headers.
    add_response_headers(NO_STORE)
    if not realm.enabled:
        raise AccessDenied("Realm not enabled")
    grant_type = raw_form.get("grant_type")
    if grant_type is None:
        raise InvalidRequest("Missing form parameter: grant_type")
    grant = GRANTS.get(grant_type)
    if grant is None:
        raise UnsupportedGrantType("Unsupported grant_type")
    form = single_values(raw_form)
    client = authenticate_client(realm, form, request.environ.get("HTTP_AUTHORIZATION"))
    cors.allow_client(client)
    if client.bearer_only:
        raise InvalidClient("Bearer-only not allowed", status=400)
    if duplicated_parameter(raw_form):
        raise InvalidRequest("duplicated parameter")
    remote_addr = request.remote_addr or "127.0.0.1"
    return json_response(grant(state(), realm, client, form, realm_url(realm.realm), remote_addr))


@blueprint.route("/realms/<realm_name>/protocol/openid-connect/token", methods=["OPTIONS"])
def token_preflight(realm_name: str) -> Response:
    """CORS preflight: Keycloak answers 200 with an empty body."""
    require_realm(realm_name)
    return cors.preflight(request.headers.get("Origin"), ("POST", "OPTIONS"))
