"""Helpers for the plugin tests: what a third-party client does against the mock, over HTTP."""

from __future__ import annotations

import base64
import json
import socket
import time
from collections.abc import Callable
from typing import Any

import jwt
import requests

from keycloak_mock.handle import KeycloakMock

TIMEOUT = 10


def login(
    mock: KeycloakMock,
    username: str = "demo",
    password: str = "demo",  # noqa: S107 - the embedded realm's documented demo user
    *,
    realm: str | None = None,
    **extra: str,
) -> requests.Response:
    form = {
        "client_id": "demobank-cli",
        "grant_type": "password",
        "username": username,
        "password": password,
        **extra,
    }
    return requests.post(mock.urls(realm).token_url, data=form, timeout=TIMEOUT)


def refresh(
    mock: KeycloakMock, refresh_token: str, *, realm: str | None = None
) -> requests.Response:
    form = {
        "client_id": "demobank-cli",
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
    }
    return requests.post(mock.urls(realm).token_url, data=form, timeout=TIMEOUT)


def error_of(response: requests.Response) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["error"], body.get("error_description", "")


def resource(mock: KeycloakMock, access_token: str) -> requests.Response:
    """A call to the Demobank stand-in, which verifies the token like a resource server."""
    return requests.get(
        mock.demobank_url + "/api/v2/accounts",
        headers={"Authorization": f"Bearer {access_token}"},
        timeout=TIMEOUT,
    )


def header(token: str) -> dict[str, Any]:
    segment = token.split(".")[0]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    )
    return decoded


def claims(mock: KeycloakMock, token: str, *, realm: str | None = None) -> dict[str, Any]:
    """Claims verified the way a resource server does: the realm's JWKS, issuer, no expiry check."""
    urls = mock.urls(realm)
    key = jwt.PyJWKClient(urls.jwks_url, cache_keys=False).get_signing_key_from_jwt(token)
    verified: dict[str, Any] = jwt.decode(
        token,
        key,
        algorithms=["RS256"],
        issuer=urls.issuer,
        options={"verify_aud": False, "verify_exp": False, "verify_iat": False},
    )
    return verified


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Poll ``condition`` until it holds: the event itself, with a deadline only for a hang."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout} s waiting for {what}")
        time.sleep(0.01)
