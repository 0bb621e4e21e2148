"""The page at ``/`` driven in headless Chromium, the way a developer uses it.

Debian's ``chromium`` through Playwright's Python API (no browser download).  Every test checks,
on the way out, that the page logged no console error and asked no other host for anything.
Without Chromium the tests skip with the reason; with ``CI=true`` they fail instead.  The
screenshots in ``docs/images/`` are taken here (``docs/ui.md`` shows them).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, expect, sync_playwright

from demobank_client import ServerError, Settings, TokenManager
from keycloak_mock import MockConfig, MockServer

from .conftest import REPO_ROOT

CHROMIUM = (
    os.environ.get("KEYCLOAK_MOCK_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Where the screenshots go: docs/images with KEYCLOAK_MOCK_UPDATE_SCREENSHOTS=1 (then commit
#: them), else a temporary folder, so that a test run leaves the work tree as it was.
DOCS_IMAGES = REPO_ROOT / "docs" / "images"
UPDATE_SCREENSHOTS = os.environ.get("KEYCLOAK_MOCK_UPDATE_SCREENSHOTS", "") not in ("", "0")
#: A laptop screen.
VIEWPORT = {"width": 1366, "height": 900}
#: Generous: the machine running the suite may be busy.
DEADLINE_MS = 20_000
expect.set_options(timeout=DEADLINE_MS)


def _chromium_or_skip() -> str:
    if Path(CHROMIUM).is_file():
        return CHROMIUM
    reason = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason + "; CI=true runs the browser tests")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    _chromium_or_skip()
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield launched
    launched.close()


@pytest.fixture(scope="module")
def ui_server() -> Iterator[MockServer]:
    with MockServer(MockConfig(port=0)) as server:
        yield server


@pytest.fixture
def mock(ui_server: MockServer) -> MockServer:
    ui_server.state.reset()
    return ui_server


class Watched:
    """A page, and what it logged and asked for while the test ran."""

    def __init__(self, page: Page, origin: str) -> None:
        self.page = page
        self.origin = origin
        self.errors: list[str] = []
        self.foreign: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        page.on("request", self._request)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def _request(self, request: object) -> None:
        url: str = request.url  # type: ignore[attr-defined]
        if not url.startswith(self.origin + "/"):
            self.foreign.append(url)

    def check(self) -> None:
        assert self.errors == []
        assert self.foreign == []


@pytest.fixture
def watched(browser: Browser, mock: MockServer) -> Iterator[Watched]:
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(DEADLINE_MS)
    page = context.new_page()
    watch = Watched(page, mock.url)
    page.goto(mock.url + "/")
    expect(page.locator("#keys li")).to_have_count(1)
    yield watch
    context.close()
    watch.check()


def manager(
    mock: MockServer,
    username: str = "demo",
    password: str = "demo",  # noqa: S107 - the embedded realm's test user
    *,
    retries: int = 3,
) -> TokenManager:
    """The thin client, logging in to the mock's ``customer`` realm."""
    settings = Settings(
        base_url=mock.url,
        mandator="customer",
        username=username,
        password=password,
        retries=retries,
    )
    return TokenManager(settings)


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return DOCS_IMAGES if UPDATE_SCREENSHOTS else tmp_path_factory.mktemp("screenshots")


def shoot(page: Page, folder: Path, name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / name), full_page=True, animations="disabled")
    assert (folder / name).stat().st_size > 0


def test_a_login_shows_up_as_a_session_and_ends_with_one_click(
    watched: Watched, mock: MockServer, screenshots: Path
) -> None:
    page = watched.page
    with manager(mock) as tokens:
        tokens.login()
        row = page.locator("#session-rows tr", has_text="demo")
        expect(row).to_have_count(1)
        expect(row).to_contain_text("demobank-cli")
        expect(row.locator("td").nth(5)).to_contain_text("min")
        expect(page.locator("#request-rows tr", has_text="password")).to_have_count(1)
        shoot(page, screenshots, "ui-overview.png")
        row.get_by_role("button", name="End the session of demo").click()
        expect(row).to_have_count(0)
        expect(page.locator("#no-sessions")).to_be_visible()
        assert mock.state.sessions == {}


def test_expire_access_tokens_makes_the_stand_in_refuse_the_token(
    watched: Watched, mock: MockServer
) -> None:
    page = watched.page
    with manager(mock) as tokens:
        access = tokens.login().access_token
        resource = mock.url + "/demobank/accounts"
        bearer = {"Authorization": f"Bearer {access}"}
        assert requests.get(resource, headers=bearer, timeout=10).status_code == 200
        page.get_by_role("button", name="Expire access tokens").click()
        expect(page.locator("#status")).to_have_text("Access tokens expired")
        expect(page.locator("#session-rows tr td").nth(5)).to_have_text("expired")
        refused = requests.get(resource, headers=bearer, timeout=10)
        assert refused.status_code == 401
        assert 'error_description="Token expired"' in refused.headers["WWW-Authenticate"]


def test_the_decoder_accepts_a_good_token_and_says_why_a_tampered_one_fails(
    watched: Watched, mock: MockServer, screenshots: Path
) -> None:
    page = watched.page
    tokens = manager(mock)  # not closed: closing logs out, and the token must stay live
    access = tokens.login().access_token
    box = page.get_by_label("Token", exact=True)
    box.fill(access)
    page.get_by_role("button", name="Decode").click()
    verdict = page.locator("#verdict")
    expect(verdict).to_have_text("Accepted: a live access token of realm customer")
    expect(page.locator("#token-claims")).to_contain_text('"preferred_username": "demo"')
    expect(page.locator("#token-header")).to_contain_text('"alg": "RS256"')
    shoot(page, screenshots, "ui-decoder.png")

    # Tampered as an attacker would: the claims say someone else, the signature is the old one.
    header, payload, signature = access.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["preferred_username"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    box.fill(f"{header}.{forged}.{signature}")
    page.get_by_role("button", name="Decode").click()
    expect(verdict).to_have_text("Refused (access token): Invalid token signature")
    expect(page.locator("#token-claims")).to_contain_text('"preferred_username": "admin"')
    tokens.close()


def test_a_scripted_fault_fails_the_next_login(
    watched: Watched, mock: MockServer, screenshots: Path
) -> None:
    page = watched.page
    page.get_by_label("Count").fill("1")
    page.get_by_label("Status").fill("503")
    page.get_by_role("button", name="Script fault").click()
    expect(page.locator("#faults")).to_contain_text("token: status 503 (1 left)")
    # Without retries, so that one scripted failure is the login's answer.
    with manager(mock, retries=0) as tokens, pytest.raises(ServerError) as failed:
        tokens.login()
    assert failed.value.status == 503
    failure = page.locator("#request-rows tr", has_text="503")
    expect(failure).to_have_count(1)
    expect(failure).to_contain_text("status")
    expect(page.locator("#faults")).to_have_text("No fault armed.")
    with manager(mock) as tokens:
        tokens.login()
        expect(page.locator("#session-rows tr")).to_have_count(1)
        expect(page.locator("#request-rows tr", has_text="200")).to_have_count(1)
        shoot(page, screenshots, "ui-log.png")


def test_the_clock_and_users_are_changed_from_the_page(watched: Watched, mock: MockServer) -> None:
    page = watched.page
    page.get_by_role("button", name="Freeze", exact=True).click()
    expect(page.locator("#clock-state")).to_have_text("(frozen)")
    frozen_at = mock.state.clock.now()
    page.get_by_label("Seconds").fill("120")
    page.get_by_role("button", name="Advance").click()
    expect(page.locator("#status")).to_have_text("Clock advanced by 120 s")
    assert mock.state.clock.now() == pytest.approx(frozen_at + 120)
    page.get_by_role("button", name="Unfreeze").click()
    expect(page.locator("#clock-state")).to_have_text("")

    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("TEST-ONLY-pw")
    page.get_by_role("button", name="Add user").click()
    expect(page.locator("table[data-realm=customer] tr", has_text="alice")).to_have_count(1)
    with manager(mock, "alice", "TEST-ONLY-pw") as tokens:
        tokens.login()
    page.locator("#user-choice").select_option("alice")
    page.get_by_role("button", name="Disable user", exact=True).click()
    expect(page.locator("table[data-realm=customer] tr", has_text="alice")).to_contain_text("no")
    refused = requests.post(
        f"{mock.url}/realms/customer/protocol/openid-connect/token",
        data={
            "grant_type": "password",
            "client_id": "demobank-cli",
            "username": "alice",
            "password": "TEST-ONLY-pw",
        },
        timeout=10,
    )
    assert refused.json()["error_description"] == "Account disabled"
    page.get_by_role("button", name="Reset").click()
    expect(page.locator("table[data-realm=customer] tr", has_text="alice")).to_have_count(0)


def test_with_an_admin_token_the_page_asks_for_it(browser: Browser) -> None:
    config = MockConfig(port=0, admin_token="TEST-ONLY-admin-token")
    with MockServer(config) as server:
        context = browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(DEADLINE_MS)
        page = context.new_page()
        sent: list[str | None] = []
        page.on(
            "request",
            lambda r: (
                sent.append(r.headers.get("authorization")) if "/_mock/time" in r.url else None
            ),
        )
        page.goto(server.url + "/")
        form = page.locator("#token-form")
        expect(form).to_be_visible()
        page.get_by_label("Admin token").fill("TEST-ONLY-admin-token")
        page.get_by_role("button", name="Use token").click()
        expect(form).to_be_hidden()
        expect(page.locator("#keys li")).to_have_count(1)
        assert "Bearer TEST-ONLY-admin-token" in sent
        context.close()
