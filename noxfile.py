"""The smoke subset of the suite on every supported Python found on this machine.

``nox`` (or ``nox -s smoke``) runs it; ``.ci/run`` runs it after the main suite.  The package
claims Python 3.10+, and the main suite runs on one interpreter only, so this installs the
built package (not an editable checkout) into a fresh virtualenv per interpreter and runs the
tests that exercise the mock, the client and the plugin end to end.  Interpreters that are not
installed are reported and left out rather than failing the run: CI machines differ in which
they have, and the one the main suite used is always there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import nox

SUPPORTED = ["3.10", "3.11", "3.12", "3.13"]


def _runs(python: str) -> bool:
    """A pyenv shim exists for every installed version but fails unless that version is active."""
    try:
        done = subprocess.run([python, "-c", "pass"], capture_output=True, timeout=30)  # noqa: S603 - an interpreter of ours
    except OSError:
        return False
    return done.returncode == 0


def _find(version: str) -> bool:
    """Put a working ``pythonX.Y`` on PATH for nox: the one on PATH, else a pyenv install."""
    on_path = shutil.which(f"python{version}")
    if on_path and _runs(on_path):
        return True
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    for candidate in sorted(pyenv_root.glob(f"versions/{version}.*/bin/python{version}")):
        if _runs(str(candidate)):
            os.environ["PATH"] = f"{candidate.parent}{os.pathsep}{os.environ['PATH']}"
            return True
    return False


FOUND = [version for version in SUPPORTED if _find(version)]

#: Quick, end-to-end and free of tools beyond Python (no Docker, mkdocs, ruff or mypy).
SMOKE_TESTS = [
    "tests/test_token_success.py",
    "tests/test_token_errors.py",
    "tests/test_refresh_errors.py",
    "tests/test_realm_files.py",
    "tests/test_demobank_standin.py",
    "tests/test_client_decisions.py",
    "tests/test_client_lifecycle.py",
    "tests/test_plugin_controls.py",
    "tests/examples",
]
SMOKE_DEPENDENCIES = [
    "pytest>=8",
    "pytest-timeout>=2.3",
    "hypothesis>=6.100",
    "pytest-httpserver>=1",
]

nox.options.sessions = ["smoke"]


@nox.session(python=FOUND or None, reuse_venv=False)
def smoke(session: nox.Session) -> None:
    """The built package and the smoke tests on one interpreter."""
    missing = sorted(set(SUPPORTED) - set(FOUND))
    if missing:
        session.log(f"not installed here, so not tested: Python {', '.join(missing)}")
    session.install(".", *SMOKE_DEPENDENCIES)
    session.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", *SMOKE_TESTS)
