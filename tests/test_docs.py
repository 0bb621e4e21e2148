"""The README and the docs site stay true: the site builds strictly, and every example runs.

- ``mkdocs build --strict``: a broken link, a missing page or a docstring the API reference
  cannot render fails here;
- every Python example in README is a file of ``tests/examples/`` shown verbatim, and every one
  in ``docs/`` includes such a file; every file there is shown somewhere and runs (the
  ``test_*.py`` ones in a fresh pytest project, as a user would copy them);
- the shell commands of "Get a token" run with curl against a mock, the refresh included, and so
  do the logout, control API and ``demobank-token`` commands of the docs;
- no page speaks of how the kit was made rather than what it does.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

# Loaded before pytester's in-process runs: each run drops the modules it imported, and a
# second copy of cryptography.x509 makes the Rust bindings refuse the first copy's names
# ("Unsupported GeneralName type") when an example makes a TLS certificate.
import cryptography.x509  # noqa: F401
import pytest
import requests

from keycloak_mock import MockConfig, MockServer

from .conftest import FIXTURES, IN_CI, REPO_ROOT

EXAMPLES = REPO_ROOT / "tests" / "examples"
README = REPO_ROOT / "README.md"
DOCS = REPO_ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
SNIPPET = re.compile(r'^--8<-- "(?P<path>[^"]+)"\n$')


FENCE = re.compile(r"^```(?P<lang>\w*)\n(?P<body>.*?)^```$", flags=re.DOTALL | re.MULTILINE)


def python_blocks(text: str) -> list[str]:
    return [m["body"] for m in FENCE.finditer(text) if m["lang"] == "python"]


def shell_blocks(text: str, heading: str) -> list[str]:
    section = text.split(heading, 1)[1].split("\n## ", 1)[0]
    return [m["body"] for m in FENCE.finditer(section) if m["lang"] == ""]


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "WARNING" not in done.stderr, done.stderr
    reference = (tmp_path / "reference" / "fixtures" / "index.html").read_text("utf-8")
    assert "keycloak_client_factory" in reference  # mkdocstrings found the plugin's fixtures


def test_readme_is_short() -> None:
    assert len(README.read_text("utf-8").splitlines()) <= 250


def test_every_readme_example_is_an_example_file_verbatim() -> None:
    files = {path.read_text("utf-8") for path in EXAMPLES.glob("*.py")}
    blocks = python_blocks(README.read_text("utf-8"))
    assert blocks
    for block in blocks:
        assert block in files, f"README example not in tests/examples/:\n{block[:200]}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_every_docs_example_includes_an_example_file(page: Path) -> None:
    for block in python_blocks(page.read_text("utf-8")):
        included = SNIPPET.match(block)
        assert included, f"{page.name}: a Python example that is not a tests/examples/ file"
        path = REPO_ROOT / included["path"]
        assert path.parent == EXAMPLES and path.is_file(), included["path"]


def test_every_example_file_is_shown() -> None:
    shown = "".join(python_blocks(README.read_text("utf-8")))
    shown += "".join(python_blocks("".join(p.read_text("utf-8") for p in PAGES)))
    for path in EXAMPLES.glob("*.py"):
        relative = path.relative_to(REPO_ROOT).as_posix()
        assert relative in shown or path.read_text("utf-8") in shown, relative


@pytest.mark.parametrize(
    "name", sorted(p.name for p in EXAMPLES.glob("test_*.py")), ids=lambda name: name
)
def test_each_example_test_file_passes_in_a_fresh_project(
    pytester: pytest.Pytester, name: str
) -> None:
    source = (EXAMPLES / name).read_text("utf-8")
    pytester.makepyfile(**{name.removesuffix(".py"): source})
    expected = len(re.findall(r"^def test_", source, flags=re.MULTILINE))
    result = pytester.runpytest("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=expected)


def test_the_conftest_example_serves_its_realm_file(pytester: pytest.Pytester) -> None:
    pytester.makeconftest((EXAMPLES / "conftest_realms_file.py").read_text("utf-8"))
    shutil.copy(FIXTURES / "realms.json", pytester.path / "realms.json")
    pytester.makepyfile(
        test_realms="""
def test_both_mandators(keycloak_mock):
    assert {"customer", "sandbox-mandator"} <= set(keycloak_mock.realm_names())
"""
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def _curl_or_skip() -> str:
    curl = shutil.which("curl")
    if curl is None:
        if IN_CI:
            pytest.fail("curl is missing, and CI must run the README's commands")
        pytest.skip("curl is not installed: README's shell commands cannot be run")
    return curl


@pytest.mark.parametrize(
    ("document", "heading"),
    [(README, "## Get a token"), (DOCS / "getting-started.md", "## A token, and its refresh")],
    ids=["README", "getting-started"],
)
def test_get_a_token_commands_run_as_written(document: Path, heading: str) -> None:
    _curl_or_skip()
    login, refresh = shell_blocks(document.read_text("utf-8"), heading)
    with MockServer(MockConfig(port=0)) as mock:

        def bash(script: str) -> dict[str, object]:
            script = script.replace("http://127.0.0.1:8080", mock.url)
            done = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", script],
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            )
            answer: dict[str, object] = json.loads(done.stdout)
            return answer

        tokens = bash(login)
        assert tokens["token_type"] == "Bearer" and tokens["mandator_name"] == "finAPI Demobank"
        refreshed = bash(refresh)
        assert refreshed["token_type"] == "Bearer"
        assert refreshed["refresh_token"] != tokens["refresh_token"]
        # The refresh block logs in on its own and refreshes that session.
        assert refreshed["session_state"] != tokens["session_state"]


# -- no text about how the kit was made -------------------------------------------------------
MAKING_OF = re.compile(
    r"\b(run \d+|runs \d+ ?(to|and|\u2013|-) ?\d+|this session|last session|sessions? (ago|before)|"
    r"work session|issue #?\d+)\b",
    flags=re.IGNORECASE,
)


def test_no_text_speaks_of_work_sessions_or_numbered_runs() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    offenders = []
    for name in tracked:
        if not name.endswith((".md", ".py", ".toml", ".yml", ".yaml", "Dockerfile")):
            continue
        if name == "tests/test_docs.py":
            continue
        path = REPO_ROOT / name
        if not path.is_file():
            continue
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            if MAKING_OF.search(line):
                offenders.append(f"{name}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


# -- the other shell examples of the docs, run against a mock ----------------------------------
def _run_block(block: str, mock: MockServer, env: dict[str, str] | None = None) -> str:
    script = block.replace("http://127.0.0.1:8080", mock.url).replace(
        "localhost:8080", mock.url.removeprefix("http://")
    )
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=True,
    )
    return done.stdout


def _json_values(output: str) -> list[Any]:
    """The JSON values printed one after another, as several curl calls print them."""
    decoder, values, at = json.JSONDecoder(), [], 0
    while output[at:].strip():
        at += len(output[at:]) - len(output[at:].lstrip())
        value, at = decoder.raw_decode(output, at)
        values.append(value)
    return values


def _only_shell_block(page: str, first_line: str) -> str:
    text = (DOCS / page).read_text("utf-8")
    (block,) = [m["body"] for m in FENCE.finditer(text) if m["body"].startswith(first_line)]
    return block


def test_the_logout_command_ends_the_session() -> None:
    _curl_or_skip()
    block = _only_shell_block("endpoints.md", "curl -i ")
    with MockServer(MockConfig(port=0)) as mock:
        tokens = requests.post(
            f"{mock.url}/realms/customer/protocol/openid-connect/token",
            data={
                "client_id": "demobank-cli",
                "grant_type": "password",
                "username": "demo",
                "password": "demo",
            },
            timeout=10,
        ).json()
        output = _run_block(block, mock, {"REFRESH_TOKEN": tokens["refresh_token"]})
        assert output.startswith("HTTP/1.1 204")
        assert mock.state.session(tokens["session_state"]) is None


def test_the_control_api_commands_do_what_they_say() -> None:
    _curl_or_skip()
    block = _only_shell_block("control-api.md", "curl -X POST ")
    with MockServer(MockConfig(port=0)) as mock:
        requests.post(
            f"{mock.url}/realms/customer/protocol/openid-connect/token",
            data={
                "client_id": "demobank-cli",
                "grant_type": "password",
                "username": "demo",
                "password": "demo",
            },
            timeout=10,
        )
        before = mock.state.clock.now()
        # Three commands, three JSON answers on one stdout: the last is the request log.
        output = _run_block(block, mock)
        fault, time_now, log = _json_values(output)
        assert (fault["endpoint"], fault["grantType"], fault["status"]) == (
            "token",
            "refresh_token",
            503,
        )
        assert time_now["now"] > before + 899
        assert log["count"] == 1 and log["requests"][0]["grantType"] == "password"


def test_the_demobank_token_commands_print_a_token_that_works() -> None:
    _curl_or_skip()
    block = _only_shell_block("client.md", "export FINAPI_MANDATOR=")
    with MockServer(MockConfig(port=0)) as mock:
        echo, response = _json_values(_run_block(block, mock))
        assert (echo["path"], echo["mandator"]) == ("/accounts", "customer")
        assert response["token_type"] == "Bearer" and response["expires_in"] == 900
