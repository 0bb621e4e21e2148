"""More of the pytest plugin: a session that an admin ended, and a second user of the realm."""

import pytest
import requests

from demobank_client import authorized_session


def fetch_accounts(session: requests.Session, demobank_url: str) -> dict:
    """The code under test: calls the Demobank API with the session it is given."""
    response = session.get(f"{demobank_url}/api/v2/accounts", timeout=10)
    response.raise_for_status()
    return response.json()


def test_logs_in_again_when_the_session_is_gone(keycloak_mock, keycloak_client):
    session = authorized_session(keycloak_client)
    fetch_accounts(session, keycloak_mock.demobank_url)

    keycloak_mock.end_sessions()  # an admin logs everybody out...
    keycloak_mock.expire_access_tokens()  # ...and the access token runs out
    fetch_accounts(session, keycloak_mock.demobank_url)

    # The refresh was refused ("Session not active"), so the client logged in again.
    token_calls = keycloak_mock.requests("token")
    assert [(r.grant_type, r.status) for r in token_calls] == [
        ("password", 200),
        ("refresh_token", 400),
        ("password", 200),
    ]


@pytest.mark.keycloak_realm(access_token_lifespan=60)
def test_a_second_user_with_short_lived_tokens(keycloak_mock, keycloak_client_factory):
    keycloak_mock.add_user("alice", "wonderland", attributes={"is_technical_user": ["true"]})
    alice = keycloak_client_factory("alice", "wonderland")

    tokens = alice.get_tokens()
    assert tokens.expires_in == 60
    assert tokens.technical_user is True
