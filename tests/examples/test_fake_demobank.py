"""A fake Demobank API of your own (pytest-httpserver) that accepts only the mock's valid tokens."""

import json

import pytest
import requests
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from demobank_client import authorized_session
from keycloak_mock import TokenVerificationError, verify_access_token


@pytest.fixture
def fake_demobank(httpserver: HTTPServer, keycloak_mock) -> HTTPServer:
    """GET /api/v2/accounts for a token the mock issued and still honours, else a 401."""

    def accounts(request: Request) -> Response:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        try:
            if scheme.lower() != "bearer":
                raise TokenVerificationError("no bearer token")
            claims = verify_access_token(token, keycloak_mock, realm="customer")
        except TokenVerificationError as refused:
            return Response(
                json.dumps({"error": "invalid_token", "error_description": refused.reason}),
                status=401,
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
                content_type="application/json",
            )
        body = {"accounts": [{"owner": claims["preferred_username"], "balance": 100}]}
        return Response(json.dumps(body), content_type="application/json")

    httpserver.expect_request("/api/v2/accounts", method="GET").respond_with_handler(accounts)
    return httpserver


def test_my_code_against_my_fake(fake_demobank, keycloak_mock, keycloak_client):
    session = authorized_session(keycloak_client)
    url = fake_demobank.url_for("/api/v2/accounts")

    assert session.get(url, timeout=10).json()["accounts"][0]["owner"] == "demo"

    old_token = keycloak_client.access_token()
    keycloak_mock.expire_access_tokens()  # 15 minutes pass, on the mock's and the client's clock
    refused = requests.get(url, headers={"Authorization": f"Bearer {old_token}"}, timeout=10)
    assert refused.status_code == 401
    assert refused.json()["error_description"] == "Token expired"

    assert session.get(url, timeout=10).status_code == 200  # the client refreshed in time
    assert keycloak_mock.count(grant_type="refresh_token") == 1
