"""The OpenAPI 3.1 description of everything the mock serves, built in code and served as JSON.

Served at ``GET /_mock/openapi.json``: below the mock's own ``/_mock`` prefix, so it can never
shadow a Keycloak path, and on even when the control API is off (then without the control paths).
Built from Python rather than kept as a file so the shared pieces (error bodies, form fields, the
4XX answers of the HTTP limits) are written once; ``tests/test_openapi.py`` keeps it true: every
route of the app is described and every described operation exists, and schemathesis fuzzes the
running server from it (no 5xx, every answer matches its description, no hang).

Statuses are listed per operation as Keycloak answers them; every operation also lists ``4XX`` for
what any request can meet before the endpoint runs (413 body too large, 414, 431, 415 wrong content
type, 404 unknown realm, 405), all JSON objects with an ``error`` string.
"""

from __future__ import annotations

import copy
import json
from importlib import metadata
from typing import Any

from keycloak_mock.imitation.limits import (
    MAX_BODY_BYTES,
    MAX_FORM_FIELDS,
    MAX_HEADER_BYTES,
    MAX_REQUEST_LINE,
)

PATH = "/_mock/openapi.json"
_OIDC = "/realms/{realm_name}/protocol/openid-connect"
_FORM = "application/x-www-form-urlencoded"
_JSON = "application/json"

Schema = dict[str, Any]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: Schema, description: str, headers: dict[str, Any] | None = None) -> Schema:
    response: Schema = {"description": description, "content": {_JSON: {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


def _empty(description: str, headers: dict[str, Any] | None = None) -> Schema:
    response: Schema = {"description": description}
    if headers:
        response["headers"] = headers
    return response


def _html(description: str) -> Schema:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


def _header(description: str) -> Schema:
    return {"description": description, "required": True, "schema": {"type": "string"}}


def _string_object(*required: str, **properties: Schema) -> Schema:
    return {"type": "object", "required": list(required), "properties": properties}


_STR: Schema = {"type": "string"}
_INT: Schema = {"type": "integer"}
_BOOL: Schema = {"type": "boolean"}
_NUM: Schema = {"type": "number"}
_NULLABLE_STR: Schema = {"type": ["string", "null"]}

_SCHEMAS: dict[str, Schema] = {
    "OAuthError": {
        "description": "Keycloak's error body: `error`, then `error_description`.",
        "type": "object",
        "required": ["error", "error_description"],
        "properties": {"error": _STR, "error_description": _STR},
        "additionalProperties": False,
    },
    "Problem": {
        "description": "Any JSON error: `error`, sometimes `error_description`.",
        "type": "object",
        "required": ["error"],
        "properties": {"error": _STR, "error_description": _STR},
        "additionalProperties": False,
    },
    "TokenResponse": {
        "description": "Fields in Keycloak's order; `id_token` only with `scope=openid`; "
        "finAPI's mandator fields (strings) follow `scope`.",
        "type": "object",
        "required": [
            "access_token",
            "expires_in",
            "refresh_expires_in",
            "refresh_token",
            "token_type",
            "not-before-policy",
            "session_state",
            "scope",
        ],
        "properties": {
            "access_token": _STR,
            "expires_in": _INT,
            "refresh_expires_in": _INT,
            "refresh_token": _STR,
            "token_type": {"const": "Bearer"},
            "id_token": _STR,
            "not-before-policy": _INT,
            "session_state": _STR,
            "scope": _STR,
            "mandator_name": _STR,
            "mandator_uuid": _STR,
            "is_test_mandator": _STR,
            "is_technical_user": _STR,
        },
    },
    "Discovery": {
        "type": "object",
        "required": ["issuer", "token_endpoint", "jwks_uri", "grant_types_supported"],
        "properties": {
            "issuer": _STR,
            "token_endpoint": _STR,
            "introspection_endpoint": _STR,
            "userinfo_endpoint": _STR,
            "end_session_endpoint": _STR,
            "jwks_uri": _STR,
            "revocation_endpoint": _STR,
            "grant_types_supported": {"type": "array", "items": _STR},
        },
    },
    "Jwks": {
        "type": "object",
        "required": ["keys"],
        "properties": {
            "keys": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["kid", "kty", "alg", "use", "x5c", "x5t", "x5t#S256", "n", "e"],
                    "properties": {
                        "kid": _STR,
                        "kty": {"const": "RSA"},
                        "alg": {"const": "RS256"},
                        "use": {"const": "sig"},
                        "x5c": {"type": "array", "items": _STR, "minItems": 1},
                        "x5t": _STR,
                        "x5t#S256": _STR,
                        "n": _STR,
                        "e": _STR,
                    },
                },
            }
        },
    },
    "RealmInfo": _string_object(
        "realm",
        "public_key",
        "token-service",
        "account-service",
        "tokens-not-before",
        realm=_STR,
        public_key=_STR,
        **{
            "token-service": _STR,
            "account-service": _STR,
            "tokens-not-before": _INT,
        },
    ),
    "Health": _string_object("status", "checks", status={"const": "UP"}, checks={"type": "array"}),
    "Claims": {
        "description": "Token claims (userinfo: the userinfo mappers' claims).",
        "type": "object",
        "required": ["sub"],
        "properties": {"sub": _STR},
    },
    "Introspection": {
        "description": '`{"active": false}`, or the token\'s claims and `active: true`.',
        "type": "object",
        "required": ["active"],
        "properties": {"active": _BOOL},
    },
    "StandIn": _string_object(
        "path",
        "method",
        "mandator",
        path=_STR,
        method=_STR,
        subject=_NULLABLE_STR,
        mandator=_STR,
        scope=_NULLABLE_STR,
    ),
    "Time": _string_object("now", "seconds", "frozen", now=_NUM, seconds=_INT, frozen=_BOOL),
    "Realm": {
        "description": "A realm with Keycloak realm-export names; secrets are never shown.",
        "type": "object",
        "required": ["realm", "enabled", "clients", "users"],
        "properties": {
            "realm": _STR,
            "enabled": _BOOL,
            "accessTokenLifespan": _INT,
            "ssoSessionIdleTimeout": _INT,
            "ssoSessionMaxLifespan": _INT,
            "offlineSessionIdleTimeout": _INT,
            "offlineSessionMaxLifespanEnabled": _BOOL,
            "offlineSessionMaxLifespan": _INT,
            "attributes": {"type": "object"},
            "clients": {"type": "array", "items": _STR},
            "users": {"type": "array", "items": _STR},
            "clientDetails": {
                "type": "array",
                "items": _string_object(
                    "clientId",
                    "enabled",
                    "type",
                    "grants",
                    "webOrigins",
                    clientId=_STR,
                    enabled=_BOOL,
                    type={"enum": ["public", "confidential", "bearer-only"]},
                    grants={"type": "array", "items": _STR},
                    webOrigins={"type": "array", "items": _STR},
                ),
            },
        },
    },
    "RealmExport": {
        "description": "A realm object of a Keycloak realm export (see docs/configuration.md, "
        "Realm files).",
        "type": "object",
        "properties": {"realm": _STR},
    },
    "User": {
        "description": "A user with Keycloak realm-export names; never a credential.",
        "type": "object",
        "required": ["id", "username", "enabled"],
        "properties": {
            "id": _STR,
            "username": _STR,
            "enabled": _BOOL,
            "firstName": _NULLABLE_STR,
            "lastName": _NULLABLE_STR,
            "email": _NULLABLE_STR,
            "emailVerified": _BOOL,
            "attributes": {"type": "object"},
            "requiredActions": {"type": "array", "items": _STR},
        },
    },
    "UserExport": {
        "description": "A user object of a Keycloak realm export, `credentials` included.",
        "type": "object",
        "properties": {"username": _STR},
    },
    "Session": _string_object(
        "id",
        "realm",
        "userId",
        "started",
        "lastRefresh",
        "clients",
        id=_STR,
        realm=_STR,
        userId=_STR,
        username=_NULLABLE_STR,
        started=_INT,
        lastRefresh=_INT,
        clients={"type": "array", "items": _STR},
        expires={"type": ["integer", "null"]},
        accessExpires={"type": ["integer", "null"]},
    ),
    "TokenVerdict": {
        "description": "What a token says (decoded, unverified) and whether the endpoints would "
        "accept it now; `reason` says why not.",
        "type": "object",
        "required": ["kind", "header", "claims", "accepted", "reason", "realm", "now"],
        "properties": {
            "kind": {"enum": ["access", "refresh", "id", None]},
            "header": {"type": ["object", "null"]},
            "claims": {"type": ["object", "null"]},
            "accepted": _BOOL,
            "reason": _NULLABLE_STR,
            "realm": _NULLABLE_STR,
            "now": _INT,
        },
    },
    "Keys": _string_object(
        "keys",
        keys={"type": "array", "items": _string_object("kid", "active", kid=_STR, active=_BOOL)},
    ),
    "Fault": {
        "description": "A scripted answer for matching requests (see docs/pytest.md).",
        "type": "object",
        "properties": {
            "endpoint": _STR,
            "grantType": _NULLABLE_STR,
            "realm": _NULLABLE_STR,
            "times": {"type": ["integer", "null"]},
            "status": {"type": ["integer", "null"]},
            "body": {},
            "headers": {"type": ["object", "null"]},
            "delay": {"type": ["number", "null"]},
            "drop": _BOOL,
        },
    },
    "ErrorRate": {
        "type": "object",
        "required": ["rate"],
        "properties": {
            "rate": _NUM,
            "status": _INT,
            "body": {},
            "headers": {"type": ["object", "null"]},
            "endpoint": _STR,
            "grantType": _NULLABLE_STR,
            "realm": _NULLABLE_STR,
            "seed": {"type": ["integer", "null"]},
        },
    },
    "Faults": {"type": "object"},
    "RequestLog": _string_object(
        "count",
        "requests",
        "counters",
        count=_INT,
        requests={"type": "array", "items": {"type": "object"}},
        counters={"type": "object", "additionalProperties": _INT},
    ),
    "ServerErrors": _string_object(
        "errors",
        errors={
            "type": "array",
            "items": _string_object(
                "type",
                "message",
                "traceback",
                method=_NULLABLE_STR,
                path=_NULLABLE_STR,
                type=_STR,
                message=_STR,
                traceback=_STR,
            ),
        },
    ),
    "Overview": _string_object(
        "realms",
        "time",
        "endpoints",
        realms={"type": "array", "items": _STR},
        time=_ref("Time"),
        endpoints={"type": "array", "items": _STR},
    ),
}

#: What any request may meet before the endpoint runs: HTTP limits, content type, unknown realm.
_ANY_4XX = _json(
    _ref("Problem"),
    f"Refused before the endpoint: 413 body over {MAX_BODY_BYTES} bytes, 414 request line over "
    f"{MAX_REQUEST_LINE} bytes, 431 headers over {MAX_HEADER_BYTES} bytes, 400 more than "
    f"{MAX_FORM_FIELDS} form fields, 415 not a form, 404 unknown realm or path, 405 method.",
)
_OAUTH_ERROR = _ref("OAuthError")
_NO_STORE_HEADERS = {"Cache-Control": _header("`no-store`"), "Pragma": _header("`no-cache`")}
_CHALLENGE = {"WWW-Authenticate": _header("The Bearer challenge, error in its parameters")}
_REALM = {
    "name": "realm_name",
    "in": "path",
    "required": True,
    "description": "The realm, i.e. the finAPI mandator.",
    "schema": {"type": "string", "pattern": "^[^/]+$", "examples": ["customer"]},
}


def _form(properties: dict[str, Schema], *examples: dict[str, str]) -> Schema:
    media: Schema = {
        "schema": {
            "type": "object",
            "properties": properties,
            "description": f"At most {MAX_FORM_FIELDS} fields; unknown fields are ignored.",
        }
    }
    if examples:
        media["examples"] = {f"example{i}": {"value": v} for i, v in enumerate(examples, 1)}
    return {"required": False, "content": {_FORM: media}}


def _op(
    summary: str,
    responses: dict[str, Schema],
    *,
    tags: list[str],
    parameters: list[Schema] | None = None,
    body: Schema | None = None,
    security: list[dict[str, list[str]]] | None = None,
    description: str | None = None,
) -> Schema:
    operation: Schema = {"summary": summary, "tags": tags, "responses": {**responses}}
    operation["responses"].setdefault("4XX", _ANY_4XX)
    if description:
        operation["description"] = description
    if parameters:
        operation["parameters"] = parameters
    if body:
        operation["requestBody"] = body
    if security is not None:
        operation["security"] = security
    return operation


_CLIENT_AUTH: list[dict[str, list[str]]] = [{"clientBasic": []}, {}]
_BEARER: list[dict[str, list[str]]] = [{"bearer": []}, {}]
_LOGIN = {
    "grant_type": "password",
    "client_id": "demobank-cli",
    "username": "demo",
    "password": "demo",
}


def _keycloak_paths() -> dict[str, Schema]:
    kc = ["keycloak"]
    token_form = _form(
        {
            "grant_type": {"type": "string", "examples": ["password", "refresh_token"]},
            "client_id": {"type": "string", "examples": ["demobank-cli"]},
            "client_secret": _STR,
            "username": _STR,
            "password": _STR,
            "scope": {"type": "string", "examples": ["openid", "profile email"]},
            "refresh_token": _STR,
        },
        _LOGIN,
        {**_LOGIN, "scope": "openid"},
        {"grant_type": "refresh_token", "client_id": "demobank-cli", "refresh_token": "x.y.z"},
    )
    token_form["required"] = True
    not_found = _json(_ref("Problem"), '`{"error":"HTTP 404 Not Found"}`: not a GET')
    userinfo_refusal = {
        code: _empty(text, _CHALLENGE)
        for code, text in (
            ("400", "More than one way of sending the token (empty body)"),
            ("401", "No token, or it failed verification (empty body, see WWW-Authenticate)"),
            ("403", "The token's scope lacks `openid` (empty body)"),
        )
    }
    paths: dict[str, Schema] = {
        f"{_OIDC}/token": {
            "parameters": [_REALM],
            "post": _op(
                "Token endpoint: password and refresh-token grants",
                {
                    "200": _json(_ref("TokenResponse"), "Tokens", _NO_STORE_HEADERS),
                    "400": _json(
                        _OAUTH_ERROR,
                        "invalid_request, invalid_grant, invalid_scope, "
                        "unsupported_grant_type, ...",
                    ),
                    "401": _json(
                        _OAUTH_ERROR,
                        "invalid_client, unauthorized_client, or bad "
                        "credentials (Keycloak up to 26.5)",
                    ),
                    "403": _json(_OAUTH_ERROR, "access_denied: realm disabled"),
                    "415": _json(_ref("Problem"), "Not a form (`@Consumes` mismatch)"),
                },
                tags=kc,
                body=token_form,
                security=_CLIENT_AUTH,
            ),
            "options": _op("CORS preflight", {"200": _empty("Empty")}, tags=kc),
        },
        f"{_OIDC}/auth": {
            "parameters": [_REALM],
            **{
                method: _op(
                    "Authorization endpoint, not imitated: answers as for a client without the "
                    "browser flow",
                    {
                        "302": {
                            "description": "Back to redirect_uri with error unauthorized_client "
                            "(or invalid_request, unsupported_response_type), state and iss"
                        },
                        "400": _html("Error page: no or unknown client_id, bad redirect_uri"),
                    },
                    tags=kc,
                    parameters=[
                        {"name": name, "in": "query", "required": False, "schema": _STR}
                        for name in ("client_id", "redirect_uri", "response_type", "state")
                    ]
                    if method == "get"
                    else None,
                    body=_form(
                        {
                            "client_id": _STR,
                            "redirect_uri": _STR,
                            "response_type": _STR,
                            "state": _STR,
                        }
                    )
                    if method == "post"
                    else None,
                )
                for method in ("get", "post")
            },
        },
        f"{_OIDC}/certs": {
            "parameters": [_REALM],
            "options": _op("CORS preflight", {"200": _empty("Empty")}, tags=kc),
            "get": _op(
                "JWKS: the published RS256 keys", {"200": _json(_ref("Jwks"), "Keys")}, tags=kc
            ),
        },
        f"{_OIDC}/userinfo": {
            "parameters": [_REALM],
            "options": _op("CORS preflight", {"200": _empty("Empty")}, tags=kc),
            **{
                method: _op(
                    "Userinfo: claims for a Bearer access token with scope openid",
                    {"200": _json(_ref("Claims"), "Claims", _NO_STORE_HEADERS), **userinfo_refusal},
                    tags=kc,
                    security=_BEARER,
                    body=_form({"access_token": _STR}) if method == "post" else None,
                )
                for method in ("get", "post")
            },
        },
        f"{_OIDC}/token/introspect": {
            "parameters": [_REALM],
            "post": _op(
                "Introspection for confidential clients",
                {
                    "200": _json(_ref("Introspection"), "Active or not"),
                    "400": _json(_OAUTH_ERROR, "No token, unsupported hint, duplicated parameter"),
                    "401": _json(_OAUTH_ERROR, "Unknown client or wrong secret"),
                    "403": _json(_OAUTH_ERROR, "A public client, or the realm is disabled"),
                },
                tags=kc,
                security=_CLIENT_AUTH,
                body=_form(
                    {
                        "token": _STR,
                        "token_type_hint": _STR,
                        "client_id": _STR,
                        "client_secret": _STR,
                    }
                ),
            ),
        },
        f"{_OIDC}/logout": {
            "parameters": [_REALM],
            "options": _op("CORS preflight", {"200": _empty("Empty")}, tags=kc),
            "post": _op(
                "Logout with a refresh token (ends the whole session), else the browser logout",
                {
                    "204": _empty("Logged out (also when the session was already gone)"),
                    "200": _html("No refresh_token: the browser logout's page (see GET)"),
                    "302": {"description": "No refresh_token: the browser logout's redirect"},
                    "400": {
                        "description": "Bad refresh token or other client's (JSON), or without "
                        "refresh_token the browser logout's error page (HTML)",
                        "content": {
                            _JSON: {"schema": _OAUTH_ERROR},
                            "text/html": {"schema": {"type": "string"}},
                        },
                    },
                    "401": _json(_OAUTH_ERROR, "Missing/unknown client or wrong secret"),
                },
                tags=kc,
                security=_CLIENT_AUTH,
                body=_form({"client_id": _STR, "client_secret": _STR, "refresh_token": _STR}),
            ),
            "get": _op(
                "Browser (RP-initiated) logout: redirect, confirmation or logged-out page",
                {
                    "200": _html("Confirmation page, or the logged-out page"),
                    "302": {"description": "To post_logout_redirect_uri, with state"},
                    "400": _html("Error page: bad hint, client or redirect URI"),
                },
                tags=kc,
                parameters=[
                    {"name": name, "in": "query", "required": False, "schema": _STR}
                    for name in (
                        "id_token_hint",
                        "post_logout_redirect_uri",
                        "state",
                        "client_id",
                        "ui_locales",
                    )
                ],
            ),
        },
        f"{_OIDC}/logout/logout-confirm": {
            "parameters": [_REALM],
            "post": _op(
                "The logout confirmation page's form",
                {
                    "200": _html("The logged-out page"),
                    "302": {"description": "To post_logout_redirect_uri, with state"},
                    "400": _html("Error page: unknown client or redirect URI"),
                },
                tags=kc,
                body=_form({"client_id": _STR, "post_logout_redirect_uri": _STR, "state": _STR}),
            ),
        },
        f"{_OIDC}/revoke": {
            "parameters": [_REALM],
            "options": _op("CORS preflight", {"200": _empty("Empty")}, tags=kc),
            "post": _op(
                "Token revocation (RFC 7009)",
                {
                    "200": {
                        "description": "Revoked (empty), or `invalid_token` for a token that "
                        "cannot be revoked",
                        "content": {_JSON: {"schema": _OAUTH_ERROR}},
                    },
                    "400": _json(_OAUTH_ERROR, "No token, unsupported type, other client's"),
                    "401": _json(_OAUTH_ERROR, "Missing/unknown client or wrong secret"),
                    "403": _json(_OAUTH_ERROR, "Realm disabled"),
                },
                tags=kc,
                security=_CLIENT_AUTH,
                body=_form(
                    {
                        "client_id": _STR,
                        "client_secret": _STR,
                        "token": _STR,
                        "token_type_hint": _STR,
                    }
                ),
            ),
        },
        "/realms/{realm_name}/.well-known/openid-configuration": {
            "parameters": [_REALM],
            "options": _op("CORS preflight", {"200": _empty("Empty")}, tags=kc),
            "get": _op(
                "OIDC discovery document", {"200": _json(_ref("Discovery"), "Document")}, tags=kc
            ),
            **{
                m: _op("Not served (Keycloak answers 404)", {"404": not_found}, tags=kc)
                for m in ("post", "put", "patch", "delete")
            },
        },
        "/realms/{realm_name}": {
            "parameters": [_REALM],
            "get": _op(
                "Realm info (public key, token service URL)",
                {"200": _json(_ref("RealmInfo"), "Realm info")},
                tags=kc,
            ),
            **{
                m: _op("Not served (Keycloak answers 404)", {"404": not_found}, tags=kc)
                for m in ("post", "put", "patch", "delete")
            },
        },
    }
    health = _op(
        "Health in Keycloak's management format",
        {"200": _json(_ref("Health"), "UP")},
        tags=["health"],
    )
    for path in ("/health", "/health/ready", "/health/live"):
        paths[path] = {"get": copy.deepcopy(health)}
    return paths


def _standin_paths() -> dict[str, Schema]:
    responses = {
        "200": _json(_ref("StandIn"), "Who called what"),
        "401": _json(_OAUTH_ERROR, "No, invalid, expired or revoked access token", _CHALLENGE),
    }
    path_param = {
        "name": "path",
        "in": "path",
        "required": True,
        "description": "Any path below `/demobank/` (slashes allowed).",
        "schema": {"type": "string", "examples": ["accounts"]},
    }
    operations = {
        method: _op(
            "Demobank stand-in: checks the Bearer token like a resource server",
            responses,
            tags=["demobank"],
            security=_BEARER,
        )
        for method in ("get", "post", "put", "patch", "delete", "options")
    }
    return {
        "/demobank": copy.deepcopy(operations),
        "/demobank/": copy.deepcopy(operations),
        "/demobank/{path}": {"parameters": [path_param], **copy.deepcopy(operations)},
    }


def _control_paths() -> dict[str, Schema]:
    tags = ["control"]
    security: list[dict[str, list[str]]] = [{"adminToken": []}, {}]
    problem = _json(_ref("Problem"), "Bad request, not found, conflict, or admin token missing")

    def body(schema: Schema) -> Schema:
        return {"required": False, "content": {_JSON: {"schema": schema}}}

    def op(
        summary: str,
        ok: Schema,
        *,
        status: str = "200",
        request: Schema | None = None,
        params: list[Schema] | None = None,
    ) -> Schema:
        return _op(
            summary,
            {status: ok, "400": problem, "401": problem, "404": problem},
            tags=tags,
            security=security,
            parameters=params,
            body=body(request) if request is not None else None,
        )

    def param(name: str, where: str = "path") -> Schema:
        return {"name": name, "in": where, "required": where == "path", "schema": _STR}

    realm, user = param("realm"), param("username")
    filters = [param(n, "query") for n in ("realm", "username")]
    key_realm = param("realm", "query")
    log_filters = [
        param(n, "query")
        for n in ("endpoint", "grantType", "realm", "clientId", "username", "status", "limit")
    ]
    number = _string_object("seconds", seconds=_NUM)
    # ``null`` means "every realm", like leaving the field out.
    only_realm = {
        "type": "object",
        "properties": {"realm": _NULLABLE_STR},
        "additionalProperties": False,
    }
    nothing = {"type": "object", "additionalProperties": False}
    realm_json = _json(_ref("Realm"), "The realm")
    user_json = _json(_ref("User"), "The user")
    ended = _json(_string_object("sessionsEnded", sessionsEnded=_INT), "Sessions ended")
    keys = _json(_ref("Keys"), "Published keys, the active one first")
    faults = _json(_ref("Faults"), "Armed faults and the error rate")
    rate = _json(
        _string_object("errorRate", errorRate={"oneOf": [_ref("ErrorRate"), {"type": "null"}]}),
        "Rate",
    )
    time = _json(_ref("Time"), "The mock's clock")
    p = "/_mock"
    return {
        p: {"get": op("Overview: realms, clock, endpoints", _json(_ref("Overview"), "Overview"))},
        f"{p}/reset": {
            "post": op(
                "Back to pristine: realms, keys, clock, no sessions/faults/log",
                _json(_string_object("reset", reset=_BOOL), "Done"),
            )
        },
        f"{p}/time": {"get": op("The clock", time)},
        f"{p}/time/advance": {
            "post": op("Move the clock", time, request={**number, "additionalProperties": False})
        },
        f"{p}/time/freeze": {
            "post": op(
                "Stop the clock (at a Unix time)",
                time,
                request={
                    "type": "object",
                    "properties": {"at": {"type": ["number", "null"]}},
                    "additionalProperties": False,
                },
            )
        },
        f"{p}/time/unfreeze": {"post": op("Let the clock run", time, request=nothing)},
        f"{p}/time/expire-access-tokens": {
            "post": op("Move past the access token lifespan", time, request=only_realm)
        },
        f"{p}/time/expire-sessions": {
            "post": op(
                "Move past the SSO idle timeout and purge sessions",
                _json({**_ref("Time")}, "Clock, and `sessionsEnded`"),
                request=only_realm,
            )
        },
        f"{p}/realms": {
            "get": op(
                "Realms",
                _json(
                    _string_object("realms", realms={"type": "array", "items": _ref("Realm")}),
                    "Realms",
                ),
            ),
            "post": op(
                "Add a realm (realm-export JSON)",
                realm_json,
                status="201",
                request=_ref("RealmExport"),
            ),
        },
        f"{p}/realms/{{realm}}": {
            "parameters": [realm],
            "get": op("A realm", realm_json),
            "patch": op("Change realm settings", realm_json, request={"type": "object"}),
            "delete": op("Remove a realm and end its sessions", ended),
        },
        f"{p}/realms/{{realm}}/not-before": {
            "parameters": [realm],
            "post": op(
                "Push not-before: earlier tokens are `Stale token`",
                _json(_string_object("notBefore", notBefore=_INT), "New not-before"),
                request=nothing,
            ),
        },
        f"{p}/realms/{{realm}}/users": {
            "parameters": [realm],
            "get": op(
                "Users",
                _json(
                    _string_object("users", users={"type": "array", "items": _ref("User")}), "Users"
                ),
            ),
            "post": op(
                "Add a user (realm-export JSON)",
                user_json,
                status="201",
                request=_ref("UserExport"),
            ),
        },
        f"{p}/realms/{{realm}}/users/{{username}}": {
            "parameters": [realm, user],
            "get": op("A user", user_json),
            "patch": op(
                "Change a user (disable keeps sessions)", user_json, request={"type": "object"}
            ),
            "delete": op("Remove a user and end their sessions", ended),
        },
        f"{p}/realms/{{realm}}/users/{{username}}/password": {
            "parameters": [realm, user],
            "put": op(
                "Set a password (sessions stay)",
                user_json,
                request={
                    "type": "object",
                    "required": ["value"],
                    "additionalProperties": False,
                    "properties": {"value": _STR, "temporary": _BOOL},
                },
            ),
        },
        f"{p}/sessions": {
            "get": op(
                "Live sessions",
                _json(
                    _string_object(
                        "sessions", sessions={"type": "array", "items": _ref("Session")}
                    ),
                    "Sessions",
                ),
                params=filters,
            ),
            "delete": op(
                "End sessions (admin logout)",
                _json(_string_object("ended", ended=_INT), "Count"),
                params=filters,
            ),
        },
        f"{p}/sessions/{{session_id}}": {
            "parameters": [param("session_id")],
            "delete": op("End one session", _json(_string_object("ended", ended=_INT), "1")),
        },
        f"{p}/tokens/inspect": {
            "post": op(
                "Decode a token and say whether the endpoints would accept it now",
                _json(_ref("TokenVerdict"), "The verdict"),
                request={
                    "type": "object",
                    "required": ["token"],
                    "additionalProperties": False,
                    "properties": {"token": _STR, "issuerBase": _NULLABLE_STR},
                },
            )
        },
        # Each realm has its own keys: ``realm`` picks one, the default realm when left out.
        f"{p}/keys": {
            "parameters": [key_realm],
            "get": op("A realm's signing keys", keys),
            "delete": op("Drop every key of the realm but the active one", keys),
        },
        f"{p}/keys/rotate": {
            "post": op(
                "Rotate a realm's signing key (old ones still verify)",
                _json(_string_object("kid", "keys", kid=_STR, keys={"type": "array"}), "New key"),
                request={
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"privateKeyPem": _NULLABLE_STR, "realm": _NULLABLE_STR},
                },
            )
        },
        f"{p}/keys/{{kid}}": {
            "parameters": [param("kid"), key_realm],
            "delete": op("Drop a key of a realm", keys),
        },
        f"{p}/faults": {
            "get": op("Faults", faults),
            "post": op(
                "Arm a fault", _json(_ref("Fault"), "Armed"), status="201", request=_ref("Fault")
            ),
            "delete": op("Disarm all faults", faults),
        },
        f"{p}/faults/error-rate": {
            "put": op("Fail a random share of requests", rate, request=_ref("ErrorRate")),
            "delete": op("No more random failures", rate),
        },
        f"{p}/requests": {
            "get": op(
                "The request log (never a secret), filtered",
                _json(_ref("RequestLog"), "Records and counters"),
                params=log_filters,
            ),
            "delete": op("Clear the request log", _json(_ref("RequestLog"), "Empty")),
        },
        f"{p}/errors": {
            "get": op(
                "Exceptions raised while serving (the client got a 500)",
                _json(_ref("ServerErrors"), "Errors"),
            ),
            "delete": op("Read and clear the server errors", _json(_ref("ServerErrors"), "Errors")),
        },
    }


def _version() -> str:
    try:
        return metadata.version("demobank-keycloak-mock")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def _ui_paths() -> dict[str, Schema]:
    tags = ["mock"]
    return {
        "/": {
            "get": _op(
                "The page: realms, live sessions, token decoder, request log, controls",
                {"200": {"description": "HTML", "content": {"text/html": {}}}},
                tags=tags,
            )
        },
        "/_mock/ui/{filename}": {
            "parameters": [{"name": "filename", "in": "path", "required": True, "schema": _STR}],
            "get": _op(
                "The page's script, style sheet and icon",
                {
                    "200": {
                        "description": "The file",
                        "content": {"text/javascript": {}, "text/css": {}, "image/svg+xml": {}},
                    }
                },
                tags=tags,
            ),
        },
    }


def document(*, control_api: bool = True, ui: bool = True) -> dict[str, Any]:
    """The OpenAPI 3.1 document; without the ``/_mock`` control paths if the API is off, and
    without the page's paths if it is off (it is whenever the control API is)."""
    paths = {**_keycloak_paths(), **_standin_paths()}
    if control_api:
        paths.update(_control_paths())
        if ui:
            paths.update(_ui_paths())
    paths[PATH] = {
        "get": _op(
            "This description",
            {"200": _json({"type": "object", "required": ["openapi"]}, "OpenAPI 3.1")},
            tags=["mock"],
        )
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "demobank-keycloak-mock",
            "version": _version(),
            "summary": "Offline mock of finAPI Demobank's Keycloak: a development tool that must "
            "never guard real data.",
            "description": "Keycloak paths answer as Keycloak 25-26 does (see docs/fidelity.md). "
            "`/demobank/...` is a stand-in resource server; `/_mock/...` is the mock's "
            "control API (off with `--disable-control-api`).",
        },
        "servers": [{"url": "/"}],
        "tags": [
            {"name": "keycloak", "description": "Keycloak's OIDC endpoints of each realm"},
            {"name": "health", "description": "Keycloak's management health format"},
            {"name": "demobank", "description": "A stand-in for the Demobank API"},
            {"name": "control", "description": "Control API of the mock (tests, CI)"},
            {"name": "mock", "description": "About the mock itself"},
        ],
        "paths": paths,
        "components": {
            "schemas": copy.deepcopy(_SCHEMAS),
            "securitySchemes": {
                "clientBasic": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "client_id:client_secret (or form fields)",
                },
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "adminToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Only when started with --admin-token",
                },
            },
        },
    }


def document_json(*, control_api: bool = True, ui: bool = True) -> bytes:
    return json.dumps(document(control_api=control_api, ui=ui), indent=2).encode() + b"\n"


if __name__ == "__main__":
    import sys

    sys.stdout.buffer.write(document_json())
