"""Shared test helpers.  Fixtures of the mock itself come from the installed pytest plugin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from keycloak_mock import MockConfig, MockServer

from .client_support import Wiretap

pytest_plugins = ["pytester"]

# A separate user project: tests/test_install.py runs its tests in a virtualenv of its own.
collect_ignore = ["sample_project"]

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = REPO_ROOT / "fixtures"
REALMS_FILE = FIXTURES / "realms.json"

#: CI sets ``CI=true``: tests that need a tool fail there instead of skipping, and hypothesis
#: runs its CI profile.
IN_CI = os.environ.get("CI", "").lower() in {"true", "1", "yes"}

# Hypothesis profiles, chosen by ``HYPOTHESIS_PROFILE``, else by ``CI``.  Locally a run stays
# short; CI tries more examples, each run new ones (never derandomised), and prints the blob
# that reproduces a failure.  ``long`` is the documented long run.
settings.register_profile(
    "dev", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci", settings.get_profile("dev"), max_examples=200, derandomize=False, print_blob=True
)
settings.register_profile("long", settings.get_profile("dev"), max_examples=3000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if IN_CI else "dev"))


def packages_loaded_by(modules: str, packages: Iterable[str]) -> list[str]:
    """Which of ``packages`` a fresh interpreter has loaded after ``import {modules}``."""
    code = (
        f"import json, sys, {modules}\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & {set(packages)!r})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    loaded: list[str] = json.loads(done.stdout)
    return loaded


def token_url(base: str, realm: str = "customer") -> str:
    return f"{base}/realms/{realm}/protocol/openid-connect/token"


@pytest.fixture(scope="module")
def fixture_realms_server() -> Iterator[MockServer]:
    """A server loaded from ``fixtures/realms.json``, shared by the tests of a module."""
    with MockServer(MockConfig(port=0, config=str(REALMS_FILE))) as server:
        yield server


@pytest.fixture
def realms_server(fixture_realms_server: MockServer) -> MockServer:
    """``fixture_realms_server`` reset to pristine state for this test."""
    fixture_realms_server.state.reset()
    return fixture_realms_server


# -- client tests: a module defines ``tapped_server`` (its mock and a wiretap on it) --


@pytest.fixture
def server(tapped_server: tuple[MockServer, Wiretap]) -> MockServer:
    """The module's ``tapped_server`` mock, pristine, with an empty wiretap."""
    tapped_server[0].state.reset()
    tapped_server[1].clear()
    return tapped_server[0]


@pytest.fixture
def wiretap(tapped_server: tuple[MockServer, Wiretap], server: MockServer) -> Iterator[Wiretap]:
    """What the module's ``tapped_server`` mock received during this test; holds end with it."""
    yield tapped_server[1]
    tapped_server[1].release()
