"""The image on a real Docker engine: built from this work tree, run, stopped and composed.

Marked ``container``.  Runs whenever a Docker engine answers; without one the tests skip with
the reason, except under ``CI=true``, where a skip would hide a broken image and fails instead.
The image builds on ``DEMOBANK_MOCK_TEST_BASE_IMAGE`` when set (a machine without Docker Hub
points it at a local Python base image), else on the Dockerfile's own default.  Every
container, network, compose project and image tag made here has a unique ``kcmock-test-`` name
and is removed again.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import jwt
import pytest
import requests

from .conftest import FIXTURES, REPO_ROOT, token_url

pytestmark = pytest.mark.container

BASE_IMAGE_ENV = "DEMOBANK_MOCK_TEST_BASE_IMAGE"
PASSWORD_FORM = {
    "client_id": "demobank-cli",
    "username": "demo",
    "password": "demo",
    "grant_type": "password",
}
SOURCE_URL = "https://example.test/demobank-keycloak-mock"
#: Generous: the machines that run this are shared, and an image build may pull layers.
BUILD_TIMEOUT = 900
HEALTHY_TIMEOUT = 90


def docker(
    *args: str, timeout: float = 120, check: bool = True
) -> subprocess.CompletedProcess[str]:
    # The legacy builder: BuildKit would want its frontend from Docker Hub on some setups.
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    done = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, env=env, check=False
    )
    if check and done.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: exit {done.returncode}\n{done.stderr}")
    return done


def unique(kind: str) -> str:
    return f"kcmock-test-{kind}-{uuid.uuid4().hex[:10]}"


def skip_or_fail(reason: str) -> None:
    """A missing engine skips the test on a laptop and fails it in CI."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and the container tests cannot run: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def docker_engine() -> str:
    """The engine's version, once it answers."""
    if shutil.which("docker") is None:
        skip_or_fail("no docker command (a Docker engine runs the container tests)")
    try:
        answer = docker("version", "--format", "{{.Server.Version}}", timeout=30, check=False)
    except subprocess.TimeoutExpired:
        skip_or_fail("the Docker engine did not answer within 30 s")
    if answer.returncode != 0:
        skip_or_fail(f"no Docker engine answers: {answer.stderr.strip()[:200]}")
    return answer.stdout.strip()


@pytest.fixture(scope="session")
def image(docker_engine: str) -> Iterator[str]:
    """The image built from this work tree, once per pytest session (the layer cache helps)."""
    base = os.environ.get(BASE_IMAGE_ENV) or dockerfile_base_image()
    present = docker("image", "inspect", base, check=False).returncode == 0
    if not present and docker("pull", base, timeout=600, check=False).returncode != 0:
        skip_or_fail(f"base image {base} cannot be pulled; set {BASE_IMAGE_ENV} to a local one")
    build_args = ["--build-arg", f"SOURCE_URL={SOURCE_URL}", "--build-arg", f"PYTHON_IMAGE={base}"]
    tag = f"{unique('image')}:latest"
    docker("build", "--quiet", *build_args, "--tag", tag, str(REPO_ROOT), timeout=BUILD_TIMEOUT)
    try:
        yield tag
    finally:
        docker("image", "rm", "--force", tag, check=False)


def dockerfile_base_image() -> str:
    found = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", (REPO_ROOT / "Dockerfile").read_text(), re.M)
    assert found is not None, "the Dockerfile names its default base image"
    return found.group(1)


@dataclass
class Running:
    name: str
    port: int
    seconds_to_healthy: float

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def inspect(self) -> dict[str, Any]:
        found: list[dict[str, Any]] = json.loads(docker("inspect", self.name).stdout)
        return found[0]


def wait_until_healthy(name: str, started: float) -> float:
    deadline = started + HEALTHY_TIMEOUT
    while time.monotonic() < deadline:
        state = json.loads(docker("inspect", "--format", "{{json .State}}", name).stdout)
        if state.get("Health", {}).get("Status") == "healthy":
            return time.monotonic() - started
        if state["Status"] == "exited":
            logs = docker("logs", name, check=False)
            raise AssertionError(f"{name} exited {state['ExitCode']}:\n{logs.stderr}")
        time.sleep(0.2)
    raise AssertionError(f"{name} not healthy within {HEALTHY_TIMEOUT} s")


def published_port(name: str) -> int:
    mapping = docker("port", name, "8080/tcp").stdout.split()[0]
    host, _, port = mapping.rpartition(":")
    assert host == "127.0.0.1", f"published beyond loopback: {mapping}"
    return int(port)


def run_container(image: str, *options: str) -> Running:
    name = unique("run")
    started = time.monotonic()
    docker("run", "--detach", "--name", name, "--publish", "127.0.0.1::8080", *options, image)
    try:
        seconds = wait_until_healthy(name, started)
        return Running(name, published_port(name), seconds)
    except BaseException:
        docker("rm", "--force", name, check=False)
        raise


@pytest.fixture(scope="module")
def locked_down(image: str) -> Iterator[Running]:
    """How a careful CI user runs it: read-only root, realms mounted read-only, env config."""
    running = run_container(
        image,
        "--read-only",
        "--volume",
        f"{FIXTURES}:/fixtures:ro",
        "--env",
        "KEYCLOAK_MOCK_CONFIG=/fixtures/realms.json",
        "--env",
        "KEYCLOAK_MOCK_ACCESS_TOKEN_LIFESPAN=120",
    )
    try:
        yield running
    finally:
        docker("rm", "--force", running.name, check=False)


def verified_claims(base: str, token: str, realm: str = "customer") -> dict[str, Any]:
    jwks = jwt.PyJWKClient(f"{base}/realms/{realm}/protocol/openid-connect/certs")
    claims: dict[str, Any] = jwt.decode(
        token,
        jwks.get_signing_key_from_jwt(token).key,
        algorithms=["RS256"],
        options={"verify_aud": False},
    )
    return claims


def test_token_from_the_host_through_the_published_port(locked_down: Running) -> None:
    login = requests.post(token_url(locked_down.base), data=PASSWORD_FORM, timeout=10)
    assert login.status_code == 200, login.text
    assert login.json()["expires_in"] == 120  # KEYCLOAK_MOCK_ACCESS_TOKEN_LIFESPAN
    claims = verified_claims(locked_down.base, login.json()["access_token"])
    assert claims["iss"] == f"{locked_down.base}/realms/customer"
    assert claims["preferred_username"] == "demo"


def test_realm_file_is_mounted_read_only_and_read(locked_down: Running) -> None:
    sandbox = requests.post(
        token_url(locked_down.base, "sandbox-mandator"),
        data={**PASSWORD_FORM, "username": "sandbox", "password": "sandbox"},
        timeout=10,
    )
    assert sandbox.status_code == 200, sandbox.text  # the realm only fixtures/realms.json has
    (mount,) = locked_down.inspect()["Mounts"]
    assert (mount["Destination"], mount["RW"]) == ("/fixtures", False)


def test_runs_as_non_root(locked_down: Running) -> None:
    assert locked_down.inspect()["Config"]["User"] == "10001:10001"
    who = docker("exec", locked_down.name, "id", "-u").stdout.strip()
    assert who == "10001"
    # The server processes themselves (gunicorn's arbiter and its worker):
    processes = docker("top", locked_down.name, "-o", "pid,uid,comm").stdout.splitlines()[1:]
    assert processes and all(line.split()[1] == "10001" for line in processes), processes


def test_root_file_system_is_read_only(locked_down: Running) -> None:
    assert locked_down.inspect()["HostConfig"]["ReadonlyRootfs"] is True
    write = docker("exec", locked_down.name, "python", "-c", "open('/probe', 'w')", check=False)
    assert write.returncode != 0 and "Read-only file system" in write.stderr
    # ... and the server, which writes nothing, stays healthy on it.
    assert requests.get(f"{locked_down.base}/health/ready", timeout=10).status_code == 200


def test_labels_name_source_version_licence_and_description(locked_down: Running) -> None:
    labels = locked_down.inspect()["Config"]["Labels"]
    dist = metadata.metadata("demobank-keycloak-mock")
    assert labels["org.opencontainers.image.source"] == SOURCE_URL
    assert labels["org.opencontainers.image.version"] == dist["Version"]
    assert labels["org.opencontainers.image.licenses"] == dist["License-Expression"]
    assert labels["org.opencontainers.image.description"] == dist["Summary"]


def test_docker_stop_lets_a_request_in_flight_finish(image: str) -> None:
    """``docker stop`` while a login sleeps in a delay fault: the login is answered, exit 0."""
    running = run_container(image)
    try:
        armed = requests.post(
            f"{running.base}/_mock/faults", json={"delay": 2.0, "times": 1}, timeout=10
        )
        assert armed.status_code == 201, armed.text
        outcome: dict[str, Any] = {}

        def login() -> None:
            try:
                answer = requests.post(token_url(running.base), data=PASSWORD_FORM, timeout=30)
                outcome["status"] = answer.status_code
            except requests.RequestException as exc:
                outcome["error"] = repr(exc)

        in_flight = threading.Thread(target=login)
        in_flight.start()
        deadline = time.monotonic() + 30
        # The fault is used up once the login has started sleeping in it.
        while requests.get(f"{running.base}/_mock/faults", timeout=10).json()["faults"]:
            assert time.monotonic() < deadline, "the login never reached the server"
            time.sleep(0.05)
        docker("stop", "--time", "10", running.name, timeout=60)
        in_flight.join(30)
        state = running.inspect()["State"]
        logs = docker("logs", running.name).stderr
    finally:
        docker("rm", "--force", running.name, check=False)
    assert outcome == {"status": 200}
    assert (state["Status"], state["ExitCode"], state["OOMKilled"]) == ("exited", 0, False)
    assert "Traceback" not in logs


def test_bad_realm_file_ends_the_container_with_one_line(image: str) -> None:
    """No restart loop: the server stops with the error instead of rebooting a worker."""
    name = unique("bad")
    try:
        done = docker(
            "run",
            "--name",
            name,
            "--volume",
            f"{FIXTURES}:/fixtures:ro",
            "--env",
            "KEYCLOAK_MOCK_CONFIG=/fixtures/no-such-realms.json",
            image,
            timeout=120,
            check=False,
        )
        state = json.loads(docker("inspect", "--format", "{{json .State}}", name).stdout)
    finally:
        docker("rm", "--force", name, check=False)
    assert (done.returncode, state["ExitCode"], state["Restarting"]) == (2, 2, False)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("keycloak-mock: error: ") and "no-such-realms.json" in lines[0]


# -- docker-compose.yml ---------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Project:
    name: str
    env: dict[str, str]

    def compose(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            ["docker", "compose", "--project-name", self.name, "--profile", "example", *args],
            cwd=REPO_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert done.returncode == 0, f"compose {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done

    def leftovers(self) -> list[str]:
        label = f"label=com.docker.compose.project={self.name}"
        containers = docker("ps", "--all", "--quiet", "--filter", label).stdout.split()
        networks = docker("network", "ls", "--quiet", "--filter", label).stdout.split()
        return containers + networks


@pytest.fixture
def compose_project(image: str) -> Iterator[Project]:
    """docker-compose.yml as shipped, on the image built here and a free loopback port."""
    if docker("compose", "version", check=False).returncode != 0:
        skip_or_fail("no `docker compose` plugin")
    project = Project(
        unique("compose"),
        {
            **os.environ,
            "DOCKER_BUILDKIT": "0",
            "DEMOBANK_MOCK_IMAGE": image,
            "DEMOBANK_MOCK_PORT": str(free_port()),
        },
    )
    try:
        yield project
    finally:
        subprocess.run(
            [
                *("docker", "compose", "--project-name", project.name, "--profile", "example"),
                *("down", "--volumes", "--remove-orphans", "--timeout", "10"),
            ],
            cwd=REPO_ROOT,
            env=project.env,
            capture_output=True,
            timeout=120,
            check=False,
        )


def test_compose_up_wait_example_and_down(compose_project: Project) -> None:
    compose_project.compose("up", "--wait", "--no-build", "keycloak-mock")
    base = f"http://127.0.0.1:{compose_project.env['DEMOBANK_MOCK_PORT']}"

    # From the host, through the published port: the issuer is the URL the host used.
    login = requests.post(token_url(base), data=PASSWORD_FORM, timeout=10)
    assert login.status_code == 200, login.text
    assert verified_claims(base, login.json()["access_token"])["iss"] == f"{base}/realms/customer"

    # From another container on the compose network: the example profile prints a token whose
    # issuer is the service name it used.
    example = compose_project.compose("run", "--rm", "--no-TTY", "example-app")
    printed = json.loads(example.stdout)
    assert printed["token_type"] == "Bearer"
    claims = jwt.decode(printed["access_token"], options={"verify_signature": False})
    assert claims["iss"] == "http://keycloak-mock:8080/realms/customer"

    compose_project.compose("down", "--volumes", "--remove-orphans", "--timeout", "10")
    assert compose_project.leftovers() == []
