"""The plugin as a user meets it: a fresh test project (``pytester``) with nothing but the package.

Each test writes a small test project and runs pytest on it in-process, then reads the outcome:
fixtures show up and work, per-test reset holds, markers apply, server errors fail the right test,
and ``--keycloak-live`` skips cleanly.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from keycloak_mock import MockConfig, RealmConfig
from keycloak_mock.handle import KeycloakMock
from keycloak_mock.imitation.errors import ConfigError
from keycloak_mock.pytest_plugin import (
    CONFIG_MARKER_OPTIONS,
    REALM_MARKER_OPTIONS,
    config_from_marker,
)
from keycloak_mock.serving.options import build_parser

from .conftest import REALMS_FILE

#: Inner runs get the project's strictness: unregistered markers and warnings are errors.
STRICT = ("-p", "no:cacheprovider", "--strict-markers", "-W", "error")
FINAPI_ENV = (
    "FINAPI_KEYCLOAK_URL",
    "FINAPI_MANDATOR",
    "FINAPI_USERNAME",
    "FINAPI_PASSWORD",
    "FINAPI_CLIENT_ID",
    "FINAPI_CLIENT_SECRET",
)
HELPERS = """
import requests

def login(mock, username="demo", password="demo", realm=None):
    form = {"client_id": "demobank-cli", "grant_type": "password",
            "username": username, "password": password}
    return requests.post(mock.urls(realm).token_url, data=form, timeout=10)
"""


@pytest.fixture(autouse=True)
def _no_external_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inner runs start their own mock unless a test says otherwise."""
    monkeypatch.delenv("KEYCLOAK_MOCK_URL", raising=False)
    monkeypatch.delenv("KEYCLOAK_MOCK_ADMIN_TOKEN", raising=False)


def test_fixtures_are_listed_with_their_docstrings(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--fixtures", *STRICT)
    output = result.stdout.str()
    for name, words in [
        ("keycloak_mock_server [session scope]", "One in-process mock Keycloak per session"),
        ("keycloak_mock --", "reset to its pristine realms"),
        ("keycloak_client --", "demobank_client.TokenManager"),
        ("keycloak_client_factory --", "Makes ``demobank_client.TokenManager``s"),
        ("keycloak_mock_config [session scope]", "port 0"),
        ("keycloak_realms_file [session scope]", "Override to use your own file"),
        ("keycloak_realms [session scope]", "every test is reset to"),
        ("keycloak_signing_key [session scope]", "TEST-ONLY"),
    ]:
        assert name in output
        assert words in output
    assert "_keycloak_mock_session" not in output


def test_options_and_markers_are_registered(pytester: pytest.Pytester) -> None:
    help_text = pytester.runpytest("--help").stdout.str()
    assert "keycloak mock (demobank-keycloak-mock):" in help_text
    for option in ("--keycloak-url=URL", "--keycloak-live", "--keycloak-realm-file=FILE"):
        assert option in help_text
    markers = pytester.runpytest("--markers").stdout.str()
    assert "@pytest.mark.keycloak_realm(realm=None, **settings)" in markers
    assert "@pytest.mark.keycloak_config(**options)" in markers


def test_a_fresh_project_gets_a_working_mock(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        HELPERS
        + """
import jwt

def test_token(keycloak_mock):
    response = login(keycloak_mock)
    assert response.status_code == 200
    token = response.json()["access_token"]
    key = jwt.PyJWKClient(keycloak_mock.jwks_url).get_signing_key_from_jwt(token)
    claims = jwt.decode(token, key, algorithms=["RS256"], audience="account",
                        issuer=keycloak_mock.issuer)
    assert claims["preferred_username"] == "demo"
    assert keycloak_mock.url.startswith("http://127.0.0.1:")
    assert keycloak_mock.token_url == keycloak_mock.issuer + "/protocol/openid-connect/token"
    assert keycloak_mock.demobank_url == keycloak_mock.url + "/demobank"

def test_server_is_shared_by_the_session(keycloak_mock, keycloak_mock_server):
    assert keycloak_mock.server is keycloak_mock_server
    assert keycloak_mock.state is keycloak_mock_server.state
"""
    )
    pytester.runpytest(*STRICT).assert_outcomes(passed=2)


def test_each_test_starts_from_the_pristine_mock(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        HELPERS
        + """
import requests

def test_changes_everything(keycloak_mock):
    login(keycloak_mock)
    keycloak_mock.add_user("alice", "pw")
    keycloak_mock.set_lifetimes(access_token_lifespan=5)
    keycloak_mock.rotate_signing_key()
    keycloak_mock.freeze(at=2_000_000_000)
    keycloak_mock.fail_next("certs", times=None)
    keycloak_mock.add_realm("bank2")

def test_sees_none_of_it(keycloak_mock):
    assert keycloak_mock.requests() == [] and keycloak_mock.sessions() == []
    assert login(keycloak_mock, "alice", "pw").status_code == 401
    assert login(keycloak_mock).json()["expires_in"] == 900
    assert len(requests.get(keycloak_mock.jwks_url, timeout=10).json()["keys"]) == 1
    assert keycloak_mock.realm_names() == ["customer"]
    assert abs(keycloak_mock.now() - __import__("time").time()) < 5
    keycloak_mock.fail_next("certs", times=None)

def test_nor_does_a_test_using_the_server_directly(keycloak_mock_server):
    certs = keycloak_mock_server.url + "/realms/customer/protocol/openid-connect/certs"
    assert requests.get(certs, timeout=10).status_code == 200
"""
    )
    pytester.runpytest("-p", "no:randomly", *STRICT).assert_outcomes(passed=3)


def test_realm_marker_sets_lifetimes_users_and_realms(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        HELPERS
        + """
import pytest

pytestmark = pytest.mark.keycloak_realm(access_token_lifespan=300)

def test_module_marker(keycloak_mock):
    assert login(keycloak_mock).json()["expires_in"] == 300

@pytest.mark.keycloak_realm(access_token_lifespan=60, sso_session_idle_timeout=120)
def test_closest_marker_wins(keycloak_mock):
    body = login(keycloak_mock).json()
    assert (body["expires_in"], body["refresh_expires_in"]) == (60, 120)

@pytest.mark.keycloak_realm(users=[{"username": "alice",
                                    "credentials": [{"type": "password", "value": "pw"}]}])
def test_users_replace_the_realms_users(keycloak_mock):
    assert login(keycloak_mock, "alice", "pw").status_code == 200
    assert login(keycloak_mock).status_code == 401

@pytest.mark.keycloak_realm("bank2", mandator_name="Bank Two",
                            users=[{"username": "carol",
                                    "credentials": [{"type": "password", "value": "pw"}]}])
def test_unknown_realm_is_added(keycloak_mock):
    body = login(keycloak_mock, "carol", "pw", realm="bank2").json()
    assert body["mandator_name"] == "Bank Two"

@pytest.mark.keycloak_realm(acces_token_lifespan=60)
def test_typo_fails_clearly(keycloak_mock):
    pass
"""
    )
    result = pytester.runpytest(*STRICT)
    result.assert_outcomes(passed=4, errors=1)
    result.stdout.fnmatch_lines(
        ["*@pytest.mark.keycloak_realm: unknown realm setting 'acces_token_lifespan'; known: *"]
    )


def test_config_marker_runs_the_test_on_its_own_server(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        HELPERS
        + """
import jwt
import pytest

@pytest.mark.keycloak_config(issuer_url="https://kc.example.test", access_token_lifespan=30)
def test_own_server(keycloak_mock, keycloak_mock_server):
    assert keycloak_mock.server is not keycloak_mock_server
    body = login(keycloak_mock).json()
    assert body["expires_in"] == 30
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["iss"] == "https://kc.example.test/realms/customer"
    assert keycloak_mock.issuer == "https://kc.example.test/realms/customer"

@pytest.mark.keycloak_config(config=REALMS_FILE)
@pytest.mark.keycloak_realm("sandbox-mandator", access_token_lifespan=42)
def test_realm_file_and_realm_marker(keycloak_mock):
    assert keycloak_mock.realm_names() == ["customer", "sandbox-mandator"]
    assert keycloak_mock.realm_settings("sandbox-mandator")["accessTokenLifespan"] == 42

def test_session_server_is_untouched(keycloak_mock):
    assert login(keycloak_mock).json()["expires_in"] == 900

@pytest.mark.keycloak_config(port="80")
def test_mistyped(keycloak_mock):
    pass

@pytest.mark.keycloak_config(access_token_lifespan=-1)
def test_invalid(keycloak_mock):
    pass
""".replace("REALMS_FILE", repr(str(REALMS_FILE)))
    )
    result = pytester.runpytest(*STRICT)
    result.assert_outcomes(passed=3, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*@pytest.mark.keycloak_config: port: '80' is not of type <class 'int'>*",
            "*@pytest.mark.keycloak_config: --access-token-lifespan: must be a positive number*",
        ],
        consecutive=False,
    )


def test_marker_cli_and_config_accept_the_same_options() -> None:
    fields = [f.name for f in dataclasses.fields(MockConfig)]
    assert list(CONFIG_MARKER_OPTIONS) == fields
    cli_options = {a.dest for a in build_parser()._actions if a.dest not in ("help", "version")}
    assert cli_options == set(fields)
    samples = {
        "host": "127.0.0.1",
        "port": 0,
        "config": str(REALMS_FILE),
        "access_token_lifespan": 60,
        "refresh_token_lifespan": 120,
        "signing_key": "key.pem",
        "generate_key": True,
        "issuer_url": "https://kc.example.test",
        "allow_remote": True,
        "disable_control_api": True,
        "disable_ui": True,
        "allowed_hosts": "mock.example.test",
        "admin_token": "t",
        "tls": True,
        "tls_hostnames": "mock.test",
        "tls_ca_file": "ca.pem",
        "tls_cert": "cert.pem",
        "tls_key": "key.pem",
    }
    assert set(samples) == set(fields), "a new MockConfig field needs a sample here"
    for name, value in samples.items():
        assert getattr(config_from_marker(MockConfig(port=0), (), {name: value}), name) == value
    with pytest.raises(ConfigError, match="unknown option 'colour'"):
        config_from_marker(MockConfig(port=0), (), {"colour": "red"})
    realm_fields = {f.name for f in dataclasses.fields(RealmConfig)}
    assert set(REALM_MARKER_OPTIONS) == realm_fields


def test_a_server_error_fails_the_test_that_caused_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        HELPERS
        + """
from keycloak_mock import UserConfig

class CredentialStoreDown:
    temporary = False
    def verify(self, password):
        raise RuntimeError("credential store is down")

def test_provokes_a_500(keycloak_mock):
    keycloak_mock.add_user(UserConfig(username="x", credential=CredentialStoreDown()))
    assert login(keycloak_mock, "x", "pw").status_code == 500

def test_acknowledges_the_500(keycloak_mock):
    keycloak_mock.add_user(UserConfig(username="x", credential=CredentialStoreDown()))
    assert login(keycloak_mock, "x", "pw").json() == {"error": "unknown_error"}
    [error] = keycloak_mock.take_server_errors()
    assert (error.type, error.message) == ("RuntimeError", "credential store is down")

def test_next_one_is_clean(keycloak_mock):
    assert login(keycloak_mock).status_code == 200
"""
    )
    result = pytester.runpytest(*STRICT)
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*ServerThreadError: the mock Keycloak raised while serving 1 request(s):",
            "*POST /realms/customer/protocol/openid-connect/token: RuntimeError: credential store*",
        ]
    )
    assert "FAILED test_a_server_error_fails_the_test_that_caused_it.py::test_provokes_a_500" in (
        result.stdout.str()
    )


def test_conftest_can_swap_in_its_own_realms_file(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        f"""
import pytest

@pytest.fixture(scope="session")
def keycloak_realms_file():
    return {str(REALMS_FILE)!r}
"""
    )
    pytester.makepyfile(
        """
def test_realms(keycloak_mock):
    assert keycloak_mock.realm_names() == ["customer", "sandbox-mandator"]
"""
    )
    pytester.runpytest(*STRICT).assert_outcomes(passed=1)


def test_realm_file_option(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
def test_realms(keycloak_mock):
    assert keycloak_mock.realm_names() == ["customer", "sandbox-mandator"]
"""
    )
    result = pytester.runpytest(f"--keycloak-realm-file={REALMS_FILE}", *STRICT)
    result.assert_outcomes(passed=1)


def test_a_broken_realm_file_names_the_problem(pytester: pytest.Pytester) -> None:
    broken = pytester.path / "realms.json"
    broken.write_text('{"realm": "x", "enabled": "yes"}', encoding="utf-8")
    pytester.makepyfile("def test_realms(keycloak_mock):\n    pass\n")
    result = pytester.runpytest(f"--keycloak-realm-file={broken}", *STRICT)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*ConfigError: *realms.json: $.enabled: expected a boolean*"])


CLIENT_TESTS = """
import pytest
from demobank_client import authorized_session

def test_client(keycloak_client):
    tokens = keycloak_client.get_tokens()
    assert tokens.access_token

def test_controls(keycloak_mock):
    pass
"""


def test_live_mode_without_credentials_skips_cleanly(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in FINAPI_ENV:
        monkeypatch.delenv(name, raising=False)
    pytester.makepyfile(CLIENT_TESTS)
    result = pytester.runpytest("--keycloak-live", "-rs", *STRICT)
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(
        [
            "*--keycloak-live needs finAPI credentials: missing setting(s): set FINAPI_MANDATOR, "
            "FINAPI_USERNAME, FINAPI_PASSWORD*",
            "*needs the mock's controls; --keycloak-live talks to finAPI's live Keycloak*",
        ],
        consecutive=False,
    )


def test_live_mode_uses_the_finapi_credentials_from_the_env(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, keycloak_mock: KeycloakMock
) -> None:
    """Stand-in for finAPI: the env points at the pytest session's mock, as it would at finAPI."""
    monkeypatch.setenv("FINAPI_KEYCLOAK_URL", keycloak_mock.url)
    monkeypatch.setenv("FINAPI_MANDATOR", "customer")
    monkeypatch.setenv("FINAPI_USERNAME", "demo")
    monkeypatch.setenv("FINAPI_PASSWORD", "demo")
    pytester.makepyfile(CLIENT_TESTS)
    result = pytester.runpytest("--keycloak-live", *STRICT)
    result.assert_outcomes(passed=1, skipped=1)
    assert keycloak_mock.count(grant_type="password", username="demo") == 1
    assert keycloak_mock.count("logout") == 1  # the live factory ends its session


def test_live_and_external_modes_exclude_each_other(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--keycloak-live", "--keycloak-url", "http://127.0.0.1:1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--keycloak-live and --keycloak-url exclude each other*"])


def test_the_readme_example_runs_in_a_fresh_project(pytester: pytest.Pytester) -> None:
    example = Path(__file__).parent / "examples" / "test_readme_example.py"
    pytester.makepyfile(test_readme_example=example.read_text(encoding="utf-8"))
    pytester.runpytest(*STRICT).assert_outcomes(passed=len(_test_names(example)))


def test_the_readme_shows_the_example_file_verbatim() -> None:
    example = (Path(__file__).parent / "examples" / "test_readme_example.py").read_text("utf-8")
    readme = (Path(__file__).parent.parent / "README.md").read_text("utf-8")
    assert f"```python\n{example}```" in readme


def _test_names(path: Path) -> list[str]:
    return [
        line.split("(")[0].removeprefix("def ")
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.startswith("def test_")
    ]
