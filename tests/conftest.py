"""Shared test helpers.  Fixtures of the mock itself come from the installed pytest plugin."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mock_server import MockConfig, MockServer

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
