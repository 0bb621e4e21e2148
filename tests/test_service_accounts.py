"""Service accounts: ``grant_type=client_credentials`` as Keycloak's ClientCredentialsGrantType
answers it, checked over HTTP with the tokens verified against the realm's JWKS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from keycloak import KeycloakOpenID

from demobank_client import ENV_VARS, AuthError, Settings, TokenManager, cli
from keycloak_mock import MockConfig, MockServer
from keycloak_mock.imitation.config import UserConfig
from keycloak_mock.imitation.errors import ConfigError
from keycloak_mock.imitation.realmfile import load_realm_file

SERVICE = {"client_id": "reporting-service", "client_secret": "TEST-ONLY-reporting-secret"}
WITH_REFRESH = {"client_id": "sync-service", "client_secret": "TEST-ONLY-sync-secret"}
NO_SERVICE_ACCOUNT = {"client_id": "web-backend", "client_secret": "TEST-ONLY-web-secret"}
REALM: dict[str, Any] = {
    "realm": "customer",
    "clients": [
        {"clientId": "demobank-cli", "publicClient": True},
        {
            "clientId": "reporting-service",
            "secret": SERVICE["client_secret"],
            "serviceAccountsEnabled": True,
        },
        {
            "clientId": "sync-service",
            "secret": WITH_REFRESH["client_secret"],
            "serviceAccountsEnabled": True,
            "attributes": {"client_credentials.use_refresh_token": "true"},
        },
        {"clientId": "web-backend", "secret": NO_SERVICE_ACCOUNT["client_secret"]},
    ],
    "users": [
        {"username": "demo", "credentials": [{"type": "password", "value": "demo"}]},
    ],
}


@pytest.fixture(scope="module")
def module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockServer]:
    path = tmp_path_factory.mktemp("realms") / "service-accounts.json"
    path.write_text(json.dumps(REALM), encoding="utf-8")
    with MockServer(MockConfig(port=0, config=str(path))) as server:
        yield server


@pytest.fixture
def server(module_server: MockServer) -> MockServer:
    module_server.state.reset()
    return module_server


def oidc(server: MockServer) -> str:
    return f"{server.url}/realms/customer/protocol/openid-connect"


def token(server: MockServer, **form: str) -> requests.Response:
    return requests.post(f"{oidc(server)}/token", data=form, timeout=10)


def verified(server: MockServer, access_token: str) -> dict[str, Any]:
    jwks = jwt.PyJWKClient(f"{oidc(server)}/certs", cache_keys=False)
    key = jwks.get_signing_key_from_jwt(access_token)
    claims: dict[str, Any] = jwt.decode(
        access_token, key.key, algorithms=["RS256"], options={"verify_aud": False}
    )
    return claims


def test_client_credentials_gives_the_service_account_an_access_token(server: MockServer) -> None:
    response = token(server, grant_type="client_credentials", **SERVICE)
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    # Transient session: no refresh token, no session_state, refresh_expires_in 0.
    assert list(body)[:6] == [
        "access_token",
        "expires_in",
        "refresh_expires_in",
        "token_type",
        "not-before-policy",
        "scope",
    ]
    assert "refresh_token" not in body
    assert "session_state" not in body
    assert body["refresh_expires_in"] == 0
    assert body["expires_in"] == 900
    assert body["scope"] == "profile email"
    claims = verified(server, body["access_token"])
    assert "sid" not in claims
    assert claims["azp"] == "reporting-service"
    assert claims["typ"] == "Bearer"
    assert claims["preferred_username"] == "service-account-reporting-service"
    assert claims["client_id"] == "reporting-service"
    assert claims["clientHost"] == claims["clientAddress"] == "127.0.0.1"
    assert claims["realm_access"]["roles"] == [
        "offline_access",
        "uma_authorization",
        "default-roles-customer",
    ]
    assert (
        claims["sub"]
        == server.state.realm("customer")
        .find_user(  # type: ignore[union-attr]
            "service-account-reporting-service"
        )
        .id
    )


def test_client_credentials_with_basic_authentication(server: MockServer) -> None:
    response = requests.post(
        f"{oidc(server)}/token",
        data={"grant_type": "client_credentials"},
        auth=(SERVICE["client_id"], SERVICE["client_secret"]),
        timeout=10,
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        (
            {"client_id": "demobank-cli"},
            401,
            {
                "error": "unauthorized_client",
                "error_description": "Public client not allowed to retrieve service account",
            },
        ),
        (
            NO_SERVICE_ACCOUNT,
            401,
            {
                "error": "unauthorized_client",
                "error_description": "Client not enabled to retrieve service account",
            },
        ),
        (
            {"client_id": "reporting-service", "client_secret": "wrong"},
            401,
            {
                "error": "unauthorized_client",
                "error_description": "Invalid client or Invalid client credentials",
            },
        ),
        (
            {**SERVICE, "scope": "no-such-scope"},
            400,
            {"error": "invalid_scope", "error_description": "Invalid scopes: no-such-scope"},
        ),
    ],
    ids=["public client", "no service account", "wrong secret", "unknown scope"],
)
def test_keycloaks_refusals(
    server: MockServer, form: dict[str, str], status: int, error: dict[str, str]
) -> None:
    response = token(server, grant_type="client_credentials", **form)
    assert response.status_code == status
    assert response.json() == error
    assert response.headers["Content-Type"] == "application/json"


def test_the_service_account_user_cannot_log_in_with_a_password(server: MockServer) -> None:
    response = token(
        server,
        grant_type="password",
        client_id="demobank-cli",
        username="service-account-reporting-service",
        password="",
    )
    assert response.status_code == 401
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "Invalid user credentials",
    }


def test_a_disabled_service_account_is_refused(server: MockServer) -> None:
    server.state.update_realm(
        "customer",
        lambda realm: realm.with_user(
            UserConfig(
                username="service-account-reporting-service",
                service_account_client="reporting-service",
                enabled=False,
            )
        ),
    )
    response = token(server, grant_type="client_credentials", **SERVICE)
    assert response.status_code == 401
    assert response.json() == {
        "error": "invalid_request",
        "error_description": "User 'service-account-reporting-service' disabled",
    }


def test_refresh_token_only_where_the_client_attribute_asks(server: MockServer) -> None:
    body = token(server, grant_type="client_credentials", **WITH_REFRESH).json()
    assert body["refresh_expires_in"] == 1800
    claims = verified(server, body["access_token"])
    assert claims["sid"] == body["session_state"]
    refreshed = token(
        server, grant_type="refresh_token", refresh_token=body["refresh_token"], **WITH_REFRESH
    )
    assert refreshed.status_code == 200, refreshed.text
    again = verified(server, refreshed.json()["access_token"])
    assert again["client_id"] == "sync-service"
    assert again["sid"] == claims["sid"]


def test_service_account_tokens_work_at_userinfo_and_introspection(server: MockServer) -> None:
    body = token(server, grant_type="client_credentials", scope="openid", **SERVICE).json()
    userinfo = requests.get(
        f"{oidc(server)}/userinfo",
        headers={"Authorization": f"Bearer {body['access_token']}"},
        timeout=10,
    )
    assert userinfo.status_code == 200, userinfo.headers
    assert userinfo.json()["preferred_username"] == "service-account-reporting-service"
    introspection = requests.post(
        f"{oidc(server)}/token/introspect",
        data={"token": body["access_token"], **SERVICE},
        timeout=10,
    ).json()
    assert introspection["active"] is True
    assert introspection["client_id"] == "reporting-service"
    assert introspection["username"] == "service-account-reporting-service"


def service_manager(server: MockServer, client: dict[str, str]) -> TokenManager:
    settings = Settings.service_account(
        mandator="customer",
        client_id=client["client_id"],
        client_secret=client["client_secret"],
        base_url=server.url,
    )
    return TokenManager(settings)


def test_the_thin_client_uses_a_service_account(server: MockServer) -> None:
    with service_manager(server, SERVICE) as manager:
        tokens = manager.get_tokens()
        assert tokens.refresh_token is None
        assert manager.verify()["azp"] == "reporting-service"
        assert manager.get_tokens() is tokens  # still fresh: no second request
        renewed = manager.renew()  # e.g. after a resource's 401: a new client-credentials login
        assert renewed.access_token != tokens.access_token
        assert "service account of 'reporting-service'" in repr(manager)


def test_the_thin_client_reports_a_refusal(server: MockServer) -> None:
    with service_manager(server, NO_SERVICE_ACCOUNT) as manager, pytest.raises(AuthError) as caught:
        manager.access_token()
    assert "Client not enabled to retrieve service account" in str(caught.value)


def test_realm_file_path_is_named_for_a_bad_flag(tmp_path: Path) -> None:
    document = {"realm": "x", "clients": [{"clientId": "c", "serviceAccountsEnabled": "yes"}]}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"clients\[0\]\.serviceAccountsEnabled: expected a bool"):
        load_realm_file(path)


@pytest.mark.keycloak_realm(
    clients=[
        {"clientId": "demobank-cli", "publicClient": True},
        {"clientId": "batch-job", "secret": "TEST-ONLY-batch", "serviceAccountsEnabled": True},
    ]
)
def test_the_pytest_plugin_defines_a_service_account(keycloak_mock: Any) -> None:
    response = requests.post(
        keycloak_mock.token_url,
        data={"grant_type": "client_credentials"},
        auth=("batch-job", "TEST-ONLY-batch"),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
    assert claims["preferred_username"] == "service-account-batch-job"
    assert "service-account-batch-job" in [u["username"] for u in keycloak_mock.users()]


def test_discovery_lists_the_grant(server: MockServer) -> None:
    url = f"{server.url}/realms/customer/.well-known/openid-configuration"
    document = requests.get(url, timeout=10).json()
    assert "client_credentials" in document["grant_types_supported"]


def test_python_keycloak_client_credentials(server: MockServer) -> None:
    openid = KeycloakOpenID(
        server_url=server.url + "/",
        realm_name="customer",
        client_id=SERVICE["client_id"],
        client_secret_key=SERVICE["client_secret"],
    )
    token = openid.token(grant_type="client_credentials")
    assert "refresh_token" not in token
    claims = openid.decode_token(token["access_token"], validate=True)
    assert claims["preferred_username"] == "service-account-reporting-service"


def test_demobank_token_service_account(
    server: MockServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ENV_VARS.values():
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("FINAPI_CLIENT_SECRET", SERVICE["client_secret"])
    args = ["--url", server.url, "--mandator", "customer", "--client-id", SERVICE["client_id"]]
    assert cli.main([*args, "--service-account"]) == 0
    token = capsys.readouterr().out.strip()
    assert verified(server, token)["preferred_username"] == "service-account-reporting-service"
    # Without the flag it is a password login, which needs a username.
    assert cli.main(args) == 2
    assert "FINAPI_USERNAME" in capsys.readouterr().err
