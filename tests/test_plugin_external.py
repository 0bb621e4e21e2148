"""External mode and parallel runs: the same fixtures against a mock in another process, and
under pytest-xdist with one mock per worker.

The external mock is a real ``python -m keycloak_mock`` process, as CI runs the container.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from .plugin_support import free_port

ADMIN_TOKEN = "test-only-admin-token"
STRICT = ("-p", "no:cacheprovider", "--strict-markers", "-W", "error")

#: One test file, run unchanged in-process and against the external mock.
PORTABLE_TESTS = """
import pytest
import requests
from demobank_client import authorized_session

def login(mock, username="demo", password="demo"):
    form = {"client_id": "demobank-cli", "grant_type": "password",
            "username": username, "password": password}
    return requests.post(mock.token_url, data=form, timeout=10)

def test_time(keycloak_mock):
    body = login(keycloak_mock).json()
    keycloak_mock.expire_sessions()
    form = {"client_id": "demobank-cli", "grant_type": "refresh_token",
            "refresh_token": body["refresh_token"]}
    refused = requests.post(keycloak_mock.token_url, data=form, timeout=10)
    assert refused.json()["error_description"] == "Token is not active"

def test_users_and_log(keycloak_mock):
    keycloak_mock.add_user("alice", "pw")
    assert login(keycloak_mock, "alice", "pw").status_code == 200
    keycloak_mock.disable_user("alice")
    assert login(keycloak_mock, "alice", "pw").json()["error_description"] == "Account disabled"
    assert keycloak_mock.count(grant_type="password", username="alice") == 2

def test_faults(keycloak_mock):
    keycloak_mock.drop_next("token")
    with pytest.raises(requests.ConnectionError):
        login(keycloak_mock)
    keycloak_mock.fail_next("token", status=503)
    assert login(keycloak_mock).status_code == 503
    assert login(keycloak_mock).status_code == 200

def test_reset_between_tests(keycloak_mock):
    assert keycloak_mock.requests() == []
    assert login(keycloak_mock, "alice", "pw").status_code == 401

def test_keys(keycloak_mock):
    kid = keycloak_mock.rotate_signing_key()
    assert keycloak_mock.signing_kids()[0] == kid

@pytest.mark.keycloak_realm(access_token_lifespan=77)
def test_realm_marker(keycloak_mock):
    assert login(keycloak_mock).json()["expires_in"] == 77

def test_client(keycloak_mock, keycloak_client):
    session = authorized_session(keycloak_client)
    assert session.get(keycloak_mock.demobank_url + "/x", timeout=10).status_code == 200
    keycloak_mock.expire_access_tokens()
    assert session.get(keycloak_mock.demobank_url + "/x", timeout=10).status_code == 200
    assert keycloak_mock.count(grant_type="refresh_token") == 1

def test_in_process_only(keycloak_mock_server):
    assert keycloak_mock_server.state

@pytest.mark.keycloak_config(access_token_lifespan=30)
def test_own_server(keycloak_mock):
    assert login(keycloak_mock).json()["expires_in"] == 30
"""


def _start_mock(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "keycloak_mock", "--port", str(port)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/health/ready", timeout=1).ok:
                return process, url
        except requests.ConnectionError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("the external mock did not start")


@pytest.fixture(scope="module")
def external_mock() -> Iterator[str]:
    process, url = _start_mock({"KEYCLOAK_MOCK_ADMIN_TOKEN": ADMIN_TOKEN})
    yield url
    process.terminate()
    process.wait(10)


@pytest.fixture
def portable_project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv("KEYCLOAK_MOCK_URL", raising=False)
    monkeypatch.delenv("KEYCLOAK_MOCK_ADMIN_TOKEN", raising=False)
    pytester.makepyfile(test_portable=PORTABLE_TESTS)
    return pytester


def test_the_portable_tests_pass_in_process(portable_project: pytest.Pytester) -> None:
    portable_project.runpytest(*STRICT).assert_outcomes(passed=9)


def test_the_same_tests_pass_against_an_external_mock(
    portable_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, external_mock: str
) -> None:
    monkeypatch.setenv("KEYCLOAK_MOCK_ADMIN_TOKEN", ADMIN_TOKEN)
    result = portable_project.runpytest(f"--keycloak-url={external_mock}", "-rs", *STRICT)
    result.assert_outcomes(passed=7, skipped=2)
    result.stdout.fnmatch_lines(
        [
            f"*keycloak_mock_server needs an in-process mock; --keycloak-url {external_mock} is in "
            "another process*",
            "*@pytest.mark.keycloak_config needs an in-process mock*",
        ],
        consecutive=False,
    )


def test_the_issuer_is_the_external_mocks_public_one(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mock behind a public name (the compose service) issues tokens for that name."""
    public = "http://keycloak.example:8080"
    process, url = _start_mock({"KEYCLOAK_MOCK_ISSUER_URL": public})
    try:
        monkeypatch.delenv("KEYCLOAK_MOCK_ADMIN_TOKEN", raising=False)
        pytester.makepyfile(
            f"""
import jwt
import requests

def test_issuer(keycloak_mock):
    assert keycloak_mock.issuer == "{public}/realms/customer"
    assert keycloak_mock.token_url == "{url}/realms/customer/protocol/openid-connect/token"
    form = {{"client_id": "demobank-cli", "grant_type": "password",
             "username": "demo", "password": "demo"}}
    token = requests.post(keycloak_mock.token_url, data=form, timeout=10).json()["access_token"]
    assert jwt.decode(token, options={{"verify_signature": False}})["iss"] == keycloak_mock.issuer
"""
        )
        pytester.runpytest(f"--keycloak-url={url}", *STRICT).assert_outcomes(passed=1)
    finally:
        process.terminate()
        process.wait(10)


def test_external_url_from_the_environment(
    portable_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, external_mock: str
) -> None:
    monkeypatch.setenv("KEYCLOAK_MOCK_URL", external_mock)
    monkeypatch.setenv("KEYCLOAK_MOCK_ADMIN_TOKEN", ADMIN_TOKEN)
    portable_project.runpytest("-k", "users_and_log", *STRICT).assert_outcomes(passed=1)


def test_a_wrong_admin_token_fails_with_a_clear_message(
    portable_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, external_mock: str
) -> None:
    monkeypatch.setenv("KEYCLOAK_MOCK_ADMIN_TOKEN", "wrong")
    result = portable_project.runpytest(f"--keycloak-url={external_mock}", "-k", "time", *STRICT)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [f"*--keycloak-url {external_mock}: the control API needs Authorization: Bearer*"]
    )


def test_no_mock_at_the_url_fails_with_a_clear_message(portable_project: pytest.Pytester) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = portable_project.runpytest(f"--keycloak-url={url}", "-k", "time", *STRICT)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*--keycloak-url {url}: control API at {url} unreachable*"])


def test_xdist_gives_each_worker_its_own_mock(pytester: pytest.Pytester, tmp_path: Path) -> None:
    record = tmp_path / "urls"
    record.mkdir()
    pytester.makepyfile(
        test_parallel=f"""
import os
import pathlib
import pytest
import requests

@pytest.mark.parametrize("n", range(8))
def test_worker(keycloak_mock, n):
    keycloak_mock.fail_next("token", status=503)
    keycloak_mock.advance(n * 100)
    worker = os.environ["PYTEST_XDIST_WORKER"]
    pathlib.Path({str(record)!r}, f"{{worker}}-{{n}}").write_text(keycloak_mock.url)
    form = {{"client_id": "demobank-cli", "grant_type": "password",
             "username": "demo", "password": "demo"}}
    assert requests.post(keycloak_mock.token_url, data=form, timeout=10).status_code == 503
    assert requests.post(keycloak_mock.token_url, data=form, timeout=10).status_code == 200
    assert keycloak_mock.count("token") == 2
"""
    )
    # Plugins this project does not need are kept out: importing schemathesis alone takes seconds.
    unused = ("-p", "no:schemathesis", "-p", "no:hypothesispytest", "-p", "no:anyio")
    result = pytester.runpytest_subprocess("-n", "2", *unused, *STRICT, timeout=120)
    result.assert_outcomes(passed=8)
    urls_by_worker: dict[str, set[str]] = {}
    for path in record.iterdir():
        urls_by_worker.setdefault(path.name.split("-")[0], set()).add(path.read_text())
    assert len(urls_by_worker) == 2
    assert all(len(urls) == 1 for urls in urls_by_worker.values())
    first, second = (urls.pop() for urls in urls_by_worker.values())
    assert first != second
