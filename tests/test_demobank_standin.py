"""The ``/demobank`` stand-in and ``verify_access_token``: one verifier, two ways to use it."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest
import requests

from keycloak_mock import (
    MockConfig,
    MockServer,
    TokenExpired,
    TokenVerificationError,
    verify_access_token,
)

from .sessions_support import (
    demobank,
    login,
    logout,
    parts,
    resign,
    with_tampered_claims,
)

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@pytest.mark.parametrize("method", METHODS)
def test_any_method_on_any_path_echoes_the_caller(realms_server: MockServer, method: str) -> None:
    token = login(realms_server, scope=None)["access_token"]
    response = demobank(realms_server, token, "/api/v2/accounts/42", method)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.text == json.dumps(
        {
            "path": "/api/v2/accounts/42",
            "method": method,
            "subject": parts(token)[1]["sub"],
            "mandator": "customer",
            "scope": "xs2a_mock:user profile",
        },
        separators=(",", ":"),
    )


@pytest.mark.parametrize("path", ["", "/"])
def test_the_base_url_itself_is_a_resource(realms_server: MockServer, path: str) -> None:
    token = login(realms_server)["access_token"]
    response = demobank(realms_server, token, path)
    assert (response.status_code, response.json()["path"]) == (200, "/")


def test_head_has_no_body(realms_server: MockServer) -> None:
    token = login(realms_server)["access_token"]
    response = demobank(realms_server, token, "/accounts", "HEAD")
    assert (response.status_code, response.content) == (200, b"")


def test_the_mandator_is_the_realm_the_issuer_names(realms_server: MockServer) -> None:
    tokens = login(realms_server, realm="sandbox-mandator", username="sandbox", password="sandbox")
    assert demobank(realms_server, tokens["access_token"]).json()["mandator"] == "sandbox-mandator"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic ZGVtbzpkZW1v"}, {"Authorization": "Bearer "}],
    ids=["none", "basic", "empty-bearer"],
)
def test_no_token_gets_a_challenge_without_error_code(
    realms_server: MockServer, headers: dict[str, str]
) -> None:
    response = requests.get(f"{realms_server.url}/demobank/accounts", headers=headers, timeout=10)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json() == {
        "error": "unauthorized",
        "error_description": "Bearer token required",
    }


def _expired(server: MockServer) -> str:
    token = str(login(server)["access_token"])
    server.state.clock.advance(901)
    return token


def _tampered(server: MockServer) -> str:
    return with_tampered_claims(str(login(server)["access_token"]), sub="someone-else")


def _foreign_issuer(server: MockServer) -> str:
    token = str(login(server)["access_token"])
    return resign(server, token, iss="https://keycloak.example.test/realms/customer")


def _unknown_realm(server: MockServer) -> str:
    token = str(login(server)["access_token"])
    return resign(server, token, iss=f"{server.url}/realms/nowhere")


def _id_token(server: MockServer) -> str:
    return str(login(server)["id_token"])


def _no_subject(server: MockServer) -> str:
    return resign(server, str(login(server)["access_token"]), drop=("sub",))


def _other_issuer(server: MockServer) -> str:
    token = str(login(server)["access_token"])
    return resign(server, token, iss="https://keycloak.example.test/realms/customer")


def _unknown_realm(server: MockServer) -> str:
    return resign(server, str(login(server)["access_token"]), iss=f"{server.url}/realms/nowhere")


def _not_yet_valid(server: MockServer) -> str:
    token = str(login(server)["access_token"])
    return resign(server, token, nbf=server.state.clock.seconds() + 60)


REASONS: list[tuple[str, Callable[[MockServer], str], Callable[[MockServer], str]]] = [
    ("garbage", lambda s: "garbage", lambda s: "Malformed token: not a signed JWT"),
    ("expired", _expired, lambda s: "Token expired"),
    ("tampered", _tampered, lambda s: "Invalid token signature"),
    (
        "refresh token",
        lambda s: str(login(s)["refresh_token"]),
        lambda s: (
            "Unsupported algorithm 'HS512': access tokens are RS256 "
            "(refresh tokens are not access tokens)"
        ),
    ),
    (
        "id token",
        _id_token,
        lambda s: "Token type is incorrect. Expected 'Bearer' but was 'ID'",
    ),
    ("no subject", _no_subject, lambda s: "Subject missing in token"),
    ("not yet valid", _not_yet_valid, lambda s: "Token is not yet valid (nbf)"),
    (
        "other issuer",
        _other_issuer,
        lambda s: (
            "Invalid token issuer 'https://keycloak.example.test/realms/customer': "
            f"not a realm of {s.url}"
        ),
    ),
    (
        "unknown realm",
        _unknown_realm,
        lambda s: f"Invalid token issuer '{s.url}/realms/nowhere': not a realm of {s.url}",
    ),
]


@pytest.mark.parametrize(("make", "reason"), [r[1:] for r in REASONS], ids=[r[0] for r in REASONS])
def test_rejection_says_why(
    realms_server: MockServer,
    make: Callable[[MockServer], str],
    reason: Callable[[MockServer], str],
) -> None:
    response = demobank(realms_server, make(realms_server))
    expected = reason(realms_server)
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_token", "error_description": expected}
    assert response.headers["WWW-Authenticate"] == (
        f'Bearer error="invalid_token", error_description="{expected}"'
    )


def test_issuer_follows_the_url_the_token_was_fetched_from(realms_server: MockServer) -> None:
    """A token fetched via ``localhost`` names ``localhost`` as issuer, as Keycloak's does, so the
    stand-in reached via ``127.0.0.1`` refuses it: point both at the same base URL."""
    localhost = realms_server.url.replace("127.0.0.1", "localhost")
    token = requests.post(
        f"{localhost}/realms/customer/protocol/openid-connect/token",
        data={
            "client_id": "demobank-cli",
            "grant_type": "password",
            "username": "demo",
            "password": "demo",
        },
        timeout=10,
    ).json()["access_token"]
    assert demobank(realms_server, token).status_code == 401
    assert (
        requests.get(
            f"{localhost}/demobank/accounts",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        ).status_code
        == 200
    )


def test_exp_is_inclusive(realms_server: MockServer) -> None:
    realms_server.state.clock.freeze()
    tokens = login(realms_server)
    realms_server.state.clock.advance(900)
    assert demobank(realms_server, tokens["access_token"]).status_code == 200
    realms_server.state.clock.advance(1)
    assert demobank(realms_server, tokens["access_token"]).status_code == 401


def _end_session(server: MockServer, tokens: dict[str, str]) -> None:
    assert logout(server, tokens["refresh_token"]).status_code == 204


def _revoke_access_token(server: MockServer, tokens: dict[str, str]) -> None:
    response = requests.post(
        f"{server.url}/realms/customer/protocol/openid-connect/revoke",
        data={"client_id": "demobank-cli", "token": tokens["access_token"]},
        timeout=10,
    )
    assert response.status_code == 200


def _push_not_before(server: MockServer, tokens: dict[str, str]) -> None:
    now = server.state.clock.seconds()
    server.state.update_realm("customer", lambda r: dataclasses.replace(r, not_before=now + 1))


def _disable_user(server: MockServer, tokens: dict[str, str]) -> None:
    def disable(realm: Any) -> Any:
        users = tuple(
            dataclasses.replace(u, enabled=False) if u.username == "demo" else u
            for u in realm.users
        )
        return dataclasses.replace(realm, users=users)

    server.state.update_realm("customer", disable)


@pytest.mark.parametrize(
    ("revocation", "description"),
    [
        (_end_session, "User session not found or doesn't have client attached on it"),
        (_revoke_access_token, "Token verification failed"),
        (_push_not_before, "Token verification failed"),
        (_disable_user, "User disabled"),
    ],
)
def test_server_side_revocation_is_seen_by_the_resource(
    realms_server: MockServer, revocation: Any, description: str
) -> None:
    """Ending a token's life on the mock turns the next resource call into a 401."""
    tokens = login(realms_server)
    assert demobank(realms_server, tokens["access_token"]).status_code == 200
    revocation(realms_server, tokens)
    response = demobank(realms_server, tokens["access_token"])
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == (
        f'Bearer error="invalid_token", error_description="{description}"'
    )


# -- verify_access_token ------------------------------------------------------------------------


def test_verify_returns_the_claims(realms_server: MockServer) -> None:
    token = login(realms_server)["access_token"]
    claims = verify_access_token(token, realms_server)
    assert claims == parts(token)[1]
    assert verify_access_token(token, realms_server, realm="customer") == claims


def test_verify_pins_the_realm(realms_server: MockServer) -> None:
    token = login(realms_server)["access_token"]
    with pytest.raises(TokenVerificationError) as failure:
        verify_access_token(token, realms_server, realm="sandbox-mandator")
    assert failure.value.reason == (
        f"Invalid token issuer. Expected '{realms_server.url}/realms/sandbox-mandator'"
    )


def test_verify_uses_the_server_clock(realms_server: MockServer) -> None:
    token = login(realms_server)["access_token"]
    exp = parts(token)[1]["exp"]
    assert verify_access_token(token, realms_server, now=exp)["exp"] == exp
    realms_server.state.clock.advance(901)
    with pytest.raises(TokenExpired, match="Token expired"):
        verify_access_token(token, realms_server)


def test_verify_against_state_needs_the_issuer_base(realms_server: MockServer) -> None:
    token = login(realms_server)["access_token"]
    with pytest.raises(TypeError, match="issuer_base"):
        verify_access_token(token, realms_server.state)
    claims = verify_access_token(token, realms_server.state, issuer_base=realms_server.url + "/")
    assert claims["azp"] == "demobank-cli"


def test_verify_error_never_contains_the_token(realms_server: MockServer) -> None:
    token = login(realms_server)["refresh_token"]
    with pytest.raises(TokenVerificationError) as failure:
        verify_access_token(token, realms_server)
    assert token not in str(failure.value)
    assert token.split(".")[2] not in repr(failure.value)


def test_configured_issuer_url_is_the_base_everywhere() -> None:
    """With ``--issuer-url`` tokens name that URL; the stand-in and the helper expect it too."""
    config = MockConfig(port=0, issuer_url="https://keycloak.mock.test")
    with MockServer(config) as server:
        token = login(server)["access_token"]
        assert parts(token)[1]["iss"] == "https://keycloak.mock.test/realms/customer"
        assert demobank(server, token).json()["mandator"] == "customer"
        assert verify_access_token(token, server)["azp"] == "demobank-cli"
