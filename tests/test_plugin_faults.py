"""Scripted faults and the request log, as a third-party HTTP client meets them.

Run twice like the controls tests: in-process handle and HTTP control API.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
import requests

from keycloak_mock import MockServerError
from keycloak_mock.controls.remote import RemoteControls
from keycloak_mock.controls.schema import ControlError
from keycloak_mock.handle import KeycloakMock

from .plugin_support import login, refresh, wait_until


@pytest.fixture(params=["in-process", "http"])
def mock(request: pytest.FixtureRequest, keycloak_mock: KeycloakMock) -> Iterator[KeycloakMock]:
    if request.param == "in-process":
        yield keycloak_mock
        return
    remote = RemoteControls(keycloak_mock.url)
    yield KeycloakMock(keycloak_mock.url, remote)
    remote.close()


# -- scripted answers -------------------------------------------------------------------------
def test_fail_next_answers_503_once_with_keycloaks_generic_body(mock: KeycloakMock) -> None:
    mock.fail_next("token")
    failed = login(mock)
    assert (failed.status_code, failed.json()) == (503, {"error": "HTTP 503 Service Unavailable"})
    assert failed.headers["Content-Type"] == "application/json"
    assert login(mock).status_code == 200


@pytest.mark.parametrize(
    ("status", "body", "headers"),
    [
        (500, {"error": "unknown_error"}, {}),
        (429, {"error": "slow_down"}, {"Retry-After": "2"}),
        (502, None, {"X-Proxy": "lb-1"}),
        (400, {"error": "invalid_grant", "error_description": "Session not active"}, {}),
    ],
)
def test_fail_next_with_status_body_and_headers(
    mock: KeycloakMock, status: int, body: dict[str, str] | None, headers: dict[str, str]
) -> None:
    mock.fail_next("token", status=status, body=body, headers=headers)
    response = login(mock)
    assert response.status_code == status
    expected = body if body is not None else {"error": f"HTTP {status} Bad Gateway"}
    assert response.json() == expected
    for name, value in headers.items():
        assert response.headers[name] == value


def test_times_counts_matching_requests_only(mock: KeycloakMock) -> None:
    mock.fail_next("token", grant_type="refresh_token", times=2)
    body = login(mock).json()  # a password grant: not matched
    assert refresh(mock, body["refresh_token"]).status_code == 503
    assert refresh(mock, body["refresh_token"]).status_code == 503
    assert refresh(mock, body["refresh_token"]).status_code == 200


def test_times_none_fails_until_cleared(mock: KeycloakMock) -> None:
    mock.fail_next("certs", status=500, times=None)
    for _ in range(3):
        assert requests.get(mock.jwks_url, timeout=10).status_code == 500
    assert login(mock).status_code == 200  # other endpoints unaffected
    mock.clear_faults()
    assert requests.get(mock.jwks_url, timeout=10).status_code == 200


def test_faults_can_target_one_realm(mock: KeycloakMock) -> None:
    mock.add_realm("bank2")
    mock.add_user("carol", "pw", realm="bank2")
    mock.fail_next("token", realm="bank2")
    assert login(mock).status_code == 200
    assert login(mock, "carol", "pw", realm="bank2").status_code == 503


def test_faults_are_listed_with_what_remains(mock: KeycloakMock) -> None:
    mock.fail_next("token", times=3, grant_type="password")
    login(mock)
    [fault] = mock.faults()["faults"]
    assert (fault["endpoint"], fault["grantType"], fault["status"], fault["remaining"]) == (
        "token",
        "password",
        503,
        2,
    )


def test_drop_next_closes_the_connection_without_an_answer(mock: KeycloakMock) -> None:
    mock.drop_next("token")
    with pytest.raises(requests.ConnectionError):
        login(mock)
    assert login(mock).status_code == 200
    dropped = mock.requests("token")[0]
    assert (dropped.status, dropped.fault) == (None, "drop")


def test_delay_next_makes_a_client_time_out_then_answers_normally(mock: KeycloakMock) -> None:
    mock.delay_next(30.0, "token")  # far past the client's timeout, however slow the machine
    form = {"client_id": "demobank-cli", "grant_type": "password", "username": "demo"}
    with pytest.raises(requests.ReadTimeout):
        requests.post(mock.token_url, data={**form, "password": "demo"}, timeout=2)
    assert login(mock).status_code == 200


def test_a_request_still_delayed_at_reset_stays_out_of_the_next_log(mock: KeycloakMock) -> None:
    """A test's delayed request that answers after the next test's reset is not in its log."""
    mock.delay_next(3.0, "token")
    answered: list[int] = []
    sender = threading.Thread(target=lambda: answered.append(login(mock).status_code))
    sender.start()
    wait_until(lambda: mock.faults()["faults"] == [], "the delay fault to be taken")
    mock.reset()  # the next test begins while the request sleeps
    sender.join(30)
    assert answered == [200]
    assert mock.requests() == [] and mock.counters() == {}


def test_a_delayed_answer_is_the_normal_answer(mock: KeycloakMock) -> None:
    mock.delay_next(0.2, "token")
    assert login(mock).status_code == 200
    assert login(mock, password="wrong").status_code == 401


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m: m.fail_next("tokn"), "endpoint: unknown 'tokn'"),
        (lambda m: m.fail_next(status=99), "status: must be an HTTP status between 100 and 599"),
        (lambda m: m.fail_next(times=0), "times: must be a positive integer"),
        (lambda m: m.delay_next(-1), "delay: must be between 0 and 300 seconds"),
        (lambda m: m.set_error_rate(1.5), "rate: must be a probability between 0 and 1"),
    ],
)
def test_bad_faults_are_refused_with_the_field_named(
    mock: KeycloakMock, call: object, message: str
) -> None:
    with pytest.raises(MockServerError, match=message):
        call(mock)  # type: ignore[operator]


def test_control_api_and_other_paths_are_never_faulted(mock: KeycloakMock) -> None:
    mock.fail_next("*", times=None)
    assert login(mock).status_code == 503
    assert requests.get(mock.url + "/health", timeout=10).status_code == 503
    assert mock.faults()["faults"][0]["remaining"] is None  # the control API still answers
    mock.clear_faults()


def test_the_next_n_are_exactly_n_under_concurrency(mock: KeycloakMock) -> None:
    mock.fail_next("token", times=3)
    statuses: list[int] = []
    lock = threading.Lock()

    def call() -> None:
        status = login(mock).status_code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=call) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] * 7 + [503] * 3


# -- error rate -------------------------------------------------------------------------------
def test_error_rate_fails_that_share_of_requests(mock: KeycloakMock) -> None:
    mock.set_error_rate(1.0, status=502)
    assert login(mock).status_code == 502
    mock.set_error_rate(0.0)
    assert login(mock).status_code == 200


def test_a_seeded_error_rate_replays_the_same_run(mock: KeycloakMock) -> None:
    mock.set_error_rate(0.5, seed=42, endpoint="certs")
    first = [requests.get(mock.jwks_url, timeout=10).status_code for _ in range(20)]
    mock.set_error_rate(0.5, seed=42, endpoint="certs")
    second = [requests.get(mock.jwks_url, timeout=10).status_code for _ in range(20)]
    assert first == second
    assert set(first) == {200, 503}
    assert mock.faults()["errorRate"]["rate"] == 0.5
    mock.clear_faults()
    assert mock.faults() == {"faults": [], "errorRate": None}


def test_scripted_faults_come_before_the_error_rate(mock: KeycloakMock) -> None:
    mock.set_error_rate(1.0, status=502)
    mock.fail_next("token", status=418)
    assert login(mock).status_code == 418
    assert login(mock).status_code == 502


# -- request log ------------------------------------------------------------------------------
def test_logged_in_once_refreshed_twice(mock: KeycloakMock) -> None:
    body = login(mock).json()
    refresh(mock, body["refresh_token"])
    refresh(mock, body["refresh_token"])
    requests.get(mock.jwks_url, timeout=10)
    assert mock.count(grant_type="password") == 1
    assert mock.count(grant_type="refresh_token", username="demo") == 2
    assert mock.count("certs") == 1
    assert mock.counters() == {"token:password": 1, "token:refresh_token": 2, "certs": 1}
    record = mock.requests(grant_type="refresh_token")[0]
    assert (record.method, record.endpoint, record.realm, record.client_id, record.status) == (
        "POST",
        "token",
        "customer",
        "demobank-cli",
        200,
    )
    assert record.path == "/realms/customer/protocol/openid-connect/token"


def test_failed_and_injected_requests_are_logged_with_their_status(mock: KeycloakMock) -> None:
    login(mock, password="wrong")
    mock.fail_next()
    login(mock)
    login(mock)
    assert [(r.status, r.fault) for r in mock.requests("token")] == [
        (401, None),
        (503, "status"),
        (200, None),
    ]
    assert mock.count(status=503) == 1


def test_the_log_never_holds_a_secret(mock: KeycloakMock) -> None:
    mock.add_realm(
        {
            "realm": "bank3",
            "clients": [{"clientId": "backend", "secret": "client-s3cret"}],
            "users": [
                {"username": "svc", "credentials": [{"type": "password", "value": "pw-S3cret"}]}
            ],
        }
    )
    form = {"grant_type": "password", "username": "svc", "password": "pw-S3cret"}
    body = requests.post(
        mock.urls("bank3").token_url, data=form, auth=("backend", "client-s3cret"), timeout=10
    ).json()
    refresh_form = {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}
    requests.post(
        mock.urls("bank3").token_url,
        data=refresh_form,
        auth=("backend", "client-s3cret"),
        timeout=10,
    )
    records = mock.requests(realm="bank3")
    assert [(r.grant_type, r.client_id, r.username) for r in records] == [
        ("password", "backend", "svc"),
        ("refresh_token", "backend", "svc"),
    ]
    dumped = json.dumps([r.to_json() for r in records]) + repr(records)
    for secret in ("pw-S3cret", "client-s3cret", body["access_token"], body["refresh_token"]):
        assert secret not in dumped
    wire = requests.get(mock.url + "/_mock/requests", timeout=10).text
    for secret in ("pw-S3cret", "client-s3cret", body["refresh_token"]):
        assert secret not in wire


def test_control_calls_are_not_logged_and_clear_empties_the_log(mock: KeycloakMock) -> None:
    login(mock)
    mock.sessions()
    mock.faults()
    assert mock.counters() == {"token:password": 1}
    mock.clear_requests()
    assert mock.requests() == [] and mock.counters() == {}


def test_unknown_log_filter_is_refused(mock: KeycloakMock) -> None:
    with pytest.raises(ControlError) as refused:
        mock.controls.requests(password="x")
    assert type(refused.value) is ControlError
    assert str(refused.value) == (
        "filters: endpoint, grant_type, realm, client_id, username, status, limit"
    )
