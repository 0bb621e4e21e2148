"""Logout and revocation: what ends, what the endpoints answer, and every error they send."""

from __future__ import annotations

import base64
import dataclasses
from typing import Any

import pytest
import requests

from keycloak_mock import MockServer

from .sessions_support import (
    BACKEND,
    CLI,
    CSP,
    INVALID_REFRESH,
    INVALID_TOKEN,
    SESSION_NOT_FOUND,
    introspect,
    login,
    logout,
    oidc,
    refresh,
    revoke,
    userinfo,
)

SESSION_NOT_ACTIVE = {"error": "invalid_grant", "error_description": "Session not active"}
BAD_CLIENT = "Invalid client or Invalid client credentials"


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


# -- logout -------------------------------------------------------------------------------------


def test_logout_is_204_and_ends_the_session(realms_server: MockServer) -> None:
    tokens = login(realms_server)
    response = logout(realms_server, tokens["refresh_token"])
    assert response.status_code == 204
    assert response.content == b""
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["Content-Security-Policy"] == CSP
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "Content-Type" not in response.headers
    assert refresh(realms_server, tokens["refresh_token"]).json() == SESSION_NOT_ACTIVE
    challenge = userinfo(realms_server, tokens["access_token"]).headers["WWW-Authenticate"]
    assert SESSION_NOT_FOUND in challenge
    assert introspect(realms_server, tokens["access_token"]).json() == {"active": False}


def test_logout_leaves_the_users_other_sessions_alone(realms_server: MockServer) -> None:
    first, second = login(realms_server), login(realms_server)
    assert logout(realms_server, first["refresh_token"]).status_code == 204
    assert refresh(realms_server, second["refresh_token"]).status_code == 200
    assert userinfo(realms_server, second["access_token"]).status_code == 200


def test_an_expired_refresh_token_still_logs_out(realms_server: MockServer) -> None:
    """The old refresh token expired, but the session lives on through its successor."""
    first = login(realms_server)
    realms_server.state.clock.advance(1700)
    second = refresh(realms_server, first["refresh_token"]).json()
    realms_server.state.clock.advance(200)  # first refresh token: exp passed
    assert refresh(realms_server, first["refresh_token"]).json()["error_description"] == (
        "Token is not active"
    )
    assert logout(realms_server, first["refresh_token"]).status_code == 204
    assert refresh(realms_server, second["refresh_token"]).json() == SESSION_NOT_ACTIVE


def test_logout_of_an_ended_session_is_still_204(realms_server: MockServer) -> None:
    tokens = login(realms_server)
    assert logout(realms_server, tokens["refresh_token"]).status_code == 204
    assert logout(realms_server, tokens["refresh_token"]).status_code == 204


def test_confidential_client_logs_out_with_basic_auth(realms_server: MockServer) -> None:
    tokens = login(realms_server, client=BACKEND)
    response = requests.post(
        f"{oidc(realms_server)}/logout",
        data={"refresh_token": tokens["refresh_token"]},
        headers=basic(BACKEND["client_id"], BACKEND["client_secret"]),
        timeout=10,
    )
    assert response.status_code == 204
    assert (
        refresh(realms_server, tokens["refresh_token"], client=BACKEND).json() == SESSION_NOT_ACTIVE
    )


def _logout_form(server: MockServer, case: str) -> dict[str, str]:
    tokens = login(server)
    forms: dict[str, dict[str, str]] = {
        "missing refresh_token": {**CLI},
        "garbage refresh_token": {**CLI, "refresh_token": "garbage"},
        "access token as refresh token": {**CLI, "refresh_token": tokens["access_token"]},
        "other client's token": {
            **CLI,
            "refresh_token": login(server, client=BACKEND)["refresh_token"],
        },
        "missing client": {"refresh_token": tokens["refresh_token"]},
        "unknown client": {"client_id": "nobody", "refresh_token": tokens["refresh_token"]},
        "confidential client without secret": {
            "client_id": "demobank-backend",
            "refresh_token": tokens["refresh_token"],
        },
        "confidential client with wrong secret": {
            **BACKEND,
            "client_secret": "wrong",
            "refresh_token": tokens["refresh_token"],
        },
    }
    return forms[case]


LOGOUT_ERRORS: list[tuple[str, int, dict[str, str]]] = [
    ("garbage refresh_token", 400, INVALID_REFRESH),
    ("access token as refresh token", 400, INVALID_REFRESH),
    (
        "other client's token",
        400,
        {
            "error": "invalid_grant",
            "error_description": "Invalid refresh token. "
            "Token client and authorized client don't match",
        },
    ),
    ("missing client", 401, {"error": "invalid_client", "error_description": BAD_CLIENT}),
    ("unknown client", 401, {"error": "invalid_client", "error_description": BAD_CLIENT}),
    (
        "confidential client without secret",
        401,
        {"error": "unauthorized_client", "error_description": BAD_CLIENT},
    ),
    (
        "confidential client with wrong secret",
        401,
        {"error": "unauthorized_client", "error_description": BAD_CLIENT},
    ),
]


@pytest.mark.parametrize(
    ("case", "status", "body"), LOGOUT_ERRORS, ids=[case[0] for case in LOGOUT_ERRORS]
)
def test_logout_error(
    realms_server: MockServer, case: str, status: int, body: dict[str, str]
) -> None:
    response = requests.post(
        f"{oidc(realms_server)}/logout", data=_logout_form(realms_server, case), timeout=10
    )
    assert (response.status_code, response.json()) == (status, body)
    assert response.headers["Content-Type"] == "application/json"
    # Keycloak's logout errors carry no cache headers (unlike the token endpoint's).
    assert "Cache-Control" not in response.headers
    assert "Pragma" not in response.headers


def test_logout_wants_a_form(realms_server: MockServer) -> None:
    tokens = login(realms_server)
    response = requests.post(
        f"{oidc(realms_server)}/logout",
        json={"client_id": "demobank-cli", "refresh_token": tokens["refresh_token"]},
        timeout=10,
    )
    assert response.status_code == 415
    assert refresh(realms_server, tokens["refresh_token"]).status_code == 200


def test_a_form_without_refresh_token_is_the_browser_logout(realms_server: MockServer) -> None:
    """Keycloak 25-26.1: no ``refresh_token`` in the form takes the RP-initiated path."""
    response = requests.post(
        f"{oidc(realms_server)}/logout", data={"client_id": "demobank-cli"}, timeout=10
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html;charset=utf-8"


# -- revocation ---------------------------------------------------------------------------------


def assert_revoked_ok(response: requests.Response) -> None:
    assert response.status_code == 200
    assert response.content == b""
    assert "Content-Type" not in response.headers
    assert response.headers["Content-Security-Policy"] == CSP


def test_revoking_a_refresh_token_ends_the_session(realms_server: MockServer) -> None:
    tokens = login(realms_server)
    assert_revoked_ok(revoke(realms_server, tokens["refresh_token"]))
    assert refresh(realms_server, tokens["refresh_token"]).json() == SESSION_NOT_ACTIVE
    assert (
        SESSION_NOT_FOUND
        in userinfo(realms_server, tokens["access_token"]).headers["WWW-Authenticate"]
    )
    # A second revocation finds no session: Keycloak answers 200 with an error body.
    second = revoke(realms_server, tokens["refresh_token"])
    assert (second.status_code, second.json()) == (200, INVALID_TOKEN)


def test_revoking_an_access_token_kills_only_that_token(realms_server: MockServer) -> None:
    tokens = login(realms_server)
    other = login(realms_server)
    assert_revoked_ok(revoke(realms_server, tokens["access_token"], token_type_hint="access_token"))
    assert userinfo(realms_server, tokens["access_token"]).status_code == 401
    assert introspect(realms_server, tokens["access_token"]).json() == {"active": False}
    # The session and its other tokens live on.
    refreshed = refresh(realms_server, tokens["refresh_token"])
    assert refreshed.status_code == 200
    assert userinfo(realms_server, refreshed.json()["access_token"]).status_code == 200
    assert userinfo(realms_server, other["access_token"]).status_code == 200


def test_the_hint_does_not_decide_what_is_revoked(realms_server: MockServer) -> None:
    tokens = login(realms_server)
    assert_revoked_ok(
        revoke(realms_server, tokens["access_token"], token_type_hint="refresh_token")
    )
    # The access token was revoked despite the wrong hint: userinfo, introspection and a
    # resource refuse it...
    refused = userinfo(realms_server, tokens["access_token"])
    assert (refused.status_code, refused.headers["WWW-Authenticate"]) == (
        401,
        'Bearer realm="customer", error="invalid_token", '
        'error_description="Token verification failed"',
    )
    assert introspect(realms_server, tokens["access_token"]).json() == {"active": False}
    resource = requests.get(
        f"{realms_server.url}/demobank/accounts",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=10,
    )
    assert resource.status_code == 401
    # ...and the session, which a refresh token revocation would have ended, lives on.
    assert refresh(realms_server, tokens["refresh_token"]).status_code == 200


def test_revoked_ids_are_forgotten_once_the_token_has_expired(realms_server: MockServer) -> None:
    tokens = login(realms_server)
    revoke(realms_server, tokens["access_token"])
    assert len(realms_server.state.revoked_access_tokens) == 1
    realms_server.state.clock.advance(902)
    realms_server.state.purge_expired()
    assert realms_server.state.revoked_access_tokens == {}


def test_confidential_client_revokes_with_basic_auth(realms_server: MockServer) -> None:
    tokens = login(realms_server, client=BACKEND)
    response = requests.post(
        f"{oidc(realms_server)}/revoke",
        data={"token": tokens["refresh_token"]},
        headers=basic(BACKEND["client_id"], BACKEND["client_secret"]),
        timeout=10,
    )
    assert_revoked_ok(response)
    assert (
        refresh(realms_server, tokens["refresh_token"], client=BACKEND).json() == SESSION_NOT_ACTIVE
    )


def _revoke_request(server: MockServer, case: str) -> Any:
    tokens = login(server)
    forms: dict[str, Any] = {
        "missing token": {**CLI},
        "garbage": {**CLI, "token": "garbage"},
        "expired refresh token of an ended session": None,
        "id token": {**CLI, "token": tokens["id_token"]},
        "other client's token": {**CLI, "token": login(server, client=BACKEND)["refresh_token"]},
        "duplicated parameter": [("client_id", "demobank-cli"), ("token", "a"), ("token", "b")],
        "unknown client": {"client_id": "nobody", "token": tokens["refresh_token"]},
        "confidential client without secret": {
            "client_id": "demobank-backend",
            "token": tokens["refresh_token"],
        },
    }
    if case == "expired refresh token of an ended session":
        server.state.clock.advance(1801)
        return {**CLI, "token": tokens["refresh_token"]}
    return forms[case]


REVOKE_ERRORS: list[tuple[str, int, dict[str, str]]] = [
    ("missing token", 400, {"error": "invalid_request", "error_description": "Token not provided"}),
    ("garbage", 200, INVALID_TOKEN),
    ("expired refresh token of an ended session", 200, INVALID_TOKEN),
    (
        "id token",
        400,
        {"error": "unsupported_token_type", "error_description": "Unsupported token type"},
    ),
    (
        "other client's token",
        400,
        {"error": "invalid_request", "error_description": "Unmatching clients"},
    ),
    (
        "duplicated parameter",
        400,
        {"error": "invalid_request", "error_description": "duplicated parameter"},
    ),
    ("unknown client", 401, {"error": "invalid_client", "error_description": BAD_CLIENT}),
    (
        "confidential client without secret",
        401,
        {"error": "unauthorized_client", "error_description": BAD_CLIENT},
    ),
]


@pytest.mark.parametrize(
    ("case", "status", "body"), REVOKE_ERRORS, ids=[case[0] for case in REVOKE_ERRORS]
)
def test_revoke_error(
    realms_server: MockServer, case: str, status: int, body: dict[str, str]
) -> None:
    form = _revoke_request(realms_server, case)
    response = requests.post(f"{oidc(realms_server)}/revoke", data=form, timeout=10)
    assert (response.status_code, response.json()) == (status, body)
    assert response.headers["Content-Type"] == "application/json"
    assert "Content-Security-Policy" not in response.headers


def test_revoke_in_a_disabled_realm_is_403(realms_server: MockServer) -> None:
    tokens = login(realms_server)
    realms_server.state.update_realm("customer", lambda r: dataclasses.replace(r, enabled=False))
    response = revoke(realms_server, tokens["refresh_token"])
    assert (response.status_code, response.json()) == (
        403,
        {"error": "access_denied", "error_description": "Realm not enabled"},
    )
