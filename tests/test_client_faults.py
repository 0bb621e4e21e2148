"""Network faults between the client and the mock: 5xx, timeouts, refused and dropped connections.

Faults are injected in front of the real mock (``Wiretap`` answers a request itself or delays it;
``DroppingProxy`` hangs up on a connection), so what recovers is the real exchange afterwards.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import requests

from demobank_client import (
    AuthError,
    OAuthError,
    ServerError,
    Settings,
    TokenManager,
    TransportError,
)
from demobank_client.transport import RETRY_AFTER_MAX, retry_policy
from keycloak_mock import MockConfig, MockServer

from .client_support import DroppingProxy, Wiretap, tap


@pytest.fixture(scope="module")
def tapped_server() -> Iterator[tuple[MockServer, Wiretap]]:
    with MockServer(MockConfig(port=0)) as server:
        yield server, tap(server)


def make_manager(base_url: str, **changes: object) -> TokenManager:
    values: dict[str, object] = {
        "base_url": base_url,
        "mandator": "customer",
        "username": "demo",
        "password": "demo",
        "backoff_factor": 0.01,
        **changes,
    }
    return TokenManager(Settings(**values))  # type: ignore[arg-type]


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_errors_are_retried_until_keycloak_answers(
    server: MockServer, wiretap: Wiretap, status: int
) -> None:
    wiretap.fail_next(2, status=status)
    tokens = make_manager(server.url).login()
    assert tokens.session_state in server.state.sessions
    assert wiretap.grants() == ["password"] * 3


def test_retries_are_bounded_and_end_in_server_error(server: MockServer, wiretap: Wiretap) -> None:
    wiretap.fail_next(10, status=503, body=b"<html>maintenance</html>")
    with pytest.raises(ServerError) as caught:
        make_manager(server.url, retries=2).login()
    assert wiretap.grants() == ["password"] * 3
    error = caught.value
    assert error.status == 503
    assert error.response is not None and error.response.text == "<html>maintenance</html>"
    assert str(error).startswith("Keycloak answered HTTP 503 at http://127.0.0.1:")


def test_a_refresh_is_retried_too(server: MockServer, wiretap: Wiretap) -> None:
    manager = make_manager(server.url)
    first = manager.login()
    wiretap.fail_next(1, status=503)
    assert manager.refresh().session_state == first.session_state
    assert wiretap.grants() == ["password", "refresh_token", "refresh_token"]


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, OAuthError),
        (401, OAuthError),
        (403, OAuthError),
        (429, OAuthError),
        (500, ServerError),
    ],
)
def test_other_errors_are_never_retried(
    server: MockServer, wiretap: Wiretap, status: int, error_class: type[AuthError]
) -> None:
    body = b'{"error":"invalid_request","error_description":"injected"}'
    wiretap.fail_next(5, status=status, body=body, headers={"Content-Type": "application/json"})
    with pytest.raises(AuthError) as caught:
        make_manager(server.url).login()
    assert type(caught.value) is error_class
    assert str(caught.value) == f"injected (invalid_request, HTTP {status})"
    assert (caught.value.status, caught.value.error) == (status, "invalid_request")
    assert wiretap.grants() == ["password"]


def test_a_slow_answer_times_out(server: MockServer, wiretap: Wiretap) -> None:
    wiretap.hold_next(1)
    with pytest.raises(TransportError, match="timed out") as caught:
        make_manager(server.url, timeout=2, retries=0).login()
    # requests reports a read timeout that exhausted urllib3's retries as a ConnectionError.
    assert isinstance(caught.value.__cause__, requests.RequestException)
    assert caught.value.response is None


def test_a_timed_out_attempt_is_retried(server: MockServer, wiretap: Wiretap) -> None:
    wiretap.hold_next(1)
    # The first attempt waits out its timeout; the retry needs an answer within it, so the
    # timeout is generous for a busy machine.
    tokens = make_manager(server.url, timeout=10, retries=1).login()
    assert tokens.access_token
    assert wiretap.grants() == ["password", "password"]


def test_a_dropped_connection_is_retried(server: MockServer, wiretap: Wiretap) -> None:
    with DroppingProxy(server.port, drop=2) as proxy:
        manager = make_manager(proxy.url)
        tokens = manager.login()
        manager.close()
        assert proxy.accepted == 3
    assert tokens.claims()["iss"] == f"{proxy.url}/realms/customer"
    assert wiretap.grants() == ["password"]  # the dropped attempts never reached Keycloak


def test_connection_refused_ends_in_transport_error_after_the_retries() -> None:
    with socket.create_server(("127.0.0.1", 0)) as reserved:
        port = reserved.getsockname()[1]
    # The port is free again now and nobody listens on it.
    with pytest.raises(TransportError, match=f"^no answer from http://127.0.0.1:{port}/") as caught:
        make_manager(f"http://127.0.0.1:{port}", retries=2).login()
    assert isinstance(caught.value.__cause__, requests.ConnectionError)
    assert "Connection refused" in str(caught.value)


def test_retry_policy_allows_post_and_caps_retry_after() -> None:
    settings = Settings(mandator="m", username="u", password="p", retries=4)
    policy = retry_policy(settings)
    assert policy.is_retry("POST", 503)
    assert not policy.is_retry("POST", 429)
    assert (policy.total, policy.connect, policy.read, policy.status) == (4, 4, 4, 4)
    assert policy.parse_retry_after("3600") == RETRY_AFTER_MAX
    assert policy.parse_retry_after("2") == 2
