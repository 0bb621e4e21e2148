"""Checking the mock's tokens in a fake of your own: verify_access_token, on the mock's clock."""

import pytest
import requests

from keycloak_mock import TokenExpired, verify_access_token


def test_my_fake_resource(keycloak_mock):
    token = requests.post(
        f"{keycloak_mock.url}/realms/customer/protocol/openid-connect/token",
        data={
            "client_id": "demobank-cli",
            "grant_type": "password",
            "username": "demo",
            "password": "demo",
        },
        timeout=10,
    ).json()["access_token"]

    claims = verify_access_token(token, keycloak_mock, realm="customer")
    assert claims["preferred_username"] == "demo"

    keycloak_mock.state.clock.advance(901)  # past the 900 s lifespan
    with pytest.raises(TokenExpired):
        verify_access_token(token, keycloak_mock)
