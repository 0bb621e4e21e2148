"""Every failure of the token endpoint: exact status, JSON body and headers, over real HTTP.

The table follows the fact sheet's order of checks (realm, content type, grant type, client
authentication, duplicated parameters, grant-specific checks); each row is one request.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from typing import Any

import pytest
import requests

from keycloak_mock import MockServer

from .conftest import token_url

CLI = "demobank-cli"
BACKEND = "demobank-backend"
BACKEND_SECRET = "TEST-ONLY-backend-secret"
PASSWORD_FORM = {"client_id": CLI, "username": "demo", "password": "demo", "grant_type": "password"}
BAD_CLIENT = {
    "error": "invalid_client",
    "error_description": "Invalid client or Invalid client credentials",
}
BAD_SECRET = {
    "error": "unauthorized_client",
    "error_description": "Invalid client or Invalid client credentials",
}
BAD_CREDENTIALS = {"error": "invalid_grant", "error_description": "Invalid user credentials"}
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def form(**changes: str | None) -> dict[str, str]:
    data = dict(PASSWORD_FORM, **changes)
    return {k: v for k, v in data.items() if v is not None}


@dataclasses.dataclass
class Case:
    id: str
    data: Any
    status: int
    body: dict[str, str]
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    realm: str = "customer"
    no_store: bool = True


CASES = [
    # -- before the endpoint: realm and transport ----------------------------------------
    Case(
        "unknown realm",
        form(),
        404,
        {"error": "Realm does not exist"},
        realm="nope",
        no_store=False,
    ),
    Case(
        "json body",
        "{}",
        415,
        {"error": "The content-type header value did not match the value in @Consumes"},
        headers={"Content-Type": "application/json"},
        no_store=False,
    ),
    # -- grant type comes before client authentication -----------------------------------
    Case(
        "no grant_type",
        form(grant_type=None),
        400,
        {"error": "invalid_request", "error_description": "Missing form parameter: grant_type"},
    ),
    Case(
        "no grant_type, no client",
        {},
        400,
        {"error": "invalid_request", "error_description": "Missing form parameter: grant_type"},
    ),
    Case(
        "unsupported grant",
        form(grant_type="urn:example:not-a-grant"),
        400,
        {"error": "unsupported_grant_type", "error_description": "Unsupported grant_type"},
    ),
    Case(
        "unsupported grant, unknown client",
        form(grant_type="magic", client_id="nobody"),
        400,
        {"error": "unsupported_grant_type", "error_description": "Unsupported grant_type"},
    ),
    # -- client authentication ------------------------------------------------------------
    Case("missing client_id", form(client_id=None), 401, BAD_CLIENT),
    Case("unknown client", form(client_id="nobody"), 401, BAD_CLIENT),
    Case("empty client_id", form(client_id=""), 401, BAD_CLIENT),
    Case("confidential, no secret", form(client_id=BACKEND), 401, BAD_SECRET),
    Case(
        "confidential, wrong secret",
        form(client_id=BACKEND, client_secret="wrong"),
        401,
        BAD_SECRET,
    ),
    Case(
        "confidential, wrong basic secret",
        form(client_id=None),
        401,
        BAD_SECRET,
        headers={"Authorization": basic(BACKEND, "wrong")},
    ),
    Case(
        "malformed basic, no form client",
        form(client_id=None),
        401,
        BAD_CLIENT,
        headers={"Authorization": "Basic !!!"},
    ),
    Case(
        "bearer header, no form client",
        form(client_id=None),
        401,
        BAD_CLIENT,
        headers={"Authorization": "Bearer abc"},
    ),
    # -- duplicated parameters: after client authentication ------------------------------
    Case(
        "duplicated username",
        [*form().items(), ("username", "demo")],
        400,
        {"error": "invalid_request", "error_description": "duplicated parameter"},
    ),
    Case(
        "duplicated parameter, unknown client",
        [*form(client_id="nobody").items(), ("username", "demo")],
        401,
        BAD_CLIENT,
    ),
    # -- password grant -------------------------------------------------------------------
    Case(
        "direct grants off",
        form(client_id="no-direct-grants"),
        400,
        {
            "error": "unauthorized_client",
            "error_description": "Client not allowed for direct access grants",
        },
    ),
    Case(
        "unknown scope",
        form(scope="openid banking"),
        400,
        {"error": "invalid_scope", "error_description": "Invalid scopes: openid banking"},
    ),
    Case(
        "empty scope",
        form(scope=""),
        400,
        {"error": "invalid_scope", "error_description": "Invalid scopes: "},
    ),
    Case(
        "missing username",
        form(username=None),
        401,
        {"error": "invalid_request", "error_description": "Missing parameter: username"},
    ),
    Case("unknown user", form(username="nobody"), 401, BAD_CREDENTIALS),
    Case("wrong password", form(password="wrong"), 401, BAD_CREDENTIALS),
    Case("missing password", form(password=None), 401, BAD_CREDENTIALS),
    Case("empty password", form(password=""), 401, BAD_CREDENTIALS),
    Case(
        "disabled user",
        form(username="disabled-user", password="disabled-password"),
        400,
        {"error": "invalid_grant", "error_description": "Account disabled"},
    ),
    Case(
        "disabled user, wrong password",
        form(username="disabled-user", password="x"),
        400,
        {"error": "invalid_grant", "error_description": "Account disabled"},
    ),
    Case(
        "temporary password",
        form(username="new-user", password="initial-password"),
        400,
        {"error": "invalid_grant", "error_description": "Account is not fully set up"},
    ),
    # -- refresh grant, before the token is read --------------------------------------------
    Case(
        "refresh: no refresh_token",
        {"grant_type": "refresh_token", "client_id": CLI},
        400,
        {"error": "invalid_request", "error_description": "No refresh token"},
    ),
    Case(
        "refresh: garbage",
        {"grant_type": "refresh_token", "client_id": CLI, "refresh_token": "x.y.z"},
        400,
        {"error": "invalid_grant", "error_description": "Invalid refresh token"},
    ),
    Case(
        "refresh: empty",
        {"grant_type": "refresh_token", "client_id": CLI, "refresh_token": ""},
        400,
        {"error": "invalid_grant", "error_description": "Invalid refresh token"},
    ),
    Case(
        "refresh: unknown scope",
        {"grant_type": "refresh_token", "client_id": CLI, "refresh_token": "x", "scope": "nope"},
        400,
        {"error": "invalid_scope", "error_description": "Invalid scopes: nope"},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_token_endpoint_error(realms_server: MockServer, case: Case) -> None:
    response = requests.post(
        token_url(realms_server.url, case.realm), data=case.data, headers=case.headers, timeout=10
    )
    assert response.status_code == case.status
    assert response.headers["Content-Type"] == "application/json"
    # Keycloak's error JSON: exactly these fields, in this order, compact.
    assert response.content == json.dumps(case.body, separators=(",", ":")).encode()
    for name, value in NO_STORE.items():
        if case.no_store:
            assert response.headers[name] == value
        else:
            assert name not in response.headers
    assert "WWW-Authenticate" not in response.headers


def test_wrong_password_and_unknown_user_answer_identically(realms_server: MockServer) -> None:
    """No user enumeration: the two answers are byte-for-byte equal."""
    url = token_url(realms_server.url)
    unknown = requests.post(url, data=form(username="nobody"), timeout=10)
    wrong = requests.post(url, data=form(password="wrong"), timeout=10)
    assert (unknown.status_code, unknown.content) == (wrong.status_code, wrong.content)


def test_get_on_token_endpoint_is_405(realms_server: MockServer) -> None:
    response = requests.get(token_url(realms_server.url), timeout=10)
    assert response.status_code == 405
    assert response.json() == {"error": "HTTP 405 Method Not Allowed"}
    assert "Allow" not in response.headers


def test_options_is_a_preflight(realms_server: MockServer) -> None:
    response = requests.options(token_url(realms_server.url), timeout=10)
    assert response.status_code == 200


def test_disabled_realm_is_403(realms_server: MockServer) -> None:
    realms_server.state.update_realm("customer", lambda r: dataclasses.replace(r, enabled=False))
    response = requests.post(token_url(realms_server.url), data=form(), timeout=10)
    assert response.status_code == 403
    assert response.json() == {"error": "access_denied", "error_description": "Realm not enabled"}
    assert response.headers["Cache-Control"] == "no-store"


def test_unmatched_path_is_keycloaks_404(realms_server: MockServer) -> None:
    response = requests.get(
        f"{realms_server.url}/realms/customer/protocol/openid-connect/nothing", timeout=10
    )
    assert response.status_code == 404
    assert response.json() == {"error": "Unable to find matching target resource method"}
    assert "X-Frame-Options" not in response.headers


@pytest.mark.parametrize(
    ("description", "data", "headers"),
    [
        ("basic auth", form(client_id=None), {"Authorization": basic(BACKEND, BACKEND_SECRET)}),
        ("form secret", form(client_id=BACKEND, client_secret=BACKEND_SECRET), {}),
        (
            "form client_id wins over basic",
            form(client_id=CLI),
            {"Authorization": basic(BACKEND, "x")},
        ),
        ("public client ignores a secret", form(client_secret="anything"), {}),
        (
            "non-basic header ignored with form client_id",
            form(),
            {"Authorization": "Negotiate abc"},
        ),
        ("login by e-mail", form(username="demo@example.test"), {}),
        ("username is case-insensitive", form(username="DEMO"), {}),
        (
            "basic with url-encoded secret",
            form(client_id=None),
            {"Authorization": basic(BACKEND, BACKEND_SECRET.replace("-", "%2D"))},
        ),
    ],
)
def test_accepted_variants(
    realms_server: MockServer, description: str, data: dict[str, str], headers: dict[str, str]
) -> None:
    response = requests.post(token_url(realms_server.url), data=data, headers=headers, timeout=10)
    assert response.status_code == 200, description
    assert response.json()["token_type"] == "Bearer"
