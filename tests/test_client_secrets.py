"""Passwords and tokens never show in logs (all loggers at DEBUG), reprs, messages, tracebacks.

One scenario drives every code path that touches a secret (login, refresh, re-login, a 401 and its
resend, logout, refusals, server and transport errors) and collects every token it was given; then
everything a user could print is searched for each of them.
"""

from __future__ import annotations

import dataclasses
import logging
import traceback
from collections.abc import Iterator

import pytest

from demobank_client import AuthError, Settings, TokenManager, TokenSet, authorized_session
from keycloak_mock import MockConfig, MockServer, UserConfig
from keycloak_mock.imitation.passwords import PlainCredential

from .client_support import FakeClock, Wiretap, tap
from .conftest import REALMS_FILE

PASSWORD = "S3cret-Pa55word-do-not-log"
WRONG_PASSWORD = "Wr0ng-Pa55word-do-not-log"
CLIENT_SECRET = "TEST-ONLY-backend-secret"
WRONG_CLIENT_SECRET = "Wr0ng-client-secret-do-not-log"


@pytest.fixture(scope="module")
def tapped_server() -> Iterator[tuple[MockServer, Wiretap]]:
    with MockServer(MockConfig(port=0, config=str(REALMS_FILE))) as server:
        yield server, tap(server)


@pytest.fixture
def server(tapped_server: tuple[MockServer, Wiretap]) -> MockServer:
    server, wiretap = tapped_server
    server.state.reset()
    wiretap.clear()
    alice = UserConfig(username="alice", credential=PlainCredential(PASSWORD))
    server.state.update_realm("customer", lambda realm: realm.with_user(alice))
    return server


def settings(server: MockServer, **changes: object) -> Settings:
    values: dict[str, object] = {
        "base_url": server.url,
        "mandator": "customer",
        "username": "alice",
        "password": PASSWORD,
        "backoff_factor": 0.0,
        **changes,
    }
    return Settings(**values)  # type: ignore[arg-type]


def test_no_secret_in_logs_reprs_messages_or_tracebacks(
    server: MockServer, tapped_server: tuple[MockServer, Wiretap], caplog: pytest.LogCaptureFixture
) -> None:
    wiretap = tapped_server[1]
    issued: list[TokenSet] = []
    errors: list[AuthError] = []
    clock = FakeClock()
    printable: list[str] = []

    with caplog.at_level(logging.DEBUG):
        manager = TokenManager(
            settings(server, scope="openid"), on_token=issued.append, clock=clock
        )
        session = authorized_session(manager)
        assert session.get(f"{server.url}/demobank/accounts").status_code == 200
        clock.advance(880)
        manager.get_tokens()  # refresh
        server.state.clock.advance(901)  # the resource sees an expired token: 401, renew, resend
        assert session.get(f"{server.url}/demobank/accounts").status_code == 200
        session_id = manager.get_tokens().session_state
        assert session_id is not None
        server.state.end_session(session_id)
        clock.advance(880)
        manager.get_tokens()  # refresh refused, logged, then a new login
        printable += [repr(manager), repr(manager.settings), repr(manager.get_tokens())]
        printable += [str(manager.get_tokens()), repr(session.auth)]
        manager.logout()

        confidential = settings(server, client_id="demobank-backend", client_secret=CLIENT_SECRET)
        TokenManager(confidential).login()
        for failing in (
            settings(server, password=WRONG_PASSWORD),
            settings(server, client_id="demobank-backend", client_secret=WRONG_CLIENT_SECRET),
            settings(server, base_url="http://127.0.0.1:9", retries=0),
        ):
            try:
                TokenManager(failing).login()
            except AuthError as error:
                errors.append(error)
        wiretap.fail_next(1, status=503)
        try:
            TokenManager(settings(server, retries=0)).login()
        except AuthError as error:
            errors.append(error)
        with TokenManager(settings(server)) as short_lived:
            short_lived.get_tokens()
            server.state.update_realm(
                "customer", lambda r: dataclasses.replace(r, refresh_token_secret="TEST-ONLY-x")
            )  # logout on exit fails: logged as a warning

    assert [type(e).__name__ for e in errors] == [
        "InvalidCredentials",
        "InvalidClient",
        "TransportError",
        "ServerError",
    ]
    for error in errors:
        printable += [str(error), repr(error), "".join(traceback.format_exception(error))]
        if error.response is not None:
            printable.append(str(error.response.request.body))
            printable.append(repr(vars(error)))
    printable.append(caplog.text)
    assert "logout failed" in caplog.text and "refresh refused" in caplog.text

    tokens = [t for s in issued for t in (s.access_token, s.refresh_token, s.id_token) if t]
    assert len(issued) == 4 and len(tokens) == 12
    secrets = [PASSWORD, WRONG_PASSWORD, CLIENT_SECRET, WRONG_CLIENT_SECRET, *tokens]
    for text in printable:
        for secret in secrets:
            assert secret not in text
        # a token's signature alone must not leak either
        for token in tokens:
            assert token.rsplit(".", 1)[1] not in text
