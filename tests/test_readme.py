"""README stays true to CI (its set-up commands), the docs to the CLI (the flag table)."""

from __future__ import annotations

import dataclasses
import re

from keycloak_mock import MockConfig
from keycloak_mock.serving.options import env_var, flag

from .conftest import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
CONFIGURATION = (REPO_ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")


def fenced_commands(section_heading: str) -> list[str]:
    section = README.split(section_heading, 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```\n(.*?)```", section, flags=re.DOTALL)]


def test_ci_runs_readmes_test_command_verbatim() -> None:
    install_and_run, test_command = fenced_commands("## Set up")[:2]
    assert install_and_run == "pip install -e . && keycloak-mock"
    ci_script = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = [line for line in ci_script.splitlines() if line and not line.startswith("#")]
    # README's command, then the smoke run on the other Pythons (noxfile.py).
    assert commands[-2:] == [test_command, "nox --no-color"]


def test_configuration_table_lists_every_option() -> None:
    # docs/configuration.md's table, and the rows of options that the topic pages describe
    # where they belong (TLS in browser-apps.md, the page's switches in ui.md).
    table = CONFIGURATION.split("# Configuration", 1)[1].split("\n## ", 1)[0]
    # pytest.md's rows are the plugin's own options, not the server's.
    pages = [p for p in sorted((REPO_ROOT / "docs").rglob("*.md")) if p.name != "pytest.md"]
    table += "\n".join(page.read_text(encoding="utf-8") for page in pages)
    rows = [line for line in table.splitlines() if line.startswith("| `--")]
    documented = {re.match(r"\| `(--[a-z-]+)", row).group(1): row for row in rows}  # type: ignore[union-attr]
    for field in dataclasses.fields(MockConfig):
        assert flag(field.name) in documented, field.name
        assert f"`{env_var(field.name)}`" in documented[flag(field.name)]
    assert len(documented) == len(dataclasses.fields(MockConfig))
