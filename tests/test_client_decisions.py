"""The client's pure decisions and values, without sockets: deadlines, leeway, error meaning."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from demobank_client import (
    AccountDisabled,
    AccountNotFullySetUp,
    ConfigurationError,
    InvalidClient,
    InvalidCredentials,
    InvalidGrant,
    OAuthError,
    ServerError,
    Settings,
    TokenSet,
    UnexpectedResponse,
    UnknownMandator,
)
from demobank_client.decisions import (
    Action,
    after_rejection,
    effective_leeway,
    error_class,
    error_fields,
    next_action,
    renewal,
    should_login_again,
)
from demobank_client.errors import redact_form
from demobank_client.tokens import parse_flag

T0 = 1000.0  # the fake monotonic clock's reading when the response was sent

FINAPI_RESPONSE: dict[str, Any] = {
    "access_token": "header.payload.signature",
    "expires_in": 900,
    "refresh_expires_in": 1800,
    "refresh_token": "refresh.payload.signature",
    "token_type": "Bearer",
    "not-before-policy": 0,
    "session_state": "4a273b32-cc81-bbb3-bbc3-636d2c0d759d",
    "scope": "xs2a_mock:user profile",
    "mandator_name": "finAPI Demobank",
    "mandator_uuid": "044ab580-5d4e-4f6b-9a2c-991e324704b7",
    "is_test_mandator": "false",
    "is_technical_user": "true",
}


def token_set(
    expires_in: int = 900, refresh_expires_in: int | None = 1800, **changes: Any
) -> TokenSet:
    body = dict(FINAPI_RESPONSE, expires_in=expires_in, **changes)
    if refresh_expires_in is None:
        del body["refresh_token"], body["refresh_expires_in"]
    else:
        body["refresh_expires_in"] = refresh_expires_in
    return TokenSet.from_response(body, sent_at=T0, sent_at_epoch=1_700_000_000.0)


# -- TokenSet ---------------------------------------------------------------------------------
def test_token_set_keeps_every_documented_field_and_computes_deadlines_from_sending() -> None:
    tokens = token_set()
    assert tokens.access_token == "header.payload.signature"
    assert tokens.refresh_token == "refresh.payload.signature"
    assert (tokens.token_type, tokens.expires_in) == ("Bearer", 900)
    assert tokens.refresh_expires_in == 1800
    assert (tokens.expires_at, tokens.refresh_expires_at) == (T0 + 900, T0 + 1800)
    assert tokens.expires_at_epoch == 1_700_000_900.0
    assert tokens.not_before_policy == 0
    assert tokens.session_state == "4a273b32-cc81-bbb3-bbc3-636d2c0d759d"
    assert tokens.scope == "xs2a_mock:user profile"
    assert (tokens.mandator_name, tokens.mandator_uuid) == (
        "finAPI Demobank",
        "044ab580-5d4e-4f6b-9a2c-991e324704b7",
    )
    assert (tokens.is_test_mandator, tokens.is_technical_user) == ("false", "true")
    assert (tokens.test_mandator, tokens.technical_user) == (False, True)
    assert list(tokens.raw) == list(FINAPI_RESPONSE)
    assert tokens.authorization == "Bearer header.payload.signature"


def test_token_set_is_immutable() -> None:
    tokens = token_set()
    with pytest.raises(dataclasses.FrozenInstanceError):
        tokens.access_token = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        tokens.raw["access_token"] = "other"  # type: ignore[index]


def test_token_set_repr_hides_the_tokens() -> None:
    text = repr(token_set(id_token="id.payload.signature"))
    for secret in ("header.payload.signature", "refresh.payload.signature", "id.payload.signature"):
        assert secret not in text
    assert "expires_in=900" in text


@pytest.mark.parametrize(
    ("now", "leeway", "expired"),
    [
        (T0, 0, False),
        (T0 + 899.9, 0, False),
        (T0 + 900, 0, True),
        (T0 + 869.9, 30, False),
        (T0 + 870, 30, True),
        (T0 + 5000, 0, True),
    ],
)
def test_is_expired(now: float, leeway: float, expired: bool) -> None:
    assert token_set().is_expired(leeway, now=now) is expired


def test_refresh_keeps_the_old_refresh_token_when_none_is_sent() -> None:
    old = token_set()
    body = {"access_token": "new.access.token", "expires_in": 300, "token_type": "Bearer"}
    new = TokenSet.from_response(body, sent_at=T0 + 100, previous=old)
    assert new.access_token == "new.access.token"
    assert new.expires_at == T0 + 400
    assert new.refresh_token == old.refresh_token
    assert new.refresh_expires_at == old.refresh_expires_at


def test_zero_refresh_expires_in_means_no_known_deadline() -> None:
    tokens = token_set(refresh_expires_in=0)
    assert tokens.refresh_expires_at is None
    assert not tokens.refresh_is_expired(now=T0 + 10**9)


def test_restore_moves_a_persisted_response_onto_this_process_clock() -> None:
    tokens = TokenSet.restore(
        FINAPI_RESPONSE, 1_700_000_000.0, clock=lambda: 50.0, wall_clock=lambda: 1_700_000_600.0
    )
    assert tokens.expires_at == pytest.approx(50.0 - 600 + 900)
    assert tokens.received_at_epoch == 1_700_000_000.0


@pytest.mark.parametrize(
    "body",
    [
        [],
        "token",
        {},
        {"access_token": "", "expires_in": 1},
        {"access_token": 5, "expires_in": 1},
        {"access_token": "a.b.c"},
        {"access_token": "a.b.c", "expires_in": "900"},
        {"access_token": "a.b.c", "expires_in": True},
        {"access_token": "a.b.c", "expires_in": -1},
        {"access_token": "a.b.c", "expires_in": 9, "refresh_expires_in": "1800"},
        {"access_token": "a.b.c", "expires_in": 9, "refresh_token": 7},
        {"access_token": "a.b.c", "expires_in": 9, "is_test_mandator": False},
    ],
)
def test_what_is_not_a_token_response(body: Any) -> None:
    with pytest.raises(UnexpectedResponse):
        TokenSet.from_response(body, sent_at=T0)


def test_claims_of_a_token_that_is_not_a_jwt_is_an_unexpected_response() -> None:
    with pytest.raises(UnexpectedResponse) as caught:
        token_set().claims()
    assert "header.payload.signature" not in str(caught.value)
    assert token_set().id_claims() is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", True),
        ("false", False),
        ("TRUE", True),
        (" False ", False),
        ("yes", None),
        (None, None),
    ],
)
def test_parse_flag(value: str | None, expected: bool | None) -> None:
    assert parse_flag(value) is expected


# -- when to renew ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("leeway", "lifetime", "expected"),
    [
        (30, 900, 30),  # finAPI's 15-minute token: the full leeway
        (30, 60, 15),  # a minute: a quarter of it
        (30, 2, 0.5),  # a 2 s test token is still used for 1.5 s
        (30, 0, 0),
        (0, 900, 0),
        (-5, 900, 0),
    ],
)
def test_effective_leeway_is_capped_for_short_lifetimes(
    leeway: float, lifetime: float, expected: float
) -> None:
    assert effective_leeway(leeway, lifetime) == expected


@pytest.mark.parametrize(
    ("expires_in", "refresh_expires_in", "elapsed", "expected"),
    [
        (900, 1800, 0, Action.USE),
        (900, 1800, 869, Action.USE),
        (900, 1800, 870, Action.REFRESH),  # within the 30 s leeway
        (900, 1800, 1000, Action.REFRESH),
        (900, 1800, 1769, Action.REFRESH),
        (900, 1800, 1770, Action.LOGIN),  # the refresh token is within its leeway too
        (900, 1800, 5000, Action.LOGIN),
        (900, None, 900, Action.LOGIN),  # no refresh token at all
        (900, 0, 10**6, Action.REFRESH),  # refresh token without a deadline
        (2, 4, 1.4, Action.USE),  # a 2 s token works: leeway capped to 0.5 s
        (2, 4, 1.5, Action.REFRESH),
        (2, 4, 3.0, Action.LOGIN),  # refresh leeway capped to 1 s
    ],
)
def test_next_action(
    expires_in: int, refresh_expires_in: int | None, elapsed: float, expected: Action
) -> None:
    tokens = token_set(expires_in=expires_in, refresh_expires_in=refresh_expires_in)
    assert next_action(tokens, T0 + elapsed, leeway=30) is expected


def test_no_tokens_means_login() -> None:
    assert next_action(None, T0, 30) is Action.LOGIN
    assert renewal(None, T0, 30) is Action.LOGIN
    assert after_rejection(None, "whatever", T0, 30) is Action.LOGIN


def test_renewal_refreshes_a_still_valid_access_token_on_request() -> None:
    assert renewal(token_set(), T0, 30) is Action.REFRESH


@pytest.mark.parametrize(
    ("rejected", "elapsed", "expected"),
    [
        ("header.payload.signature", 0, Action.REFRESH),  # our current token was refused
        ("header.payload.signature", 1790, Action.LOGIN),  # ... and the refresh token is dead
        ("an.older.token", 0, Action.USE),  # another thread already replaced it
        ("an.older.token", 880, Action.REFRESH),  # replaced, but that one is due as well
    ],
)
def test_after_rejection(rejected: str, elapsed: float, expected: Action) -> None:
    assert after_rejection(token_set(), rejected, T0 + elapsed, 30) is expected


# -- what an error answer means ---------------------------------------------------------------
PW, RT, GRANT = "password", "refresh_token", "invalid_grant"
BAD_CLIENT = "Invalid client or Invalid client credentials"
NO_DIRECT_GRANTS = "Client not allowed for direct access grants"


def oauth(error: str, description: str | None = None) -> dict[str, str]:
    body = {"error": error}
    if description is not None:
        body["error_description"] = description
    return body


@pytest.mark.parametrize(
    ("status", "body", "grant", "expected"),
    [
        # password grant; Keycloak <= 26.5 says 401 and 26.6+ 400 for the same credentials error
        (401, oauth(GRANT, "Invalid user credentials"), PW, InvalidCredentials),
        (400, oauth(GRANT, "Invalid user credentials"), PW, InvalidCredentials),
        (400, oauth(GRANT, "Account disabled"), PW, AccountDisabled),
        (400, oauth(GRANT, "Account is not fully set up"), PW, AccountNotFullySetUp),
        (400, oauth(GRANT, "something new"), PW, InvalidCredentials),
        (401, oauth("invalid_client", BAD_CLIENT), PW, InvalidClient),
        (401, oauth("unauthorized_client", BAD_CLIENT), PW, InvalidClient),
        (400, oauth("unauthorized_client", NO_DIRECT_GRANTS), PW, InvalidClient),
        (400, oauth("invalid_client", "Client requires user consent"), PW, InvalidClient),
        (400, oauth("invalid_scope", "Invalid scopes: bogus"), PW, OAuthError),
        (403, oauth("access_denied", "Realm not enabled"), PW, OAuthError),
        (401, oauth("invalid_request", "Missing parameter: username"), PW, OAuthError),
        # refresh grant: every invalid_grant means "log in again"
        (400, oauth(GRANT, "Token is not active"), RT, InvalidGrant),
        (400, oauth(GRANT, "Session not active"), RT, InvalidGrant),
        (400, oauth(GRANT, "Stale token"), RT, InvalidGrant),
        (400, oauth(GRANT, "Invalid refresh token"), RT, InvalidGrant),
        (400, oauth(GRANT, "User disabled"), RT, InvalidGrant),
        (400, oauth(GRANT, "Maximum allowed refresh token reuse exceeded"), RT, InvalidGrant),
        (401, oauth("invalid_client", BAD_CLIENT), RT, InvalidClient),
        (400, oauth(GRANT, "Invalid refresh token"), "logout", InvalidGrant),
        # wrong place or broken server
        (404, oauth("Realm does not exist"), PW, UnknownMandator),
        (404, oauth("Unable to find matching target resource method"), PW, UnexpectedResponse),
        (404, None, PW, UnexpectedResponse),
        (405, oauth("HTTP 405 Method Not Allowed"), PW, OAuthError),
        (400, None, PW, UnexpectedResponse),
        (400, {"message": "not oauth"}, PW, UnexpectedResponse),
        (400, {"error": 5}, PW, UnexpectedResponse),
        (500, oauth("unknown_error"), PW, ServerError),
        (502, None, RT, ServerError),
        (503, None, PW, ServerError),
    ],
)  # fmt: skip
def test_error_class(status: int, body: Any, grant: str, expected: type[Exception]) -> None:
    assert error_class(status, body, grant) is expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (oauth("invalid_grant", "Stale token"), ("invalid_grant", "Stale token")),
        (oauth("Realm does not exist"), ("Realm does not exist", None)),
        ({"error": "x", "error_description": 3}, ("x", None)),
        ({"error_description": "no error"}, (None, None)),
        (["error"], (None, None)),
        (None, (None, None)),
    ],
)
def test_error_fields(body: Any, expected: tuple[str | None, str | None]) -> None:
    assert error_fields(body) == expected


@pytest.mark.parametrize(
    ("error", "login_again"),
    [
        (InvalidGrant("Session not active"), True),
        (InvalidCredentials("Invalid user credentials"), False),
        (InvalidClient("bad client"), False),
        (ServerError("503"), False),
        (OAuthError("invalid_scope"), False),
    ],
)
def test_should_login_again_only_when_the_refresh_token_is_dead(
    error: Exception, login_again: bool
) -> None:
    assert should_login_again(error) is login_again  # type: ignore[arg-type]


# -- settings ---------------------------------------------------------------------------------
def test_settings_defaults_are_finapis() -> None:
    settings = Settings(mandator="customer", username="demo", password="pw")
    assert settings.base_url == "https://keycloak-finapi-general-live.finapi.io"
    assert settings.client_id == "demobank-cli"
    assert settings.token_endpoint == (
        "https://keycloak-finapi-general-live.finapi.io/realms/customer/protocol/openid-connect/token"
    )
    assert settings.jwks_uri.endswith("/realms/customer/protocol/openid-connect/certs")
    assert settings.logout_endpoint.endswith("/realms/customer/protocol/openid-connect/logout")
    assert (settings.timeout, settings.leeway) == (10.0, 30.0)


def test_settings_repr_hides_secrets() -> None:
    text = repr(Settings(mandator="m", username="u", password="p4ss-w0rd", client_secret="s3cret"))
    assert "p4ss-w0rd" not in text
    assert "s3cret" not in text


def test_settings_normalise_the_base_url_and_quote_the_mandator() -> None:
    settings = Settings(
        base_url="http://127.0.0.1:8080/", mandator="a b/c", username="u", password="p"
    )
    assert settings.issuer == "http://127.0.0.1:8080/realms/a%20b%2Fc"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"mandator": ""}, "mandator must not be empty"),
        ({"username": ""}, "username must not be empty"),
        ({"password": ""}, "password must not be empty"),
        ({"client_id": ""}, "client_id must not be empty"),
        ({"base_url": "keycloak.example"}, "base_url must start with http:// or https://"),
        ({"timeout": 0}, "timeout must be positive"),
        ({"leeway": -1}, "leeway must not be negative"),
        ({"retries": -1}, "retries must not be negative"),
        ({"backoff_factor": -0.1}, "backoff_factor must not be negative"),
    ],
)
def test_bad_settings(changes: dict[str, Any], message: str) -> None:
    values: dict[str, Any] = {"mandator": "m", "username": "u", "password": "p", **changes}
    with pytest.raises(ConfigurationError, match=message):
        Settings(**values)


def test_settings_from_env_with_overrides() -> None:
    env = {
        "FINAPI_KEYCLOAK_URL": "http://127.0.0.1:8080",
        "FINAPI_MANDATOR": "customer",
        "FINAPI_USERNAME": "demo",
        "FINAPI_PASSWORD": "demo",
    }
    settings = Settings.from_env(env, username="other", client_id=None)
    assert (settings.base_url, settings.mandator, settings.username, settings.password) == (
        "http://127.0.0.1:8080",
        "customer",
        "other",
        "demo",
    )
    assert settings.client_id == "demobank-cli"
    confidential = Settings.from_env({**env, "FINAPI_CLIENT_ID": "x", "FINAPI_CLIENT_SECRET": "y"})
    assert (confidential.client_id, confidential.client_secret) == ("x", "y")


def test_settings_from_env_names_every_missing_variable() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env({"FINAPI_USERNAME": "demo"})
    assert str(caught.value) == "missing setting(s): set FINAPI_MANDATOR, FINAPI_PASSWORD"
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("grant_type=password&username=demo&password=hunter2&client_id=demobank-cli",
         "grant_type=password&username=demo&password=%5Bredacted%5D&client_id=demobank-cli"),
        (b"grant_type=refresh_token&refresh_token=abc.def&client_secret=s",
         b"grant_type=refresh_token&refresh_token=%5Bredacted%5D&client_secret=%5Bredacted%5D"),
        (None, None),
    ],
)  # fmt: skip
def test_redact_form(body: Any, expected: Any) -> None:
    assert redact_form(body) == expected
