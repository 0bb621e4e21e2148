"""Passwords and tokens never reach the server's logs, error bodies, headers or request log.

One scenario touches every endpoint with secrets in every place a client may put them (form,
Basic header, Bearer header, query string, an over-long body, a request line the HTTP server
refuses, the control API), right and wrong.  It runs against the mock in-process (all loggers at
DEBUG), as ``keycloak-mock`` (stdout and stderr) and under gunicorn as the container runs it
(stderr); then everything the server said or wrote is searched for each secret.

Password and client-secret checks go through the standard library's constant-time comparison,
with the whole guess and the whole secret (checked by recording the calls, not by timing them).
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from keycloak_mock import MockConfig, MockServer
from keycloak_mock.imitation.clients import authenticate_client
from keycloak_mock.imitation.config import ClientConfig, RealmConfig
from keycloak_mock.imitation.errors import UnauthorizedClient
from keycloak_mock.imitation.passwords import PlainCredential

from .conftest import REALMS_FILE

USERNAME = "secret-user"
PASSWORD = "S3cret-Pa55-never-logged"
WRONG_PASSWORD = "Wr0ng-Pa55-never-logged"
NEW_PASSWORD = "N3w-Pa55-set-by-control-api"
CLIENT_SECRET = "TEST-ONLY-backend-secret"
WRONG_CLIENT_SECRET = "Wr0ng-client-secret-never-logged"
GARBAGE_TOKEN = "eyJhbGciOiJSUzI1NiJ9.GARBAGE-token-never-logged.c2ln"
OIDC = "/realms/customer/protocol/openid-connect"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture(scope="module")
def realm_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """fixtures/realms.json plus a user whose password is easy to search for."""
    realms = json.loads(REALMS_FILE.read_text())
    realms[0]["users"].append(
        {
            "username": USERNAME,
            "enabled": True,
            "credentials": [{"type": "password", "value": PASSWORD}],
        }
    )
    path = tmp_path_factory.mktemp("secrets") / "realms.json"
    path.write_text(json.dumps(realms))
    return path


class Transcript:
    """Everything the server answered, and every secret the scenario used or was given."""

    def __init__(self) -> None:
        self.secrets = {PASSWORD, WRONG_PASSWORD, NEW_PASSWORD, CLIENT_SECRET, WRONG_CLIENT_SECRET}
        self.secrets.add("GARBAGE-token-never-logged")
        #: (what, text) of every answer that must not carry a secret.
        self.answers: list[tuple[str, str]] = []

    def record(
        self, what: str, response: requests.Response, *, body_may_hold_tokens: bool = False
    ) -> None:
        headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        self.answers.append((f"{what} headers", headers))
        if not body_may_hold_tokens:
            self.answers.append((f"{what} body", response.text))

    def tokens_from(self, body: dict[str, object]) -> None:
        for key in ("access_token", "refresh_token", "id_token"):
            value = body.get(key)
            if isinstance(value, str):
                self.secrets.add(value)
                # Any sizeable piece of a token (its signature) is as bad as the token.
                self.secrets.add(value.rsplit(".", 1)[1])

    def leaks(self, text: str) -> list[str]:
        return sorted(secret[:24] + "..." for secret in self.secrets if secret in text)


def raw(url: str, request: bytes) -> bytes:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def run_scenario(url: str) -> Transcript:
    """Every way a secret reaches the mock, once right and once wrong."""
    t = Transcript()
    http = requests.Session()

    def login(password: str, **extra: str) -> requests.Response:
        form = {"grant_type": "password", "client_id": "demobank-cli", "username": USERNAME}
        return http.post(f"{url}{OIDC}/token", data={**form, "password": password, **extra})

    ok = login(PASSWORD, scope="openid")
    assert ok.status_code == 200, ok.text
    tokens = ok.json()
    t.tokens_from(tokens)
    t.record("login", ok, body_may_hold_tokens=True)
    t.record("wrong password", login(WRONG_PASSWORD))
    t.record(
        "password in the query",
        http.post(f"{url}{OIDC}/token?password={PASSWORD}", data={"grant_type": "password"}),
    )
    refreshed = http.post(
        f"{url}{OIDC}/token",
        data={
            "grant_type": "refresh_token",
            "client_id": "demobank-cli",
            "refresh_token": tokens["refresh_token"],
        },
    )
    assert refreshed.status_code == 200, refreshed.text
    t.tokens_from(refreshed.json())
    t.record("refresh", refreshed, body_may_hold_tokens=True)
    for what, token in (
        ("garbage refresh", GARBAGE_TOKEN),
        ("access as refresh", tokens["access_token"]),
    ):
        t.record(
            what,
            http.post(
                f"{url}{OIDC}/token",
                data={
                    "grant_type": "refresh_token",
                    "client_id": "demobank-cli",
                    "refresh_token": token,
                },
            ),
        )
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    tampered = tokens["access_token"][:-4] + "AAAA"
    t.secrets.add(tampered)
    for what, headers in (
        ("userinfo", bearer),
        ("userinfo garbage", {"Authorization": f"Bearer {GARBAGE_TOKEN}"}),
        ("userinfo tampered", {"Authorization": f"Bearer {tampered}"}),
    ):
        t.record(what, http.get(f"{url}{OIDC}/userinfo", headers=headers))
    t.record(
        "userinfo token in query",
        http.get(f"{url}{OIDC}/userinfo?access_token={tokens['access_token']}"),
    )
    for what, headers in (
        ("stand-in", bearer),
        ("stand-in tampered", {"Authorization": f"Bearer {tampered}"}),
    ):
        t.record(what, http.get(f"{url}/demobank/accounts", headers=headers))
    for what, secret in (
        ("introspect", CLIENT_SECRET),
        ("introspect wrong secret", WRONG_CLIENT_SECRET),
    ):
        t.record(
            what,
            http.post(
                f"{url}{OIDC}/token/introspect",
                data={"token": tokens["access_token"]},
                auth=("demobank-backend", secret),
            ),
        )
    t.record(
        "413 with a password",
        http.post(
            f"{url}{OIDC}/token",
            data=f"password={PASSWORD}&pad={'x' * 70_000}",
            headers=FORM,
        ),
    )
    t.record(
        "set password (control API)",
        http.put(
            f"{url}/_mock/realms/customer/users/{USERNAME}/password", json={"value": NEW_PASSWORD}
        ),
    )
    relogin = login(NEW_PASSWORD)
    assert relogin.status_code == 200, relogin.text
    t.tokens_from(relogin.json())
    t.record(
        "revoke",
        http.post(
            f"{url}{OIDC}/revoke",
            data={"client_id": "demobank-cli", "token": tokens["access_token"]},
        ),
    )
    t.record(
        "logout",
        http.post(
            f"{url}{OIDC}/logout",
            data={"client_id": "demobank-cli", "refresh_token": refreshed.json()["refresh_token"]},
        ),
    )
    t.record(
        "refresh after logout",
        http.post(
            f"{url}{OIDC}/token",
            data={
                "grant_type": "refresh_token",
                "client_id": "demobank-cli",
                "refresh_token": refreshed.json()["refresh_token"],
            },
        ),
    )
    token = tokens["access_token"].encode()
    for what, request in (
        (
            "bad HTTP version",
            b"GET /health?access_token=" + token + b" HTTP/9.9\r\nHost: x\r\n\r\n",
        ),
        ("bad request line", b"GET /health?access_token=" + token + b" BAD LINE\r\n\r\n"),
        (
            "header over the limit",
            b"GET /health HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
            + token
            + b"\r\nX-Pad: "
            + b"p" * 30_000
            + b"\r\n\r\n",
        ),
    ):
        t.answers.append((what, raw(url, request).decode("latin-1")))
    for what, path in (("request log", "/_mock/requests"), ("server errors", "/_mock/errors")):
        response = http.get(url + path)
        assert response.status_code == 200
        t.answers.append((what, response.text))
    return t


def assert_no_leaks(transcript: Transcript, **outputs: str) -> None:
    for what, text in transcript.answers + list(outputs.items()):
        assert transcript.leaks(text) == [], f"secret in {what}"


# -- in-process: every logger at DEBUG ---------------------------------------------------------


def test_secrets_stay_out_of_logs_bodies_headers_and_request_log(
    realm_file: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    with MockServer(MockConfig(port=0, config=str(realm_file))) as server:
        transcript = run_scenario(server.url)
    out, err = capfd.readouterr()
    # The test's own HTTP client (urllib3) logs URLs with query strings; the server must not.
    server_records = [r for r in caplog.records if not r.name.startswith("urllib3")]
    logs = "\n".join(
        f"{r.name} {r.getMessage()} {caplog.handler.format(r)}" for r in server_records
    )
    assert "/demobank/accounts" in logs  # the request log did log the scenario
    assert_no_leaks(transcript, logs=logs, stdout=out, stderr=err)


# -- as users run it: keycloak-mock and gunicorn, searched on stdout/stderr --------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited: {process.communicate()}")
        try:
            if requests.get(f"{url}/health/ready", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            time.sleep(0.05)
    raise AssertionError("server did not become ready")


def cli_command(port: int, realm_file: Path) -> list[str]:
    return [sys.executable, "-m", "keycloak_mock", "--port", str(port), "--config", str(realm_file)]


def gunicorn_command(port: int, realm_file: Path) -> list[str]:
    return [
        sys.executable, "-m", "gunicorn", "--config", "python:keycloak_mock.serving.gunicorn_conf",
        "keycloak_mock.serving.wsgi:app_from_env()",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "command", [cli_command, gunicorn_command], ids=["keycloak-mock", "gunicorn"]
)
def test_secrets_stay_out_of_server_output(
    realm_file: Path, command: Callable[[int, Path], list[str]]
) -> None:
    port = free_port()
    env = {**os.environ, "KEYCLOAK_MOCK_PORT": str(port), "KEYCLOAK_MOCK_CONFIG": str(realm_file)}
    process = subprocess.Popen(
        command(port, realm_file),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process)
        transcript = run_scenario(url)
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    assert "never use it to guard real data" in out + err
    assert_no_leaks(transcript, stdout=out, stderr=err)


def test_remote_bind_is_refused_without_the_flag_and_warned_about_with_it() -> None:
    refused = subprocess.run(
        [sys.executable, "-m", "keycloak_mock", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert refused.returncode == 2
    assert "is not a loopback address" in refused.stderr
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "keycloak_mock",
            "--host",
            "0.0.0.0",
            "--port",
            str(port),
            "--allow-remote",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}", process)
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=20)
    assert out.splitlines()[0] == (
        "keycloak-mock: MOCK Keycloak for development and tests only; "
        "never use it to guard real data."
    )


# -- constant-time comparison ------------------------------------------------------------------
# A timing probe on a shared machine is a wall-clock bet, so these tests check the mechanism
# instead: every secret comparison goes through the standard library's constant-time
# ``hmac.compare_digest``, with the whole guess and the whole secret, and its verdict is the
# answer.  ``hmac.compare_digest`` is patched with a recorder that calls the real one; the mock's
# own code runs unchanged.


@pytest.fixture
def comparisons(monkeypatch: pytest.MonkeyPatch) -> list[tuple[bytes, bytes, bool]]:
    real = hmac.compare_digest
    seen: list[tuple[bytes, bytes, bool]] = []

    def recording(a: Any, b: Any) -> bool:
        verdict = real(a, b)
        seen.append((bytes(a), bytes(b), verdict))
        return verdict

    monkeypatch.setattr(hmac, "compare_digest", recording)
    return seen


def test_password_check_compares_in_constant_time(
    comparisons: list[tuple[bytes, bytes, bool]],
) -> None:
    credential = PlainCredential("TEST-ONLY-pw-S3cret")
    assert credential.verify("TEST-ONLY-pw-S3creT") is False
    assert credential.verify("TEST-ONLY-pw-S3cret") is True
    assert sorted(comparisons) == sorted(
        [
            (b"TEST-ONLY-pw-S3cret", b"TEST-ONLY-pw-S3creT", False),
            (b"TEST-ONLY-pw-S3cret", b"TEST-ONLY-pw-S3cret", True),
        ]
    )


def test_client_secret_check_compares_in_constant_time(
    comparisons: list[tuple[bytes, bytes, bool]],
) -> None:
    secret = "TEST-ONLY-client-s3cret"
    client = ClientConfig(client_id="backend", public_client=False, secret=secret)
    realm = RealmConfig(realm="r", clients=(client,))
    with pytest.raises(UnauthorizedClient):
        authenticate_client(
            realm, {"client_id": "backend", "client_secret": secret[:-1] + "T"}, None
        )
    assert authenticate_client(realm, {"client_id": "backend", "client_secret": secret}, None) == (
        client
    )
    assert [(sorted((a, b)), verdict) for a, b, verdict in comparisons] == [
        (sorted((b"TEST-ONLY-client-s3creT", secret.encode())), False),
        (sorted((secret.encode(), secret.encode())), True),
    ]
