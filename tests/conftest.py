"""Shared test helpers.  Fixtures of the mock itself come from the installed pytest plugin."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mock_server import MockConfig, MockServer

from .client_support import Wiretap

pytest_plugins = ["pytester"]

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = REPO_ROOT / "fixtures"
REALMS_FILE = FIXTURES / "realms.json"


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
