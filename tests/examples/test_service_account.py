"""A back-end job that logs in as its client's service account (client credentials)."""

import pytest
import requests

from demobank_client import Settings, TokenManager, authorized_session

SERVICE_CLIENTS = [
    {"clientId": "demobank-cli", "publicClient": True},
    {"clientId": "batch-job", "secret": "TEST-ONLY-batch", "serviceAccountsEnabled": True},
]


@pytest.mark.keycloak_realm(clients=SERVICE_CLIENTS)
def test_batch_job_gets_a_token(keycloak_mock):
    response = requests.post(
        keycloak_mock.token_url,
        data={"grant_type": "client_credentials"},
        auth=("batch-job", "TEST-ONLY-batch"),
        timeout=10,
    )
    assert response.status_code == 200


@pytest.mark.keycloak_realm(clients=SERVICE_CLIENTS)
def test_the_thin_client_as_a_service_account(keycloak_mock):
    settings = Settings.service_account(
        mandator="customer",
        client_id="batch-job",
        client_secret="TEST-ONLY-batch",
        base_url=keycloak_mock.url,
    )
    with TokenManager(settings) as manager:
        session = authorized_session(manager)
        assert session.get(keycloak_mock.demobank_url + "/api/v2/accounts", timeout=10).ok
