"""The sample project's tests: its own ``client`` package, and the kit's plugin and client."""

import client

import demobank_client


def test_client_is_the_projects_own_package():
    assert client.OWNER == "sample-demobank-app"
    assert client.account_mandator.__module__ == "client"


def test_demobank_client_is_the_kits_package():
    assert demobank_client.TokenManager.__module__.startswith("demobank_client.")


def test_the_plugins_fixtures_work_without_a_conftest(keycloak_mock, keycloak_client):
    assert client.account_mandator(keycloak_client, keycloak_mock.demobank_url) == "customer"
    keycloak_mock.expire_access_tokens()
    assert client.account_mandator(keycloak_client, keycloak_mock.demobank_url) == "customer"
    assert keycloak_mock.count(grant_type="refresh_token") == 1
