"""What the mock answers for the browser flow it does not imitate: the authorization endpoint and
the code exchange, as Keycloak answers a client that may not use them.  And the discovery keys
that announce them."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from keycloak_mock import MockConfig, MockServer

from .conftest import FIXTURES

APP = "http://localhost:3000/callback"
STANDARD_DISABLED = (
    "Client is not allowed to initiate browser login with given response_type. "
    "Standard flow is disabled for the client."
)


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer(MockConfig(port=0, config=str(FIXTURES / "browser-realm.json"))) as server:
        yield server


def auth(server: MockServer, **params: str) -> requests.Response:
    url = f"{server.url}/realms/customer/protocol/openid-connect/auth"
    return requests.get(url, params=params, allow_redirects=False, timeout=10)


def test_a_code_flow_comes_back_as_unauthorized_client(server: MockServer) -> None:
    response = auth(
        server, client_id="demobank-web", redirect_uri=APP, response_type="code", state="st"
    )
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == APP
    assert parse_qs(location.query) == {
        "error": ["unauthorized_client"],
        "error_description": [STANDARD_DISABLED],
        "state": ["st"],
        "iss": [f"{server.url}/realms/customer"],
    }


def test_an_implicit_flow_answers_in_the_fragment(server: MockServer) -> None:
    response = auth(server, client_id="demobank-web", redirect_uri=APP, response_type="token")
    location = urlsplit(response.headers["Location"])
    assert location.query == ""
    assert parse_qs(location.fragment)["error_description"] == [
        STANDARD_DISABLED.replace("Standard flow", "Implicit flow")
    ]


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({}, {"error": "invalid_request", "error_description": "Missing parameter: response_type"}),
        # Keycloak sends no description with this one.
        ({"response_type": "bogus"}, {"error": "unsupported_response_type"}),
        (
            {"response_type": "code", "response_mode": "QUERY"},
            {"error": "invalid_request", "error_description": "Invalid parameter: response_mode"},
        ),
    ],
)
def test_request_errors_go_back_to_the_client(
    server: MockServer, params: dict[str, str], error: dict[str, str]
) -> None:
    response = auth(server, client_id="demobank-web", redirect_uri=APP, **params)
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert {k: v[0] for k, v in query.items() if k != "iss"} == error


def test_the_redirect_carries_keycloaks_headers(server: MockServer) -> None:
    response = auth(server, client_id="demobank-web", redirect_uri=APP, response_type="code")
    assert response.headers["Cache-Control"] == "no-store, must-revalidate, max-age=0"
    assert "X-Frame-Options" not in response.headers
    assert "Content-Type" not in response.headers
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_response_mode_fragment_moves_the_error(server: MockServer) -> None:
    response = auth(
        server,
        client_id="demobank-web",
        redirect_uri=APP,
        response_type="code",
        response_mode="fragment",
    )
    location = urlsplit(response.headers["Location"])
    assert parse_qs(location.fragment)["error"] == ["unauthorized_client"]


def test_post_reads_the_form_not_the_query(server: MockServer) -> None:
    url = f"{server.url}/realms/customer/protocol/openid-connect/auth"
    params = {"client_id": "demobank-web", "redirect_uri": APP, "response_type": "code"}
    by_query = requests.post(url, params=params, allow_redirects=False, timeout=10)
    by_form = requests.post(url, data=params, allow_redirects=False, timeout=10)
    assert by_query.status_code == 400
    assert by_form.status_code == 302


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "Missing parameter: client_id"),
        ({"client_id": ""}, "Missing parameter: client_id"),
        ({"client_id": "nobody"}, "Client not found."),
        (
            {"client_id": "demobank-web", "redirect_uri": "https://evil.test/"},
            "Invalid parameter: redirect_uri",
        ),
        ({"client_id": "demobank-web"}, "Invalid parameter: redirect_uri"),
    ],
)
def test_refusals_before_a_redirect_are_error_pages(
    server: MockServer, params: dict[str, str], message: str
) -> None:
    response = auth(server, response_type="code", **params)
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "text/html;charset=utf-8"
    assert response.headers["Content-Language"] == "en"
    assert "Cache-Control" not in response.headers
    assert message in response.text


@pytest.mark.parametrize(
    ("extra", "body"),
    [
        ({}, {"error": "invalid_request", "error_description": "Missing parameter: code"}),
        ({"code": "abc"}, {"error": "invalid_grant", "error_description": "Code not valid"}),
    ],
)
def test_code_exchange(server: MockServer, extra: dict[str, str], body: dict[str, str]) -> None:
    form = {"grant_type": "authorization_code", "client_id": "demobank-web", "redirect_uri": APP}
    response = requests.post(
        f"{server.url}/realms/customer/protocol/openid-connect/token",
        data={**form, **extra},
        timeout=10,
    )
    assert (response.status_code, response.json()) == (400, body)
    assert response.headers["Cache-Control"] == "no-store"


def test_discovery_lists_what_keycloak_lists(server: MockServer) -> None:
    base = f"{server.url}/realms/customer"
    document = requests.get(f"{base}/.well-known/openid-configuration", timeout=10).json()
    assert list(document) == [
        "issuer", "authorization_endpoint", "token_endpoint", "introspection_endpoint",
        "userinfo_endpoint", "end_session_endpoint", "frontchannel_logout_session_supported",
        "frontchannel_logout_supported", "jwks_uri", "grant_types_supported",
        "acr_values_supported", "response_types_supported", "subject_types_supported",
        "prompt_values_supported", "id_token_signing_alg_values_supported",
        "userinfo_signing_alg_values_supported", "request_object_signing_alg_values_supported",
        "response_modes_supported", "token_endpoint_auth_methods_supported",
        "introspection_endpoint_auth_methods_supported", "claims_supported",
        "claim_types_supported", "claims_parameter_supported", "scopes_supported",
        "request_parameter_supported", "request_uri_parameter_supported",
        "require_request_uri_registration", "code_challenge_methods_supported",
        "tls_client_certificate_bound_access_tokens", "revocation_endpoint",
        "revocation_endpoint_auth_methods_supported", "backchannel_logout_supported",
        "backchannel_logout_session_supported", "require_pushed_authorization_requests",
        "authorization_response_iss_parameter_supported",
    ]  # fmt: skip
    assert document["authorization_endpoint"] == f"{base}/protocol/openid-connect/auth"
    assert document["grant_types_supported"][:5] == [
        "authorization_code", "client_credentials", "implicit", "password", "refresh_token",
    ]  # fmt: skip
    assert "code" in document["response_types_supported"]
