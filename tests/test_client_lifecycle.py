"""The token manager against the real mock over loopback: login, refresh, re-login, threads, logout.

Time is moved on both sides: the mock's clock (``state.clock``) and the manager's monotonic clock
(a ``FakeClock`` handed to it).  The ``Wiretap`` in front of the mock counts what actually arrived.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator

import jwt
import pytest

from demobank_client import (
    AccountDisabled,
    AccountNotFullySetUp,
    AuthError,
    InvalidClient,
    InvalidCredentials,
    OAuthError,
    Settings,
    TokenManager,
    TokenSet,
    UnexpectedResponse,
    UnknownMandator,
)
from keycloak_mock import MockConfig, MockServer

from .client_support import TOKEN_PATH, FakeClock, Wiretap, advance_both, run_threads, tap
from .conftest import REALMS_FILE

LOGOUT_PATH = "/realms/customer/protocol/openid-connect/logout"


@pytest.fixture(scope="module")
def tapped_server() -> Iterator[tuple[MockServer, Wiretap]]:
    with MockServer(MockConfig(port=0, config=str(REALMS_FILE))) as server:
        yield server, tap(server)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_manager(
    server: MockServer, clock: FakeClock | None = None, **changes: object
) -> TokenManager:
    values: dict[str, object] = {
        "base_url": server.url,
        "mandator": "customer",
        "username": "demo",
        "password": "demo",
        **changes,
    }
    settings = Settings(**values)  # type: ignore[arg-type]
    return TokenManager(settings, clock=clock) if clock else TokenManager(settings)


# -- first login ------------------------------------------------------------------------------
def test_first_use_logs_in_once_and_reuses_the_token(server: MockServer, wiretap: Wiretap) -> None:
    manager = make_manager(server)
    assert manager.tokens is None
    tokens = manager.get_tokens()
    assert manager.access_token() == tokens.access_token
    assert manager.get_tokens() is tokens
    assert wiretap.grants() == ["password"]
    assert tokens.token_type == "Bearer"
    assert (tokens.expires_in, tokens.refresh_expires_in) == (900, 1800)
    assert tokens.scope == "xs2a_mock:user profile"
    assert tokens.mandator_name == "finAPI Demobank"
    assert tokens.session_state in server.state.sessions
    claims = tokens.claims()
    assert (claims["preferred_username"], claims["azp"], claims["sid"]) == (
        "demo",
        "demobank-cli",
        tokens.session_state,
    )


@pytest.mark.parametrize(
    ("mandator", "username", "password", "test_mandator", "technical_user"),
    [
        ("customer", "demo", "demo", False, False),
        ("customer", "tech-user", "tech-password", False, True),
        ("sandbox-mandator", "sandbox", "sandbox", True, False),
        ("sandbox-mandator", "sandbox-robot", "robot-password", True, True),
    ],
)
def test_finapi_flags_as_strings_and_booleans(
    server: MockServer,
    mandator: str,
    username: str,
    password: str,
    test_mandator: bool,
    technical_user: bool,
) -> None:
    tokens = make_manager(server, mandator=mandator, username=username, password=password).login()
    assert tokens.is_test_mandator == str(test_mandator).lower()
    assert tokens.is_technical_user == str(technical_user).lower()
    assert (tokens.test_mandator, tokens.technical_user) == (test_mandator, technical_user)


def test_verify_checks_signature_issuer_and_audience_against_the_jwks(server: MockServer) -> None:
    manager = make_manager(server)
    claims = manager.verify()
    assert claims["iss"] == f"{server.url}/realms/customer"
    assert manager.verify(audience="account")["sub"] == claims["sub"]
    with pytest.raises(jwt.InvalidAudienceError):
        manager.verify(audience="somebody-else")
    tampered = dataclasses.replace(
        manager.get_tokens(), access_token=_tamper(manager.access_token())
    )
    with pytest.raises(jwt.InvalidSignatureError):
        manager.verify(tampered)


def test_verify_refuses_a_token_of_another_issuer(server: MockServer) -> None:
    via_localhost = make_manager(server, base_url=server.url.replace("127.0.0.1", "localhost"))
    foreign = via_localhost.get_tokens()
    with pytest.raises(jwt.InvalidIssuerError):
        make_manager(server).verify(foreign)


def test_openid_scope_adds_an_id_token(server: MockServer) -> None:
    tokens = make_manager(server, scope="openid").login()
    id_claims = tokens.id_claims()
    assert id_claims is not None
    assert (id_claims["typ"], id_claims["aud"]) == ("ID", "demobank-cli")
    assert tokens.scope is not None and tokens.scope.split()[0] == "openid"


def test_confidential_client_sends_its_secret(server: MockServer) -> None:
    manager = make_manager(
        server, client_id="demobank-backend", client_secret="TEST-ONLY-backend-secret"
    )
    assert manager.login().claims()["azp"] == "demobank-backend"
    with pytest.raises(InvalidClient):
        make_manager(server, client_id="demobank-backend", client_secret="wrong").login()


# -- errors -----------------------------------------------------------------------------------
BAD_CLIENT = "Invalid client or Invalid client credentials"
BAD_USER = "Invalid user credentials"
NO_DIRECT_GRANTS = "Client not allowed for direct access grants"


@pytest.mark.parametrize(
    ("changes", "expected", "error", "description", "status"),
    [
        ({"password": "wrong"}, InvalidCredentials, "invalid_grant", BAD_USER, 401),
        ({"username": "nobody"}, InvalidCredentials, "invalid_grant", BAD_USER, 401),
        (
            {"username": "disabled-user", "password": "disabled-password"},
            AccountDisabled, "invalid_grant", "Account disabled", 400,
        ),
        (
            {"username": "new-user", "password": "initial-password"},
            AccountNotFullySetUp, "invalid_grant", "Account is not fully set up", 400,
        ),
        ({"client_id": "unknown-client"}, InvalidClient, "invalid_client", BAD_CLIENT, 401),
        ({"client_id": "demobank-backend"}, InvalidClient, "unauthorized_client", BAD_CLIENT, 401),
        (
            {"client_id": "no-direct-grants"},
            InvalidClient, "unauthorized_client", NO_DIRECT_GRANTS, 400,
        ),
        ({"scope": "bogus"}, OAuthError, "invalid_scope", "Invalid scopes: bogus", 400),
        ({"mandator": "no-such-mandator"}, UnknownMandator, "Realm does not exist", None, 404),
    ],
)  # fmt: skip
def test_refusals_raise_the_matching_error(
    server: MockServer,
    changes: dict[str, str],
    expected: type[AuthError],
    error: str,
    description: str | None,
    status: int,
) -> None:
    with pytest.raises(expected) as caught:
        make_manager(server, **changes).get_tokens()
    refusal = caught.value
    assert type(refusal) is expected
    assert (refusal.error, refusal.error_description, refusal.status) == (
        error,
        description,
        status,
    )
    assert refusal.response is not None and refusal.response.status_code == status
    assert refusal.response.json()["error"] == error
    assert "password=%5Bredacted%5D" in str(refusal.response.request.body)


def test_a_wrong_base_url_is_an_unexpected_response(server: MockServer) -> None:
    with pytest.raises(UnexpectedResponse, match="is the Keycloak base URL right"):
        make_manager(server, base_url=f"{server.url}/auth").login()


# -- proactive refresh --------------------------------------------------------------------------
def test_refreshes_within_the_leeway_before_expiry(
    server: MockServer, wiretap: Wiretap, clock: FakeClock
) -> None:
    manager = make_manager(server, clock)
    first = manager.get_tokens()
    advance_both(server, clock, 869)  # 31 s left: still good
    assert manager.get_tokens() is first
    advance_both(server, clock, 1)  # 30 s left: inside the default leeway
    second = manager.get_tokens()
    assert wiretap.grants() == ["password", "refresh_token"]
    assert second.access_token != first.access_token
    assert second.refresh_token != first.refresh_token
    assert second.session_state == first.session_state
    assert second.expires_at == clock.now + 900
    assert second.claims()["sid"] == first.session_state


def test_a_two_second_token_is_used_then_refreshed(clock: FakeClock) -> None:
    with MockServer(MockConfig(port=0, access_token_lifespan=2, refresh_token_lifespan=4)) as short:
        manager = make_manager(short, clock)
        first = manager.get_tokens()
        assert first.expires_in == 2
        clock.advance(1.4)  # leeway capped at 0.5 s: still used
        assert manager.get_tokens() is first
        clock.advance(0.2)
        assert manager.get_tokens().access_token != first.access_token


def test_short_lifespans_in_real_time() -> None:
    """No fake clock: a 1 s token and 2 s session die while we wait; the manager logs in again."""
    with MockServer(MockConfig(port=0, access_token_lifespan=1, refresh_token_lifespan=2)) as short:
        recorder = tap(short)
        manager = make_manager(short)
        first = manager.get_tokens()
        time.sleep(2.1)
        second = manager.get_tokens()
        assert recorder.grants() == ["password", "password"]
        assert second.session_state != first.session_state


# -- re-login -----------------------------------------------------------------------------------
def test_logs_in_again_when_the_refresh_token_has_expired(
    server: MockServer, wiretap: Wiretap, clock: FakeClock
) -> None:
    manager = make_manager(server, clock)
    first = manager.get_tokens()
    advance_both(server, clock, 1800)
    second = manager.get_tokens()
    assert wiretap.grants() == ["password", "password"]  # no refresh attempt that must fail
    assert second.session_state != first.session_state


def _end_session(server: MockServer, tokens: TokenSet) -> None:
    assert tokens.session_state is not None
    assert server.state.end_session(tokens.session_state)


def _expire_on_server_only(server: MockServer, tokens: TokenSet) -> None:
    server.state.clock.advance(1801)


def _rotate_refresh_secret(server: MockServer, tokens: TokenSet) -> None:
    server.state.update_realm(
        "customer",
        lambda realm: dataclasses.replace(realm, refresh_token_secret="TEST-ONLY-rotated"),
    )


@pytest.mark.parametrize(
    ("kill", "reason"),
    [
        (_end_session, "Session not active"),
        (_expire_on_server_only, "Token is not active"),
        (_rotate_refresh_secret, "Invalid refresh token"),
    ],
)
def test_logs_in_again_when_keycloak_refuses_the_refresh(
    server: MockServer,
    wiretap: Wiretap,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    kill: object,
    reason: str,
) -> None:
    manager = make_manager(server, clock)
    first = manager.get_tokens()
    kill(server, first)  # type: ignore[operator]
    clock.advance(880)  # the client believes the refresh token is good for another 920 s
    with caplog.at_level("INFO", logger="demobank_client"):
        second = manager.get_tokens()
    assert wiretap.grants() == ["password", "refresh_token", "password"]
    assert second.session_state != first.session_state
    assert second.session_state in server.state.sessions
    assert f"refresh refused ({reason}); logging in again" in caplog.text


def test_a_user_disabled_since_login_gets_account_disabled(
    server: MockServer, wiretap: Wiretap, clock: FakeClock
) -> None:
    manager = make_manager(server, clock, username="tech-user", password="tech-password")
    manager.get_tokens()
    realm = server.state.realm("customer")
    assert realm is not None
    user = realm.find_user("tech-user")
    assert user is not None
    server.state.update_realm(
        "customer", lambda r: r.with_user(dataclasses.replace(user, enabled=False))
    )
    clock.advance(880)
    with pytest.raises(AccountDisabled):
        manager.get_tokens()
    assert wiretap.grants() == ["password", "refresh_token", "password"]


def test_explicit_refresh_and_login(server: MockServer, wiretap: Wiretap) -> None:
    manager = make_manager(server)
    assert manager.refresh().session_state is not None  # nothing to refresh yet: logs in
    first = manager.tokens
    assert first is not None
    assert manager.refresh().session_state == first.session_state
    assert manager.login().session_state != first.session_state
    assert wiretap.grants() == ["password", "refresh_token", "password"]


# -- one request for many threads ---------------------------------------------------------------
THREADS = 50


def test_fifty_threads_cause_one_login(server: MockServer, wiretap: Wiretap) -> None:
    manager = make_manager(server)
    tokens = run_threads(THREADS, manager.access_token)
    assert wiretap.grants() == ["password"]
    assert set(tokens) == {manager.access_token()}


def test_fifty_threads_on_an_expired_token_cause_one_refresh(
    server: MockServer, wiretap: Wiretap, clock: FakeClock
) -> None:
    manager = make_manager(server, clock)
    first = manager.get_tokens()
    advance_both(server, clock, 900)
    tokens = run_threads(THREADS, manager.access_token)
    assert wiretap.grants() == ["password", "refresh_token"]
    assert set(tokens) == {manager.access_token()} != {first.access_token}


def test_fifty_threads_renewing_the_same_rejected_token_cause_one_refresh(
    server: MockServer, wiretap: Wiretap
) -> None:
    manager = make_manager(server)
    rejected = manager.access_token()
    renewed = run_threads(THREADS, lambda: manager.renew(rejected).access_token)
    assert wiretap.grants() == ["password", "refresh_token"]
    assert set(renewed) == {manager.access_token()} != {rejected}


# -- callbacks and persistence -------------------------------------------------------------------
def test_on_token_sees_every_new_token_set_in_order(server: MockServer, clock: FakeClock) -> None:
    seen: list[TokenSet] = []
    manager = TokenManager(
        Settings(base_url=server.url, mandator="customer", username="demo", password="demo"),
        on_token=seen.append,
        clock=clock,
    )
    first = manager.get_tokens()
    advance_both(server, clock, 880)
    second = manager.get_tokens()
    advance_both(server, clock, 1800)
    third = manager.get_tokens()
    assert seen == [first, second, third]


def test_a_persisted_response_resumes_without_a_login(server: MockServer, wiretap: Wiretap) -> None:
    stored: list[str] = []

    def persist(tokens: TokenSet) -> None:
        stored.append(json.dumps({"response": dict(tokens.raw), "at": tokens.received_at_epoch}))

    first = TokenManager(make_manager(server).settings, on_token=persist)
    first.get_tokens()
    saved = json.loads(stored[-1])
    resumed = TokenManager(first.settings, tokens=TokenSet.restore(saved["response"], saved["at"]))
    assert resumed.access_token() == first.access_token()
    assert resumed.refresh().session_state == first.get_tokens().session_state
    assert wiretap.grants() == ["password", "refresh_token"]


# -- logout -------------------------------------------------------------------------------------
def test_logout_ends_the_session_and_forgets_the_tokens(
    server: MockServer, wiretap: Wiretap
) -> None:
    manager = make_manager(server)
    session_id = manager.get_tokens().session_state
    manager.logout()
    assert manager.tokens is None
    assert session_id not in server.state.sessions
    assert wiretap.paths().count(LOGOUT_PATH) == 1
    manager.logout()  # nothing left to end: no request
    assert wiretap.paths().count(LOGOUT_PATH) == 1
    assert manager.get_tokens().session_state != session_id  # usable again: logs in anew


def test_context_manager_logs_out_on_exit(server: MockServer) -> None:
    with make_manager(server) as manager:
        session_id = manager.get_tokens().session_state
        assert session_id in server.state.sessions
    assert session_id not in server.state.sessions


def test_context_manager_does_not_hide_the_callers_exception_when_logout_fails(
    server: MockServer, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(KeyError), make_manager(server) as manager:
        manager.get_tokens()
        server.state.update_realm(
            "customer", lambda r: dataclasses.replace(r, refresh_token_secret="TEST-ONLY-rotated")
        )
        raise KeyError("the caller's own error")
    assert "logout failed: Invalid refresh token (invalid_grant, HTTP 400)" in caplog.text


def _tamper(token: str) -> str:
    header, _, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    claims["preferred_username"] = "admin"
    forged = jwt.api_jws.base64url_encode(
        json.dumps(claims, separators=(",", ":")).encode()
    ).decode()
    return f"{header}.{forged}.{signature}"


def test_login_rejects_a_token_response_without_access_token(
    server: MockServer, wiretap: Wiretap
) -> None:
    body = json.dumps({"token_type": "Bearer"}).encode()
    wiretap.fail_next(1, status=200, body=body, headers={"Content-Type": "application/json"})
    with pytest.raises(UnexpectedResponse, match="no access_token"):
        make_manager(server).login()
    assert TOKEN_PATH in wiretap.paths()
