"""JavaScript clients against the mock: every ``tests/js/*.test.mjs`` run with ``node --test``.

The packages are pinned in ``tests/js/package-lock.json`` and installed by ``npm ci`` once per
session.  Each file runs once against mocks this module starts from
``fixtures/browser-realm.json`` (plain http and https with a generated test-only CA, reset
before each file; their URLs go in env vars, see ``_environment``; the control API is at
``$KEYCLOAK_MOCK_URL/_mock``).  Each JavaScript test is a pytest case of its own: the test names
are read from the files at collection time (a name is the first argument of a top-level
``test('...')``, unique in its file), the results from node's JUnit report.  Without node or
npm the cases skip with the reason; under ``CI=true`` they fail instead, because CI must run
them.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from keycloak_mock import MockConfig, MockServer

JS_DIR = Path(__file__).resolve().parent / "js"
REALMS_FILE = JS_DIR.parent.parent / "fixtures" / "browser-realm.json"
# Generous: a shared CI machine starts node and the clients' first TLS handshakes slowly.
NODE_TIMEOUT_SECONDS = 300
NPM_TIMEOUT_SECONDS = 600

_TEST_NAME = re.compile(r"""^test\(\s*(['"`])(?P<name>.+?)\1""", re.MULTILINE)


def _js_cases() -> list[tuple[str, str]]:
    cases = []
    for path in sorted(JS_DIR.glob("*.test.mjs")):
        names = [m["name"] for m in _TEST_NAME.finditer(path.read_text(encoding="utf-8"))]
        if len(names) != len(set(names)):
            raise RuntimeError(f"{path.name}: test names must be unique in a file")
        cases.extend((path.name, name) for name in names)
    return cases


def _missing_tool_reason() -> str | None:
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed; the JavaScript client tests need Node.js 20+"
    return None


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def js_packages() -> Path:
    """``tests/js/node_modules`` as the lock file pins it (``npm ci``, once per lock change).

    A file lock keeps xdist workers from installing into the same folder at once.
    """
    reason = _missing_tool_reason()
    if reason:
        _skip_or_fail(reason)
    lock = JS_DIR / "package-lock.json"
    installed = JS_DIR / "node_modules" / ".package-lock.json"
    with open(JS_DIR / ".npm-ci.lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
            done = subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=JS_DIR,
                capture_output=True,
                text=True,
                timeout=NPM_TIMEOUT_SECONDS,
                check=False,
            )
            if done.returncode != 0:
                pytest.fail(f"npm ci failed:\n{done.stdout}\n{done.stderr}", pytrace=False)
    return JS_DIR / "node_modules"


@dataclass(frozen=True)
class JsMocks:
    http: MockServer
    https: MockServer


@pytest.fixture(scope="module")
def js_mock() -> Iterator[JsMocks]:
    """The mocks the JavaScript tests talk to, with ``fixtures/browser-realm.json``: one over
    http, one over https with a generated test-only CA."""
    with (
        MockServer(MockConfig(port=0, config=str(REALMS_FILE))) as http,
        MockServer(MockConfig(port=0, config=str(REALMS_FILE), tls=True)) as https,
    ):
        yield JsMocks(http, https)


def _environment(mocks: JsMocks) -> dict[str, str]:
    env = dict(os.environ)
    assert mocks.https.ca_file is not None
    env.update(
        KEYCLOAK_MOCK_URL=mocks.http.url,
        KEYCLOAK_MOCK_REALM="customer",
        KEYCLOAK_MOCK_ISSUER=f"{mocks.http.url}/realms/customer",
        KEYCLOAK_MOCK_HTTPS_URL=mocks.https.url,
        KEYCLOAK_MOCK_HTTPS_ISSUER=f"{mocks.https.url}/realms/customer",
        # Node reads it at start: every file runs in a node of its own, so each one trusts it.
        NODE_EXTRA_CA_CERTS=mocks.https.ca_file,
    )
    return env


@dataclass(frozen=True)
class JsResult:
    outcome: str  # "passed", "failed" or "skipped"
    message: str = ""


class _FileRuns:
    """Runs each file once and keeps the result of each of its tests by name."""

    def __init__(self) -> None:
        self._runs: dict[str, tuple[dict[str, JsResult], str]] = {}

    def result(self, file: str, mocks: JsMocks) -> tuple[dict[str, JsResult], str]:
        if file not in self._runs:
            # Each file starts from the realm file's state, whatever the one before it did.
            mocks.http.state.reset()
            mocks.https.state.reset()
            self._runs[file] = _run_file(file, _environment(mocks))
        return self._runs[file]


def _run_file(file: str, env: dict[str, str]) -> tuple[dict[str, JsResult], str]:
    done = subprocess.run(
        ["node", "--test", "--test-reporter=junit", file],
        cwd=JS_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT_SECONDS,
        check=False,
    )
    results: dict[str, JsResult] = {}
    try:
        root = ET.fromstring(done.stdout)  # noqa: S314 - node's own report
    except ET.ParseError:
        return results, f"node printed no JUnit report (exit {done.returncode}):\n{done.stderr}"
    for case in root.iter("testcase"):
        failure = case.find("failure")
        skipped = case.find("skipped")
        if failure is not None:
            results[case.get("name", "")] = JsResult("failed", failure.text or "")
        elif skipped is not None:
            results[case.get("name", "")] = JsResult("skipped", skipped.get("message", ""))
        else:
            results[case.get("name", "")] = JsResult("passed")
    return results, done.stderr


@pytest.fixture(scope="session")
def _js_runs() -> _FileRuns:
    return _FileRuns()


@pytest.mark.parametrize(("file", "name"), _js_cases())
def test_js(file: str, name: str, js_packages: Path, js_mock: JsMocks, _js_runs: _FileRuns) -> None:
    results, stderr = _js_runs.result(file, js_mock)
    result = results.get(name)
    if result is None:
        pytest.fail(f"{file}: node reported no test {name!r}\n{stderr}", pytrace=False)
    if result.outcome == "skipped":
        _skip_or_fail(f"{file}: {result.message}")
    if result.outcome == "failed":
        pytest.fail(f"{file} :: {name}\n{result.message}", pytrace=False)


def test_every_js_test_is_collected(js_packages: Path, js_mock: JsMocks) -> None:
    """A test node runs whose name the collector missed would pass unseen: catch it here."""
    collected: dict[str, set[str]] = {}
    for file, name in _js_cases():
        collected.setdefault(file, set()).add(name)
    for path in sorted(JS_DIR.glob("*.test.mjs")):
        done = subprocess.run(
            ["node", "--test", "--test-reporter=junit", "--test-name-pattern=^$", path.name],
            cwd=JS_DIR,
            env=_environment(js_mock),
            capture_output=True,
            text=True,
            timeout=NODE_TIMEOUT_SECONDS,
            check=False,
        )
        root = ET.fromstring(done.stdout)  # noqa: S314 - node's own report
        # ``describe`` groups show as suites: the collector reads top-level tests only.
        top_level = [*root.findall("testcase"), *root.findall("testsuite")]
        reported = {case.get("name", "") for case in top_level}
        assert reported == collected.get(path.name, set()), json.dumps(
            sorted(reported ^ collected.get(path.name, set()))
        )
