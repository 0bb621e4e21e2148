"""Status lines carry the reason phrases Keycloak's HTTP layer sends (``401 Unauthorized``, not
Werkzeug's ``401 UNAUTHORIZED``), under the development server and under gunicorn alike."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import requests

from keycloak_mock import MockServer

TOKEN_PATH = "/realms/customer/protocol/openid-connect/token"
LOGIN = {"client_id": "demobank-cli", "grant_type": "password", "username": "demo"}
#: (method, path, form, status, reason phrase as Keycloak's Vert.x writes it)
CASES = [
    ("POST", TOKEN_PATH, {**LOGIN, "password": "demo"}, 200, "OK"),
    ("POST", TOKEN_PATH, {**LOGIN, "password": "wrong"}, 401, "Unauthorized"),
    ("POST", TOKEN_PATH, {"client_id": "demobank-cli"}, 400, "Bad Request"),
    ("GET", "/realms/nope/protocol/openid-connect/certs", None, 404, "Not Found"),
    ("GET", TOKEN_PATH, None, 405, "Method Not Allowed"),
    ("POST", TOKEN_PATH, {"password": "x" * 2_000_000}, 413, "Request Entity Too Large"),
    ("GET", "/realms/customer/protocol/openid-connect/userinfo", None, 401, "Unauthorized"),
]
IDS = [f"{status} {reason}" for *_, status, reason in CASES]


def exchange(base: str, method: str, path: str, form: dict[str, str] | None) -> requests.Response:
    return requests.request(method, base + path, data=form, timeout=30)


@pytest.fixture(scope="module")
def dev_server() -> Iterator[MockServer]:
    with MockServer() as server:
        yield server


@pytest.mark.parametrize(("method", "path", "form", "status", "reason"), CASES, ids=IDS)
def test_development_server_reason_phrases(
    dev_server: MockServer,
    method: str,
    path: str,
    form: dict[str, str] | None,
    status: int,
    reason: str,
) -> None:
    response = exchange(dev_server.url, method, path, form)
    assert (response.status_code, response.reason) == (status, reason)


@pytest.fixture(scope="module")
def gunicorn_url() -> Iterator[str]:
    """``gunicorn`` with the container's settings, on a free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "KEYCLOAK_MOCK_PORT": str(port), "KEYCLOAK_MOCK_HOST": "127.0.0.1"}
    command = [
        sys.executable, "-m", "gunicorn", "--config", "python:keycloak_mock.serving.gunicorn_conf",
        "keycloak_mock.serving.wsgi:app_from_env()",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{url}/health/ready", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.05)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(15)


@pytest.mark.parametrize(("method", "path", "form", "status", "reason"), CASES, ids=IDS)
def test_gunicorn_reason_phrases(
    gunicorn_url: str,
    method: str,
    path: str,
    form: dict[str, str] | None,
    status: int,
    reason: str,
) -> None:
    response = exchange(gunicorn_url, method, path, form)
    assert (response.status_code, response.reason) == (status, reason)


def test_logout_is_204_no_content(dev_server: MockServer) -> None:
    tokens = requests.post(
        dev_server.url + TOKEN_PATH, data={**LOGIN, "password": "demo"}, timeout=10
    ).json()
    response = requests.post(
        dev_server.url + "/realms/customer/protocol/openid-connect/logout",
        data={"client_id": "demobank-cli", "refresh_token": tokens["refresh_token"]},
        timeout=10,
    )
    assert (response.status_code, response.reason) == (204, "No Content")
