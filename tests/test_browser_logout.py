"""RP-initiated logout as a browser (or openid-client's end-session URL) drives it.

Realm ``fixtures/browser-realm.json``: ``demobank-web`` has redirect URIs
``http://localhost:3000/*`` and ``https://app.example.test/callback`` and post-logout redirect
URIs ``+`` (the same).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

import pytest
import requests

from keycloak_mock import MockConfig, MockServer

from .conftest import FIXTURES

BROWSER_REALM = FIXTURES / "browser-realm.json"
APP_LOGGED_OUT = "http://localhost:3000/logged-out"


@pytest.fixture(scope="module")
def browser_server() -> Iterator[MockServer]:
    with MockServer(MockConfig(port=0, config=str(BROWSER_REALM))) as server:
        yield server


@pytest.fixture
def server(browser_server: MockServer) -> MockServer:
    browser_server.state.reset()
    return browser_server


def oidc(server: MockServer, path: str) -> str:
    return f"{server.url}/realms/customer/protocol/openid-connect/{path}"


def login(server: MockServer) -> dict[str, str]:
    form = {"grant_type": "password", "client_id": "demobank-web", "scope": "openid"}
    form |= {"username": "demo", "password": "demo"}
    response = requests.post(oidc(server, "token"), data=form, timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    return body


def refresh_status(server: MockServer, tokens: dict[str, str]) -> tuple[int, str]:
    form = {"grant_type": "refresh_token", "client_id": "demobank-web"}
    form["refresh_token"] = tokens["refresh_token"]
    response = requests.post(oidc(server, "token"), data=form, timeout=10)
    return response.status_code, response.json().get("error_description", "")


def logout(server: MockServer, method: str = "GET", **params: str) -> requests.Response:
    if method == "GET":
        return requests.get(
            oidc(server, "logout"), params=params, allow_redirects=False, timeout=10
        )
    return requests.post(oidc(server, "logout"), data=params, allow_redirects=False, timeout=10)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_hint_and_redirect_end_the_session_and_redirect_with_state(
    server: MockServer, method: str
) -> None:
    tokens = login(server)
    response = logout(
        server,
        method,
        id_token_hint=tokens["id_token"],
        post_logout_redirect_uri=APP_LOGGED_OUT,
        state="s t&ate",
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"{APP_LOGGED_OUT}?state=s+t%26ate"
    assert response.content == b""
    assert refresh_status(server, tokens) == (400, "Session not active")


def test_hint_alone_ends_the_session_and_shows_the_logged_out_page(server: MockServer) -> None:
    tokens = login(server)
    response = logout(server, id_token_hint=tokens["id_token"])
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html;charset=utf-8"
    assert "You are logged out" in response.text
    assert refresh_status(server, tokens)[0] == 400


def test_an_expired_hint_still_logs_out(server: MockServer) -> None:
    tokens = login(server)
    server.state.clock.advance(3600)
    response = logout(server, id_token_hint=tokens["id_token"])
    assert response.status_code == 200
    assert "You are logged out" in response.text


def confirmation_form(page: str) -> tuple[str, dict[str, str]]:
    action = re.search(r'<form id="kc-logout-confirm" action="([^"]+)"', page)
    assert action is not None, page
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    return action[1], hidden


def test_without_hint_keycloak_asks_and_confirming_ends_no_session(server: MockServer) -> None:
    tokens = login(server)
    response = logout(server, client_id="demobank-web", state="xyz")
    assert response.status_code == 200
    assert "Do you want to logout?" in response.text
    action, hidden = confirmation_form(response.text)
    assert action == oidc(server, "logout/logout-confirm")
    assert hidden == {"client_id": "demobank-web", "state": "xyz"}
    # The button's name comes with the form, as a browser sends it.
    confirmed = requests.post(action, data={**hidden, "confirmLogout": ""}, timeout=10)
    assert confirmed.status_code == 200
    assert "You are logged out" in confirmed.text
    # No browser sessions in the mock: the token's session lives on.
    assert refresh_status(server, tokens)[0] == 200


def test_client_id_and_a_valid_redirect_need_no_confirmation(server: MockServer) -> None:
    """Keycloak skips the question when there is neither a browser session nor a hint."""
    tokens = login(server)
    response = logout(
        server, client_id="demobank-web", post_logout_redirect_uri=APP_LOGGED_OUT, state="xyz"
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"{APP_LOGGED_OUT}?state=xyz"
    assert refresh_status(server, tokens)[0] == 200


def test_an_unknown_client_id_forces_the_confirmation(server: MockServer) -> None:
    tokens = login(server)
    response = logout(server, client_id="nobody", id_token_hint=tokens["id_token"])
    assert response.status_code == 400
    assert "Invalid parameter: id_token_hint" in response.text
    page = logout(server, client_id="nobody").text
    assert "Do you want to logout?" in page


def test_confirming_a_hint_ends_its_session(server: MockServer) -> None:
    """A hint whose client is unknown needs a confirmation; confirming ends the session."""
    tokens = login(server)
    server.state.update_realm(
        "customer",
        lambda r: dataclasses.replace(
            r, clients=tuple(c for c in r.clients if c.client_id != "demobank-web")
        ),
    )
    page = logout(server, id_token_hint=tokens["id_token"]).text
    action, hidden = confirmation_form(page)
    assert hidden == {"id_token_hint": tokens["id_token"]}
    confirmed = requests.post(action, data={**hidden, "confirmLogout": ""}, timeout=10)
    assert confirmed.status_code == 200
    assert server.state.session(login_sid(tokens)) is None


def login_sid(tokens: dict[str, str]) -> str:
    return tokens["session_state"]


def test_a_confirmation_without_its_button_fails(server: MockServer) -> None:
    response = requests.post(oidc(server, "logout/logout-confirm"), data={}, timeout=10)
    assert response.status_code == 400
    assert "Logout failed" in response.text


def test_confirming_without_redirect_shows_the_logged_out_page(server: MockServer) -> None:
    response = requests.post(
        oidc(server, "logout/logout-confirm"), data={"confirmLogout": ""}, timeout=10
    )
    assert response.status_code == 200
    assert "You are logged out" in response.text


def test_pages_load_nothing_from_elsewhere(server: MockServer) -> None:
    page = logout(server).text
    assert not re.search(r"""(src|href)\s*=""", page)
    assert "<script" not in page


def test_parameters_are_escaped_in_the_page(server: MockServer) -> None:
    page = logout(server, client_id="demobank-web", state='"><script>alert(1)</script>').text
    assert "<script>" not in page
    assert "&#34;&gt;&lt;script&gt;" in page


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"post_logout_redirect_uri": APP_LOGGED_OUT}, "Missing parameters: id_token_hint"),
        ({"id_token_hint": "garbage"}, "Invalid parameter: id_token_hint"),
        ({"redirect_uri": APP_LOGGED_OUT}, "Invalid parameter: redirect_uri"),
        (
            {"client_id": "nobody", "post_logout_redirect_uri": APP_LOGGED_OUT},
            "Invalid redirect uri",
        ),
        (
            {"client_id": "demobank-web", "post_logout_redirect_uri": "https://evil.test/"},
            "Invalid redirect uri",
        ),
        (
            {"client_id": "demobank-cli", "post_logout_redirect_uri": APP_LOGGED_OUT},
            "Invalid redirect uri",
        ),
    ],
)
def test_refusals_are_error_pages(server: MockServer, params: dict[str, str], message: str) -> None:
    response = logout(server, **params)
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "text/html;charset=utf-8"
    assert message in response.text


def test_a_hint_of_another_client_than_client_id_is_refused(server: MockServer) -> None:
    tokens = login(server)
    response = logout(server, id_token_hint=tokens["id_token"], client_id="demobank-cli")
    assert response.status_code == 400
    assert "Invalid parameter: id_token_hint" in response.text
    assert refresh_status(server, tokens)[0] == 200


def test_an_access_token_is_no_id_token_hint(server: MockServer) -> None:
    tokens = login(server)
    response = logout(server, id_token_hint=tokens["access_token"])
    assert response.status_code == 400
    assert refresh_status(server, tokens)[0] == 200
