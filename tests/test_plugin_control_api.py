"""The ``/_mock`` control API as JSON over HTTP: shapes, errors, the admin token, the off switch."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import requests

from keycloak_mock import MockConfig, MockServer
from keycloak_mock.controls.remote import RemoteControls
from keycloak_mock.controls.schema import ControlError
from keycloak_mock.controls.views import routes
from keycloak_mock.handle import KeycloakMock
from keycloak_mock.serving.options import build_parser, config_from

from .conftest import REPO_ROOT
from .plugin_support import login

ADMIN_TOKEN = "test-only-admin-token"


def call(mock: KeycloakMock, method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(method, f"{mock.url}/_mock{path}", timeout=10, **kwargs)


@pytest.fixture(scope="module")
def guarded_server() -> Iterator[MockServer]:
    with MockServer(MockConfig(port=0, admin_token=ADMIN_TOKEN)) as server:
        yield server


def test_overview_names_realms_time_and_fault_endpoints(keycloak_mock: KeycloakMock) -> None:
    body = call(keycloak_mock, "GET", "").json()
    assert body["realms"] == ["customer"]
    assert set(body["time"]) == {"now", "seconds", "frozen"}
    assert {"token", "certs", "userinfo", "logout", "resource"} <= set(body["endpoints"])
    assert body["issuerBase"] == keycloak_mock.url


@pytest.mark.parametrize(
    ("method", "path", "json_body", "status", "body"),
    [
        ("POST", "/reset", None, 200, {"reset": True}),
        (
            "POST",
            "/time/freeze",
            {"at": 2000000000},
            200,
            {"now": 2000000000, "seconds": 2000000000, "frozen": True},
        ),
        (
            "POST",
            "/time/advance",
            {},
            400,
            {"error": "invalid_request", "error_description": "seconds: required"},
        ),
        (
            "POST",
            "/time/advance",
            {"seconds": "5"},
            400,
            {"error": "invalid_request", "error_description": "seconds: wrong type"},
        ),
        (
            "POST",
            "/time/advance",
            {"seconds": 5, "x": 1},
            400,
            {"error": "invalid_request", "error_description": "unknown field 'x'; known: seconds"},
        ),
        (
            "POST",
            "/time/advance",
            [5],
            400,
            {
                "error": "invalid_request",
                "error_description": "the request body must be a JSON object",
            },
        ),
        (
            "POST",
            "/time/advance",
            {"seconds": 1e300},
            400,
            {
                "error": "invalid_request",
                "error_description": "seconds: would move the clock before 1970 or past the "
                "year 3000",
            },
        ),
        (
            "POST",
            "/time/freeze",
            {"at": -1},
            400,
            {
                "error": "invalid_request",
                "error_description": "at: must be a Unix time in seconds (1970 to 3000), or null "
                "for now",
            },
        ),
        (
            "GET",
            "/realms/nowhere",
            None,
            404,
            {"error": "not_found", "error_description": "Realm 'nowhere' not found"},
        ),
        (
            "PATCH",
            "/realms/customer",
            {"accessTokenLifespan": True},
            400,
            {
                "error": "invalid_request",
                "error_description": "$.accessTokenLifespan: expected an integer, got true",
            },
        ),
        (
            "PATCH",
            "/realms/customer",
            {"realm": "x"},
            400,
            {
                "error": "invalid_request",
                "error_description": "unknown realm setting 'realm'; known: "
                "accessTokenLifespan, clientScopes, clients, components, enabled, "
                "loginWithEmailAllowed, "
                "notBefore, offlineSessionIdleTimeout, offlineSessionMaxLifespan, "
                "offlineSessionMaxLifespanEnabled, refreshTokenMaxReuse, refreshTokenSecret, "
                "revokeRefreshToken, ssoSessionIdleTimeout, ssoSessionMaxLifespan, users",
            },
        ),
        (
            "POST",
            "/realms",
            {"realm": "customer"},
            409,
            {
                "error": "conflict",
                "error_description": "Conflict detected. Realm 'customer' exists",
            },
        ),
        (
            "POST",
            "/realms/customer/users",
            {"username": "demo"},
            409,
            {"error": "conflict", "error_description": "User exists with same username"},
        ),
        (
            "POST",
            "/realms/customer/users",
            {"name": "x"},
            400,
            {
                "error": "invalid_request",
                "error_description": "$.username: required field is missing",
            },
        ),
        (
            "PUT",
            "/realms/customer/users/demo/password",
            {},
            400,
            {"error": "invalid_request", "error_description": "value: required"},
        ),
        (
            "DELETE",
            "/sessions/nope",
            None,
            404,
            {"error": "not_found", "error_description": "Session 'nope' not found"},
        ),
        (
            "DELETE",
            "/keys/nope",
            None,
            404,
            {"error": "not_found", "error_description": "Key 'nope' not found"},
        ),
        (
            "POST",
            "/faults",
            {"status": 503, "colour": "red"},
            400,
            {
                "error": "invalid_request",
                "error_description": "unknown field 'colour'; known: body, delay, drop, "
                "endpoint, grantType, headers, realm, status, times",
            },
        ),
        (
            "POST",
            "/faults",
            {"drop": True, "status": 500},
            400,
            {
                "error": "invalid_request",
                "error_description": "drop: a dropped connection has no status or body",
            },
        ),
        (
            "PUT",
            "/faults/error-rate",
            {},
            400,
            {"error": "invalid_request", "error_description": "rate: required"},
        ),
        (
            "GET",
            "/requests?password=x",
            None,
            400,
            {
                "error": "invalid_request",
                "error_description": "unknown filter 'password'; known: endpoint, "
                "grantType, realm, clientId, username, status, limit",
            },
        ),
        (
            "GET",
            "/nothing-here",
            None,
            404,
            {"error": "Unable to find matching target resource method"},
        ),
    ],
)
def test_json_in_and_out_with_clear_errors(
    keycloak_mock: KeycloakMock,
    method: str,
    path: str,
    json_body: Any,
    status: int,
    body: dict[str, Any],
) -> None:
    response = call(keycloak_mock, method, path, json=json_body)
    assert (response.status_code, response.json()) == (status, body)
    assert response.headers["Content-Type"] == "application/json"


def test_a_body_that_is_not_json_is_a_400(keycloak_mock: KeycloakMock) -> None:
    response = call(keycloak_mock, "POST", "/time/advance", data=b"{seconds: 5")
    assert response.status_code == 400
    assert response.json()["error_description"] == "the request body must be a JSON object"


def test_shapes_of_users_sessions_keys_and_requests(keycloak_mock: KeycloakMock) -> None:
    frozen_at = 1767225600
    call(keycloak_mock, "POST", "/time/freeze", json={"at": frozen_at})
    created = call(
        keycloak_mock,
        "POST",
        "/realms/customer/users",
        json={
            "username": "alice",
            "email": "alice@example.com",
            "credentials": [{"type": "password", "value": "pw"}],
        },
    )
    assert created.status_code == 201
    user_id = created.json()["id"]
    assert str(uuid.UUID(user_id)) == user_id
    assert created.json() == {
        "id": user_id,
        "username": "alice",
        "enabled": True,
        "firstName": None,
        "lastName": None,
        "email": "alice@example.com",
        "emailVerified": False,
        "attributes": {},
        "requiredActions": [],
    }
    body = login(keycloak_mock, "alice", "pw").json()
    [session] = call(keycloak_mock, "GET", "/sessions?realm=customer&username=alice").json()[
        "sessions"
    ]
    assert session == {
        "id": body["session_state"],
        "realm": "customer",
        "userId": user_id,
        "username": "alice",
        "started": frozen_at,
        "lastRefresh": frozen_at,
        "clients": ["demobank-cli"],
        # Keycloak's defaults: SSO idle 1800 s, access tokens 900 s.
        "expires": session["started"] + 1800,
        "accessExpires": session["started"] + 900,
    }
    [key] = call(keycloak_mock, "GET", "/keys").json()["keys"]
    assert key == {"kid": keycloak_mock.state.active_key.kid, "active": True}
    log = call(keycloak_mock, "GET", "/requests?grantType=password").json()
    assert log["count"] == 1 and log["counters"] == {"token:password": 1}
    assert log["requests"][0] == {
        "at": frozen_at,
        "method": "POST",
        "path": "/realms/customer/protocol/openid-connect/token",
        "endpoint": "token",
        "realm": "customer",
        "username": "alice",
        "status": 200,
        "fault": None,
        "duration": log["requests"][0]["duration"],
        "grantType": "password",
        "clientId": "demobank-cli",
    }
    assert 0 < log["requests"][0]["duration"] < 30
    [newest] = call(keycloak_mock, "GET", "/requests?limit=1").json()["requests"]
    assert newest["path"] == "/realms/customer/protocol/openid-connect/token"
    # The id the control API reports is the subject Keycloak puts in the user's tokens.
    verified = jwt.decode(
        body["access_token"],
        jwt.PyJWKClient(keycloak_mock.jwks_url).get_signing_key_from_jwt(body["access_token"]),
        algorithms=["RS256"],
        audience="account",
        options={"verify_exp": False},
    )
    assert verified["sub"] == user_id


def test_realm_summary_never_shows_secrets(keycloak_mock: KeycloakMock) -> None:
    call(
        keycloak_mock,
        "POST",
        "/realms",
        json={
            "realm": "bank3",
            "refreshTokenSecret": "hs512-secret",
            "clients": [{"clientId": "backend", "secret": "client-secret"}],
            "users": [{"username": "svc", "credentials": [{"type": "password", "value": "pw1"}]}],
        },
    )
    text = (
        call(keycloak_mock, "GET", "/realms/bank3").text
        + call(keycloak_mock, "GET", "/realms/bank3/users").text
    )
    for secret in ("hs512-secret", "client-secret", "pw1"):
        assert secret not in text
    assert '"clients":["backend"]' in text


# -- admin token ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong", f"Basic {ADMIN_TOKEN}", "Bearer", f"Bearer {ADMIN_TOKEN}x"],
)
def test_admin_token_is_required_when_set(
    guarded_server: MockServer, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = requests.post(f"{guarded_server.url}/_mock/reset", headers=headers, timeout=10)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="keycloak-mock-control"'
    assert response.json()["error"] == "unauthorized"
    assert ADMIN_TOKEN not in response.text


def test_admin_token_opens_the_api_and_keycloak_paths_stay_open(guarded_server: MockServer) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    assert requests.get(f"{guarded_server.url}/_mock/time", headers=headers, timeout=10).ok
    handle = KeycloakMock(
        guarded_server.url, RemoteControls(guarded_server.url, admin_token=ADMIN_TOKEN)
    )
    handle.advance(10)
    assert login(handle).status_code == 200
    without = KeycloakMock(guarded_server.url, RemoteControls(guarded_server.url))
    with pytest.raises(ControlError) as raised:
        without.advance(10)
    assert raised.value.status == 401


def test_admin_token_is_read_from_the_env_and_hidden_from_repr() -> None:
    config = config_from([], {"KEYCLOAK_MOCK_ADMIN_TOKEN": "from-env"})
    assert config.admin_token == "from-env"
    assert "from-env" not in repr(config)
    assert config_from(["--disable-control-api"], {}).disable_control_api is True
    assert config_from([], {"KEYCLOAK_MOCK_DISABLE_CONTROL_API": "true"}).disable_control_api


def test_cli_help_lists_the_control_api_options() -> None:
    text = build_parser().format_help()
    assert "--disable-control-api" in text and "KEYCLOAK_MOCK_DISABLE_CONTROL_API" in text
    assert "--admin-token VALUE" in text and "KEYCLOAK_MOCK_ADMIN_TOKEN" in text


# -- off switch -------------------------------------------------------------------------------
def test_disabled_control_api_is_not_there_at_all() -> None:
    with MockServer(MockConfig(port=0, disable_control_api=True)) as server:
        response = requests.post(f"{server.url}/_mock/reset", timeout=10)
        assert (response.status_code, response.json()) == (
            404,
            {"error": "Unable to find matching target resource method"},
        )
        with pytest.raises(ControlError, match="is the control API enabled"):
            RemoteControls(server.url).time()
        handle = KeycloakMock(server.url, RemoteControls(server.url), default_realm="customer")
        assert login(handle).status_code == 200


def test_unreachable_mock_is_a_clear_error() -> None:
    from .plugin_support import free_port

    with pytest.raises(ControlError, match="unreachable: ConnectionError") as raised:
        RemoteControls(f"http://127.0.0.1:{free_port()}", timeout=2).time()
    assert raised.value.status == 503


# -- docs -------------------------------------------------------------------------------------
def test_every_route_is_documented_in_the_readme_or_the_docs() -> None:
    pages = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").rglob("*.md"))]
    text = "\n".join(page.read_text(encoding="utf-8") for page in pages)
    documented = set(re.findall(r"`(GET|POST|PUT|PATCH|DELETE) (/_mock[^`]*)`", text))
    assert set(routes()) == documented
    assert len(routes()) == len(documented)
