"""The kit installs into somebody else's project from a built wheel, as docs/install.md says.

The wheel is built with ``pip wheel`` the way the docs tell a user to, installed into a fresh
virtualenv together with ``tests/sample_project`` (a separate project with a ``client`` package of
its own), and that project's tests run there: its ``client`` stays its own, ``demobank_client`` is
the kit's, and the plugin's fixtures work without a ``conftest.py``.  Dependencies come from the
package index (pip's cache makes a second run quick).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO_ROOT

SAMPLE_PROJECT = Path(__file__).with_name("sample_project")


def run(command: list[str | Path], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.slow
def test_the_built_wheel_works_in_a_separate_project(tmp_path: Path) -> None:
    # Nothing of this checkout may leak in: no PYTHONPATH, no active virtualenv.
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    dist = tmp_path / "dist"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", dist, REPO_ROOT], tmp_path, env)
    (wheel,) = dist.glob("demobank_keycloak_mock-*-py3-none-any.whl")

    project = tmp_path / "sample_project"
    shutil.copytree(SAMPLE_PROJECT, project, ignore=shutil.ignore_patterns("__pycache__"))
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", venv], tmp_path, env)
    python = venv / "bin" / "python"
    run([python, "-m", "pip", "install", "--quiet", wheel, project, "pytest"], project, env)

    where = run(
        [python, "-c", "import client, demobank_client; print(client.__file__)"],
        tmp_path,  # not the project folder, so `client` can only come from site-packages
        env,
    )
    assert str(venv) in where and "sample_project" not in where

    output = run([python, "-m", "pytest", "-q"], project, env)
    assert "3 passed" in output, output
