"""Introspection: confidential clients only; Keycloak's active body; inactive for dead tokens."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
import requests

from keycloak_mock import ClientConfig, MockServer

from .sessions_support import (
    BACKEND,
    CLI,
    introspect,
    login,
    logout,
    oidc,
    parts,
    refresh,
    revoke,
)

BAD_CLIENT = "Invalid client or Invalid client credentials"
TAIL = [("client_id", "demobank-cli"), ("username", "demo")]


def test_active_access_token_is_its_claims_plus_four_fields(realms_server: MockServer) -> None:
    tokens = login(realms_server)
    claims = parts(tokens["access_token"])[1]
    response = introspect(realms_server, tokens["access_token"])
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-cache"
    assert list(response.json().items()) == [
        *claims.items(),
        *TAIL,
        ("token_type", "Bearer"),
        ("active", True),
    ]


def test_active_refresh_token_carries_session_claims(realms_server: MockServer) -> None:
    tokens = login(realms_server)
    access = parts(tokens["access_token"])[1]
    refresh_claims = parts(tokens["refresh_token"])[1]
    body = introspect(
        realms_server, tokens["refresh_token"], token_type_hint="refresh_token"
    ).json()
    expected = {
        **access,
        "exp": refresh_claims["exp"],
        "iat": refresh_claims["iat"],
        "jti": refresh_claims["jti"],
        # The refresh token's own audience (the issuer) follows the client audiences.
        "aud": ["account", refresh_claims["iss"]],
        "typ": "Refresh",
    }
    assert list(body.items()) == [
        *expected.items(),
        *TAIL,
        ("token_type", "Refresh"),
        ("active", True),
    ]


def test_roles_are_resolved_at_introspection_time(realms_server: MockServer) -> None:
    tokens = login(realms_server)

    def promote(realm: Any) -> Any:
        user = realm.find_user("demo")
        return realm.with_user(dataclasses.replace(user, realm_roles=("banker",)))

    realms_server.state.update_realm("customer", promote)
    body = introspect(realms_server, tokens["access_token"]).json()
    assert body["realm_access"] == {"roles": ["banker"]}
    assert "resource_access" not in body


def test_basic_auth_works(realms_server: MockServer) -> None:
    tokens = login(realms_server)
    credentials = base64.b64encode(b"demobank-backend:TEST-ONLY-backend-secret").decode()
    response = requests.post(
        f"{oidc(realms_server)}/token/introspect",
        data={"token": tokens["access_token"]},
        headers={"Authorization": f"Basic {credentials}"},
        timeout=10,
    )
    assert response.json()["active"] is True


# -- inactive -----------------------------------------------------------------------------------


def _expired(server: MockServer) -> tuple[str, str]:
    token = login(server)["access_token"]
    server.state.clock.advance(901)
    return token, "access_token"


def _after_logout(server: MockServer) -> tuple[str, str]:
    tokens = login(server)
    logout(server, tokens["refresh_token"])
    return tokens["refresh_token"], "refresh_token"


def _revoked(server: MockServer) -> tuple[str, str]:
    token = login(server)["access_token"]
    revoke(server, token)
    return token, "access_token"


def _user_disabled(server: MockServer) -> tuple[str, str]:
    token = login(server)["access_token"]
    server.state.update_realm(
        "customer",
        lambda r: r.with_user(dataclasses.replace(r.find_user("demo"), enabled=False)),
    )
    return token, "access_token"


def _client_disabled(server: MockServer) -> tuple[str, str]:
    token = login(server)["access_token"]

    def disable(realm: Any) -> Any:
        clients = tuple(
            dataclasses.replace(c, enabled=False) if c.client_id == "demobank-cli" else c
            for c in realm.clients
        )
        return dataclasses.replace(realm, clients=clients)

    server.state.update_realm("customer", disable)
    return token, "access_token"


def _not_before(server: MockServer) -> tuple[str, str]:
    token = login(server)["access_token"]
    now = server.state.clock.seconds()
    server.state.update_realm("customer", lambda r: dataclasses.replace(r, not_before=now + 1))
    return token, "access_token"


def _other_realm(server: MockServer) -> tuple[str, str]:
    tokens = login(server, realm="sandbox-mandator", username="sandbox", password="sandbox")
    return tokens["access_token"], "access_token"


def _access_token_with_refresh_hint(server: MockServer) -> tuple[str, str]:
    return login(server)["access_token"], "refresh_token"


INACTIVE: list[tuple[str, Callable[[MockServer], tuple[str, str]]]] = [
    ("garbage", lambda s: ("garbage", "access_token")),
    ("expired", _expired),
    ("after logout", _after_logout),
    ("revoked access token", _revoked),
    ("user disabled", _user_disabled),
    ("client disabled", _client_disabled),
    ("not-before pushed", _not_before),
    ("other realm", _other_realm),
    ("access token with refresh_token hint", _access_token_with_refresh_hint),
]


@pytest.mark.parametrize("make", [c[1] for c in INACTIVE], ids=[c[0] for c in INACTIVE])
def test_inactive(realms_server: MockServer, make: Callable[[MockServer], tuple[str, str]]) -> None:
    token, hint = make(realms_server)
    response = introspect(realms_server, token, token_type_hint=hint)
    assert (response.status_code, response.text) == (200, '{"active":false}')
    assert response.headers["Cache-Control"] == "no-cache"


def test_refresh_tokens_used_up_under_revoke_refresh_token(realms_server: MockServer) -> None:
    """``revokeRefreshToken``: a refresh token spent on a refresh introspects inactive.

    Its successor is active, and with the access-token hint Keycloak skips the reuse rule.
    """
    sandbox_backend = ClientConfig(
        client_id="sandbox-backend", public_client=False, secret="TEST-ONLY-sandbox-secret"
    )
    realms_server.state.update_realm(
        "sandbox-mandator",
        lambda r: dataclasses.replace(r, clients=(*r.clients, sandbox_backend)),
    )
    first = login(realms_server, realm="sandbox-mandator", username="sandbox", password="sandbox")
    second = refresh(realms_server, first["refresh_token"], realm="sandbox-mandator").json()

    def active(token: str, hint: str) -> bool:
        response = requests.post(
            f"{oidc(realms_server, 'sandbox-mandator')}/token/introspect",
            data={
                "client_id": "sandbox-backend",
                "client_secret": "TEST-ONLY-sandbox-secret",
                "token": token,
                "token_type_hint": hint,
            },
            timeout=10,
        )
        return bool(response.json()["active"])

    assert not active(first["refresh_token"], "refresh_token")
    assert active(first["refresh_token"], "access_token")
    assert active(second["refresh_token"], "refresh_token")


# -- errors -------------------------------------------------------------------------------------


ERRORS: list[tuple[str, dict[str, str] | list[tuple[str, str]], int, dict[str, str]]] = [
    (
        "public client",
        {**CLI, "token": "x"},
        403,
        {"error": "invalid_request", "error_description": "Client not allowed."},
    ),
    (
        "missing client",
        {"token": "x"},
        401,
        {"error": "invalid_client", "error_description": BAD_CLIENT},
    ),
    (
        "unknown client",
        {"client_id": "nobody", "token": "x"},
        401,
        {"error": "invalid_client", "error_description": BAD_CLIENT},
    ),
    (
        "wrong secret",
        {**BACKEND, "client_secret": "wrong", "token": "x"},
        401,
        {"error": "unauthorized_client", "error_description": BAD_CLIENT},
    ),
    (
        "missing token",
        {**BACKEND},
        400,
        {"error": "invalid_request", "error_description": "Token not provided."},
    ),
    (
        "unknown hint",
        {**BACKEND, "token": "x", "token_type_hint": "id_token"},
        400,
        {"error": "invalid_request", "error_description": "Unsupported token type [id_token]."},
    ),
    (
        "duplicated parameter",
        [*BACKEND.items(), ("token", "a"), ("token", "b")],
        400,
        {"error": "invalid_request", "error_description": "duplicated parameter"},
    ),
]


@pytest.mark.parametrize(
    ("form", "status", "body"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS]
)
def test_error(
    realms_server: MockServer,
    form: dict[str, str] | list[tuple[str, str]],
    status: int,
    body: dict[str, str],
) -> None:
    response = requests.post(f"{oidc(realms_server)}/token/introspect", data=form, timeout=10)
    assert (response.status_code, response.json()) == (status, body)
    assert response.headers["Content-Type"] == "application/json"


def test_disabled_realm_is_403(realms_server: MockServer) -> None:
    realms_server.state.update_realm("customer", lambda r: dataclasses.replace(r, enabled=False))
    response = introspect(realms_server, "x")
    assert (response.status_code, response.json()) == (
        403,
        {"error": "access_denied", "error_description": "Realm not enabled"},
    )
