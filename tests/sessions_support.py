"""Helpers shared by the session-ending tests: URLs, logins, forged tokens.

Forging uses only what an attacker (or a test) can hold: a token the mock issued, the public key
from JWKS, and keys of its own.  ``resign`` is the exception: it signs with the mock's TEST-ONLY
private key to build genuine-looking tokens with chosen claims (another issuer, no ``openid``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import HMACAlgorithm, RSAAlgorithm

from keycloak_mock import MockServer

BACKEND = {"client_id": "demobank-backend", "client_secret": "TEST-ONLY-backend-secret"}
CLI = {"client_id": "demobank-cli"}
SESSION_NOT_FOUND = "User session not found or doesn't have client attached on it"
INVALID_REFRESH = {"error": "invalid_grant", "error_description": "Invalid refresh token"}
INVALID_TOKEN = {"error": "invalid_token", "error_description": "Invalid token"}
CSP = "frame-src 'self'; frame-ancestors 'self'; object-src 'none';"


def oidc(server: MockServer, realm: str = "customer") -> str:
    return f"{server.url}/realms/{realm}/protocol/openid-connect"


def login(
    server: MockServer,
    *,
    realm: str = "customer",
    username: str = "demo",
    password: str = "demo",  # noqa: S107 - the fixture user's published password
    scope: str | None = "openid",
    client: dict[str, str] | None = None,
) -> dict[str, Any]:
    form = {**(client or CLI), "grant_type": "password", "username": username, "password": password}
    if scope is not None:
        form["scope"] = scope
    response = requests.post(f"{oidc(server, realm)}/token", data=form, timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def refresh(
    server: MockServer,
    refresh_token: str,
    *,
    realm: str = "customer",
    client: dict[str, str] | None = None,
) -> requests.Response:
    form = {**(client or CLI), "grant_type": "refresh_token", "refresh_token": refresh_token}
    return requests.post(f"{oidc(server, realm)}/token", data=form, timeout=10)


def userinfo(server: MockServer, access_token: str, realm: str = "customer") -> requests.Response:
    return requests.get(
        f"{oidc(server, realm)}/userinfo",
        headers={"Authorization": f"Bearer {access_token}"},
        timeout=10,
    )


def logout(
    server: MockServer, refresh_token: str, *, client: dict[str, str] | None = None
) -> requests.Response:
    form = {**(client or CLI), "refresh_token": refresh_token}
    return requests.post(f"{oidc(server)}/logout", data=form, timeout=10)


def revoke(
    server: MockServer, token: str, *, client: dict[str, str] | None = None, **extra: str
) -> requests.Response:
    form = {**(client or CLI), "token": token, **extra}
    return requests.post(f"{oidc(server)}/revoke", data=form, timeout=10)


def introspect(server: MockServer, token: str, **extra: str) -> requests.Response:
    return requests.post(
        f"{oidc(server)}/token/introspect", data={**BACKEND, "token": token, **extra}, timeout=10
    )


def demobank(
    server: MockServer, access_token: str | None, path: str = "/accounts", method: str = "GET"
) -> requests.Response:
    headers = {} if access_token is None else {"Authorization": f"Bearer {access_token}"}
    return requests.request(method, f"{server.url}/demobank{path}", headers=headers, timeout=10)


# -- JWS surgery --------------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    header, payload, signature = token.split(".")
    return json.loads(unb64url(header)), json.loads(unb64url(payload)), signature


def encode(header: dict[str, Any], claims: dict[str, Any]) -> str:
    """The signing input of a compact JWS."""
    return f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"


def with_alg_none(token: str) -> str:
    header, claims, _ = parts(token)
    return encode({**header, "alg": "none"}, claims) + "."


def with_hs256_public_key(token: str, server: MockServer) -> str:
    """Key confusion: HS256 with the published RSA public key (PEM) as the HMAC secret."""
    header, claims, _ = parts(token)
    signing_input = encode({**header, "alg": "HS256"}, claims)
    secret = server.state.active_key.public_pem().encode()
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def with_tampered_claims(token: str, **changes: Any) -> str:
    """The original signature over a payload with ``changes`` applied."""
    header_b64, _, signature = token.split(".")
    _, claims, _ = parts(token)
    return f"{header_b64}.{b64url(json.dumps({**claims, **changes}).encode())}.{signature}"


def signed_elsewhere(token: str, attacker_key: rsa.RSAPrivateKey, kid: str | None = None) -> str:
    """The same claims signed by a key the mock never published, under ``kid`` if given."""
    header, claims, _ = parts(token)
    signing_input = encode({**header, "kid": kid or "attacker-key"}, claims).encode()
    if header["alg"] == "HS512":
        signature = HMACAlgorithm(HMACAlgorithm.SHA512).sign(signing_input, b"attacker-secret")
    else:
        signature = RSAAlgorithm(RSAAlgorithm.SHA256).sign(signing_input, attacker_key)
    return f"{signing_input.decode()}.{b64url(signature)}"


def resign(server: MockServer, token: str, *, drop: tuple[str, ...] = (), **changes: Any) -> str:
    """A genuinely signed access token with ``changes``: what a confused issuer could produce."""
    header, claims, _ = parts(token)
    key = server.state.active_key
    kept = {name: value for name, value in claims.items() if name not in drop}
    signing_input = encode(header, {**kept, **changes})
    signature = RSAAlgorithm(RSAAlgorithm.SHA256).sign(signing_input.encode(), key.private_key)
    return f"{signing_input}.{b64url(signature)}"
