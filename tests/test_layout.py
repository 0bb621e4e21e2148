"""The architecture holds: layers, no cycles, one control contract, light imports where promised."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import keycloak_mock
from keycloak_mock.controls.local import Controls
from keycloak_mock.controls.protocol import MockControls
from keycloak_mock.controls.remote import RemoteControls

from .conftest import REPO_ROOT, packages_loaded_by

HEAVY = ("flask", "werkzeug", "cryptography", "jwt")


def test_import_linter_contracts_are_kept() -> None:
    """Layers, the client's independence, light remote controls and no cycles (pyproject)."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint_imports), "--no-cache"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout
    for contract in ("Layers", "never imports the server", "Remote controls", "No import cycles"):
        assert any(contract in line and line.endswith("KEPT") for line in done.stdout.splitlines())


def _contract_methods() -> list[str]:
    return sorted(
        name
        for name, member in vars(MockControls).items()
        if callable(member) and not name.startswith("_")
    )


@pytest.mark.parametrize("implementation", [Controls, RemoteControls])
@pytest.mark.parametrize("name", _contract_methods())
def test_both_controls_implement_the_contract_with_its_signatures(
    implementation: type, name: str
) -> None:
    expected = inspect.signature(getattr(MockControls, name))
    actual = inspect.signature(getattr(implementation, name))
    assert actual == expected, f"{implementation.__name__}.{name}{actual} != {expected}"


def test_the_contract_covers_every_public_operation_of_the_in_process_controls() -> None:
    public = {
        name
        for name, member in vars(Controls).items()
        if callable(member) and not name.startswith("_") and not isinstance(member, property)
    }
    assert public - {"state"} <= set(_contract_methods())
    assert len(_contract_methods()) >= 38


def test_keycloak_mock_is_exported_lazily_and_is_the_handle() -> None:
    from keycloak_mock.handle import KeycloakMock

    assert keycloak_mock.KeycloakMock is KeycloakMock
    assert keycloak_mock.MockControls is MockControls
    assert "KeycloakMock" in keycloak_mock.__all__
    assert packages_loaded_by("keycloak_mock", HEAVY) == []


def test_remote_mode_loads_no_web_framework_or_crypto() -> None:
    modules = "keycloak_mock.pytest_plugin, keycloak_mock.handle, keycloak_mock.controls.remote"
    assert packages_loaded_by(modules, HEAVY) == []


def test_the_installed_names_are_our_own() -> None:
    """Nothing generic at the top level: a user's own ``client`` or ``mock_server`` stays theirs."""
    assert keycloak_mock.__name__ == "keycloak_mock"
    import demobank_client

    assert Path(demobank_client.__file__).parent.name == "demobank_client"
    top_level = {path.name for path in (REPO_ROOT / "mock_server").iterdir() if path.is_dir()}
    assert "keycloak_mock" in top_level
    assert not (REPO_ROOT / "mock_server" / "__init__.py").exists()
    assert not (REPO_ROOT / "client" / "__init__.py").exists()
