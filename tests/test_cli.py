"""The ``keycloak-mock`` command as a user runs it: a real process, real signals, real HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from keycloak_mock.serving.options import build_parser, config_from

from .conftest import REALMS_FILE, token_url

PASSWORD_FORM = {
    "client_id": "demobank-cli",
    "username": "demo",
    "password": "demo",
    "grant_type": "password",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 20
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "keycloak_mock", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )


class Running:
    def __init__(self, process: subprocess.Popen[str], port: int) -> None:
        self.process, self.port = process, port
        self.url = f"http://127.0.0.1:{port}"


@pytest.fixture
def start() -> Iterator[object]:
    processes: list[subprocess.Popen[str]] = []

    def _start(*args: str, env: dict[str, str] | None = None) -> Running:
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "keycloak_mock", "--port", str(port), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        processes.append(process)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                if (
                    requests.get(f"http://127.0.0.1:{port}/health/ready", timeout=1).status_code
                    == 200
                ):
                    return Running(process, port)
            except requests.ConnectionError:
                time.sleep(0.05)
        raise AssertionError("keycloak-mock did not become ready")

    yield _start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def test_help_lists_every_flag_and_env_var() -> None:
    result = run("--help")
    assert result.returncode == 0
    for option in (
        "--host",
        "--port",
        "--config",
        "--access-token-lifespan",
        "--refresh-token-lifespan",
        "--signing-key",
        "--generate-key",
        "--issuer-url",
    ):
        assert option in result.stdout
        assert "KEYCLOAK_MOCK_" + option[2:].upper().replace("-", "_") in result.stdout


def test_help_shows_defaults_and_the_healthcheck_command() -> None:
    result = run("--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())  # argparse wraps lines at the terminal width
    assert "keycloak-mock healthcheck [--url URL] [--timeout SECONDS]" in text
    assert "healthcheck exit 0 if a running mock answers /health/ready with UP" in text
    for default in (
        "KEYCLOAK_MOCK_HOST; default 127.0.0.1)",
        "KEYCLOAK_MOCK_PORT; default 8080)",
        "default each realm's own (900 in the embedded realm, as finAPI's)",
        "default each realm's own (1800 in the embedded realm)",
    ):
        assert default in text


def test_version() -> None:
    from importlib.metadata import version

    result = run("--version")
    assert result.returncode == 0
    assert result.stdout == f"keycloak-mock {version('demobank-keycloak-mock')}\n"


def test_a_realm_file_user_without_credentials_is_warned_about(tmp_path: Path) -> None:
    path = tmp_path / "realm.json"
    path.write_text('{"realm": "x", "users": [{"username": "nobody"}]}')
    with socket.socket() as sock:  # a taken port: the file loads, then the start stops
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        result = run("--config", str(path), "--port", str(sock.getsockname()[1]))
    assert (
        "$.users[0] (nobody, realm x) has no password credential: this user can never log in"
        in result.stderr
    )


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--bogus"], {}, "keycloak-mock: error: unrecognized arguments: --bogus"),
        (["--port", "abc"], {}, "keycloak-mock: error: argument --port: invalid int value: 'abc'"),
        (["--port", "70000"], {}, "keycloak-mock: error: --port: 70000 is not a TCP port"),
        (
            ["--config", "/nonexistent/realms.json"],
            {},
            "keycloak-mock: error: cannot read realm file /nonexistent/realms.json: "
            "No such file or directory",
        ),
        (
            ["--signing-key", "/nonexistent/key.pem"],
            {},
            "keycloak-mock: error: cannot read signing key /nonexistent/key.pem: "
            "No such file or directory",
        ),
        (
            ["--signing-key", str(REALMS_FILE)],
            {},
            f"keycloak-mock: error: {REALMS_FILE}: not an unencrypted PEM private key",
        ),
        (
            ["--access-token-lifespan", "0"],
            {},
            "keycloak-mock: error: --access-token-lifespan: must be a positive number of seconds",
        ),
        (
            ["--issuer-url", "ftp://x"],
            {},
            "keycloak-mock: error: --issuer-url: 'ftp://x' is not an http(s) URL",
        ),
        (
            [],
            {"KEYCLOAK_MOCK_PORT": "eighty"},
            "keycloak-mock: error: KEYCLOAK_MOCK_PORT: expected an integer, got 'eighty'",
        ),
        (
            [],
            {"KEYCLOAK_MOCK_GENERATE_KEY": "maybe"},
            "keycloak-mock: error: KEYCLOAK_MOCK_GENERATE_KEY: expected true or false, got 'maybe'",
        ),
        (
            ["--host", "0.0.0.0"],
            {},
            "keycloak-mock: error: --host 0.0.0.0 is not a loopback address; this mock must "
            "not guard real data. Pass --allow-remote (the container does) if you mean it",
        ),
        (
            # RFC 6761: .invalid never resolves, so no lookup leaves the machine with an answer.
            ["--host", "no-such-host.invalid"],
            {},
            "keycloak-mock: error: --host no-such-host.invalid: no such host "
            "(the name does not resolve)",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    args: list[str], env: dict[str, str], message: str
) -> None:
    result = run(*args, env=env)
    assert result.returncode == 2
    assert result.stderr == message + "\n"
    assert "Traceback" not in result.stderr


def test_invalid_realm_file_names_the_json_path(tmp_path: Path) -> None:
    path = tmp_path / "realms.json"
    path.write_text('{"realm": "x", "users": [{"username": "u", "enabled": "yes"}]}')
    result = run("--config", str(path))
    assert result.returncode == 2
    assert (
        result.stderr
        == f'keycloak-mock: error: {path}: $.users[0].enabled: expected a boolean, got "yes"\n'
    )


def test_port_in_use() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = run("--port", str(port))
    assert result.returncode == 2
    assert (
        result.stderr
        == f"keycloak-mock: error: cannot listen on 127.0.0.1:{port}: Address already in use\n"
    )


def test_serves_prints_token_urls_and_stops_on_sigterm(start) -> None:  # type: ignore[no-untyped-def]
    server = start("--config", str(REALMS_FILE))
    response = requests.post(token_url(server.url), data=PASSWORD_FORM, timeout=10)
    assert response.status_code == 200
    began = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    stdout, stderr = server.process.communicate(timeout=10)
    assert time.monotonic() - began < 5
    assert server.process.returncode == 0
    lines = stdout.splitlines()
    assert "never use it to guard real data" in lines[0]
    assert lines[1:] == [
        f"keycloak-mock: realm customer: {token_url(server.url, 'customer')}",
        f"keycloak-mock: realm sandbox-mandator: {token_url(server.url, 'sandbox-mandator')}",
    ]
    assert "Traceback" not in stderr


def test_ctrl_c_stops_cleanly(start) -> None:  # type: ignore[no-untyped-def]
    server = start()
    server.process.send_signal(signal.SIGINT)
    _, stderr = server.process.communicate(timeout=10)
    assert server.process.returncode == 0
    assert "Traceback" not in stderr


def test_env_vars_configure_the_process(start) -> None:  # type: ignore[no-untyped-def]
    server = start(
        env={
            "KEYCLOAK_MOCK_ACCESS_TOKEN_LIFESPAN": "120",
            "KEYCLOAK_MOCK_ISSUER_URL": "http://kc.test:9",
        }
    )
    body = requests.post(token_url(server.url), data=PASSWORD_FORM, timeout=10).json()
    assert body["expires_in"] == 120
    discovery = requests.get(
        f"{server.url}/realms/customer/.well-known/openid-configuration", timeout=10
    ).json()
    assert discovery["issuer"] == "http://kc.test:9/realms/customer"


def test_request_log_has_no_secrets(start) -> None:  # type: ignore[no-untyped-def]
    server = start()
    body = requests.post(token_url(server.url), data=PASSWORD_FORM, timeout=10).json()
    requests.get(f"{server.url}/realms/customer?access_token={body['access_token']}", timeout=10)
    server.process.send_signal(signal.SIGTERM)
    stdout, stderr = server.process.communicate(timeout=10)
    assert '"POST /realms/customer/protocol/openid-connect/token" 200' in stderr
    for secret in (body["access_token"], body["refresh_token"], "password=demo"):
        assert secret not in stdout + stderr


def test_flags_win_over_env_vars() -> None:
    config = config_from(
        ["--port", "9001"], {"KEYCLOAK_MOCK_PORT": "9002", "KEYCLOAK_MOCK_HOST": "::1"}
    )
    assert (config.port, config.host) == (9001, "::1")


def test_python_m_and_console_script_share_the_parser() -> None:
    assert build_parser().prog == "keycloak-mock"
