"""Userinfo: Keycloak's claims on success, and every refusal with its status and challenge."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from keycloak_mock import MockConfig, MockServer

from .conftest import REALMS_FILE
from .sessions_support import (
    SESSION_NOT_FOUND,
    login,
    logout,
    oidc,
    parts,
    resign,
    revoke,
    userinfo,
)

FAILED = (
    'Bearer realm="customer", error="invalid_token", error_description="Token verification failed"'
)


def invalid(description: str) -> str:
    return f'Bearer realm="customer", error="invalid_token", error_description="{description}"'


@pytest.fixture(scope="module")
def short_idle_server() -> Iterator[MockServer]:
    """SSO session idle 60 s but access tokens for 900 s: a live token on a timed-out session."""
    config = MockConfig(port=0, config=str(REALMS_FILE), refresh_token_lifespan=60)
    with MockServer(config) as server:
        yield server


def change_user(server: MockServer, username: str, **changes: Any) -> None:
    def update(realm: Any) -> Any:
        return realm.with_user(dataclasses.replace(realm.find_user(username), **changes))

    server.state.update_realm("customer", update)


def change_client(server: MockServer, client_id: str, **changes: Any) -> None:
    def update(realm: Any) -> Any:
        clients = tuple(
            dataclasses.replace(c, **changes) if c.client_id == client_id else c
            for c in realm.clients
        )
        return dataclasses.replace(realm, clients=clients)

    server.state.update_realm("customer", update)


def drop_client(server: MockServer, client_id: str) -> None:
    server.state.update_realm(
        "customer",
        lambda realm: dataclasses.replace(
            realm, clients=tuple(c for c in realm.clients if c.client_id != client_id)
        ),
    )


# -- success ------------------------------------------------------------------------------------


def test_get_returns_profile_claims_in_keycloak_order(realms_server: MockServer) -> None:
    tokens = login(realms_server)
    sub = parts(tokens["access_token"])[1]["sub"]
    response = userinfo(realms_server, tokens["access_token"])
    assert response.status_code == 200
    # sub first, then Keycloak's HashMap order of the profile mapper claims; compact JSON.
    expected = {
        "sub": sub,
        "name": "Demo User",
        "preferred_username": "demo",
        "given_name": "Demo",
        "family_name": "User",
    }
    assert response.text == json.dumps(expected, separators=(",", ":"))
    assert response.headers["Content-Type"] == "application/json"
    assert response.raw.headers.getlist("Cache-Control") == ["no-store", "no-cache"]
    assert response.headers["Pragma"] == "no-cache"
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"


def test_post_with_form_token_and_email_scope(realms_server: MockServer) -> None:
    tokens = login(realms_server, scope="openid email")
    sub = parts(tokens["access_token"])[1]["sub"]
    response = requests.post(
        f"{oidc(realms_server)}/userinfo", data={"access_token": tokens["access_token"]}, timeout=10
    )
    assert response.status_code == 200
    assert list(response.json().items()) == [
        ("sub", sub),
        ("email_verified", False),
        ("name", "Demo User"),
        ("preferred_username", "demo"),
        ("given_name", "Demo"),
        ("family_name", "User"),
        ("email", "demo@example.test"),
    ]


def test_user_without_names_gets_sub_and_username_only(realms_server: MockServer) -> None:
    tokens = login(realms_server, username="tech-user", password="tech-password")
    response = userinfo(realms_server, tokens["access_token"])
    assert response.json() == {
        "sub": parts(tokens["access_token"])[1]["sub"],
        "preferred_username": "tech-user",
    }


def test_claims_follow_the_user_as_it_is_now(realms_server: MockServer) -> None:
    tokens = login(realms_server)
    change_user(realms_server, "demo", first_name="Renamed")
    assert userinfo(realms_server, tokens["access_token"]).json()["given_name"] == "Renamed"


# -- refusals -----------------------------------------------------------------------------------


def _no_openid(server: MockServer) -> str:
    return str(login(server, scope=None)["access_token"])


def _after_logout(server: MockServer) -> str:
    tokens = login(server)
    assert logout(server, tokens["refresh_token"]).status_code == 204
    return str(tokens["access_token"])


def _after_refresh_token_revocation(server: MockServer) -> str:
    tokens = login(server)
    assert revoke(server, tokens["refresh_token"]).status_code == 200
    return str(tokens["access_token"])


def _revoked(server: MockServer) -> str:
    tokens = login(server)
    assert revoke(server, tokens["access_token"]).status_code == 200
    return str(tokens["access_token"])


def _expired(server: MockServer) -> str:
    token = str(login(server)["access_token"])
    server.state.clock.advance(901)
    return token


def _disabled_user(server: MockServer) -> str:
    token = str(login(server)["access_token"])
    change_user(server, "demo", enabled=False)
    return token


def _disabled_client(server: MockServer) -> str:
    token = str(login(server)["access_token"])
    change_client(server, "demobank-cli", enabled=False)
    return token


def _deleted_client(server: MockServer) -> str:
    token = str(login(server)["access_token"])
    drop_client(server, "demobank-cli")
    return token


def _not_before_pushed(server: MockServer) -> str:
    token = str(login(server)["access_token"])
    now = server.state.clock.seconds()
    server.state.update_realm("customer", lambda r: dataclasses.replace(r, not_before=now + 1))
    return token


def _other_realm(server: MockServer) -> str:
    return str(
        login(server, realm="sandbox-mandator", username="sandbox", password="sandbox")[
            "access_token"
        ]
    )


def _refresh_token(server: MockServer) -> str:
    return str(login(server)["refresh_token"])


def _other_issuer(server: MockServer) -> str:
    token = str(login(server)["access_token"])
    return resign(server, token, iss="https://keycloak.example.test/realms/customer")


REFUSALS: list[tuple[str, Callable[[MockServer], str], int, str]] = [
    ("garbage", lambda s: "not-a-jwt", 401, FAILED),
    ("expired", _expired, 401, FAILED),
    ("refresh token", _refresh_token, 401, FAILED),
    ("other realm", _other_realm, 401, FAILED),
    ("other issuer", _other_issuer, 401, FAILED),
    ("revoked access token", _revoked, 401, FAILED),
    ("not-before pushed", _not_before_pushed, 401, FAILED),
    (
        "no openid scope",
        _no_openid,
        403,
        'Bearer realm="customer", error="insufficient_scope", '
        'error_description="Missing openid scope"',
    ),
    ("client deleted", _deleted_client, 401, invalid("Client not found")),
    ("client disabled", _disabled_client, 401, invalid("Client disabled")),
    ("after logout", _after_logout, 401, invalid(SESSION_NOT_FOUND)),
    (
        "after refresh token revocation",
        _after_refresh_token_revocation,
        401,
        invalid(SESSION_NOT_FOUND),
    ),
    ("user disabled", _disabled_user, 401, invalid("User disabled")),
]


@pytest.mark.parametrize(
    ("make_token", "status", "challenge"),
    [case[1:] for case in REFUSALS],
    ids=[case[0] for case in REFUSALS],
)
def test_refusal(
    realms_server: MockServer, make_token: Callable[[MockServer], str], status: int, challenge: str
) -> None:
    response = userinfo(realms_server, make_token(realms_server))
    assert (response.status_code, response.headers["WWW-Authenticate"]) == (status, challenge)
    assert_refusal_shape(response)


def assert_refusal_shape(response: requests.Response) -> None:
    """Keycloak's userinfo errors: empty text/plain body, no-store, and no X-Frame-Options."""
    assert response.content == b""
    assert response.headers["Content-Type"] == "text/plain;charset=utf-8"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "X-Frame-Options" not in response.headers


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic ZGVtbzpkZW1v"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer a b"},
    ],
    ids=["none", "basic", "bearer-without-token", "bearer-with-two-words"],
)
def test_no_token_is_a_bare_challenge(realms_server: MockServer, headers: dict[str, str]) -> None:
    response = requests.get(f"{oidc(realms_server)}/userinfo", headers=headers, timeout=10)
    assert (response.status_code, response.headers["WWW-Authenticate"]) == (
        401,
        'Bearer realm="customer"',
    )
    assert_refusal_shape(response)


def test_session_expired_while_access_token_still_valid(short_idle_server: MockServer) -> None:
    short_idle_server.state.reset()
    token = login(short_idle_server)["access_token"]
    short_idle_server.state.clock.advance(61)
    response = userinfo(short_idle_server, token)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == invalid("Session expired")


@pytest.mark.parametrize(
    ("form", "description"),
    [
        ("header-and-form", "More than one method used for including an access token"),
        ("duplicate-form", "Duplicate parameter"),
    ],
)
def test_ambiguous_token_is_invalid_request(
    realms_server: MockServer, form: str, description: str
) -> None:
    token = login(realms_server)["access_token"]
    if form == "header-and-form":
        response = requests.post(
            f"{oidc(realms_server)}/userinfo",
            data={"access_token": token},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
    else:
        response = requests.post(
            f"{oidc(realms_server)}/userinfo",
            data=[("access_token", token), ("access_token", token)],
            timeout=10,
        )
    assert response.status_code == 400
    assert response.headers["WWW-Authenticate"] == (
        f'Bearer realm="customer", error="invalid_request", error_description="{description}"'
    )


def test_unknown_realm_is_404_json(realms_server: MockServer) -> None:
    token = login(realms_server)["access_token"]
    response = userinfo(realms_server, token, realm="nowhere")
    assert response.status_code == 404
    assert response.json() == {"error": "Realm does not exist"}


def test_listed_in_discovery(realms_server: MockServer) -> None:
    document = requests.get(
        f"{realms_server.url}/realms/customer/.well-known/openid-configuration", timeout=10
    ).json()
    assert document["userinfo_endpoint"] == f"{oidc(realms_server)}/userinfo"
    assert document["end_session_endpoint"] == f"{oidc(realms_server)}/logout"
    assert document["revocation_endpoint"] == f"{oidc(realms_server)}/revoke"
    assert document["introspection_endpoint"] == f"{oidc(realms_server)}/token/introspect"
