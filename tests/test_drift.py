"""``keycloak-mock drift`` without finAPI: a second mock plays the live Keycloak.

The "live" side is a real server on loopback whose realm differs only through settings the mock
has; the drift check must find each difference, name the setting, and find nothing against an
identical mock.  Recordings round-trip and replay without network, and no password, username or
token ever shows in the output, a recording or a log line.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest

from keycloak_mock import ClientConfig, MockConfig, MockServer, create_app
from keycloak_mock.controls.local import Controls
from keycloak_mock.drift.compare import DEFAULT_IGNORED_HEADERS, compare
from keycloak_mock.drift.mockrealm import mock_realm
from keycloak_mock.drift.observe import shape_of
from keycloak_mock.drift.recording import (
    RecordingError,
    dumps,
    load_recording,
    parse_recording,
)
from keycloak_mock.drift.scenario import STEP_NAMES, Credentials
from keycloak_mock.imitation.config import RealmConfig
from keycloak_mock.serving import driftcheck

from .conftest import REPO_ROOT

USERNAME = "alice.drift"
PASSWORD = "Pw-for-the-drift-check-9f3a"
ENV = {"FINAPI_USERNAME": USERNAME, "FINAPI_PASSWORD": PASSWORD, "FINAPI_MANDATOR": "customer"}
FACT_SHEET_RECORDING = REPO_ROOT / "tests" / "data" / "drift-factsheet-recording.json"
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.")


def live_realm(**changes: Any) -> RealmConfig:
    """The realm the mock side builds for this user, changed by ``changes``."""
    realm = mock_realm("customer", "demobank-cli", Credentials(USERNAME, PASSWORD), {})
    return dataclasses.replace(realm, **changes)


class PasswordAttempts:
    """WSGI middleware in front of the stand-in: counts password grants for the test user, and
    how many of them carried another password (the password itself is never kept)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        #: Answer a login with ``scope=openid`` as a Keycloak would that refuses the scope.
        self.refuse_openid = False
        self.requests = 0
        self.logins = 0
        self.wrong_passwords = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        form = dict(parse_qsl(body.decode()))
        self.requests += 1
        if form.get("grant_type") == "password" and form.get("username") == USERNAME:
            self.logins += 1
            self.wrong_passwords += "password" in form and form["password"] != PASSWORD
        if self.refuse_openid and form.get("scope") == "openid":
            body = b'{"error":"invalid_scope","error_description":"Invalid scopes: openid"}'
            start_response("400 Bad Request", [("Content-Type", "application/json")])
            return [body]
        return self.app(environ, start_response)


class Live:
    """A mock standing in for finAPI's live Keycloak."""

    def __init__(self, realm: RealmConfig) -> None:
        self.app = create_app(MockConfig(port=0), realms=(realm,))
        self.attempts = PasswordAttempts(self.app.wsgi_app)
        self.app.wsgi_app = self.attempts  # type: ignore[method-assign]
        self.server = MockServer(app=self.app, port=0)

    def __enter__(self) -> Live:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture
def live() -> Iterator[Live]:
    with Live(live_realm()) as running:
        yield running


def drift(
    capsys: pytest.CaptureFixture[str], *args: str, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    code = driftcheck.main(["--pause", "0", *args], ENV if env is None else env)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert PASSWORD not in text
        assert USERNAME not in text
        assert not JWT.search(text), "a token leaked"


# -- no drift ------------------------------------------------------------------------------
def test_an_identical_mock_shows_no_drift(live: Live, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = drift(capsys, "--url", live.url)
    assert code == 0, out + err
    assert "No drift" in out
    assert f"{len(STEP_NAMES)} steps compared" in out
    assert_no_secret(out, err)


def test_json_report_of_no_drift(live: Live, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = drift(capsys, "--url", live.url, "--json")
    report = json.loads(out)
    assert code == 0
    assert report["drift"] is False and report["differences"] == []
    assert report["live"] == live.url and report["mandator"] == "customer"
    assert report["ignored_headers"] == list(DEFAULT_IGNORED_HEADERS)


# -- drift through settings that exist -----------------------------------------------------
SCOPED_CLIENT = ClientConfig(
    client_id="demobank-cli",
    default_client_scopes=("profile", "email", "web-origins", "acr", "roles", "basic"),
)
DIFFERENT = {
    "access_token_lifespan": 300,
    "sso_session_idle_timeout": 600,
    "revoke_refresh_token": True,
    "refresh_token_max_reuse": 0,
    "mandator_name": "Another Bank",
    "mandator_uuid": "0b6b5f9e-0000-4000-8000-000000000001",
    "is_test_mandator": "true",
    "clients": (SCOPED_CLIENT,),
}
#: (step, where, live value, mock value, words of the hint)
EXPECTED = [
    ("password_grant", "body.expires_in", "300", "900", "--access-token-lifespan"),
    (
        "password_grant",
        "tokens.access_token.claims.exp",
        '"<iat+300>"',
        '"<iat+900>"',
        "accessTokenLifespan",
    ),
    ("password_grant", "body.refresh_expires_in", "600", "1800", "--refresh-token-lifespan"),
    (
        "password_grant",
        "tokens.refresh_token.claims.exp",
        '"<iat+600>"',
        '"<iat+1800>"',
        "ssoSessionIdleTimeout",
    ),
    (
        "password_grant",
        "body.scope",
        '"profile email"',
        '"xs2a_mock:user profile"',
        "defaultClientScopes",
    ),
    (
        "password_grant",
        "body.mandator_name",
        '"Another Bank"',
        '"finAPI Demobank"',
        "mandator_name",
    ),
    (
        "password_grant",
        "body.mandator_uuid",
        '"0b6b5f9e-0000-4000-8000-000000000001"',
        '"044ab580-5d4e-4f6b-9a2c-991e324704b7"',
        "mandator_uuid",
    ),
    ("password_grant", "body.is_test_mandator", '"true"', '"false"', "is_test_mandator"),
    ("refresh_reused", "status", "400", "200", "revokeRefreshToken"),
]


@pytest.fixture(scope="module")
def drifted_report() -> dict[str, Any]:
    with Live(live_realm(**DIFFERENT)) as running:
        out = io.StringIO()
        old, sys.stdout = sys.stdout, out
        try:
            code = driftcheck.main(["--pause", "0", "--json", "--url", running.url], ENV)
        finally:
            sys.stdout = old
    assert code == 1
    report: dict[str, Any] = json.loads(out.getvalue())
    return report


@pytest.mark.parametrize(("step", "where", "live", "mock", "hint"), EXPECTED)
def test_each_setting_difference_is_found_and_explained(
    drifted_report: dict[str, Any], step: str, where: str, live: str, mock: str, hint: str
) -> None:
    found = [d for d in drifted_report["differences"] if (d["step"], d["where"]) == (step, where)]
    assert len(found) == 1, [(d["step"], d["where"]) for d in drifted_report["differences"]]
    assert (found[0]["live"], found[0]["mock"]) == (live, mock)
    assert hint in found[0]["hint"]


def test_reuse_difference_shows_keycloaks_error(drifted_report: dict[str, Any]) -> None:
    body = next(
        d
        for d in drifted_report["differences"]
        if (d["step"], d["where"]) == ("refresh_reused", "body")
    )
    assert json.loads(body["live"]) == {
        "error": "invalid_grant",
        "error_description": "Maximum allowed refresh token reuse exceeded",
    }


def test_drift_has_nothing_but_the_settings(drifted_report: dict[str, Any]) -> None:
    """Every difference follows from a setting: none is reported 'the mock itself differs'."""
    assert drifted_report["drift"] is True
    for difference in drifted_report["differences"]:
        assert not difference["hint"].startswith("no setting"), difference
    assert_no_secret(json.dumps(drifted_report))


def test_text_report_is_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    with Live(live_realm(access_token_lifespan=120)) as running:
        code, out, err = drift(capsys, "--url", running.url)
    assert code == 1
    assert "DRIFT: " in out
    header = next(line for line in out.splitlines() if line.startswith("step"))
    assert header.split() == ["step", "where", "live", "mock", "to", "match"]
    row = next(line for line in out.splitlines() if "body.expires_in" in line)
    assert row.split()[:4] == ["password_grant", "body.expires_in", "120", "900"]
    assert_no_secret(out, err)


def test_mock_side_can_use_the_users_realm_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """With the live server's settings in a realm file, the report is clean again."""
    realm_file = tmp_path / "realm.json"
    realm_file.write_text(json.dumps({"realm": "customer", "accessTokenLifespan": 120}))
    with Live(live_realm(access_token_lifespan=120)) as running:
        code, out, _ = drift(capsys, "--url", running.url, "--config", str(realm_file))
    assert code == 0, out


def test_a_mock_that_refuses_the_user_exits_3(
    live: Live, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    realm_file = tmp_path / "realm.json"
    realm_file.write_text(
        json.dumps({"realm": "customer", "users": [{"username": USERNAME, "enabled": False}]})
    )
    code, out, err = drift(capsys, "--url", live.url, "--config", str(realm_file))
    assert code == 3
    assert "on the mock side" in err and out == ""


def test_a_bad_realm_file_fails_before_any_live_request(
    live: Live, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    realm_file = tmp_path / "realm.json"
    realm_file.write_text(json.dumps({"realm": "elsewhere"}))
    code, _, err = drift(capsys, "--url", live.url, "--config", str(realm_file))
    assert code == 2 and "no realm named 'customer'" in err
    assert live.attempts.requests == 0


def test_a_realm_file_without_the_mandator_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    realm_file = tmp_path / "realm.json"
    realm_file.write_text(json.dumps({"realm": "elsewhere"}))
    code, _, err = drift(
        capsys, "--replay", str(FACT_SHEET_RECORDING), "--config", str(realm_file), env={}
    )
    assert code == 2
    assert "no realm named 'customer'" in err


# -- the live account is treated gently ---------------------------------------------------
def test_one_wrong_password_attempt_and_every_session_logged_out(
    live: Live, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, _ = drift(capsys, "--url", live.url)
    assert code == 0
    assert live.attempts.wrong_passwords == 1
    # wrong client (no password sent), wrong password, two logins
    assert live.attempts.logins == 4
    assert live.attempts.requests <= 30
    assert Controls(live.app).sessions("customer") == [], "a session outlived the drift check"


def test_requests_are_spaced_out_by_default() -> None:
    assert driftcheck.build_parser().parse_args([]).pause >= 1


# -- recordings ----------------------------------------------------------------------------
def test_record_then_replay_round_trips(
    live: Live, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    recording_file = tmp_path / "live.json"
    code, out, err = drift(capsys, "--url", live.url, "--record", str(recording_file))
    assert code == 0, out + err
    text = recording_file.read_text()
    assert_no_secret(text)
    recording = load_recording(recording_file)
    assert list(recording.steps) == list(STEP_NAMES)
    assert recording.source == live.url and recording.mandator == "customer"
    assert parse_recording(json.loads(dumps(recording))) == recording
    assert dumps(recording) == text

    replayed, out, err = drift(capsys, "--replay", str(recording_file), env={})
    assert replayed == 0, out + err
    assert_no_secret(out, err)


def test_a_recording_with_a_secret_is_refused() -> None:
    recording = parse_recording(
        {
            "format": "keycloak-mock-drift-recording",
            "version": 1,
            "source": "http://127.0.0.1:1",
            "mandator": "customer",
            "client_id": "demobank-cli",
            "steps": {"jwks": {"status": 200, "body": {"type": "text", "oops": PASSWORD}}},
        }
    )
    with pytest.raises(RecordingError, match="secret"):
        dumps(recording, [PASSWORD])


def test_a_recording_with_a_token_is_refused() -> None:
    token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    recording = parse_recording(
        {
            "format": "keycloak-mock-drift-recording",
            "version": 1,
            "source": "http://127.0.0.1:1",
            "mandator": "customer",
            "client_id": "demobank-cli",
            "steps": {"jwks": {"status": 200, "body": {"type": "json", "value": token}}},
        }
    )
    with pytest.raises(RecordingError, match="secret"):
        dumps(recording)


def test_the_fact_sheet_recording_replays(capsys: pytest.CaptureFixture[str]) -> None:
    """Hand-built from the fact sheet: the mock matches it except where the sheet says more."""
    assert_no_secret(FACT_SHEET_RECORDING.read_text())
    code, out, err = drift(capsys, "--replay", str(FACT_SHEET_RECORDING), "--json", env={})
    assert code in (0, 1), err
    report = json.loads(out)
    recorded = load_recording(FACT_SHEET_RECORDING).steps
    assert report["steps"] == len(recorded)
    known_gaps = {
        # Keycloak publishes an RSA-OAEP encryption key next to the signing key.
        ("jwks", "body.keys"),
        # Keycloak's refresh token names the scopes hidden from the access token too (5.4).
        *((step, "tokens.refresh_token.claims.scope") for step in STEP_NAMES),
    }
    found = {(d["step"], d["where"]) for d in report["differences"]}
    assert found <= known_gaps, found - known_gaps
    assert_no_secret(out, err)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not JSON"),
        ('{"format": "something else"}', "not a keycloak-mock drift recording"),
        ('{"format": "keycloak-mock-drift-recording", "version": 99}', "unsupported version"),
    ],
)
def test_a_bad_recording_is_a_usage_error(
    content: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    code, _, err = drift(capsys, "--replay", str(path), env={})
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1


# -- exit codes and credentials ------------------------------------------------------------
def test_unreachable_live_server_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    with MockServer() as server:
        url = server.url  # a port nobody listens on once the server stopped
    code, out, err = drift(capsys, "--url", url, "--timeout", "10")
    assert code == 3
    assert "could not run the scenario" in err and out == ""
    assert_no_secret(err)


def test_refused_credentials_exit_3(live: Live, capsys: pytest.CaptureFixture[str]) -> None:
    env = {**ENV, "FINAPI_PASSWORD": "not-the-right-password-at-all"}
    code, out, err = drift(capsys, "--url", live.url, env=env)
    assert code == 3
    assert "refused the user's password grant: HTTP 401 (invalid_grant)" in err
    assert "not-the-right-password-at-all" not in err + out


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        ([], {"FINAPI_USERNAME": USERNAME, "FINAPI_PASSWORD": PASSWORD}, "no mandator"),
        (["--record", "a.json", "--replay", "b.json"], ENV, "exclude each other"),
        (["--url", "ftp://example.invalid"], ENV, "not an http(s) URL"),
        (["--record", "/no/such/dir/r.json"], ENV, "no directory"),
        (["--pause", "-1"], ENV, "--pause"),
        ([], {"FINAPI_MANDATOR": "customer"}, "FINAPI_USERNAME"),
        (["--bogus"], ENV, "unrecognized arguments"),
    ],
)
def test_usage_errors_exit_2(
    args: list[str], env: dict[str, str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        code = driftcheck.main(args, env, stdin=io.StringIO())
    except SystemExit as exc:  # argparse's own errors
        code = exc.code  # type: ignore[assignment]
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_username_and_password_are_asked_for(
    live: Live, capsys: pytest.CaptureFixture[str]
) -> None:
    asked: list[str] = []

    def ask(prompt: str) -> str:
        asked.append(prompt)
        return PASSWORD

    code = driftcheck.main(
        ["--pause", "0", "--url", live.url, "--mandator", "customer"],
        {},
        stdin=_Terminal(USERNAME + "\n"),
        ask_password=ask,
    )
    captured = capsys.readouterr()
    assert code == 0, captured.out + captured.err
    assert asked == ["finAPI password: "]
    assert "finAPI username: " in captured.err
    assert_no_secret(captured.out, captured.err)


def test_no_password_flag() -> None:
    options = driftcheck.build_parser()._option_string_actions
    assert not [o for o in options if "pass" in o]


def test_nothing_secret_reaches_the_logs(
    live: Live, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    code, out, err = drift(capsys, "--url", live.url, "--json")
    assert code == 0
    assert caplog.records, "expected the servers' request log"
    assert_no_secret(caplog.text, out, err)


def test_cli_dispatches_drift() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "keycloak_mock", "drift", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for step in STEP_NAMES:
        assert step in done.stdout
    assert "Exit status: 0 no drift, 1 drift, 2 usage error, 3" in done.stdout


# -- shapes --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "shape"),
    [
        ("76fd84ce-6bfd-45ca-a743-8bf8ecd9beeb", "<uuid v4>"),
        ("13f91f50-6b34-71c7-6d86-d201ef27be67", "<uuid layout, not v4>"),
        ("onrtro:13f91f50-6b34-71c7-6d86-d201ef27be67", "<onrtro:uuid layout, not v4>"),
        ("p2oReT4cpfec5q5LnTYZhz2e", "<base64url 24>"),
        ("hUpJpWYi0MXNdQrOyKIXVZWYIwSC_bIn8LqU0RvyeiI", "<base64url 43>"),
        ("MIIC+g==", "<base64>"),
        ("eyJh.eyJi.c2ln", "<jwt>"),
        ("has spaces", "<string>"),
    ],
)
def test_shapes_tell_keycloak_versions_apart(value: str, shape: str) -> None:
    assert shape_of(value) == shape


def test_ignored_headers_are_extendable() -> None:
    live = {"jwks": {"status": 200, "headers": ["X-Edge: a", "Via: 1.1 proxy"], "body": {}}}
    mock: dict[str, dict[str, Any]] = {"jwks": {"status": 200, "headers": [], "body": {}}}
    assert [d.where for d in compare(live, mock)] == ["headers.X-Edge"]
    assert compare(live, mock, [*DEFAULT_IGNORED_HEADERS, "x-edge"]) == []


# -- documentation -------------------------------------------------------------------------
def test_the_ci_recipe_is_a_valid_github_workflow(tmp_path: Path) -> None:
    docs = (REPO_ROOT / "docs" / "drift.md").read_text()
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", docs, re.DOTALL) if "jobs:" in b]
    assert len(blocks) == 1
    workflow = tmp_path / "drift.yml"
    workflow.write_text(blocks[0])
    tool = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    assert tool is not None, "check-jsonschema missing: pip install -e '.[test]'"
    done = subprocess.run(
        [tool, "--builtin-schema", "vendor.github-workflows", str(workflow)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "keycloak-mock drift --json" in blocks[0]
    assert "secrets.FINAPI_PASSWORD" in blocks[0]


def test_docs_list_every_step_and_the_default_ignore_list() -> None:
    docs = (REPO_ROOT / "docs" / "drift.md").read_text()
    for step in STEP_NAMES:
        assert f"| `{step}` |" in docs
    for header in DEFAULT_IGNORED_HEADERS:
        assert f"`{header}`" in docs


def test_the_server_start_up_does_not_load_the_drift_check() -> None:
    code = (
        "import json, sys, keycloak_mock.serving.cli\n"
        "print(json.dumps([m for m in sys.modules if m.startswith('keycloak_mock.drift')"
        " or m == 'requests']))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(done.stdout) == []


def _token_step(value: dict[str, Any]) -> dict[str, Any]:
    return {"status": 200, "headers": [], "body": {"type": "json", "value": value}}


@pytest.mark.parametrize(
    ("live", "mock", "expected"),
    [
        # key order is part of what a client may see
        (
            {"a": 1, "b": 2},
            {"b": 2, "a": 1},
            [("body (key order)", '["a", "b"]', '["b", "a"]')],
        ),
        # a number is not a string, even with the same digits
        ({"expires_in": 900}, {"expires_in": "900"}, [("body.expires_in", "900", '"900"')]),
        ({"a": 1}, {}, [("body.a", "1", "(absent)")]),
        # Keycloak joins scope names from a Java set: order is not compared
        ({"scope": "profile email"}, {"scope": "email profile"}, []),
        ({"scopes_supported": ["b", "a"]}, {"scopes_supported": ["a", "b"]}, []),
        (
            {"grant_types_supported": ["password", "implicit"]},
            {"grant_types_supported": ["password"]},
            [("body.grant_types_supported", '{"only live": ["implicit"]}', '{"only mock": []}')],
        ),
    ],
)
def test_compare_field_by_field(
    live: dict[str, Any], mock: dict[str, Any], expected: list[tuple[str, str, str]]
) -> None:
    found = compare({"discovery": _token_step(live)}, {"discovery": _token_step(mock)})
    assert [(d.where, d.live, d.mock) for d in found] == expected


def test_a_refused_openid_login_is_reported_not_fatal(capsys: pytest.CaptureFixture[str]) -> None:
    """The user's first login worked, so a refused second one is drift, not a failed run."""
    with Live(live_realm()) as running:
        running.attempts.refuse_openid = True
        code, out, err = drift(capsys, "--url", running.url, "--json")
    assert code == 1, err
    found = {(d["step"], d["where"]): d for d in json.loads(out)["differences"]}
    assert found[("password_grant_openid", "status")]["live"] == "400"
    assert found[("userinfo_with_openid", "step")]["live"] == "(step not run)"
