"""``BearerAuth`` and ``authorized_session`` against the mock's ``/demobank`` stand-in.

The stand-in verifies the bearer token like a resource server (signature, ``iss``, ``typ``,
``exp`` on the mock's clock) and answers 401 with ``WWW-Authenticate`` otherwise.  Moving only the
mock's clock makes a token expire on the server while the client still believes it valid: the
situation a reactive refresh exists for.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from demobank_client import BearerAuth, Settings, TokenManager, authorized_session
from keycloak_mock import MockConfig, MockServer

from .client_support import Wiretap, chunks, run_threads, tap

RESOURCE = "/demobank/api/v2/accounts"


@pytest.fixture(scope="module")
def tapped_server() -> Iterator[tuple[MockServer, Wiretap]]:
    with MockServer(MockConfig(port=0)) as server:
        yield server, tap(server)


@pytest.fixture
def manager(server: MockServer) -> TokenManager:
    settings = Settings(base_url=server.url, mandator="customer", username="demo", password="demo")
    return TokenManager(settings)


@pytest.fixture
def session(manager: TokenManager) -> requests.Session:
    return authorized_session(manager)


def test_every_request_carries_the_bearer_token(
    server: MockServer, session: requests.Session, manager: TokenManager, wiretap: Wiretap
) -> None:
    response = session.get(server.url + RESOURCE, params={"page": "1"})
    assert response.status_code == 200
    assert response.json() == {
        "path": "/api/v2/accounts",
        "method": "GET",
        "subject": manager.get_tokens().claims()["sub"],
        "mandator": "customer",
        "scope": "xs2a_mock:user profile",
    }
    assert response.history == []
    assert [c.authorization for c in wiretap.calls_to(RESOURCE)] == [
        f"Bearer {manager.access_token()}"
    ]


def test_without_the_auth_the_stand_in_refuses(server: MockServer) -> None:
    response = requests.get(server.url + RESOURCE, timeout=10)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_401_on_a_token_expired_server_side_refreshes_and_resends_once(
    server: MockServer, session: requests.Session, manager: TokenManager, wiretap: Wiretap
) -> None:
    stale = manager.access_token()
    server.state.clock.advance(901)  # expired for the mock; the client's clock did not move
    response = session.post(server.url + RESOURCE, json={"amount": 1})
    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [401]
    challenge = response.history[0].headers["WWW-Authenticate"]
    assert 'error="invalid_token"' in challenge
    assert wiretap.grants() == ["password", "refresh_token"]
    calls = wiretap.calls_to(RESOURCE)
    assert [c.authorization for c in calls] == [
        f"Bearer {stale}",
        f"Bearer {manager.access_token()}",
    ]
    assert calls[0].body == calls[1].body == b'{"amount": 1}'
    assert response.request.headers["Authorization"] == f"Bearer {manager.access_token()}"


def test_401_after_the_session_ended_logs_in_again(
    server: MockServer, session: requests.Session, manager: TokenManager, wiretap: Wiretap
) -> None:
    first = manager.get_tokens()
    assert first.session_state is not None
    server.state.end_session(first.session_state)
    server.state.clock.advance(901)
    response = session.get(server.url + RESOURCE)
    assert response.status_code == 200
    assert wiretap.grants() == ["password", "refresh_token", "password"]
    assert manager.get_tokens().session_state != first.session_state


def test_a_persistent_401_is_returned_after_one_resend(
    server: MockServer, session: requests.Session, wiretap: Wiretap
) -> None:
    wiretap.fail_next(
        10, status=401, path=RESOURCE, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
    )
    response = session.get(server.url + RESOURCE)
    assert response.status_code == 401
    assert [r.status_code for r in response.history] == [401]
    assert len(wiretap.calls_to(RESOURCE)) == 2
    assert wiretap.grants() == ["password", "refresh_token"]
    again = session.get(server.url + RESOURCE)  # each request renews at most once
    assert again.status_code == 401
    assert len(wiretap.calls_to(RESOURCE)) == 4


def _file_body() -> Any:
    stream = io.BytesIO(b"skip:file body")
    stream.seek(5)  # the body starts where the caller left the stream
    return stream


@pytest.mark.parametrize(
    ("kwargs", "sent"),
    [
        ({"data": b"raw bytes"}, b"raw bytes"),
        ({"data": "text"}, b"text"),
        ({"data": {"a": "1", "b": "2"}}, b"a=1&b=2"),
        ({"json": {"x": [1, 2]}}, b'{"x": [1, 2]}'),
        ({"data": "file"}, b"file body"),
        ({}, b""),
    ],
)
def test_the_resent_request_has_the_same_body(
    server: MockServer,
    session: requests.Session,
    wiretap: Wiretap,
    kwargs: dict[str, Any],
    sent: bytes,
) -> None:
    if kwargs.get("data") == "file":
        kwargs = {"data": _file_body()}
    wiretap.fail_next(1, status=401, path=RESOURCE)
    response = session.put(server.url + RESOURCE, **kwargs)
    assert response.status_code == 200
    assert [c.body for c in wiretap.calls_to(RESOURCE)] == [sent, sent]


def test_a_body_that_cannot_be_rewound_is_not_resent(
    server: MockServer, session: requests.Session, wiretap: Wiretap
) -> None:
    wiretap.fail_next(1, status=401, path=RESOURCE)
    response = session.post(server.url + RESOURCE, data=chunks(b"streamed once"))
    assert response.status_code == 401
    assert response.history == []
    assert [c.body for c in wiretap.calls_to(RESOURCE)] == [b"streamed once"]
    assert wiretap.grants() == ["password"]


def test_other_response_hooks_see_the_final_response(
    server: MockServer, session: requests.Session, wiretap: Wiretap
) -> None:
    seen: list[int] = []
    session.hooks["response"].append(lambda r, **_: seen.append(r.status_code))
    wiretap.fail_next(1, status=401, path=RESOURCE)
    assert session.get(server.url + RESOURCE).status_code == 200
    assert seen == [200]


def test_non_401_errors_are_passed_through_without_renewal(
    server: MockServer, session: requests.Session, wiretap: Wiretap
) -> None:
    wiretap.fail_next(1, status=403, path=RESOURCE)
    assert session.get(server.url + RESOURCE).status_code == 403
    assert wiretap.grants() == ["password"]


def test_fifty_threads_meeting_the_same_401_cause_one_refresh(
    server: MockServer, manager: TokenManager, wiretap: Wiretap
) -> None:
    manager.get_tokens()
    server.state.clock.advance(901)

    def call() -> int:
        with authorized_session(manager) as own:  # one session per thread, one shared manager
            return own.get(server.url + RESOURCE).status_code

    assert run_threads(50, call) == [200] * 50
    assert wiretap.grants() == ["password", "refresh_token"]


def test_bearer_auth_works_on_a_plain_session(server: MockServer, manager: TokenManager) -> None:
    response = requests.get(server.url + RESOURCE, auth=BearerAuth(manager), timeout=10)
    assert response.status_code == 200


def test_authorized_session_gives_requests_a_default_timeout(
    server: MockServer, manager: TokenManager, wiretap: Wiretap
) -> None:
    manager.get_tokens()
    wiretap.hold_next(1, path=RESOURCE)
    with pytest.raises(requests.Timeout):
        authorized_session(manager, timeout=2).get(server.url + RESOURCE)
