"""Discovery, JWKS and realm info: what a client reads before it verifies a token."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from keycloak_mock import MockConfig, MockServer, load_signing_key

from .conftest import FIXTURES

TEST_KEY = FIXTURES / "test-signing-key.TEST-ONLY.pem"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


#: How each endpoint the discovery document advertises answers a client that sends only its
#: client_id (GET without anything for the two read endpoints): the endpoint's own refusal or
#: answer, never Keycloak's unmatched 404.  (status, error JSON or None, WWW-Authenticate or None)
ENDPOINT_ANSWERS: dict[str, tuple[str, int, dict[str, str] | str | None, str | None]] = {
    # The browser endpoints answer with Keycloak's pages: the text each page must show.
    "authorization_endpoint": ("GET", 400, "Missing parameter: client_id", None),
    "token_endpoint": (
        "POST",
        400,
        {"error": "invalid_request", "error_description": "Missing form parameter: grant_type"},
        None,
    ),
    "introspection_endpoint": (
        "POST",
        403,
        {"error": "invalid_request", "error_description": "Client not allowed."},
        None,
    ),
    "userinfo_endpoint": ("GET", 401, None, 'Bearer realm="customer"'),
    # A form without refresh_token is a browser logout: the confirmation page.
    "end_session_endpoint": ("POST", 200, "Do you want to logout?", None),
    "revocation_endpoint": (
        "POST",
        400,
        {"error": "invalid_request", "error_description": "Token not provided"},
        None,
    ),
    "jwks_uri": ("GET", 200, None, None),
}
UNMATCHED = {"error": "Unable to find matching target resource method"}


def test_discovery_document(keycloak_mock: MockServer) -> None:
    base = f"{keycloak_mock.url}/realms/customer"
    response = requests.get(f"{base}/.well-known/openid-configuration", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-cache, must-revalidate, no-transform, no-store"
    document = response.json()
    assert document["issuer"] == base
    assert document["token_endpoint"] == f"{base}/protocol/openid-connect/token"
    assert document["jwks_uri"] == f"{base}/protocol/openid-connect/certs"
    assert "password" in document["grant_types_supported"]
    assert document["id_token_signing_alg_values_supported"] == ["RS256"]
    # Every advertised endpoint exists and is the endpoint it claims to be; an unknown path next
    # to them gets Keycloak's unmatched 404, so the check can tell the two apart.
    advertised = {
        key: url for key, url in document.items() if key.endswith("_endpoint") or key == "jwks_uri"
    }
    assert set(advertised) == set(ENDPOINT_ANSWERS)
    for key, url in advertised.items():
        method, status, error, challenge = ENDPOINT_ANSWERS[key]
        form = {"client_id": "demobank-cli"} if method == "POST" else None
        answer = requests.request(method, url, data=form, timeout=10, allow_redirects=False)
        assert answer.status_code == status, key
        assert answer.headers.get("WWW-Authenticate") == challenge, key
        if isinstance(error, str):
            assert answer.headers["Content-Type"] == "text/html;charset=utf-8", key
            assert error in answer.text, key
        elif error is not None:
            assert answer.json() == error, key
        elif key == "jwks_uri":
            assert [k["alg"] for k in answer.json()["keys"]] == ["RS256"]
        else:
            assert answer.content == b"", key
    unknown = requests.post(f"{base}/protocol/openid-connect/nothing", timeout=10)
    assert (unknown.status_code, unknown.json()) == (404, UNMATCHED)


def test_jwks_matches_keycloaks_shape(keycloak_mock: MockServer) -> None:
    response = requests.get(
        f"{keycloak_mock.url}/realms/customer/protocol/openid-connect/certs", timeout=10
    )
    assert response.headers["Cache-Control"] == "no-cache"
    (key,) = response.json()["keys"]
    assert list(key) == ["kid", "kty", "alg", "use", "x5c", "x5t", "x5t#S256", "n", "e"]
    assert (key["kty"], key["alg"], key["use"], key["e"]) == ("RSA", "RS256", "sig", "AQAB")
    der = base64.b64decode(key["x5c"][0])
    cert = x509.load_der_x509_certificate(der)
    assert cert.subject.rfc4514_string() == "CN=customer"
    assert cert.issuer == cert.subject
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days >= 3650
    assert key["x5t"] == b64url(hashlib.sha1(der).digest())  # noqa: S324 - x5t is SHA-1 by definition
    assert key["x5t#S256"] == b64url(hashlib.sha256(der).digest())
    public = cert.public_key().public_numbers()  # type: ignore[union-attr]
    assert key["n"] == b64url(public.n.to_bytes(256, "big"))


def test_realm_info(keycloak_mock: MockServer) -> None:
    response = requests.get(f"{keycloak_mock.url}/realms/customer", timeout=10)
    assert response.headers["Content-Type"] == "application/json;charset=UTF-8"
    assert response.headers["Cache-Control"] == "no-cache"
    body = response.json()
    base = f"{keycloak_mock.url}/realms/customer"
    assert list(body) == [
        "realm",
        "public_key",
        "token-service",
        "account-service",
        "tokens-not-before",
    ]
    assert body["token-service"] == f"{base}/protocol/openid-connect"
    assert body["account-service"] == f"{base}/account"
    assert body["tokens-not-before"] == 0
    spki = serialization.load_der_public_key(base64.b64decode(body["public_key"]))
    assert spki.public_numbers() == keycloak_mock.state.active_key.public_key.public_numbers()  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("method", "path", "status", "body"),
    [
        ("POST", "/.well-known/openid-configuration", 404, {"error": "HTTP 404 Not Found"}),
        ("DELETE", "", 404, {"error": "HTTP 404 Not Found"}),
        ("POST", "/protocol/openid-connect/certs", 405, {"error": "HTTP 405 Method Not Allowed"}),
    ],
)
def test_wrong_verbs(
    keycloak_mock: MockServer, method: str, path: str, status: int, body: dict[str, str]
) -> None:
    response = requests.request(method, f"{keycloak_mock.url}/realms/customer{path}", timeout=10)
    assert (response.status_code, response.json()) == (status, body)


@pytest.mark.parametrize(
    "path", ["", "/.well-known/openid-configuration", "/protocol/openid-connect/certs"]
)
def test_unknown_realm(keycloak_mock: MockServer, path: str) -> None:
    response = requests.get(f"{keycloak_mock.url}/realms/nope{path}", timeout=10)
    assert response.status_code == 404
    assert response.json() == {"error": "Realm does not exist"}
    assert response.headers["Content-Type"] == "application/json"


def test_issuer_url_flag_and_forwarded_headers() -> None:
    with MockServer(MockConfig(port=0, issuer_url="https://keycloak.example.test/")) as server:
        document = requests.get(
            f"{server.url}/realms/customer/.well-known/openid-configuration", timeout=10
        ).json()
        assert document["issuer"] == "https://keycloak.example.test/realms/customer"
    with MockServer(MockConfig(port=0)) as server:
        headers = {
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "kc.internal",
            "X-Forwarded-Port": "443",
        }
        document = requests.get(
            f"{server.url}/realms/customer/.well-known/openid-configuration",
            headers=headers,
            timeout=10,
        ).json()
        assert document["issuer"] == "https://kc.internal/realms/customer"


def test_signing_key_flag_and_generated_keys() -> None:
    fixture_key = load_signing_key(str(TEST_KEY))
    with MockServer(MockConfig(port=0, signing_key=str(TEST_KEY))) as server:
        jwks = requests.get(
            f"{server.url}/realms/customer/protocol/openid-connect/certs", timeout=10
        ).json()
        assert jwks["keys"][0]["kid"] == fixture_key.kid
    generated = {load_signing_key(generate=True).kid for _ in range(2)}
    assert len(generated) == 2
    assert fixture_key.kid not in generated
    assert load_signing_key().kid != fixture_key.kid


def test_generate_key_flag_changes_kid_per_start() -> None:
    code = (
        "from keycloak_mock.serving.options import config_from; "
        "from keycloak_mock import create_app, mock_state; "
        "print(mock_state(create_app(config_from(['--generate-key'], {}))).active_key.kid)"
    )
    kids = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        for _ in range(2)
    }
    assert len(kids) == 2
