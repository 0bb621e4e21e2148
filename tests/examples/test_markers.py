"""The pytest plugin's markers: one realm's settings for one test, or a server of its own."""

import pytest


@pytest.mark.keycloak_realm(
    access_token_lifespan=60,
    users=[{"username": "alice", "credentials": [{"type": "password", "value": "pw"}]}],
)
def test_short_tokens(keycloak_mock, keycloak_client_factory):
    assert keycloak_client_factory("alice", "pw").get_tokens().expires_in == 60


@pytest.mark.keycloak_realm("bank2", mandator_name="Bank Two")  # an unknown realm is added
def test_second_mandator(keycloak_mock, keycloak_client_factory):
    keycloak_mock.add_user("bob", "pw", realm="bank2")
    bob = keycloak_client_factory("bob", "pw", realm="bank2")
    assert bob.get_tokens().mandator_name == "Bank Two"


@pytest.mark.keycloak_config(issuer_url="https://kc.example.test", access_token_lifespan=30)
def test_own_server(keycloak_mock, keycloak_client):
    assert keycloak_mock.issuer == "https://kc.example.test/realms/customer"
    assert keycloak_client.get_tokens().expires_in == 30
