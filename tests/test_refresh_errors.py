"""Refresh-grant failures that need a real token first: each is one way a session stops working."""

from __future__ import annotations

import base64
import dataclasses
import hmac
import json
import time
from collections.abc import Callable

import pytest
import requests

from keycloak_mock import MockServer

from .conftest import token_url

Scenario = Callable[[MockServer, dict[str, str]], str]


def login(server: MockServer, realm: str = "customer", **changes: str) -> dict[str, str]:
    data = {
        "client_id": "demobank-cli",
        "username": "demo",
        "password": "demo",
        "grant_type": "password",
    }
    data.update(changes)
    response = requests.post(token_url(server.url, realm), data=data, timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    return body


def refresh(
    server: MockServer,
    token: str,
    realm: str = "customer",
    client_id: str = "demobank-cli",
    **extra: str,
) -> requests.Response:
    data = {"grant_type": "refresh_token", "client_id": client_id, "refresh_token": token, **extra}
    return requests.post(token_url(server.url, realm), data=data, timeout=10)


def invalid_grant(description: str) -> dict[str, str]:
    return {"error": "invalid_grant", "error_description": description}


def access_token_as_refresh_token(server: MockServer, tokens: dict[str, str]) -> str:
    return tokens["access_token"]


def token_of_another_realm(server: MockServer, tokens: dict[str, str]) -> str:
    return login(server, realm="sandbox-mandator", username="sandbox", password="sandbox")[
        "refresh_token"
    ]


def expired(server: MockServer, tokens: dict[str, str]) -> str:
    server.state.clock.advance(1801)
    return tokens["refresh_token"]


def realm_not_before_pushed(server: MockServer, tokens: dict[str, str]) -> str:
    now = server.state.clock.seconds()
    server.state.update_realm("customer", lambda r: dataclasses.replace(r, not_before=now + 1))
    server.state.clock.advance(2)
    return tokens["refresh_token"]


def session_ended(server: MockServer, tokens: dict[str, str]) -> str:
    assert server.state.end_session(tokens["session_state"])
    return tokens["refresh_token"]


def session_idle_timed_out_but_token_fresh(server: MockServer, tokens: dict[str, str]) -> str:
    """Idle shortened after login: the token's own exp is later than the session's end."""
    server.state.update_realm(
        "customer", lambda r: dataclasses.replace(r, sso_session_idle_timeout=5)
    )
    server.state.clock.advance(6)
    return tokens["refresh_token"]


def user_disabled(server: MockServer, tokens: dict[str, str]) -> str:
    def disable(realm):  # type: ignore[no-untyped-def]
        users = tuple(
            dataclasses.replace(u, enabled=False) if u.username == "demo" else u
            for u in realm.users
        )
        return dataclasses.replace(realm, users=users)

    server.state.update_realm("customer", disable)
    return tokens["refresh_token"]


def tampered(server: MockServer, tokens: dict[str, str]) -> str:
    header, payload, signature = tokens["refresh_token"].split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    return f"{header}.{payload}.{flipped}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def signed_with_realm_key(
    server: MockServer, header: bytes, payload: bytes, digest: str = "sha512"
) -> str:
    """A token signed with the realm's own refresh-token secret (what a forger cannot do)."""
    realm = server.state.realm("customer")
    assert realm is not None
    secret = server.state.refresh_key(realm).secret
    signing_input = f"{_b64(header)}.{_b64(payload)}"
    signature = hmac.new(secret, signing_input.encode("ascii"), digest).digest()
    return f"{signing_input}.{_b64(signature)}"


def _parts(token: str) -> tuple[dict[str, object], bytes]:
    header, payload, _ = token.split(".")
    decoded = base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))
    return json.loads(decoded), base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))


def header_names_another_algorithm(server: MockServer, tokens: dict[str, str]) -> str:
    """Signed with HS512 and the realm's secret, but the header claims HS256."""
    header, payload = _parts(tokens["refresh_token"])
    header["alg"] = "HS256"
    return signed_with_realm_key(server, json.dumps(header).encode(), payload)


def other_algorithm_same_secret(server: MockServer, tokens: dict[str, str]) -> str:
    header, payload = _parts(tokens["refresh_token"])
    header["alg"] = "HS256"
    return signed_with_realm_key(server, json.dumps(header).encode(), payload, "sha256")


def unknown_key_id(server: MockServer, tokens: dict[str, str]) -> str:
    header, payload = _parts(tokens["refresh_token"])
    header["kid"] = "another-key"
    return signed_with_realm_key(server, json.dumps(header).encode(), payload)


def payload_not_an_object(server: MockServer, tokens: dict[str, str]) -> str:
    header, payload = _parts(tokens["refresh_token"])
    return signed_with_realm_key(server, json.dumps(header).encode(), b"[" + payload + b"]")


def header_not_json(server: MockServer, tokens: dict[str, str]) -> str:
    _, payload = _parts(tokens["refresh_token"])
    return signed_with_realm_key(server, b"HS512", payload)


SCENARIOS: list[tuple[Scenario, dict[str, str]]] = [
    (header_names_another_algorithm, invalid_grant("Invalid refresh token")),
    (other_algorithm_same_secret, invalid_grant("Invalid refresh token")),
    (unknown_key_id, invalid_grant("Invalid refresh token")),
    (payload_not_an_object, invalid_grant("Invalid refresh token")),
    (header_not_json, invalid_grant("Invalid refresh token")),
    (access_token_as_refresh_token, invalid_grant("Invalid refresh token")),
    (token_of_another_realm, invalid_grant("Invalid refresh token")),
    (tampered, invalid_grant("Invalid refresh token")),
    (expired, invalid_grant("Token is not active")),
    (realm_not_before_pushed, invalid_grant("Stale token")),
    (session_ended, invalid_grant("Session not active")),
    (session_idle_timed_out_but_token_fresh, invalid_grant("Session not active")),
    (user_disabled, invalid_grant("User disabled")),
]


@pytest.mark.parametrize(
    ("scenario", "expected"), SCENARIOS, ids=[s.__name__ for s, _ in SCENARIOS]
)
def test_refresh_rejected(
    realms_server: MockServer, scenario: Scenario, expected: dict[str, str]
) -> None:
    token = scenario(realms_server, login(realms_server))
    response = refresh(realms_server, token)
    assert response.status_code == 400
    assert response.json() == expected
    assert response.headers["Cache-Control"] == "no-store"


def test_token_re_signed_with_the_realm_key_is_accepted(realms_server: MockServer) -> None:
    """The verifier checks the signature with the realm's key, not the token's exact bytes."""
    tokens = login(realms_server)
    header, payload = _parts(tokens["refresh_token"])
    compact_header = json.dumps(header, separators=(",", ":")).encode()  # not Keycloak's spacing
    response = refresh(realms_server, signed_with_realm_key(realms_server, compact_header, payload))
    assert response.status_code == 200, response.text
    assert response.json()["session_state"] == tokens["session_state"]


def test_token_of_another_client(realms_server: MockServer) -> None:
    tokens = login(
        realms_server, client_id="demobank-backend", client_secret="TEST-ONLY-backend-secret"
    )
    response = refresh(realms_server, tokens["refresh_token"])
    assert response.json() == invalid_grant(
        "Invalid refresh token. Token client and authorized client don't match"
    )


def test_expired_refresh_token_is_checked_before_the_session(realms_server: MockServer) -> None:
    tokens = login(realms_server)
    realms_server.state.end_session(tokens["session_state"])
    realms_server.state.clock.advance(1801)
    assert refresh(realms_server, tokens["refresh_token"]).json() == invalid_grant(
        "Token is not active"
    )


class TestRevokeRefreshToken:
    """Realm ``sandbox-mandator`` has ``revokeRefreshToken: true``, ``refreshTokenMaxReuse: 0``."""

    def login(self, server: MockServer) -> dict[str, str]:
        return login(server, realm="sandbox-mandator", username="sandbox", password="sandbox")

    def test_reuse_beyond_the_limit_ends_the_client_session(
        self, realms_server: MockServer
    ) -> None:
        first = self.login(realms_server)
        second = refresh(realms_server, first["refresh_token"], realm="sandbox-mandator")
        assert second.status_code == 200
        again = refresh(realms_server, first["refresh_token"], realm="sandbox-mandator")
        assert again.json() == invalid_grant("Maximum allowed refresh token reuse exceeded")
        newest = refresh(realms_server, second.json()["refresh_token"], realm="sandbox-mandator")
        assert newest.json() == invalid_grant("Session doesn't have required client")

    def test_superseded_token_is_stale(self, realms_server: MockServer) -> None:
        first = self.login(realms_server)
        second = refresh(realms_server, first["refresh_token"], realm="sandbox-mandator").json()
        realms_server.state.clock.advance(1)
        third = refresh(realms_server, second["refresh_token"], realm="sandbox-mandator")
        assert third.status_code == 200
        stale = refresh(realms_server, first["refresh_token"], realm="sandbox-mandator")
        assert stale.json() == invalid_grant("Stale token")

    def test_chain_of_fresh_tokens_keeps_working(self, realms_server: MockServer) -> None:
        token = self.login(realms_server)["refresh_token"]
        for _ in range(3):
            realms_server.state.clock.advance(1)
            response = refresh(realms_server, token, realm="sandbox-mandator")
            assert response.status_code == 200
            token = response.json()["refresh_token"]

    def test_max_reuse_allows_that_many_extra_uses(self, realms_server: MockServer) -> None:
        realms_server.state.update_realm(
            "sandbox-mandator", lambda r: dataclasses.replace(r, refresh_token_max_reuse=2)
        )
        token = self.login(realms_server)["refresh_token"]
        statuses = [
            refresh(realms_server, token, realm="sandbox-mandator").status_code for _ in range(4)
        ]
        assert statuses == [200, 200, 200, 400]


def test_idle_timer_restarts_on_refresh(realms_server: MockServer) -> None:
    tokens = login(realms_server)
    for _ in range(3):
        realms_server.state.clock.advance(1700)
        response = refresh(realms_server, tokens["refresh_token"])
        assert response.status_code == 200
        tokens = response.json()
    assert time.time() < realms_server.state.clock.now()
