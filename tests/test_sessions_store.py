"""Session bookkeeping seen from outside: expired sessions are purged, so memory stays bounded."""

from __future__ import annotations

import requests

from keycloak_mock import MockServer

from .conftest import token_url

PASSWORD_FORM = {
    "client_id": "demobank-cli",
    "username": "demo",
    "password": "demo",
    "grant_type": "password",
}


def test_expired_sessions_are_purged_by_later_logins(keycloak_mock: MockServer) -> None:
    url = token_url(keycloak_mock.url)
    for _ in range(20):
        assert requests.post(url, data=PASSWORD_FORM, timeout=10).status_code == 200
    assert len(keycloak_mock.state.sessions) == 20
    keycloak_mock.state.clock.advance(1801)  # past SSO session idle
    assert requests.post(url, data=PASSWORD_FORM, timeout=10).status_code == 200
    assert len(keycloak_mock.state.sessions) == 1


def test_live_sessions_survive_a_purge(keycloak_mock: MockServer) -> None:
    url = token_url(keycloak_mock.url)
    body = requests.post(url, data=PASSWORD_FORM, timeout=10).json()
    keycloak_mock.state.clock.advance(1000)
    assert keycloak_mock.state.purge_expired() == 0
    data = {
        "grant_type": "refresh_token",
        "client_id": "demobank-cli",
        "refresh_token": body["refresh_token"],
    }
    assert requests.post(url, data=data, timeout=10).status_code == 200


def test_health_endpoints(keycloak_mock: MockServer) -> None:
    for path in ("/health/ready", "/health/live"):
        response = requests.get(keycloak_mock.url + path, timeout=10)
        assert response.status_code == 200
        assert response.json() == {"status": "UP", "checks": []}
