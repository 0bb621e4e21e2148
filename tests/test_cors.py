"""CORS on the realm's OIDC endpoints, as a browser meets it: preflights, allowed origins, ``+``.

The realm ``fixtures/browser-realm.json`` has a browser client ``demobank-web`` whose web origins
are ``+`` (its redirect URIs' origins: ``http://localhost:3000``, ``https://app.example.test``)
and ``https://admin.example.test``; ``demobank-cli`` has none.
"""

from __future__ import annotations

from collections.abc import Iterator

import jwt
import pytest
import requests

from keycloak_mock import MockConfig, MockServer

from .conftest import FIXTURES

BROWSER_REALM = FIXTURES / "browser-realm.json"
APP = "http://localhost:3000"
ADMIN = "https://admin.example.test"
EVIL = "https://evil.example.test"
CORS_HEADERS = {
    "Access-Control-Allow-Origin",
    "Access-Control-Allow-Credentials",
    "Access-Control-Allow-Methods",
    "Access-Control-Allow-Headers",
    "Access-Control-Expose-Headers",
    "Access-Control-Max-Age",
}
PREFLIGHT_HEADERS = (
    "Origin, Accept, X-Requested-With, Content-Type, Access-Control-Request-Method, "
    "Access-Control-Request-Headers, Authorization"
)


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


def login(server: MockServer, client_id: str = "demobank-web", **extra: str) -> dict[str, str]:
    form = {
        "grant_type": "password",
        "client_id": client_id,
        "username": "demo",
        "password": "demo",
    }
    response = requests.post(oidc(server, "token"), data={**form, **extra}, timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    return body


def cors_headers(response: requests.Response) -> dict[str, str]:
    return {name: value for name, value in response.headers.items() if name in CORS_HEADERS}


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("token", "POST, OPTIONS"),
        ("revoke", "POST, OPTIONS"),
        ("userinfo", "GET, HEAD, OPTIONS"),
        ("logout", "GET, HEAD, OPTIONS"),
        ("certs", "GET"),
        (".well-known/openid-configuration", "GET"),
    ],
)
def test_a_preflight_answers_any_origin(server: MockServer, path: str, methods: str) -> None:
    url = oidc(server, path)
    if path.startswith(".well-known"):
        url = f"{server.url}/realms/customer/{path}"
    response = requests.options(
        url,
        headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.content == b""
    assert cors_headers(response) == {
        "Access-Control-Allow-Origin": EVIL,
        "Access-Control-Allow-Methods": methods,
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Allow-Headers": PREFLIGHT_HEADERS,
        "Access-Control-Max-Age": "3600",
    }
    assert "Content-Type" not in response.headers


def test_a_preflight_without_origin_has_no_cors_headers(server: MockServer) -> None:
    response = requests.options(oidc(server, "token"), timeout=10)
    assert response.status_code == 200
    assert cors_headers(response) == {}


@pytest.mark.parametrize("origin", [APP, ADMIN, "https://app.example.test"])
def test_token_answer_is_readable_by_the_clients_web_origins(
    server: MockServer, origin: str
) -> None:
    form = {"grant_type": "password", "client_id": "demobank-web"}
    form |= {"username": "demo", "password": "demo"}
    response = requests.post(
        oidc(server, "token"), data=form, headers={"Origin": origin}, timeout=10
    )
    assert response.status_code == 200
    assert cors_headers(response) == {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Expose-Headers": "Access-Control-Allow-Methods",
        "Access-Control-Allow-Credentials": "true",
    }


def test_an_unlisted_origin_gets_the_answer_without_cors_headers(server: MockServer) -> None:
    """Keycloak 25-26.1 answers normally; the browser then hides the answer from the page."""
    form = {"grant_type": "password", "client_id": "demobank-web"}
    form |= {"username": "demo", "password": "demo"}
    response = requests.post(oidc(server, "token"), data=form, headers={"Origin": EVIL}, timeout=10)
    assert response.status_code == 200
    assert "access_token" in response.json()
    assert cors_headers(response) == {}


def test_a_client_without_web_origins_allows_none(server: MockServer) -> None:
    form = {"grant_type": "password", "client_id": "demobank-cli"}
    form |= {"username": "demo", "password": "demo"}
    response = requests.post(oidc(server, "token"), data=form, headers={"Origin": APP}, timeout=10)
    assert response.status_code == 200
    assert cors_headers(response) == {}


def test_refusals_after_client_authentication_carry_cors(server: MockServer) -> None:
    form = {"grant_type": "password", "client_id": "demobank-web"}
    form |= {"username": "demo", "password": "wrong"}
    response = requests.post(oidc(server, "token"), data=form, headers={"Origin": APP}, timeout=10)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_grant"
    assert response.headers["Access-Control-Allow-Origin"] == APP


def test_refusals_before_the_client_is_known_carry_none(server: MockServer) -> None:
    response = requests.post(
        oidc(server, "token"),
        data={"client_id": "demobank-web"},
        headers={"Origin": APP},
        timeout=10,
    )
    assert response.status_code == 400
    assert cors_headers(response) == {}


def test_without_origin_the_answer_is_as_before(server: MockServer) -> None:
    form = {"grant_type": "password", "client_id": "demobank-web"}
    form |= {"username": "demo", "password": "demo"}
    response = requests.post(oidc(server, "token"), data=form, timeout=10)
    assert response.status_code == 200
    assert cors_headers(response) == {}


def test_allowed_origins_claim_resolves_plus(server: MockServer) -> None:
    tokens = login(server)
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    # A Java HashSet's order, as Keycloak's web-origins mapper writes it.
    assert claims["allowed-origins"] == [
        "https://admin.example.test",
        "https://app.example.test",
        "http://localhost:3000",
    ]


@pytest.mark.parametrize(
    "path", ["protocol/openid-connect/certs", ".well-known/openid-configuration"]
)
def test_public_documents_are_readable_by_any_origin(server: MockServer, path: str) -> None:
    url = f"{server.url}/realms/customer/{path}"
    response = requests.get(url, headers={"Origin": EVIL}, timeout=10)
    assert response.status_code == 200
    assert cors_headers(response) == {
        "Access-Control-Allow-Origin": EVIL,
        "Access-Control-Allow-Credentials": "true",
    }


def test_userinfo_refusal_before_the_token_checks_out_is_readable_by_any_origin(
    server: MockServer,
) -> None:
    response = requests.get(
        oidc(server, "userinfo"),
        headers={"Origin": EVIL, "Authorization": "Bearer not-a-token"},
        timeout=10,
    )
    assert response.status_code == 401
    assert response.headers["Access-Control-Allow-Origin"] == EVIL


def test_userinfo_refuses_a_token_without_openid_to_any_origin(server: MockServer) -> None:
    """Keycloak checks the scope before it looks the client up, so CORS is still open."""
    token = login(server)["access_token"]
    response = requests.get(
        oidc(server, "userinfo"),
        headers={"Origin": EVIL, "Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 403
    assert response.headers["Access-Control-Allow-Origin"] == EVIL


def test_userinfo_with_a_good_token_allows_its_clients_origins_only(server: MockServer) -> None:
    token = login(server, scope="openid")["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    mine = requests.get(oidc(server, "userinfo"), headers={**headers, "Origin": APP}, timeout=10)
    other = requests.get(oidc(server, "userinfo"), headers={**headers, "Origin": EVIL}, timeout=10)
    assert mine.status_code == other.status_code == 200
    assert mine.headers["Access-Control-Allow-Origin"] == APP
    assert cors_headers(other) == {}


def test_logout_and_revoke_allow_the_clients_origins(server: MockServer) -> None:
    tokens = login(server)
    revoke = requests.post(
        oidc(server, "revoke"),
        data={"client_id": "demobank-web", "token": tokens["access_token"]},
        headers={"Origin": ADMIN},
        timeout=10,
    )
    logout = requests.post(
        oidc(server, "logout"),
        data={"client_id": "demobank-web", "refresh_token": tokens["refresh_token"]},
        headers={"Origin": ADMIN},
        timeout=10,
    )
    assert (revoke.status_code, logout.status_code) == (200, 204)
    assert revoke.headers["Access-Control-Allow-Origin"] == ADMIN
    assert logout.headers["Access-Control-Allow-Origin"] == ADMIN


def test_star_allows_every_origin(server: MockServer) -> None:
    import dataclasses

    def star(realm):  # type: ignore[no-untyped-def]
        client = dataclasses.replace(realm.client("demobank-cli"), web_origins=("*",))
        others = tuple(c for c in realm.clients if c.client_id != "demobank-cli")
        return dataclasses.replace(realm, clients=(client, *others))

    server.state.update_realm("customer", star)
    tokens = login(server, "demobank-cli")
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert claims["allowed-origins"] == ["*"]
    form = {"grant_type": "refresh_token", "client_id": "demobank-cli"}
    form["refresh_token"] = tokens["refresh_token"]
    response = requests.post(oidc(server, "token"), data=form, headers={"Origin": EVIL}, timeout=10)
    assert response.headers["Access-Control-Allow-Origin"] == EVIL


def test_introspection_has_no_cors(server: MockServer) -> None:
    """Keycloak's introspection endpoint has neither a preflight nor CORS headers."""
    tokens = login(server)
    form = {"client_id": "demobank-backend", "client_secret": "TEST-ONLY-backend-secret"}
    response = requests.post(
        oidc(server, "token/introspect"),
        data={**form, "token": tokens["access_token"]},
        headers={"Origin": ADMIN},
        timeout=10,
    )
    assert response.status_code == 200
    assert cors_headers(response) == {}
    preflight = requests.options(
        oidc(server, "token/introspect"), headers={"Origin": ADMIN}, timeout=10
    )
    assert cors_headers(preflight) == {}


def test_the_control_api_never_answers_other_origins(server: MockServer) -> None:
    for method in ("OPTIONS", "GET"):
        response = requests.request(
            method, f"{server.url}/_mock/overview", headers={"Origin": EVIL}, timeout=10
        )
        assert "Access-Control-Allow-Origin" not in response.headers
