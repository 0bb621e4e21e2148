"""``demobank-token``: the installed console script against the mock, and its error lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
import requests

from demobank_client.cli import main
from keycloak_mock import MockConfig, MockServer

from .conftest import packages_loaded_by

SCRIPT = Path(sys.executable).with_name("demobank-token")
FINAPI_VARS = [
    "FINAPI_KEYCLOAK_URL",
    "FINAPI_MANDATOR",
    "FINAPI_USERNAME",
    "FINAPI_PASSWORD",
    "FINAPI_CLIENT_ID",
    "FINAPI_CLIENT_SECRET",
]


@pytest.fixture(scope="module")
def module_server() -> Iterator[MockServer]:
    with MockServer(MockConfig(port=0)) as server:
        yield server


@pytest.fixture
def server(module_server: MockServer) -> MockServer:
    module_server.state.reset()
    return module_server


@pytest.fixture
def env(server: MockServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The FINAPI_* variables pointing at the mock, for this process and for subprocesses."""
    for name in FINAPI_VARS:
        monkeypatch.delenv(name, raising=False)
    values = {
        "FINAPI_KEYCLOAK_URL": server.url,
        "FINAPI_MANDATOR": "customer",
        "FINAPI_USERNAME": "demo",
        "FINAPI_PASSWORD": "demo",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return {**os.environ, **values}


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_the_console_script_prints_a_token_that_curl_style_use_accepts(
    server: MockServer, env: dict[str, str]
) -> None:
    assert SCRIPT.exists(), "pip install -e . installs the demobank-token script"
    done = run(env=env)
    assert (done.returncode, done.stderr) == (0, "")
    token = done.stdout.strip()
    assert done.stdout == token + "\n"
    assert jwt.decode(token, options={"verify_signature": False})["preferred_username"] == "demo"
    # what `curl -H "Authorization: Bearer $(demobank-token)" .../demobank/...` sends
    answer = requests.get(
        f"{server.url}/demobank/accounts", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert answer.status_code == 200


def test_bad_credentials_exit_1_with_one_line(env: dict[str, str]) -> None:
    done = run("--password", "Wr0ng-Pa55word", env=env)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        "demobank-token: error: Invalid user credentials (invalid_grant, HTTP 401)\n"
    )


def test_json_prints_the_whole_response_in_order(
    env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert list(body) == [
        "access_token",
        "expires_in",
        "refresh_expires_in",
        "refresh_token",
        "token_type",
        "not-before-policy",
        "session_state",
        "scope",
        "mandator_name",
        "mandator_uuid",
        "is_test_mandator",
        "is_technical_user",
    ]


def test_flags_win_over_env_vars(
    server: MockServer, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--username", "nobody", "--password", "x"]) == 1
    assert capsys.readouterr().err.startswith("demobank-token: error: Invalid user credentials")
    assert main(["--url", server.url, "--scope", "openid", "--json"]) == 0
    assert "id_token" in json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["--mandator", "nope"],
            "demobank-token: error: Realm does not exist (HTTP 404): {url}/realms/nope/"
            "protocol/openid-connect/token",
        ),
        (
            ["--client-id", "someone-else"],
            "demobank-token: error: Invalid client or Invalid client credentials "
            "(invalid_client, HTTP 401)",
        ),
        (
            ["--url", "http://127.0.0.1:9", "--timeout", "1"],
            "demobank-token: error: no answer from http://127.0.0.1:9/realms/customer/protocol/"
            "openid-connect/token: ConnectionRefusedError: "
            "[Errno 111] Connection refused",
        ),
    ],
)
def test_every_failure_is_one_line_and_exit_1(
    server: MockServer,
    env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    line: str,
) -> None:
    assert main(args) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == line.format(url=server.url) + "\n"


def test_missing_settings_are_a_usage_error(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("FINAPI_MANDATOR")
    monkeypatch.delenv("FINAPI_PASSWORD")
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == (
        "demobank-token: error: missing setting(s): set FINAPI_MANDATOR, FINAPI_PASSWORD"
    )


def test_help_names_the_env_vars(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    for name in FINAPI_VARS:
        assert name in text
    assert "--json" in text
    assert "https://keycloak-finapi-general-live.finapi.io" in text


def test_the_client_package_never_imports_the_mock() -> None:
    """Users install the client against finAPI; it must not drag the mock (and flask) in."""
    imports = (
        "demobank_client, demobank_client.cli, demobank_client.auth, demobank_client.decisions"
    )
    assert packages_loaded_by(imports, ("keycloak_mock", "flask")) == []
