"""Offline tokens: ``scope=offline_access`` as Keycloak's TokenManager issues them, over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from demobank_client import Settings, TokenManager
from keycloak_mock import MockConfig, MockServer

from .sessions_support import parts

APP = {"client_id": "field-app"}
REALM: dict[str, Any] = {
    "realm": "customer",
    "clients": [
        # finAPI's client has no offline_access scope: asking for it stays invalid_scope.
        {"clientId": "demobank-cli", "publicClient": True, "optionalClientScopes": ["email"]},
        # A new Keycloak client: offline_access is one of its optional scopes.
        {"clientId": "field-app", "publicClient": True},
        {"clientId": "backend", "secret": "TEST-ONLY-backend-secret"},
    ],
    "users": [
        {"username": "demo", "credentials": [{"type": "password", "value": "demo"}]},
        {
            "username": "no-offline",
            "realmRoles": ["uma_authorization"],
            "credentials": [{"type": "password", "value": "pw"}],
        },
    ],
}
LIMITED = {
    **REALM,
    "realm": "limited",
    "offlineSessionMaxLifespanEnabled": True,
    "offlineSessionMaxLifespan": 7200,
    "offlineSessionIdleTimeout": 3600,
}
SESSION_NOT_FOUND = {
    "error": "invalid_grant",
    "error_description": "Offline user session not found",
}
SESSION_TIMED_OUT = {"error": "invalid_grant", "error_description": "Offline session not active"}


@pytest.fixture(scope="module")
def module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockServer]:
    path = tmp_path_factory.mktemp("realms") / "offline.json"
    path.write_text(json.dumps([REALM, LIMITED]), encoding="utf-8")
    with MockServer(MockConfig(port=0, config=str(path))) as server:
        yield server


@pytest.fixture
def server(module_server: MockServer) -> MockServer:
    module_server.state.reset()
    return module_server


def oidc(server: MockServer, realm: str = "customer") -> str:
    return f"{server.url}/realms/{realm}/protocol/openid-connect"


def post(
    server: MockServer, endpoint: str, realm: str = "customer", **form: str
) -> requests.Response:
    return requests.post(f"{oidc(server, realm)}/{endpoint}", data=form, timeout=10)


def login(
    server: MockServer,
    scope: str,
    *,
    username: str = "demo",
    password: str = "demo",  # noqa: S107 - the test user's published password
    **extra: str,
) -> requests.Response:
    form = {**APP, "grant_type": "password", "username": username, "password": password}
    return post(server, "token", scope=scope, **form, **extra)


def test_offline_access_gives_an_offline_token_without_expiry(server: MockServer) -> None:
    response = login(server, "offline_access")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["refresh_expires_in"] == 0
    assert sorted(body["scope"].split()) == ["email", "offline_access", "profile"]
    header, claims, _ = parts(body["refresh_token"])
    assert header["alg"] == "HS512"
    assert claims["typ"] == "Offline"
    assert "exp" not in claims
    assert claims["sid"] == body["session_state"]
    assert list(claims) == ["iat", "jti", "iss", "aud", "sub", "typ", "azp", "sid", "scope"]


def test_the_offline_token_refreshes_into_another_offline_token(server: MockServer) -> None:
    first = login(server, "openid offline_access").json()
    server.state.clock.advance(3 * 86400)  # far beyond the online session's idle timeout
    refreshed = post(
        server, "token", grant_type="refresh_token", **APP, refresh_token=first["refresh_token"]
    )
    assert refreshed.status_code == 200, refreshed.text
    body = refreshed.json()
    assert body["refresh_expires_in"] == 0
    assert body["session_state"] == first["session_state"]
    assert parts(body["refresh_token"])[1]["typ"] == "Offline"
    userinfo = requests.get(
        f"{oidc(server)}/userinfo",
        headers={"Authorization": f"Bearer {body['access_token']}"},
        timeout=10,
    )
    # The access token's sid names the offline session: userinfo finds it there.
    assert userinfo.status_code == 200, userinfo.headers
    assert userinfo.json()["preferred_username"] == "demo"


def test_offline_session_times_out_after_its_own_idle_timeout(server: MockServer) -> None:
    first = login(server, "offline_access").json()
    server.state.clock.advance(30 * 86400 + 1)
    refreshed = post(
        server, "token", grant_type="refresh_token", **APP, refresh_token=first["refresh_token"]
    )
    assert refreshed.status_code == 400
    assert refreshed.json() == SESSION_TIMED_OUT
    # Keycloak revoked it on the spot: now it is gone.
    again = post(
        server, "token", grant_type="refresh_token", **APP, refresh_token=first["refresh_token"]
    )
    assert again.json() == SESSION_NOT_FOUND


def test_logout_of_the_online_session_leaves_the_offline_one(server: MockServer) -> None:
    online = login(server, "profile").json()
    offline = login(server, "offline_access").json()
    assert post(server, "logout", **APP, refresh_token=online["refresh_token"]).status_code == 204
    after = post(
        server, "token", grant_type="refresh_token", **APP, refresh_token=offline["refresh_token"]
    )
    assert after.status_code == 200, after.text


def test_logout_with_the_offline_token_ends_only_the_offline_session(server: MockServer) -> None:
    body = login(server, "offline_access").json()
    assert post(server, "logout", **APP, refresh_token=body["refresh_token"]).status_code == 204
    after = post(
        server, "token", grant_type="refresh_token", **APP, refresh_token=body["refresh_token"]
    )
    assert after.json() == SESSION_NOT_FOUND
    # Keycloak removed the online session of this login when it created the offline one.
    assert body["session_state"] not in server.state.sessions


def test_revoking_the_offline_token_ends_the_offline_session(server: MockServer) -> None:
    body = login(server, "offline_access").json()
    revoked = post(server, "revoke", **APP, token=body["refresh_token"])
    assert revoked.status_code == 200
    after = post(
        server, "token", grant_type="refresh_token", **APP, refresh_token=body["refresh_token"]
    )
    assert after.json() == SESSION_NOT_FOUND


def test_introspection_of_an_offline_token(server: MockServer) -> None:
    body = login(server, "offline_access").json()
    result = post(
        server,
        "token/introspect",
        client_id="backend",
        client_secret="TEST-ONLY-backend-secret",
        token=body["refresh_token"],
        token_type_hint="refresh_token",
    ).json()
    assert result["active"] is True
    assert result["typ"] == result["token_type"] == "Offline"
    assert "exp" not in result


def test_a_realm_with_an_offline_maximum_sets_exp(server: MockServer) -> None:
    body = login_limited(server)
    assert body["refresh_expires_in"] == 3600
    claims = parts(body["refresh_token"])[1]
    assert claims["typ"] == "Offline"
    assert claims["exp"] - claims["iat"] == 3600


def login_limited(server: MockServer) -> dict[str, Any]:
    form = {**APP, "grant_type": "password", "username": "demo", "password": "demo"}
    response = post(server, "token", realm="limited", scope="offline_access", **form)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_user_without_the_offline_access_role_is_not_allowed(server: MockServer) -> None:
    response = login(server, "offline_access", username="no-offline", password="pw")
    assert response.status_code == 400
    assert response.json() == {
        "error": "not_allowed",
        "error_description": "Offline tokens not allowed for the user or client",
    }


def test_a_client_without_the_scope_answers_invalid_scope(server: MockServer) -> None:
    response = post(
        server,
        "token",
        client_id="demobank-cli",
        grant_type="password",
        username="demo",
        password="demo",
        scope="offline_access",
    )
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_scope",
        "error_description": "Invalid scopes: offline_access",
    }


def test_the_thin_client_keeps_an_offline_token(server: MockServer) -> None:
    settings = Settings(
        mandator="customer",
        username="demo",
        password="demo",
        client_id="field-app",
        scope="offline_access",
        base_url=server.url,
    )
    manager = TokenManager(settings)
    try:
        tokens = manager.login()
        assert tokens.refresh_expires_at is None  # refresh_expires_in 0: no deadline
        assert manager.refresh().refresh_token is not None
    finally:
        manager.close()
