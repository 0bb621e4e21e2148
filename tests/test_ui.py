"""Who may see the page, what it is served with, and the decoder's verdict over the control API.

Real HTTP over loopback; the page itself is driven in a browser in ``test_ui_browser.py``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests
from dockerfile_parse import DockerfileParser

from keycloak_mock import KeycloakMock, MockConfig, MockServer
from keycloak_mock.controls.hostcheck import host_allowed
from keycloak_mock.controls.local import controls_of
from keycloak_mock.controls.remote import RemoteControls
from keycloak_mock.controls.ui import CONTENT_SECURITY_POLICY
from keycloak_mock.serving.options import config_from
from keycloak_mock.serving.wsgi import app_from_env

from .conftest import REPO_ROOT, token_url

NOT_FOUND = {"error": "Unable to find matching target resource method"}
LOGIN = {"grant_type": "password", "client_id": "demobank-cli", "username": "demo"}


@pytest.fixture(scope="module")
def module_server() -> Iterator[MockServer]:
    with MockServer(MockConfig(port=0)) as server:
        yield server


@pytest.fixture
def server(module_server: MockServer) -> MockServer:
    module_server.state.reset()
    return module_server


def login(server: MockServer) -> dict[str, str]:
    response = requests.post(
        token_url(server.url), data={**LOGIN, "password": "demo", "scope": "openid"}, timeout=10
    )
    assert response.status_code == 200
    tokens: dict[str, str] = response.json()
    return tokens


def inspect(server: MockServer, token: str) -> dict[str, object]:
    response = requests.post(
        server.url + "/_mock/tokens/inspect", json={"token": token}, timeout=10
    )
    assert response.status_code == 200
    verdict: dict[str, object] = response.json()
    return verdict


# -- the page and its files -----------------------------------------------------------------
def test_page_is_served_with_a_strict_policy_and_nothing_from_elsewhere(
    server: MockServer,
) -> None:
    page = requests.get(server.url + "/", timeout=10)
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "default-src 'none'" in CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Cache-Control"] == "no-store"
    # No inline script or style, and every file it names is ours.
    assert "<script>" not in page.text and "style=" not in page.text
    assert re.findall(r"(?:src|href)=\"([^\"#]+)\"", page.text) == [
        "/_mock/ui/favicon.svg",
        "/_mock/ui/ui.css",
        "/_mock/ui/ui.js",
    ]
    for name, kind in [("ui.js", "text/javascript"), ("ui.css", "text/css")]:
        served = requests.get(f"{server.url}/_mock/ui/{name}", timeout=10)
        assert served.status_code == 200
        assert served.headers["Content-Type"].startswith(kind)
        assert "http://" not in served.text and "https://" not in served.text


def test_page_requests_are_neither_logged_nor_faultable(server: MockServer) -> None:
    requests.get(server.url + "/", timeout=10)
    requests.get(server.url + "/_mock/ui/ui.js", timeout=10)
    assert requests.get(server.url + "/_mock/requests", timeout=10).json()["count"] == 0
    endpoints = requests.get(server.url + "/_mock", timeout=10).json()["endpoints"]
    assert "page" not in endpoints and "static" not in endpoints


@pytest.mark.parametrize(
    "config",
    [
        MockConfig(port=0, disable_ui=True),
        MockConfig(port=0, disable_control_api=True),
    ],
    ids=["disable-ui", "control-api-off"],
)
def test_page_off_answers_like_keycloak_for_an_unknown_path(config: MockConfig) -> None:
    with MockServer(config) as server:
        for path in ("/", "/_mock/ui/ui.js"):
            response = requests.get(server.url + path, timeout=10)
            assert (response.status_code, response.json()) == (404, NOT_FOUND)
        spec = requests.get(server.url + "/_mock/openapi.json", timeout=10).json()
        assert "/" not in spec["paths"]


def test_disable_ui_flag_and_env_var() -> None:
    assert config_from(["--disable-ui"], {}).disable_ui is True
    assert config_from([], {"KEYCLOAK_MOCK_DISABLE_UI": "true"}).disable_ui is True
    assert config_from([], {}).disable_ui is False
    assert config_from([], {"KEYCLOAK_MOCK_ALLOWED_HOSTS": "a.example"}).allowed_hosts == (
        "a.example"
    )


def _image_env() -> dict[str, str]:
    parser = DockerfileParser(path=str(REPO_ROOT / "Dockerfile"))
    return {k: v for k, v in parser.envs.items() if k.startswith("KEYCLOAK_MOCK_")}


def test_the_image_serves_no_page_unless_switched_on() -> None:
    env = _image_env()
    assert env.get("KEYCLOAK_MOCK_DISABLE_UI") == "true"
    off = app_from_env({**env, "KEYCLOAK_MOCK_HOST": "127.0.0.1"}).test_client()
    assert off.get("/").status_code == 404
    assert off.get("/_mock/time").status_code == 200
    on = app_from_env(
        {**env, "KEYCLOAK_MOCK_HOST": "127.0.0.1", "KEYCLOAK_MOCK_DISABLE_UI": "false"}
    ).test_client()
    assert on.get("/").status_code == 200


def test_with_an_admin_token_the_page_loads_but_its_calls_need_the_token() -> None:
    with MockServer(MockConfig(port=0, admin_token="TEST-ONLY-admin")) as server:
        page = requests.get(server.url + "/", timeout=10)
        assert page.status_code == 200
        assert "TEST-ONLY-admin" not in page.text
        assert requests.get(server.url + "/_mock/sessions", timeout=10).status_code == 401
        bearer = {"Authorization": "Bearer TEST-ONLY-admin"}
        assert (
            requests.get(server.url + "/_mock/sessions", headers=bearer, timeout=10).status_code
            == 200
        )


# -- the Host check (DNS rebinding) ---------------------------------------------------------
@pytest.mark.parametrize("path", ["/", "/_mock/time", "/_mock/ui/ui.js"])
def test_a_foreign_host_is_refused_on_the_page_and_the_control_api(
    server: MockServer, path: str
) -> None:
    response = requests.get(server.url + path, headers={"Host": "rebind.example.com"}, timeout=10)
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden_host"


def test_forwarded_host_does_not_get_past_the_check(server: MockServer) -> None:
    response = requests.get(
        server.url + "/_mock/time",
        headers={"Host": "rebind.example.com", "X-Forwarded-Host": "localhost"},
        timeout=10,
    )
    assert response.status_code == 403


def test_keycloak_paths_answer_any_host(server: MockServer) -> None:
    response = requests.get(
        server.url + "/realms/customer/.well-known/openid-configuration",
        headers={"Host": "rebind.example.com"},
        timeout=10,
    )
    assert response.status_code == 200


def test_container_and_issuer_names_reach_the_control_api() -> None:
    config = MockConfig(port=0, issuer_url="https://mock.example.test")
    with MockServer(config) as server:
        for host in ("keycloak-mock:8080", "mock.example.test", "localhost", "[::1]:8080"):
            response = requests.get(server.url + "/_mock/time", headers={"Host": host}, timeout=10)
            assert response.status_code == 200, host


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1:8080",
        "localhost:8080",
        "[::1]:8080",
        "app.localhost",
        "keycloak-mock:8080",  # compose / CI service names have no dot
        "172.18.0.2:8080",
        "LOCALHOST",
    ],
)
def test_own_names_pass(host: str) -> None:
    assert host_allowed(host, MockConfig())


@pytest.mark.parametrize(
    ("host", "config", "allowed"),
    [
        ("rebind.example.com", MockConfig(), False),
        ("", MockConfig(), False),
        ("mock.example.com:443", MockConfig(issuer_url="https://mock.example.com"), True),
        ("other.example.com", MockConfig(issuer_url="https://mock.example.com"), False),
        ("a.example", MockConfig(allowed_hosts="a.example, b.example"), True),
        ("b.example:80", MockConfig(allowed_hosts="a.example, b.example"), True),
        ("c.example", MockConfig(allowed_hosts="a.example, b.example"), False),
        ("anything.example", MockConfig(allowed_hosts="*"), True),
        ("mock.internal", MockConfig(host="mock.internal", allow_remote=True), True),
    ],
)
def test_configured_names_pass(host: str, config: MockConfig, allowed: bool) -> None:
    assert host_allowed(host, config) is allowed


# -- the decoder's verdict -------------------------------------------------------------------
def test_verdicts_for_the_three_tokens_of_a_login(server: MockServer) -> None:
    tokens = login(server)
    for name, kind in [
        ("access_token", "access"),
        ("refresh_token", "refresh"),
        ("id_token", "id"),
    ]:
        verdict = inspect(server, tokens[name])
        assert (verdict["kind"], verdict["accepted"], verdict["reason"], verdict["realm"]) == (
            kind,
            True,
            None,
            "customer",
        )
        claims = verdict["claims"]
        assert isinstance(claims, dict) and claims["sid"] == tokens["session_state"]
    assert server.state.sessions[tokens["session_state"]].clients["demobank-cli"]


def test_verdicts_follow_the_mock_clock_and_the_session(server: MockServer) -> None:
    tokens = login(server)
    server.state.clock.advance(901)
    assert inspect(server, tokens["access_token"])["reason"] == "Token expired"
    assert inspect(server, tokens["id_token"])["reason"] == "Token expired"
    assert inspect(server, tokens["refresh_token"])["accepted"] is True
    requests.delete(f"{server.url}/_mock/sessions/{tokens['session_state']}", timeout=10)
    assert inspect(server, tokens["refresh_token"])["reason"] == "Session not active"


def test_verdict_on_a_token_of_another_issuer_and_on_garbage(server: MockServer) -> None:
    tokens = login(server)
    elsewhere = requests.post(
        server.url + "/_mock/tokens/inspect",
        json={"token": tokens["access_token"], "issuerBase": "http://elsewhere:8080"},
        timeout=10,
    ).json()
    assert elsewhere["accepted"] is False
    assert elsewhere["reason"].startswith("Invalid token issuer")
    garbage = inspect(server, "not-a-token")
    assert garbage == {
        "kind": None,
        "header": None,
        "claims": None,
        "accepted": False,
        "reason": "Malformed token: not a signed JWT",
        "realm": None,
        "now": garbage["now"],
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "token: required"),
        ({"token": ""}, "token: required"),
        ({"token": 5}, "token: wrong type"),
        ({"token": "x", "extra": 1}, "unknown field 'extra'; known: token, issuerBase"),
        ({"token": "x" * 20_000}, "token: longer than 16384 characters"),
    ],
)
def test_bad_decoder_requests_are_400(server: MockServer, body: object, message: str) -> None:
    response = requests.post(server.url + "/_mock/tokens/inspect", json=body, timeout=10)
    assert (response.status_code, response.json()) == (
        400,
        {"error": "invalid_request", "error_description": message},
    )


def test_remote_and_local_controls_give_the_same_verdict(server: MockServer) -> None:
    tokens = login(server)
    server.state.clock.freeze()  # ``now`` is part of the verdict
    remote = RemoteControls(server.url).inspect_token(tokens["access_token"])
    local = controls_of(server.app).inspect_token(tokens["access_token"], server.url)
    assert remote == local
    assert remote["accepted"] is True


def test_the_pytest_handle_asks_the_same(keycloak_mock: KeycloakMock) -> None:
    response = requests.post(
        token_url(keycloak_mock.url), data={**LOGIN, "password": "demo"}, timeout=10
    )
    verdict = keycloak_mock.inspect_token(response.json()["access_token"])
    assert (verdict["kind"], verdict["accepted"], verdict["realm"]) == ("access", True, "customer")
    keycloak_mock.expire_access_tokens()
    assert keycloak_mock.inspect_token(response.json()["access_token"])["reason"] == "Token expired"
