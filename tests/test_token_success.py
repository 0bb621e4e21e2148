"""Successful grants: the response and the tokens, as a client decodes and verifies them."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import socket
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import requests

from keycloak_mock import MockConfig, MockServer

from .conftest import FIXTURES, token_url

PASSWORD_FORM = {
    "client_id": "demobank-cli",
    "username": "demo",
    "password": "demo",
    "grant_type": "password",
}
TOKEN_PATH = "/realms/customer/protocol/openid-connect/token"
RESPONSE_FIELDS = [
    "access_token", "expires_in", "refresh_expires_in", "refresh_token", "token_type",
    "not-before-policy", "session_state", "scope",
    "mandator_name", "mandator_uuid", "is_test_mandator", "is_technical_user",
]  # fmt: skip
ACCESS_CLAIMS = [
    "exp", "iat", "jti", "iss", "aud", "sub", "typ", "azp", "sid", "acr", "realm_access",
    "resource_access", "scope", "name", "preferred_username", "given_name", "family_name",
]  # fmt: skip
REFRESH_CLAIMS = ["exp", "iat", "jti", "iss", "aud", "sub", "typ", "azp", "sid", "scope"]
SECURITY_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "X-Robots-Tag": "none",
}


def login(server: MockServer, realm: str = "customer", **changes: str) -> requests.Response:
    return requests.post(
        token_url(server.url, realm), data=dict(PASSWORD_FORM, **changes), timeout=10
    )


def refresh(
    server: MockServer, refresh_token: str, realm: str = "customer", **extra: str
) -> requests.Response:
    data = {
        "grant_type": "refresh_token",
        "client_id": "demobank-cli",
        "refresh_token": refresh_token,
        **extra,
    }
    return requests.post(token_url(server.url, realm), data=data, timeout=10)


def header_bytes(token: str) -> bytes:
    segment = token.split(".")[0]
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def unverified(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def verified(
    server: MockServer, token: str, realm: str = "customer", **options: Any
) -> dict[str, Any]:
    """Verify like a resource server: PyJWT's JWKS client against the realm's certs endpoint."""
    jwks = jwt.PyJWKClient(f"{server.url}/realms/{realm}/protocol/openid-connect/certs")
    key = jwks.get_signing_key_from_jwt(token)
    claims: dict[str, Any] = jwt.decode(
        token, key, algorithms=["RS256"], issuer=f"{server.url}/realms/{realm}", **options
    )
    return claims


def test_finapi_example_response_field_for_field(keycloak_mock: MockServer) -> None:
    response = login(keycloak_mock)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    body = response.json()
    assert list(body) == RESPONSE_FIELDS
    assert body["expires_in"] == 900
    assert body["refresh_expires_in"] == 1800
    assert body["token_type"] == "Bearer"
    assert body["not-before-policy"] == 0
    assert body["scope"] == "xs2a_mock:user profile"
    assert body["mandator_name"] == "finAPI Demobank"
    assert body["mandator_uuid"] == "044ab580-5d4e-4f6b-9a2c-991e324704b7"
    assert body["is_test_mandator"] == "false"
    assert body["is_technical_user"] == "false"
    # Compact JSON, as Keycloak's Jackson writes it.
    assert response.content == json.dumps(body, separators=(",", ":")).encode()
    # finAPI's page shows the same header prefixes.
    assert body["access_token"].startswith("eyJhbGciOiJSUzI1NiIsInR5cCIgOiAiSldUIiwia2lk")
    assert body["refresh_token"].startswith("eyJhbGciOiJIUzUxMiIsInR5cCIgOiAiSldUIiwia2lk")


@pytest.mark.parametrize(
    ("method", "path", "form", "status"),
    [
        ("POST", TOKEN_PATH, PASSWORD_FORM, 200),
        ("POST", TOKEN_PATH, {**PASSWORD_FORM, "password": "x"}, 401),
        ("GET", "/realms/customer/.well-known/openid-configuration", None, 200),
        ("GET", "/no/such/path", None, 404),
    ],
    ids=["token", "bad-credentials", "discovery", "not-found"],
)
def test_no_server_or_date_header_as_keycloak_sends_neither(
    keycloak_mock: MockServer, method: str, path: str, form: dict[str, str] | None, status: int
) -> None:
    """http.server would add ``Server: Werkzeug/... Python/...`` and ``Date``; Keycloak's HTTP
    server (Vert.x) writes neither."""
    response = requests.request(method, keycloak_mock.url + path, data=form, timeout=10)
    assert response.status_code == status
    assert "Server" not in response.headers
    assert "Date" not in response.headers


def test_no_server_or_date_header_on_what_the_http_server_refuses_itself(
    keycloak_mock: MockServer,
) -> None:
    with socket.create_connection(("127.0.0.1", keycloak_mock.port), timeout=10) as sock:
        sock.sendall(b"NOT A REQUEST LINE\r\n\r\n")
        answer = b"".join(iter(lambda: sock.recv(65536), b""))
    head = answer.partition(b"\r\n\r\n")[0].decode("latin-1").lower()
    assert head.startswith("http/1.1 400 ")
    names = {line.partition(":")[0] for line in head.split("\r\n")[1:]}
    assert names == {"content-type", "content-length", "connection"}


def test_access_token_is_verifiable_against_jwks(keycloak_mock: MockServer) -> None:
    body = login(keycloak_mock).json()
    token = body["access_token"]
    kid = keycloak_mock.state.active_key.kid
    assert header_bytes(token) == f'{{"alg":"RS256","typ" : "JWT","kid" : "{kid}"}}'.encode()
    claims = verified(keycloak_mock, token, audience="account")
    assert list(claims) == ACCESS_CLAIMS
    assert claims["exp"] - claims["iat"] == 900
    assert claims["typ"] == "Bearer"
    assert claims["azp"] == "demobank-cli"
    assert claims["sid"] == body["session_state"]
    assert claims["aud"] == "account"
    assert claims["acr"] == "1"
    assert claims["scope"] == body["scope"]
    assert claims["preferred_username"] == "demo"
    assert claims["name"] == "Demo User"
    assert claims["realm_access"] == {
        "roles": ["offline_access", "uma_authorization", "default-roles-customer"]
    }
    assert claims["resource_access"] == {
        "account": {"roles": ["manage-account", "manage-account-links", "view-profile"]}
    }


def test_kid_is_the_rfc7638_thumbprint(keycloak_mock: MockServer) -> None:
    jwks = requests.get(
        f"{keycloak_mock.url}/realms/customer/protocol/openid-connect/certs", timeout=10
    ).json()
    (key,) = jwks["keys"]
    canonical = json.dumps({"e": key["e"], "kty": "RSA", "n": key["n"]}, separators=(",", ":"))
    digest = (
        base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
    )
    assert key["kid"] == digest


def test_refresh_token_shape(keycloak_mock: MockServer) -> None:
    body = login(keycloak_mock).json()
    header = header_bytes(body["refresh_token"])
    assert header.startswith(b'{"alg":"HS512","typ" : "JWT","kid" : "')
    claims = unverified(body["refresh_token"])
    assert list(claims) == REFRESH_CLAIMS
    assert claims["typ"] == "Refresh"
    assert claims["aud"] == claims["iss"] == f"{keycloak_mock.url}/realms/customer"
    assert claims["exp"] - claims["iat"] == 1800
    assert claims["sid"] == body["session_state"]
    # The HS512 key is never published.
    jwks = requests.get(
        f"{keycloak_mock.url}/realms/customer/protocol/openid-connect/certs", timeout=10
    ).json()
    assert all(k["kty"] == "RSA" for k in jwks["keys"])


def test_openid_scope_adds_an_id_token(keycloak_mock: MockServer) -> None:
    body = login(keycloak_mock, scope="openid").json()
    assert list(body) == [*RESPONSE_FIELDS[:5], "id_token", *RESPONSE_FIELDS[5:]]
    assert body["scope"] == "openid xs2a_mock:user profile"
    claims = verified(keycloak_mock, body["id_token"], audience="demobank-cli")
    assert list(claims)[:11] == [
        "exp",
        "iat",
        "jti",
        "iss",
        "aud",
        "sub",
        "typ",
        "azp",
        "sid",
        "at_hash",
        "acr",
    ]
    assert claims["typ"] == "ID"
    digest = hashlib.sha256(body["access_token"].encode()).digest()[:16]
    assert claims["at_hash"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def test_optional_email_scope(realms_server: MockServer) -> None:
    body = login(realms_server, scope="email").json()
    assert body["scope"] == "xs2a_mock:user profile email"
    claims = unverified(body["access_token"])
    assert list(claims)[-6:] == [
        "email_verified",
        "name",
        "preferred_username",
        "given_name",
        "family_name",
        "email",
    ]
    assert claims["email"] == "demo@example.test"
    assert claims["email_verified"] is False


def test_technical_user_and_test_mandator(realms_server: MockServer) -> None:
    tech = login(realms_server, username="tech-user", password="tech-password").json()
    assert tech["is_technical_user"] == "true"
    sandbox = login(
        realms_server, realm="sandbox-mandator", username="sandbox", password="sandbox"
    ).json()
    assert sandbox["is_test_mandator"] == "true"
    assert sandbox["mandator_name"] == "Sandbox Test Mandator"
    assert sandbox["expires_in"] == 300
    assert sandbox["refresh_expires_in"] == 600


def test_refresh_rotates_and_keeps_the_session(keycloak_mock: MockServer) -> None:
    keycloak_mock.state.clock.freeze()  # exact iat arithmetic below
    first = login(keycloak_mock).json()
    keycloak_mock.state.clock.advance(10)
    second_response = refresh(keycloak_mock, first["refresh_token"])
    assert second_response.status_code == 200
    second = second_response.json()
    assert list(second) == RESPONSE_FIELDS
    assert second["refresh_token"] != first["refresh_token"]
    assert second["session_state"] == first["session_state"]
    old, new = unverified(first["refresh_token"]), unverified(second["refresh_token"])
    assert new["jti"] != old["jti"]
    assert new["iat"] == old["iat"] + 10
    assert (
        verified(keycloak_mock, second["access_token"], audience="account", leeway=20)["sid"]
        == first["session_state"]
    )
    # Realm default revokeRefreshToken=false: the old refresh token still works.
    assert refresh(keycloak_mock, first["refresh_token"]).status_code == 200


def test_refresh_scope_parameter_narrows_the_access_token(keycloak_mock: MockServer) -> None:
    first = login(keycloak_mock, scope="openid email").json()
    assert first["scope"] == "openid xs2a_mock:user profile email"
    session_scope = "openid xs2a_mock:user profile web-origins acr roles basic email"
    assert unverified(first["refresh_token"])["scope"] == session_scope
    narrowed = refresh(keycloak_mock, first["refresh_token"], scope="profile").json()
    # Default scopes always stay; openid and the ID token follow the login, not this request.
    assert narrowed["scope"] == "openid xs2a_mock:user profile"
    assert "id_token" in narrowed
    # The new refresh token keeps the login's scope, so a later refresh may widen again.
    assert unverified(narrowed["refresh_token"])["scope"] == session_scope
    again = refresh(keycloak_mock, narrowed["refresh_token"], scope="email").json()
    assert again["scope"] == "openid xs2a_mock:user profile email"


def test_refresh_scope_beyond_the_login_is_invalid_scope(keycloak_mock: MockServer) -> None:
    first = login(keycloak_mock).json()
    response = refresh(keycloak_mock, first["refresh_token"], scope="openid")
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_scope",
        "error_description": "Invalid scopes: openid",
    }
    plain = refresh(keycloak_mock, first["refresh_token"]).json()
    assert "id_token" not in plain


def test_session_max_caps_both_lifetimes(keycloak_mock: MockServer) -> None:
    keycloak_mock.state.clock.freeze()  # exact lifetimes below
    keycloak_mock.state.update_realm(
        "customer",
        lambda r: dataclasses.replace(r, sso_session_idle_timeout=60, sso_session_max_lifespan=100),
    )
    body = login(keycloak_mock).json()
    assert (body["expires_in"], body["refresh_expires_in"]) == (100, 60)
    keycloak_mock.state.clock.advance(50)
    later = refresh(keycloak_mock, body["refresh_token"]).json()
    assert (later["expires_in"], later["refresh_expires_in"]) == (50, 50)
    claims = unverified(later["access_token"])
    assert claims["exp"] - claims["iat"] == 50


def test_distinct_sessions_per_login(keycloak_mock: MockServer) -> None:
    a, b = login(keycloak_mock).json(), login(keycloak_mock).json()
    assert a["session_state"] != b["session_state"]
    assert unverified(a["access_token"])["sub"] == unverified(b["access_token"])["sub"]


def test_kid_and_sub_are_stable_across_restarts() -> None:
    runs = []
    for _ in range(2):
        with MockServer(MockConfig(port=0)) as server:
            body = login(server).json()
            runs.append(
                (
                    jwt.get_unverified_header(body["access_token"])["kid"],
                    unverified(body["access_token"])["sub"],
                    jwt.get_unverified_header(body["refresh_token"])["kid"],
                )
            )
    assert runs[0] == runs[1]


def test_refresh_token_key_survives_a_restart() -> None:
    """The HS512 key derives from the signing key, so another process accepts the signature.

    The session lived in the first process only, so the answer is ``Session not active`` (a token
    with a foreign key would be ``Invalid refresh token``).
    """
    config = MockConfig(port=0, issuer_url="http://keycloak.test")
    with MockServer(config) as first:
        token = login(first).json()["refresh_token"]
    with MockServer(config) as second:
        assert refresh(second, token).json() == {
            "error": "invalid_grant",
            "error_description": "Session not active",
        }


def test_issuer_follows_the_request_url(keycloak_mock: MockServer) -> None:
    token = login(keycloak_mock).json()["refresh_token"]
    other_host = keycloak_mock.url.replace("127.0.0.1", "localhost")
    response = requests.post(
        token_url(other_host),
        data={"grant_type": "refresh_token", "client_id": "demobank-cli", "refresh_token": token},
        timeout=10,
    )
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": f"Invalid token issuer. Expected '{other_host}/realms/customer'",
    }


@pytest.mark.parametrize("flag", ["access_token_lifespan", "refresh_token_lifespan"])
def test_lifespan_overrides(flag: str) -> None:
    with MockServer(MockConfig(port=0, **{flag: 42})) as server:
        body = login(server).json()
        field = "expires_in" if flag == "access_token_lifespan" else "refresh_expires_in"
        assert body[field] == 42


# -- refresh tokens, checked by PyJWT with the realm's HMAC secret (not the mock's verifier) --
#: 64 bytes, as RFC 7518 asks of an HS512 key; a realm file may set it (mock-only field).
REFRESH_SECRET = "TEST-ONLY-refresh-token-secret-0123456789-0123456789-0123456789ab"


@pytest.fixture(scope="module")
def secret_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockServer]:
    realm = json.loads((FIXTURES / "customer-realm.json").read_text(encoding="utf-8"))
    realm["refreshTokenSecret"] = REFRESH_SECRET
    path = tmp_path_factory.mktemp("realm") / "customer.json"
    path.write_text(json.dumps(realm), encoding="utf-8")
    with MockServer(MockConfig(port=0, config=str(path))) as server:
        yield server


def pyjwt_refresh_claims(server: MockServer, token: str) -> dict[str, Any]:
    issuer = f"{server.url}/realms/customer"
    claims: dict[str, Any] = jwt.decode(
        token,
        REFRESH_SECRET,
        algorithms=["HS512"],
        audience=issuer,
        issuer=issuer,
        options={"require": ["exp", "iat", "jti", "sub", "sid"]},
    )
    return claims


def test_refresh_tokens_verify_with_pyjwt_and_the_realm_secret(secret_server: MockServer) -> None:
    first = login(secret_server).json()
    claims = pyjwt_refresh_claims(secret_server, first["refresh_token"])
    access = unverified(first["access_token"])
    assert jwt.get_unverified_header(first["refresh_token"])["alg"] == "HS512"
    # The refresh token's scope also names the default scopes hidden from the access token.
    assert (claims["typ"], claims["azp"], claims["scope"]) == (
        "Refresh",
        "demobank-cli",
        "xs2a_mock:user profile web-origins acr roles basic",
    )
    assert (claims["sub"], claims["sid"]) == (access["sub"], first["session_state"])
    assert claims["exp"] - claims["iat"] == first["refresh_expires_in"] == 1800

    second = refresh(secret_server, first["refresh_token"]).json()
    rotated = pyjwt_refresh_claims(secret_server, second["refresh_token"])
    assert rotated["sid"] == claims["sid"] and rotated["jti"] != claims["jti"]

    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(first["refresh_token"], REFRESH_SECRET[::-1], algorithms=["HS512"])


def test_a_refresh_token_pyjwt_signs_with_the_realm_secret_is_accepted(
    secret_server: MockServer,
) -> None:
    """The other direction: a token made outside the mock, with the secret, is a valid one."""
    first = login(secret_server).json()
    claims = pyjwt_refresh_claims(secret_server, first["refresh_token"])
    kid = jwt.get_unverified_header(first["refresh_token"])["kid"]
    forged = jwt.encode(
        {**claims, "jti": "00000000-0000-4000-8000-000000000000"},
        REFRESH_SECRET,
        algorithm="HS512",
        headers={"kid": kid, "typ": "JWT"},
    )
    assert refresh(secret_server, forged).status_code == 200
