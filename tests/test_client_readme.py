"""The client examples of README and docs/client.md are these files, and they run."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from keycloak_mock import MockConfig, MockServer

from .conftest import REPO_ROOT

EXAMPLES = Path(__file__).with_name("examples")
README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
CLIENT_PAGE = (REPO_ROOT / "docs" / "client.md").read_text(encoding="utf-8")


def test_readme_shows_the_mock_example_verbatim() -> None:
    code = (EXAMPLES / "client_mock.py").read_text(encoding="utf-8")
    assert f"```python\n{code}```" in README


@pytest.mark.parametrize("name", ["client_mock.py", "client_finapi.py"])
def test_the_client_page_includes_the_example(name: str) -> None:
    assert f'```python\n--8<-- "tests/examples/{name}"\n```' in CLIENT_PAGE


def test_the_mock_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    runpy.run_path(str(EXAMPLES / "client_mock.py"), run_name="__main__")
    assert capsys.readouterr().out.splitlines() == [
        "900 xs2a_mock:user profile finAPI Demobank False",
        "200 customer",
        "200 [401]",
    ]


def test_the_finapi_example_runs_unchanged_against_the_mock(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with MockServer(MockConfig(port=0)) as mock:
        for name, value in {
            "FINAPI_KEYCLOAK_URL": mock.url,
            "FINAPI_MANDATOR": "customer",
            "FINAPI_USERNAME": "demo",
            "FINAPI_PASSWORD": "demo",
            "DEMOBANK_URL": f"{mock.url}/demobank/accounts",
        }.items():
            monkeypatch.setenv(name, value)
        runpy.run_path(str(EXAMPLES / "client_finapi.py"), run_name="__main__")
        assert capsys.readouterr().out == "200\n"
        assert mock.state.sessions == {}  # the `with` logged out
        monkeypatch.setenv("FINAPI_PASSWORD", "wrong")
        with pytest.raises(SystemExit) as exited:
            runpy.run_path(str(EXAMPLES / "client_finapi.py"), run_name="__main__")
    assert exited.value.code == ("login failed: Invalid user credentials (invalid_grant, HTTP 401)")
