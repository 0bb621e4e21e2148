"""Third-party clients end sessions against the mock unchanged.

python-keycloak's ``KeycloakOpenID.userinfo``, ``logout`` and ``introspect`` (with the fixture's
confidential client ``demobank-backend``), and authlib's RFC 7009/7662 helpers.
"""

from __future__ import annotations

import pytest
from keycloak import KeycloakOpenID
from keycloak.exceptions import KeycloakAuthenticationError, KeycloakPostError

from keycloak_mock import MockServer

from .sessions_support import BACKEND, oidc, parts


def openid(
    server: MockServer, client_id: str = "demobank-cli", secret: str | None = None
) -> KeycloakOpenID:
    return KeycloakOpenID(
        server_url=server.url + "/",
        realm_name="customer",
        client_id=client_id,
        client_secret_key=secret,
    )


def backend(server: MockServer) -> KeycloakOpenID:
    return openid(server, BACKEND["client_id"], BACKEND["client_secret"])


def test_python_keycloak_userinfo(realms_server: MockServer) -> None:
    client = openid(realms_server)
    token = client.token("demo", "demo")  # python-keycloak asks for scope=openid by default
    assert client.userinfo(token["access_token"]) == {
        "sub": parts(token["access_token"])[1]["sub"],
        "name": "Demo User",
        "preferred_username": "demo",
        "given_name": "Demo",
        "family_name": "User",
    }


def test_python_keycloak_logout_ends_the_session(realms_server: MockServer) -> None:
    client = openid(realms_server)
    token = client.token("demo", "demo")
    assert client.logout(token["refresh_token"]) == {}
    with pytest.raises(KeycloakPostError) as refused:
        client.refresh_token(token["refresh_token"])
    assert refused.value.response_code == 400
    assert b"Session not active" in refused.value.response_body
    with pytest.raises(KeycloakAuthenticationError) as unauthorized:
        client.userinfo(token["access_token"])
    assert unauthorized.value.response_code == 401


def test_python_keycloak_introspect_with_the_confidential_client(realms_server: MockServer) -> None:
    token = openid(realms_server).token("demo", "demo")
    info = backend(realms_server).introspect(token["access_token"])
    assert info["active"] is True
    assert (info["username"], info["client_id"], info["token_type"]) == (
        "demo",
        "demobank-cli",
        "Bearer",
    )
    assert info["sub"] == parts(token["access_token"])[1]["sub"]
    refresh_info = backend(realms_server).introspect(
        token["refresh_token"], token_type_hint="refresh_token"
    )
    assert (refresh_info["active"], refresh_info["token_type"]) == (True, "Refresh")
    openid(realms_server).logout(token["refresh_token"])
    assert backend(realms_server).introspect(token["access_token"]) == {"active": False}


def test_python_keycloak_introspect_as_public_client_is_refused(realms_server: MockServer) -> None:
    client = openid(realms_server)
    token = client.token("demo", "demo")
    with pytest.raises(KeycloakPostError) as refused:
        client.introspect(token["access_token"])
    assert refused.value.response_code == 403
    assert b"Client not allowed." in refused.value.response_body


def test_python_keycloak_backend_logs_out_its_own_session(realms_server: MockServer) -> None:
    client = backend(realms_server)
    token = client.token("demo", "demo")
    assert client.logout(token["refresh_token"]) == {}
    assert client.introspect(token["access_token"]) == {"active": False}


def test_authlib_revokes_and_introspects(
    realms_server: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from authlib.integrations.requests_client import OAuth2Session

    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")  # plain http on loopback
    public = OAuth2Session(client_id="demobank-cli", token_endpoint_auth_method="none")
    token = public.fetch_token(f"{oidc(realms_server)}/token", username="demo", password="demo")
    confidential = OAuth2Session(
        client_id=BACKEND["client_id"],
        client_secret=BACKEND["client_secret"],
        token_endpoint_auth_method="client_secret_post",
    )
    introspect_url = f"{oidc(realms_server)}/token/introspect"
    assert confidential.introspect_token(introspect_url, token=token["access_token"]).json()[
        "active"
    ]
    revoked = public.revoke_token(
        f"{oidc(realms_server)}/revoke",
        token=token["refresh_token"],
        token_type_hint="refresh_token",
    )
    assert (revoked.status_code, revoked.content) == (200, b"")
    after = confidential.introspect_token(introspect_url, token=token["access_token"])
    assert after.json() == {"active": False}
