"""What the benchmark runs: each server as a process on a free loopback port.

- ``dev``: ``keycloak-mock`` (werkzeug's threaded server), as a developer runs it;
- ``container``: the Dockerfile's CMD and ENV, read from the Dockerfile (not copied), run on the
  host with host/port moved to loopback, as ``docker run -e`` would;
- ``ceiling-dev`` / ``ceiling-container``: ``ceiling_app.py`` under the same two servers;
- ``oauth2-mock-server``: the npm package, installed into ``benchmarks/.scratch`` on first use.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
SCRATCH = BENCH / ".scratch"
NPM_PACKAGE = "oauth2-mock-server@9"
FORM = "application/x-www-form-urlencoded"

KC_TOKEN_PATH = "/realms/customer/protocol/openid-connect/token"
KC_PASSWORD = urlencode(
    {"client_id": "demobank-cli", "username": "demo", "password": "demo", "grant_type": "password"}
)
NODE_PASSWORD = urlencode(
    {"grant_type": "password", "username": "demo", "password": "demo", "client_id": "demobank-cli"}
)


@dataclass
class Target:
    """A server the benchmark can launch; ``refresh`` is False where there is no refresh grant."""

    name: str
    command: Callable[[int], list[str]]
    token_path: str
    password_body: str
    env: Mapping[str, str] = field(default_factory=dict)
    refresh: bool = True
    client_id: str = "demobank-cli"
    #: Run like the image runs: its ENV, with host and port moved to loopback.
    container: bool = False
    #: Answers 200 to GET once serving, before any token is issued.
    ready_path: str = "/health/ready"

    def refresh_body(self, refresh_token: str) -> str:
        return urlencode(
            {
                "client_id": self.client_id,
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
            }
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def bin_path(name: str) -> str:
    """A console script of this virtualenv (the interpreter running the benchmark)."""
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        raise RuntimeError(f"{name} is not installed in {Path(sys.executable).parent}")
    return found


# -- the container setup, read from the Dockerfile ----------------------------------------------
def dockerfile_command() -> tuple[list[str], dict[str, str]]:
    """The final stage's ENTRYPOINT+CMD (exec form) and ENV, as the image would run them."""
    from dockerfile_parse import DockerfileParser

    parser = DockerfileParser(path=str(ROOT / "Dockerfile"))
    entrypoint: list[str] = []
    cmd: list[str] = []
    for instruction in parser.structure:
        kind = instruction["instruction"]
        if kind == "FROM":
            entrypoint, cmd = [], []
        elif kind == "ENTRYPOINT":
            entrypoint = json.loads(instruction["value"])
        elif kind == "CMD":
            cmd = json.loads(instruction["value"])
    return [*entrypoint, *cmd], dict(parser.envs)


def container_env(port: int, image_env: Mapping[str, str]) -> dict[str, str]:
    """The image's ENV with the bind moved to loopback and this port: what ``-e`` would do."""
    env = {
        **os.environ,
        **image_env,
        "KEYCLOAK_MOCK_HOST": "127.0.0.1",
        "KEYCLOAK_MOCK_PORT": str(port),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    return env


def container_command(app_spec: str | None = None) -> Callable[[int], list[str]]:
    command, _ = dockerfile_command()

    def build(port: int) -> list[str]:
        argv = list(command)
        argv[0] = bin_path(argv[0])
        if app_spec is not None:
            if ":" not in argv[-1]:
                raise RuntimeError(f"the Dockerfile's CMD does not end with a WSGI app: {command}")
            argv[-1] = app_spec
        return argv

    return build


def targets(include_node: bool) -> list[Target]:
    _, image_env = dockerfile_command()
    pythonpath = {"PYTHONPATH": str(BENCH)}
    # The ceiling app has one route and no refresh grant.
    found: list[Target] = [
        Target(
            "dev",
            lambda port: [bin_path("keycloak-mock"), "--port", str(port)],
            KC_TOKEN_PATH,
            KC_PASSWORD,
        ),
        Target(
            "container",
            container_command(),
            KC_TOKEN_PATH,
            KC_PASSWORD,
            env=image_env,
            container=True,
        ),
        Target(
            "ceiling-dev",
            lambda port: [sys.executable, str(BENCH / "ceiling_app.py"), "--port", str(port)],
            "/token",
            KC_PASSWORD,
            env=pythonpath,
            refresh=False,
        ),
        Target(
            "ceiling-container",
            container_command("ceiling_app:app_from_env()"),
            "/token",
            KC_PASSWORD,
            env={**image_env, **pythonpath},
            container=True,
            refresh=False,
        ),
    ]
    if include_node:
        node = node_server()
        found.append(
            Target(
                "oauth2-mock-server",
                lambda port: [node, "-a", "127.0.0.1", "-p", str(port)],
                token_path="/token",
                password_body=NODE_PASSWORD,
                ready_path="/.well-known/openid-configuration",
            )
        )
    return found


NODE_FIXED_KEY = "oauth2-mock-server --jwk"


def node_with_fixed_key(node: Target) -> Target:
    """oauth2-mock-server given a key (``--jwk``) instead of generating one at every start.

    Its default, without ``--jwk``, makes a new RSA key per launch, which takes a different time
    on every launch (the search for primes).  The mock ships its key, so this is the like-for-like
    cold start.  The key handed over is the mock's own test-only development key.
    """
    from jwt.algorithms import RSAAlgorithm

    from keycloak_mock.imitation.keys import load_signing_key

    signing_key = load_signing_key()
    jwk = RSAAlgorithm.to_jwk(signing_key.private_key, as_dict=True)
    jwk.update({"kid": signing_key.kid, "alg": "RS256", "use": "sig"})
    key_file = SCRATCH / "test-only-dev-key.jwk.json"
    SCRATCH.mkdir(parents=True, exist_ok=True)
    key_file.write_text(json.dumps(jwk))
    given = node.command

    def command(port: int) -> list[str]:
        return [*given(port), "--jwk", str(key_file)]

    return replace(node, name=NODE_FIXED_KEY, command=command)


def node_missing() -> str | None:
    """Why oauth2-mock-server cannot run here, or ``None``."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    return f"{' and '.join(missing)} not installed" if missing else None


def node_server() -> str:
    """The oauth2-mock-server executable, installed into ``benchmarks/.scratch`` on first use."""
    executable = SCRATCH / "node_modules" / ".bin" / "oauth2-mock-server"
    if not executable.exists():
        SCRATCH.mkdir(parents=True, exist_ok=True)
        package = SCRATCH / "package.json"
        if not package.exists():
            package.write_text('{"name": "keycloak-mock-bench-scratch", "private": true}\n')
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("npm is not installed")
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--loglevel=error", NPM_PACKAGE],
            cwd=SCRATCH,
            check=True,
            capture_output=True,
            timeout=300,
        )
    return str(executable)


# -- running one ----------------------------------------------------------------------------
class Running:
    """A launched target: its process, port and a way to stop it."""

    def __init__(self, target: Target, port: int, process: subprocess.Popen[bytes]) -> None:
        self.target = target
        self.port = port
        self.process = process

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.target.token_path}"

    def post(self, body: str, timeout: float = 5.0) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request("POST", self.target.token_path, body, {"Content-Type": FORM})
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def get(self, path: str, timeout: float = 5.0) -> int:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            return response.status
        finally:
            connection.close()

    def refresh_token(self) -> str:
        status, body = self.post(self.target.password_body)
        if status != 200:
            raise RuntimeError(f"{self.target.name}: password grant answered {status}")
        token: str = json.loads(body)["refresh_token"]
        return token

    def pids(self) -> list[int]:
        """The process and its children (gunicorn's worker)."""
        pids = [self.process.pid]
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        if children.exists():
            pids += [int(pid) for pid in children.read_text().split()]
        return pids

    def cpu_seconds(self) -> float:
        """User + system CPU time used so far by the process tree (all threads)."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.pids():
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            fields = stat.rpartition(")")[2].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
        return total / ticks

    def pss_mib(self) -> float:
        """Proportional set size of the process tree in MiB: shared pages counted once."""
        total_kib = 0
        for pid in self.pids():
            try:
                rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            except OSError:
                continue
            for line in rollup.splitlines():
                if line.startswith("Pss:"):
                    total_kib += int(line.split()[1])
        return total_kib / 1024

    def rss_mib(self) -> float:
        """Resident memory of the process tree (VmRSS summed), in MiB."""
        total_kib = 0
        for pid in self.pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmRSS:"):
                    total_kib += int(line.split()[1])
        return total_kib / 1024

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def launch(
    target: Target, *, wait: float = 30.0, poll: float = 0.002, token: bool = True
) -> tuple[Running, float]:
    """Start ``target`` and poll it until a 200; returns it and the seconds taken.

    With ``token`` the poll is a password grant, and the clock runs from just before the process
    is spawned to the first successful token response: what a CI job or a test session waits
    for.  Without, the poll is a GET of ``ready_path``, so the server has issued no token yet
    (its idle memory is measured that way).
    """
    port = free_port()
    env = {**os.environ, **target.env}
    if target.container:
        env = container_env(port, env)
    argv = target.command(port)
    started = time.perf_counter()
    process = subprocess.Popen(
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=str(BENCH)
    )
    running = Running(target, port, process)
    deadline = started + wait
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{target.name} exited with {process.returncode}: {' '.join(argv)}")
        try:
            if token:
                status, _ = running.post(target.password_body, timeout=2.0)
            else:
                status = running.get(target.ready_path, timeout=2.0)
            if status == 200:
                return running, time.perf_counter() - started
        except OSError:
            pass
        time.sleep(poll)
    running.stop()
    raise RuntimeError(f"{target.name} answered no token within {wait} s")


def stop_all(running: Sequence[Running]) -> None:
    for item in running:
        item.stop()
