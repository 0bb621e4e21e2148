"""What the pytest plugin costs a test suite: session start-up and per-test reset.

    python benchmarks/fixture_cost.py            # about 20 s
    python benchmarks/fixture_cost.py --quick    # a few seconds; checks the script works
    python benchmarks/fixture_cost.py --json     # last line: the figures as JSON (run.py reads it)

Two views, both on loopback only:

- direct: the work of ``keycloak_mock_server`` (load the key, build realms and app, bind, serve
  the first request) and of ``keycloak_mock``'s per-test ``reset()`` on a dirtied state, timed
  in this process after imports, median of many runs; plus the cold import of the plugin in a
  fresh interpreter and the time ``stop()`` takes at session end;
- through pytest: a generated suite of N no-op tests with and without ``keycloak_mock``, run in
  a subprocess: the setup time pytest reports for the first test (it starts the server) and the
  median for the others (the per-test reset), and the wall time of both runs.

Timings are reported, never asserted: machines are noisy.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from keycloak_mock import MockConfig, MockServer, create_app, load_signing_key
from keycloak_mock.controls.local import controls_of
from keycloak_mock.handle import KeycloakMock
from keycloak_mock.imitation.realmfile import configured_realms

ROOT = Path(__file__).resolve().parent.parent


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 3)


def timed(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def session_start(runs: int) -> tuple[list[float], list[float]]:
    """Seconds to start the session server and get its first answer; seconds to stop it."""
    starts, stops = [], []
    for _ in range(runs):
        started = time.perf_counter()
        config = MockConfig(port=0)  # the fixtures keycloak_mock_config,
        key = load_signing_key()  # keycloak_signing_key,
        app = create_app(
            config, realms=configured_realms(config), signing_key=key
        )  # keycloak_mock_server
        server = MockServer(config, app=app).start()
        requests.get(server.url + "/health/ready", timeout=10).raise_for_status()
        starts.append(time.perf_counter() - started)
        stops.append(timed(server.stop))
    return starts, stops


def reset_cost(runs: int) -> list[float]:
    """Seconds per ``reset()`` of a state a test has used: a session, a user, a fault, a log."""
    with MockServer(MockConfig(port=0)) as server:
        handle = KeycloakMock(server.url, controls_of(server.app), server=server)
        form = {
            "client_id": "demobank-cli",
            "grant_type": "password",
            "username": "demo",
            "password": "demo",
        }
        samples = []
        for _ in range(runs):
            requests.post(handle.token_url, data=form, timeout=10).raise_for_status()
            handle.add_user("alice", "pw")
            handle.fail_next("certs")
            handle.advance(60)
            samples.append(timed(handle.reset))
        return samples


def cold_import() -> float:
    """Seconds for a fresh interpreter to import the plugin once pytest itself is imported: what
    the plugin adds to every pytest run of a project that has the kit installed."""
    code = (
        "import pytest, time; t = time.perf_counter(); import keycloak_mock.pytest_plugin; "
        "print(time.perf_counter() - t)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return float(out.stdout.strip())


#: Generated next to the test file: records each test's setup time with a monotonic clock.
_TIMING_CONFTEST = """
import json, pathlib, time
import pytest

SETUP = {}

@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    started = time.perf_counter()
    try:
        return (yield)
    finally:
        SETUP[item.name] = time.perf_counter() - started

def pytest_sessionfinish(session):
    pathlib.Path("setup_times.json").write_text(json.dumps(SETUP))
"""


def through_pytest(tests: int) -> dict[str, float]:
    """Run N no-op tests with and without ``keycloak_mock`` in a pytest subprocess."""
    body = "\n".join(
        [
            "import pytest",
            f"@pytest.mark.parametrize('n', range({tests}))",
            "def test_with(keycloak_mock, n):",
            "    pass",
            f"@pytest.mark.parametrize('n', range({tests}))",
            "def test_without(n):",
            "    pass",
        ]
    )
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_cost.py", "-k"]
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "conftest.py").write_text(_TIMING_CONFTEST, encoding="utf-8")
        Path(folder, "test_cost.py").write_text(body, encoding="utf-8")
        wall: dict[str, float] = {}
        setup: dict[str, float] = {}
        for name in ("with", "without"):
            started = time.perf_counter()
            result = subprocess.run(
                [*argv, f"test_{name}"],
                cwd=folder,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            wall[name] = time.perf_counter() - started
            if result.returncode != 0:
                raise RuntimeError(result.stdout[-2000:])
            setup.update(json.loads(Path(folder, "setup_times.json").read_text(encoding="utf-8")))
    with_mock = [setup[f"test_with[{i}]"] for i in range(tests)]
    without = [setup[f"test_without[{i}]"] for i in range(tests)]
    return {
        "pytest_first_setup_ms": round(with_mock[0] * 1000, 3),
        "pytest_setup_ms": median_ms(with_mock[1:]),
        "pytest_setup_without_ms": median_ms(without[1:]),
        "pytest_wall_with_s": round(wall["with"], 3),
        "pytest_wall_without_s": round(wall["without"], 3),
    }


def measure(quick: bool) -> dict[str, Any]:
    runs, resets, tests = (3, 50, 20) if quick else (15, 2000, 300)
    starts, stops = session_start(runs)
    figures: dict[str, Any] = {
        "session_start_ms": median_ms(starts),
        "session_stop_ms": median_ms(stops),
        "plugin_import_ms": round(cold_import() * 1000, 1),
        "reset_ms": median_ms(reset_cost(resets)),
        "runs": {"session_starts": runs, "resets": resets, "pytest_tests": tests},
    }
    figures.update(through_pytest(tests))
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few runs: checks the script works")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON last")
    args = parser.parse_args()
    figures = measure(args.quick)
    lines = [
        ("session start-up (key, realms, app, bind, first answer)", "session_start_ms", "ms"),
        ("session stop (the serve loop polls for shutdown every 0.05 s)", "session_stop_ms", "ms"),
        ("plugin import in a fresh interpreter, after pytest's own", "plugin_import_ms", "ms"),
        ("per-test reset()", "reset_ms", "ms"),
        ("pytest: first keycloak_mock setup (starts the server)", "pytest_first_setup_ms", "ms"),
        ("pytest: keycloak_mock setup of later tests (median)", "pytest_setup_ms", "ms"),
        ("pytest: setup of a test without fixtures (median)", "pytest_setup_without_ms", "ms"),
        (
            f"pytest: wall time, {figures['runs']['pytest_tests']} tests with keycloak_mock",
            "pytest_wall_with_s",
            "s",
        ),
        (
            f"pytest: wall time, {figures['runs']['pytest_tests']} tests without",
            "pytest_wall_without_s",
            "s",
        ),
    ]
    for label, key, unit in lines:
        print(f"{label + ':':<60} {figures[key]} {unit}")
    if args.json:
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
