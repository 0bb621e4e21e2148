"""Shared test helpers.  Fixtures of the mock itself come from the installed pytest plugin."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from keycloak_mock import MockConfig, MockServer

from .client_support import Wiretap

pytest_plugins = ["pytester"]

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = REPO_ROOT / "fixtures"
REALMS_FILE = FIXTURES / "realms.json"


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
def wiretap(tapped_server: tuple[MockServer, Wiretap], server: MockServer) -> Wiretap:
    """What the module's ``tapped_server`` mock received during this test."""
    return tapped_server[1]
