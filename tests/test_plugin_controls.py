"""Each control of the ``keycloak_mock`` handle changes what a real HTTP client sees.

Every test runs twice: with the in-process handle (``Controls`` called directly) and with a
handle whose controls go over the ``/_mock`` HTTP API (``RemoteControls``), against the same
server.  So both ways of driving the mock are held to the same behaviour.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from keycloak_mock import ClientConfig, RealmConfig, UserConfig
from keycloak_mock.controls.remote import RemoteControls
from keycloak_mock.controls.schema import ControlError
from keycloak_mock.handle import KeycloakMock
from keycloak_mock.imitation.passwords import PlainCredential

from .plugin_support import claims, error_of, header, login, refresh, resource


@pytest.fixture(params=["in-process", "http"])
def mock(request: pytest.FixtureRequest, keycloak_mock: KeycloakMock) -> Iterator[KeycloakMock]:
    if request.param == "in-process":
        yield keycloak_mock
        return
    remote = RemoteControls(keycloak_mock.url)
    yield KeycloakMock(keycloak_mock.url, remote)
    remote.close()


# -- time -------------------------------------------------------------------------------------
def test_expire_access_tokens_expires_the_token_but_not_the_session(mock: KeycloakMock) -> None:
    body = login(mock).json()
    assert resource(mock, body["access_token"]).status_code == 200
    mock.expire_access_tokens()
    refused = resource(mock, body["access_token"])
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
    assert "expired" in refused.headers["WWW-Authenticate"]
    renewed = refresh(mock, body["refresh_token"])
    assert renewed.status_code == 200
    assert resource(mock, renewed.json()["access_token"]).status_code == 200


def test_advance_moves_the_time_tokens_are_stamped_with(mock: KeycloakMock) -> None:
    before = claims(mock, login(mock).json()["access_token"])["iat"]
    mock.advance(3600)
    after = claims(mock, login(mock).json()["access_token"])["iat"]
    assert 3600 <= after - before <= 3610


def test_freeze_stops_time_at_the_given_instant(mock: KeycloakMock) -> None:
    assert mock.freeze(at=2_000_000_000) == 2_000_000_000
    token_claims = claims(mock, login(mock).json()["access_token"])
    assert (token_claims["iat"], token_claims["exp"]) == (2_000_000_000, 2_000_000_900)
    mock.advance(60)
    assert claims(mock, login(mock).json()["access_token"])["iat"] == 2_000_000_060
    assert mock.now() == 2_000_000_060


def test_unfreeze_lets_time_run_on_from_the_frozen_instant(mock: KeycloakMock) -> None:
    mock.freeze(at=2_000_000_000)
    mock.unfreeze()
    iat = claims(mock, login(mock).json()["access_token"])["iat"]
    assert 2_000_000_000 <= iat <= 2_000_000_010


def test_expire_sessions_kills_refresh_tokens_and_sessions(mock: KeycloakMock) -> None:
    body = login(mock).json()
    assert len(mock.sessions()) == 1
    mock.expire_sessions()
    assert error_of(refresh(mock, body["refresh_token"])) == (
        400,
        "invalid_grant",
        "Token is not active",
    )
    assert mock.sessions() == []
    assert login(mock).status_code == 200


# -- users ------------------------------------------------------------------------------------
def test_add_user_can_log_in_with_its_fields(mock: KeycloakMock) -> None:
    mock.add_user(
        "Alice",
        "wonder",
        first_name="Alice",
        last_name="Liddell",
        email="alice@example.com",
        attributes={"is_technical_user": ["true"]},
    )
    body = login(mock, "alice", "wonder", scope="email").json()
    assert body["is_technical_user"] == "true"
    token_claims = claims(mock, body["access_token"])
    assert token_claims["preferred_username"] == "alice"
    assert token_claims["name"] == "Alice Liddell"
    assert token_claims["email"] == "alice@example.com"
    assert login(mock, "alice@example.com", "wonder").status_code == 200
    assert [u["username"] for u in mock.users()] == ["demo", "alice"]


def test_add_user_with_a_temporary_password_is_not_fully_set_up(mock: KeycloakMock) -> None:
    mock.add_user("bob", "initial", temporary=True)
    assert error_of(login(mock, "bob", "initial")) == (
        400,
        "invalid_grant",
        "Account is not fully set up",
    )


def test_add_user_twice_is_a_conflict(mock: KeycloakMock) -> None:
    with pytest.raises(ControlError) as raised:
        mock.add_user("demo", "again")
    assert (raised.value.status, raised.value.message) == (409, "User exists with same username")


def test_disable_user_refuses_logins_and_refreshes_but_keeps_sessions(mock: KeycloakMock) -> None:
    body = login(mock).json()
    mock.disable_user("demo")
    assert error_of(login(mock)) == (400, "invalid_grant", "Account disabled")
    assert error_of(refresh(mock, body["refresh_token"])) == (400, "invalid_grant", "User disabled")
    assert len(mock.sessions("demo")) == 1
    mock.enable_user("demo")
    assert refresh(mock, body["refresh_token"]).status_code == 200


def test_remove_user_ends_their_sessions(mock: KeycloakMock) -> None:
    body = login(mock).json()
    assert mock.remove_user("demo") == 1
    assert error_of(refresh(mock, body["refresh_token"])) == (
        400,
        "invalid_grant",
        "Session not active",
    )
    assert error_of(login(mock)) == (401, "invalid_grant", "Invalid user credentials")


def test_set_password_changes_the_password_and_keeps_sessions(mock: KeycloakMock) -> None:
    body = login(mock).json()
    mock.set_password("demo", "n3w-secret")
    assert error_of(login(mock)) == (401, "invalid_grant", "Invalid user credentials")
    assert login(mock, "demo", "n3w-secret").status_code == 200
    assert refresh(mock, body["refresh_token"]).status_code == 200


def test_set_password_temporary_requires_an_update(mock: KeycloakMock) -> None:
    mock.set_password("demo", "temp", temporary=True)
    assert error_of(login(mock, "demo", "temp"))[2] == "Account is not fully set up"
    mock.set_password("demo", "final")
    assert login(mock, "demo", "final").status_code == 200


def test_empty_password_is_refused_like_keycloak(mock: KeycloakMock) -> None:
    with pytest.raises(ControlError) as raised:
        mock.set_password("demo", "  ")
    assert (raised.value.status, raised.value.message) == (400, "Empty password not allowed")


def test_unknown_user_is_a_404(mock: KeycloakMock) -> None:
    with pytest.raises(ControlError) as raised:
        mock.disable_user("nobody")
    assert raised.value.status == 404
    assert raised.value.message == "User 'nobody' in realm 'customer' not found"


# -- realms -----------------------------------------------------------------------------------
def test_set_lifetimes_shows_in_the_next_token_response(mock: KeycloakMock) -> None:
    mock.set_lifetimes(access_token_lifespan=60, sso_session_idle_timeout=120)
    body = login(mock).json()
    assert (body["expires_in"], body["refresh_expires_in"]) == (60, 120)


def test_invalid_lifetime_names_the_field(mock: KeycloakMock) -> None:
    with pytest.raises(ControlError) as raised:
        mock.set_lifetimes(access_token_lifespan=0)
    assert raised.value.status == 400
    assert raised.value.message == "$.accessTokenLifespan: must be a positive number of seconds"


def test_update_realm_changes_finapi_fields_and_rotation(mock: KeycloakMock) -> None:
    mock.update_realm(
        mandator_name="Other Bank", is_test_mandator="true", revoke_refresh_token=True
    )
    body = login(mock).json()
    assert (body["mandator_name"], body["is_test_mandator"]) == ("Other Bank", "true")
    assert refresh(mock, body["refresh_token"]).status_code == 200
    assert error_of(refresh(mock, body["refresh_token"]))[2] == (
        "Maximum allowed refresh token reuse exceeded"
    )


def test_unknown_realm_setting_is_refused(mock: KeycloakMock) -> None:
    with pytest.raises(ControlError, match="unknown realm setting 'acces_token_lifespan'"):
        mock.update_realm(acces_token_lifespan=5)


def test_add_realm_serves_a_new_mandator(mock: KeycloakMock) -> None:
    mock.add_realm("bank2", access_token_lifespan=120, mandator_name="Bank Two")
    mock.add_user("carol", "pw", realm="bank2")
    body = login(mock, "carol", "pw", realm="bank2").json()
    assert (body["expires_in"], body["mandator_name"]) == (120, "Bank Two")
    assert claims(mock, body["access_token"], realm="bank2")["iss"] == mock.urls("bank2").issuer
    discovery = requests.get(mock.urls("bank2").discovery_url, timeout=10).json()
    assert discovery["token_endpoint"] == mock.urls("bank2").token_url
    assert mock.realm_names() == ["customer", "bank2"]


def test_add_realm_from_realm_export_json(mock: KeycloakMock) -> None:
    mock.add_realm(
        {
            "realm": "bank3",
            "clients": [{"clientId": "backend", "secret": "s3cret"}],
            "users": [{"username": "svc", "credentials": [{"type": "password", "value": "pw"}]}],
        }
    )
    form = {"grant_type": "password", "username": "svc", "password": "pw"}
    response = requests.post(
        mock.urls("bank3").token_url, data=form, auth=("backend", "s3cret"), timeout=10
    )
    assert response.status_code == 200


def test_add_existing_realm_is_a_conflict(mock: KeycloakMock) -> None:
    with pytest.raises(ControlError) as raised:
        mock.add_realm("customer")
    assert raised.value.status == 409


def test_remove_realm_answers_realm_does_not_exist(mock: KeycloakMock) -> None:
    login(mock)
    assert mock.remove_realm("customer") == 1
    response = login(mock)
    assert (response.status_code, response.json()) == (404, {"error": "Realm does not exist"})


# -- sessions ---------------------------------------------------------------------------------
def test_end_session_logs_out_one_session(mock: KeycloakMock) -> None:
    first, second = login(mock, scope="openid").json(), login(mock).json()

    def userinfo() -> int:
        bearer = {"Authorization": f"Bearer {first['access_token']}"}
        return requests.get(mock.urls().userinfo_url, headers=bearer, timeout=10).status_code

    assert userinfo() == 200
    mock.end_session(first["session_state"])
    assert userinfo() == 401
    assert error_of(refresh(mock, first["refresh_token"]))[2] == "Session not active"
    assert refresh(mock, second["refresh_token"]).status_code == 200
    with pytest.raises(ControlError) as raised:
        mock.end_session(first["session_state"])
    assert raised.value.status == 404


def test_end_sessions_of_a_user_or_everyone(mock: KeycloakMock) -> None:
    mock.add_user("alice", "pw")
    demo = login(mock).json()
    alice = login(mock, "alice", "pw").json()
    assert mock.end_sessions("alice") == 1
    assert error_of(refresh(mock, alice["refresh_token"]))[2] == "Session not active"
    assert refresh(mock, demo["refresh_token"]).status_code == 200
    assert mock.end_sessions() == 1
    assert error_of(refresh(mock, demo["refresh_token"]))[2] == "Session not active"


def test_sessions_list_who_is_logged_in(mock: KeycloakMock) -> None:
    body = login(mock).json()
    [session] = mock.sessions()
    assert session["id"] == body["session_state"]
    assert (session["realm"], session["username"], session["clients"]) == (
        "customer",
        "demo",
        ["demobank-cli"],
    )


def test_push_not_before_makes_earlier_tokens_stale(mock: KeycloakMock) -> None:
    body = login(mock).json()
    not_before = mock.push_not_before()
    assert error_of(refresh(mock, body["refresh_token"])) == (400, "invalid_grant", "Stale token")
    fresh = login(mock).json()
    assert fresh["not-before-policy"] == not_before
    assert refresh(mock, fresh["refresh_token"]).status_code == 200
    realm_info = requests.get(mock.urls().issuer, timeout=10).json()
    assert realm_info["tokens-not-before"] == not_before


# -- keys -------------------------------------------------------------------------------------
def test_rotate_signing_key_publishes_both_until_the_old_is_dropped(mock: KeycloakMock) -> None:
    old_token = login(mock).json()["access_token"]
    old_kid = header(old_token)["kid"]
    new_kid = mock.rotate_signing_key()
    jwks = requests.get(mock.jwks_url, timeout=10).json()
    assert [k["kid"] for k in jwks["keys"]] == [new_kid, old_kid]
    new_token = login(mock).json()["access_token"]
    assert header(new_token)["kid"] == new_kid
    assert claims(mock, new_token)["preferred_username"] == "demo"
    assert claims(mock, old_token)["preferred_username"] == "demo"
    assert resource(mock, old_token).status_code == 200

    mock.drop_old_signing_keys()
    assert mock.signing_kids() == [new_kid]
    refused = resource(mock, old_token)
    assert refused.status_code == 401
    assert "Unknown signing key" in refused.headers["WWW-Authenticate"]
    assert resource(mock, new_token).status_code == 200


def test_rotation_keeps_sessions_alive(mock: KeycloakMock) -> None:
    body = login(mock).json()
    mock.rotate_signing_key()
    assert refresh(mock, body["refresh_token"]).status_code == 200


def test_the_active_key_cannot_be_dropped(mock: KeycloakMock) -> None:
    [active] = mock.signing_kids()
    with pytest.raises(ControlError) as raised:
        mock.drop_signing_key(active)
    assert raised.value.status == 409


# -- reset ------------------------------------------------------------------------------------
def test_reset_restores_everything(mock: KeycloakMock) -> None:
    body = login(mock).json()
    mock.add_user("alice", "pw")
    mock.set_lifetimes(access_token_lifespan=5)
    mock.rotate_signing_key()
    mock.freeze(at=2_000_000_000)
    mock.fail_next(status=500, times=None)
    mock.reset()
    assert mock.sessions() == [] and mock.requests() == []
    assert error_of(refresh(mock, body["refresh_token"]))[2] == "Session not active"
    assert error_of(login(mock, "alice", "pw"))[2] == "Invalid user credentials"
    fresh = login(mock).json()
    assert fresh["expires_in"] == 900
    assert len(mock.signing_kids()) == 1
    assert mock.faults() == {"faults": [], "errorRate": None}
    assert abs(claims(mock, fresh["access_token"])["iat"] - mock.now()) < 5


# -- in-process only ------------------------------------------------------------------------
def test_config_objects_work_in_process(keycloak_mock: KeycloakMock) -> None:
    keycloak_mock.add_user(UserConfig(username="dora", credential=PlainCredential("pw")))
    keycloak_mock.add_realm(
        RealmConfig(realm="bank4", clients=(ClientConfig(client_id="demobank-cli"),))
    )
    keycloak_mock.update_realm(
        "bank4", users=(UserConfig(username="eve", credential=PlainCredential("pw")),)
    )
    assert login(keycloak_mock, "dora", "pw").status_code == 200
    assert login(keycloak_mock, "eve", "pw", realm="bank4").status_code == 200
    assert keycloak_mock.state.realm("bank4") is not None


def test_config_objects_cannot_travel_over_http(keycloak_mock: KeycloakMock) -> None:
    remote = KeycloakMock(keycloak_mock.url, RemoteControls(keycloak_mock.url))
    with pytest.raises(ControlError, match="pass realm-export JSON"):
        remote.add_user(UserConfig(username="dora"))
    with pytest.raises(ControlError, match="another process"):
        _ = remote.state
