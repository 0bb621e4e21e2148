"""pytest plugin: the mock Keycloak in-process, as fixtures.

Registered through the ``pytest11`` entry point, so installing the package is enough.  Every name
is prefixed ``keycloak_`` because ``client``, ``app`` and ``config`` belong to other plugins.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .config import MockConfig
from .server import MockServer


@pytest.fixture(scope="session")
def keycloak_mock_config() -> MockConfig:
    """Options of the session's mock server; override it in a conftest to change them."""
    return MockConfig(port=0)


@pytest.fixture(scope="session")
def keycloak_mock_server(keycloak_mock_config: MockConfig) -> Iterator[MockServer]:
    """One mock Keycloak per test session, on a free loopback port, served from a thread."""
    with MockServer(keycloak_mock_config) as server:
        yield server


@pytest.fixture
def keycloak_mock(keycloak_mock_server: MockServer) -> Iterator[MockServer]:
    """The session's mock server, reset to its pristine realms, keys and clock for this test."""
    keycloak_mock_server.state.reset()
    yield keycloak_mock_server
