"""A conftest.py that serves your own realm file (shipped next to it) in every test."""

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def keycloak_realms_file():
    return str(Path(__file__).parent / "realms.json")
