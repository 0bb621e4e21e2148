"""The mock over https, with a test-only CA it makes at start-up."""

import pytest
import requests


@pytest.mark.keycloak_config(tls=True)
def test_over_https(keycloak_mock, keycloak_client):
    assert keycloak_mock.url.startswith("https://")
    requests.get(keycloak_mock.jwks_url, verify=keycloak_mock.ca_file, timeout=10)
    keycloak_client.access_token()  # the client fixtures trust the CA
