"""Third-party Keycloak clients work against the mock unchanged.

python-keycloak's ``KeycloakOpenID`` (token, refresh_token, certs, well_known, public_key,
decode_token with signature verification), authlib's and requests-oauthlib's OAuth2 sessions
(password grant + refresh) and PyJWT's ``PyJWKClient``.
"""

from __future__ import annotations

import warnings

import jwt
import pytest
from keycloak import KeycloakOpenID
from keycloak.exceptions import KeycloakAuthenticationError, KeycloakPostError

from keycloak_mock import MockServer

from .conftest import token_url


@pytest.fixture
def openid(keycloak_mock: MockServer) -> KeycloakOpenID:
    return KeycloakOpenID(
        server_url=keycloak_mock.url + "/", realm_name="customer", client_id="demobank-cli"
    )


def test_python_keycloak_token_refresh_and_decode(
    openid: KeycloakOpenID, keycloak_mock: MockServer
) -> None:
    token = openid.token("demo", "demo")
    assert token["expires_in"] == 900
    assert token["mandator_name"] == "finAPI Demobank"
    claims = openid.decode_token(token["access_token"], validate=True)
    assert claims["preferred_username"] == "demo"
    assert claims["iss"] == f"{keycloak_mock.url}/realms/customer"
    refreshed = openid.refresh_token(token["refresh_token"])
    assert refreshed["session_state"] == token["session_state"]
    assert openid.decode_token(refreshed["access_token"])["sid"] == token["session_state"]


def test_python_keycloak_discovery_and_keys(
    openid: KeycloakOpenID, keycloak_mock: MockServer
) -> None:
    well_known = openid.well_known()
    assert well_known["token_endpoint"] == token_url(keycloak_mock.url)
    certs = openid.certs()
    assert certs["keys"][0]["kid"] == keycloak_mock.state.active_key.kid
    assert openid.public_key() == keycloak_mock.state.active_key.public_key_b64


def test_python_keycloak_raises_on_bad_credentials(openid: KeycloakOpenID) -> None:
    with pytest.raises(KeycloakAuthenticationError) as excinfo:
        openid.token("demo", "wrong")
    assert excinfo.value.response_code == 401
    assert b"Invalid user credentials" in excinfo.value.response_body


def test_python_keycloak_raises_on_dead_refresh_token(
    openid: KeycloakOpenID, keycloak_mock: MockServer
) -> None:
    token = openid.token("demo", "demo")
    keycloak_mock.state.end_session(token["session_state"])
    with pytest.raises(KeycloakPostError) as excinfo:
        openid.refresh_token(token["refresh_token"])
    assert excinfo.value.response_code == 400
    assert b"Session not active" in excinfo.value.response_body


def test_pyjwt_jwks_client(keycloak_mock: MockServer, openid: KeycloakOpenID) -> None:
    access = openid.token("demo", "demo")["access_token"]
    client = jwt.PyJWKClient(f"{keycloak_mock.url}/realms/customer/protocol/openid-connect/certs")
    key = client.get_signing_key_from_jwt(access)
    claims = jwt.decode(access, key, algorithms=["RS256"], audience="account")
    assert claims["azp"] == "demobank-cli"


def test_authlib_password_grant_and_refresh(keycloak_mock: MockServer) -> None:
    from authlib.integrations.requests_client import OAuth2Session

    session = OAuth2Session(client_id="demobank-cli", token_endpoint_auth_method="none")
    token = session.fetch_token(
        token_url(keycloak_mock.url), username="demo", password="demo", grant_type="password"
    )
    assert token["token_type"] == "Bearer"
    refreshed = session.refresh_token(
        token_url(keycloak_mock.url), refresh_token=token["refresh_token"]
    )
    assert refreshed["access_token"] != token["access_token"]


def test_requests_oauthlib_password_grant(
    keycloak_mock: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from oauthlib.oauth2 import LegacyApplicationClient
    from requests_oauthlib import OAuth2Session

    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # plain http on loopback
    session = OAuth2Session(client=LegacyApplicationClient(client_id="demobank-cli"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # oauthlib warns about scope changes; not ours to fix
        token = session.fetch_token(
            token_url(keycloak_mock.url),
            username="demo",
            password="demo",
            client_id="demobank-cli",
            include_client_id=True,
        )
    assert token["scope"] == ["xs2a_mock:user", "profile"]
    assert token["refresh_token"]
