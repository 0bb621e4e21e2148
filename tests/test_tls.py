"""https with a generated test-only CA (``--tls``) or a certificate of your own, everywhere the
mock is served: in-process, the CLI, the container's gunicorn, the pytest plugin."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from cryptography import x509

from keycloak_mock import MockConfig, MockServer
from keycloak_mock.imitation.errors import ConfigError
from keycloak_mock.serving.tls import generate, tls_files

from .test_cli import free_port

DISCOVERY = "/realms/customer/.well-known/openid-configuration"


def login(url: str, ca_file: str | None) -> requests.Response:
    form = {"grant_type": "password", "client_id": "demobank-cli"}
    form |= {"username": "demo", "password": "demo"}
    return requests.post(
        f"{url}/realms/customer/protocol/openid-connect/token",
        data=form,
        verify=ca_file,
        timeout=10,
    )


def test_tls_serves_https_and_the_issuer_follows_the_scheme() -> None:
    with MockServer(MockConfig(port=0, tls=True)) as server:
        assert server.url.startswith("https://127.0.0.1:")
        assert server.ca_file is not None
        document = requests.get(server.url + DISCOVERY, verify=server.ca_file, timeout=10).json()
        assert document["issuer"] == f"{server.url}/realms/customer"
        assert document["token_endpoint"].startswith("https://")
        localhost = server.url.replace("127.0.0.1", "localhost")
        assert login(localhost, server.ca_file).status_code == 200
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(server.url + DISCOVERY, timeout=10)


def test_a_silent_client_does_not_hold_up_the_others() -> None:
    with MockServer(MockConfig(port=0, tls=True)) as server:
        with socket.create_connection(("127.0.0.1", server.port)):
            response = requests.get(f"{server.url}/health", verify=server.ca_file, timeout=10)
        assert response.status_code == 200
        with pytest.raises(requests.ConnectionError):
            requests.get(server.url.replace("https://", "http://") + "/health", timeout=10)
        assert requests.get(f"{server.url}/health", verify=server.ca_file, timeout=10).ok


def test_the_generated_certificates_are_labelled_test_only(tmp_path: Path) -> None:
    files = generate(["localhost", "127.0.0.1", "::1", "mock.test"], str(tmp_path / "ca.pem"))
    assert files.ca_file == str(tmp_path / "ca.pem")
    ca = x509.load_pem_x509_certificate(Path(files.ca_file).read_bytes())
    assert "TEST-ONLY" in ca.subject.rfc4514_string()
    assert "TEST-ONLY" in files.key_file
    server = x509.load_pem_x509_certificates(Path(files.cert_file).read_bytes())[0]
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost", "mock.test"]
    assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}
    assert oct(os.stat(files.key_file).st_mode & 0o777) == "0o600"


def test_a_certificate_of_your_own(tmp_path: Path) -> None:
    own = generate(["localhost", "127.0.0.1"], str(tmp_path / "my-ca.pem"))
    config = MockConfig(port=0, tls_cert=own.cert_file, tls_key=own.key_file)
    with MockServer(config) as server:
        assert server.ca_file is None
        assert login(server.url, own.ca_file).status_code == 200


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"tls_cert": "cert.pem"}, "--tls-cert and --tls-key go together"),
        ({"tls_cert": "nope.pem", "tls_key": "nope.pem"}, "is not a readable file"),
    ],
)
def test_bad_tls_options(options: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        tls_files(MockConfig(**options))  # type: ignore[arg-type]


def _wait_for_line(process: subprocess.Popen[str], needle: str) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if needle in line:
            return line
        if not line and process.poll() is not None:
            break
    raise AssertionError(
        f"no line with {needle!r}; stderr: {process.stderr.read() if process.stderr else ''}"
    )


def test_cli_prints_the_ca_bundle_and_serves_https(tmp_path: Path) -> None:
    port = free_port()
    ca_file = tmp_path / "ca.pem"
    process = subprocess.Popen(
        [sys.executable, "-m", "keycloak_mock", "--port", str(port), "--tls"],
        env={**os.environ, "KEYCLOAK_MOCK_TLS_CA_FILE": str(ca_file)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = _wait_for_line(process, "CA bundle")
        assert line.strip().endswith(str(ca_file))
        assert login(f"https://localhost:{port}", str(ca_file)).status_code == 200
    finally:
        process.terminate()
        process.communicate(timeout=10)


def test_the_containers_server_serves_https_from_env_vars(tmp_path: Path) -> None:
    """The Dockerfile's gunicorn command, with ``KEYCLOAK_MOCK_TLS`` and its CA file."""
    pytest.importorskip("gunicorn")
    port = free_port()
    ca_file = tmp_path / "ca.pem"
    env = {
        **os.environ,
        "KEYCLOAK_MOCK_PORT": str(port),
        "KEYCLOAK_MOCK_TLS": "true",
        "KEYCLOAK_MOCK_TLS_CA_FILE": str(ca_file),
    }
    command = [
        sys.executable, "-m", "gunicorn", "--config",
        "python:keycloak_mock.serving.gunicorn_conf", "keycloak_mock.serving.wsgi:app_from_env()",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        _wait_for_line(process, "CA bundle")
        deadline = time.monotonic() + 30
        while True:
            try:
                response = login(f"https://127.0.0.1:{port}", str(ca_file))
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "gunicorn did not answer over https"
                time.sleep(0.1)
        assert response.status_code == 200
        assert response.json()["access_token"]
        probe = subprocess.run(
            [sys.executable, "-m", "keycloak_mock", "healthcheck"],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert probe.returncode == 0, probe.stdout + probe.stderr
    finally:
        process.terminate()
        process.communicate(timeout=30)


def test_pytest_plugin_marker_and_client_trust_the_ca(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        import requests

        @pytest.mark.keycloak_config(tls=True)
        def test_https(keycloak_mock, keycloak_client):
            assert keycloak_mock.url.startswith("https://")
            assert keycloak_mock.issuer.startswith("https://")
            assert keycloak_client.access_token()
            jwks = requests.get(keycloak_mock.jwks_url, verify=keycloak_mock.ca_file, timeout=10)
            assert jwks.status_code == 200

        def test_option(keycloak_mock, keycloak_client):
            assert keycloak_mock.url.startswith("https://")
            assert keycloak_client.access_token()
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--keycloak-tls")
    result.assert_outcomes(passed=2)
