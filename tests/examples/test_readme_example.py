"""Code that calls finAPI's Demobank, tested with the kit's pytest plugin (no finAPI account)."""

import requests

from demobank_client import authorized_session


def fetch_accounts(session: requests.Session, demobank_url: str) -> dict:
    """The code under test: calls the Demobank API with the session it is given."""
    response = session.get(f"{demobank_url}/api/v2/accounts", timeout=10)
    response.raise_for_status()
    return response.json()


def test_refreshes_an_expired_access_token(keycloak_mock, keycloak_client):
    session = authorized_session(keycloak_client)
    assert fetch_accounts(session, keycloak_mock.demobank_url)["mandator"] == "customer"

    keycloak_mock.expire_access_tokens()  # 15 minutes pass, on the mock's and the client's clock
    fetch_accounts(session, keycloak_mock.demobank_url)

    assert keycloak_mock.count(grant_type="password") == 1  # logged in once...
    assert keycloak_mock.count(grant_type="refresh_token") == 1  # ...and refreshed once


def test_survives_a_503_from_keycloak(keycloak_mock, keycloak_client):
    keycloak_mock.fail_next("token", status=503)  # Keycloak is briefly unavailable
    session = authorized_session(keycloak_client)

    assert fetch_accounts(session, keycloak_mock.demobank_url)["mandator"] == "customer"
    assert [r.status for r in keycloak_mock.requests("token")] == [503, 200]
