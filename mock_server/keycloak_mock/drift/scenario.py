"""The fixed drift scenario: the same requests, in the same order, against any Keycloak.

Kept small and gentle because one side is finAPI's production Keycloak and a real account:
sixteen compared requests plus one clean-up logout, spaced out (``pause``), and exactly one
wrong-password attempt for the real user, placed *before* the successful logins so that
Keycloak's brute-force counter (when the realm enables it) is reset by them right away.  The
other refusals use a made-up user or client, which no lock-out counts against the real user.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests

from .observe import Answer, Normalizer

#: (name, what the step sends), in the order they run.
STEPS: tuple[tuple[str, str], ...] = (
    ("discovery", "GET the realm's OpenID discovery document"),
    ("jwks", "GET the realm's JWKS (certs)"),
    ("unknown_realm", "password grant to a realm that does not exist (no credentials sent)"),
    ("missing_grant_type", "POST /token with client_id only"),
    ("unsupported_grant_type", "POST /token with grant_type=keycloak-mock-drift"),
    ("wrong_client", "password grant with an unknown client_id (username only, no password)"),
    ("unknown_user", "password grant for a made-up user with a random password"),
    ("wrong_password", "password grant for the user with a random password: the ONE wrong try"),
    ("password_grant", "password grant for the user, no scope"),
    ("refresh", "refresh_token grant with the login's refresh token"),
    ("refresh_reused", "the login's refresh token once more (already used by 'refresh')"),
    ("userinfo_without_openid", "GET userinfo with the newest access token (no openid scope)"),
    ("password_grant_openid", "password grant for the user with scope=openid"),
    ("userinfo_with_openid", "GET userinfo with the openid login's access token"),
    ("logout", "logout with the newest refresh token of the first login"),
    ("refresh_after_logout", "refresh_token grant with that logged-out refresh token"),
)
STEP_NAMES = tuple(name for name, _ in STEPS)
_USER_AGENT = "keycloak-mock-drift"


class ScenarioError(Exception):
    """The scenario could not run: server unreachable, or the credentials were refused."""


@dataclass(frozen=True)
class Target:
    """Where the scenario runs: a Keycloak base URL and a realm (finAPI mandator)."""

    base_url: str
    mandator: str
    client_id: str = "demobank-cli"

    @property
    def realm_url(self) -> str:
        return f"{self.base_url.rstrip('/')}/realms/{quote(self.mandator, safe='')}"


@dataclass(frozen=True)
class Credentials:
    """The user the scenario logs in as.  The password never shows in a repr."""

    username: str
    password: str = field(repr=False)


@dataclass
class _Run:
    target: Target
    credentials: Credentials
    session: requests.Session
    normalizer: Normalizer
    timeout: float
    pause: float
    observations: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    requests_sent: int = 0

    def send(
        self,
        method: str,
        url: str,
        *,
        form: Mapping[str, str] | None = None,
        bearer: str | None = None,
    ) -> Answer:
        if self.requests_sent and self.pause > 0:
            # Spacing for the live server's sake, not synchronisation.
            time.sleep(self.pause)
        headers = {"User-Agent": _USER_AGENT, "Accept": "application/json"}
        if bearer is not None:
            headers["Authorization"] = f"Bearer {bearer}"
        self.requests_sent += 1
        try:
            response = self.session.request(
                method, url, data=form, headers=headers, timeout=self.timeout, allow_redirects=False
            )
        except requests.RequestException as exc:
            # The exception text may quote the URL, never the form: safe to show.
            raise ScenarioError(f"{method} {url}: {type(exc).__name__}: {exc}") from None
        body = response.content
        # iteritems: one pair per header line in urllib3 1.26 and 2.x alike (a repeated
        # Cache-Control is part of what is compared); items() joins them in 1.26.
        pairs = tuple((str(k), str(v)) for k, v in response.raw.headers.iteritems())
        return Answer(response.status_code, pairs, body)

    def record(self, step: str, answer: Answer) -> Answer:
        if answer.body:
            data = _json(answer)
            if isinstance(data, dict):
                for name in ("access_token", "refresh_token", "id_token"):
                    if isinstance(data.get(name), str):
                        self.normalizer.add_secret(data[name])
        self.observations[step] = self.normalizer.observation(answer)
        return answer


def run_scenario(
    target: Target,
    credentials: Credentials,
    *,
    pause: float = 1.0,
    timeout: float = 15.0,
    on_step: Callable[[str], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Run every step of ``STEPS``; return the observations by step name.

    Raises ``ScenarioError`` if the server cannot be reached or refuses the user's login; every
    session the scenario opened is logged out before it returns or raises.
    """
    wrong_password = secrets.token_urlsafe(18)
    normalizer = Normalizer(target.base_url, credentials.username, (credentials.password,))
    normalizer.add_secret(wrong_password)
    with requests.Session() as session:
        session.trust_env = False  # a proxy from the environment would change the headers seen
        run = _Run(target, credentials, session, normalizer, timeout, pause)
        try:
            _steps(run, wrong_password, on_step or (lambda _step: None))
        finally:
            _clean_up(run)
    return run.observations


def _steps(run: _Run, wrong_password: str, on_step: Callable[[str], None]) -> None:
    target, user = run.target, run.credentials
    realm = target.realm_url
    token_url = f"{realm}/protocol/openid-connect/token"
    userinfo_url = f"{realm}/protocol/openid-connect/userinfo"
    client = {"client_id": target.client_id}

    def step(name: str, answer_of: Callable[[], Answer]) -> Answer:
        on_step(name)
        return run.record(name, answer_of())

    step("discovery", lambda: run.send("GET", f"{realm}/.well-known/openid-configuration"))
    step("jwks", lambda: run.send("GET", f"{realm}/protocol/openid-connect/certs"))
    nowhere = f"{target.base_url.rstrip('/')}/realms/keycloak-mock-drift-no-such-realm"
    step(
        "unknown_realm",
        lambda: run.send(
            "POST",
            f"{nowhere}/protocol/openid-connect/token",
            form={"grant_type": "password", **client},
        ),
    )
    step("missing_grant_type", lambda: run.send("POST", token_url, form=client))
    step(
        "unsupported_grant_type",
        lambda: run.send("POST", token_url, form={"grant_type": _USER_AGENT, **client}),
    )
    step(
        "wrong_client",
        lambda: run.send(
            "POST",
            token_url,
            form={
                "grant_type": "password",
                "client_id": "keycloak-mock-drift-no-such-client",
                "username": user.username,
            },
        ),
    )
    made_up_user = f"keycloak-mock-drift-{secrets.token_hex(6)}"
    step(
        "unknown_user",
        lambda: run.send(
            "POST",
            token_url,
            form={
                "grant_type": "password",
                **client,
                "username": made_up_user,
                "password": secrets.token_urlsafe(18),
            },
        ),
    )
    login = {"grant_type": "password", **client, "username": user.username}
    step(
        "wrong_password",
        lambda: run.send("POST", token_url, form={**login, "password": wrong_password}),
    )
    first = step(
        "password_grant",
        lambda: run.send("POST", token_url, form={**login, "password": user.password}),
    )
    _require_login(first, "password grant")
    run.tokens.update(_tokens(first, "first"))

    def refresh(token: str) -> Answer:
        return run.send(
            "POST",
            token_url,
            form={"grant_type": "refresh_token", **client, "refresh_token": token},
        )

    login_refresh = run.tokens["first_refresh"]
    refreshed = step("refresh", lambda: refresh(login_refresh))
    run.tokens.update(_tokens(refreshed, "first"))
    reused = step("refresh_reused", lambda: refresh(login_refresh))
    run.tokens.update(_tokens(reused, "first"))
    step(
        "userinfo_without_openid",
        lambda: run.send("GET", userinfo_url, bearer=run.tokens["first_access"]),
    )
    second = step(
        "password_grant_openid",
        lambda: run.send(
            "POST", token_url, form={**login, "password": user.password, "scope": "openid"}
        ),
    )
    run.tokens.update(_tokens(second, "second"))
    # The user's credentials worked a moment ago, so a refusal here is an answer worth comparing
    # (say, a client that may not ask for openid): the report shows it, and the step that needs
    # its token as not run.
    if "second_access" in run.tokens:
        step(
            "userinfo_with_openid",
            lambda: run.send("GET", userinfo_url, bearer=run.tokens["second_access"]),
        )
    last_refresh = run.tokens["first_refresh"]
    step(
        "logout",
        lambda: run.send(
            "POST",
            f"{realm}/protocol/openid-connect/logout",
            form={**client, "refresh_token": last_refresh},
        ),
    )
    run.tokens.pop("first_refresh")
    step("refresh_after_logout", lambda: refresh(last_refresh))


def _clean_up(run: _Run) -> None:
    """Log out what is still open, so no live session outlives the check."""
    logout_url = f"{run.target.realm_url}/protocol/openid-connect/logout"
    for name in ("first_refresh", "second_refresh"):
        token = run.tokens.pop(name, None)
        if token is None:
            continue
        # Best effort: a session left behind times out on its own.
        with contextlib.suppress(ScenarioError):
            run.send(
                "POST", logout_url, form={"client_id": run.target.client_id, "refresh_token": token}
            )


def _require_login(answer: Answer, what: str) -> None:
    data = _json(answer)
    if (
        answer.status == 200
        and isinstance(data, dict)
        and isinstance(data.get("refresh_token"), str)
    ):
        return
    error = data.get("error") if isinstance(data, dict) else None
    detail = f" ({error})" if isinstance(error, str) else ""
    raise ScenarioError(f"the server refused the user's {what}: HTTP {answer.status}{detail}")


def _tokens(answer: Answer, prefix: str) -> dict[str, str]:
    data = _json(answer)
    if answer.status != 200 or not isinstance(data, dict):
        return {}
    found = {}
    for name, key in (("access_token", "access"), ("refresh_token", "refresh")):
        if isinstance(data.get(name), str):
            found[f"{prefix}_{key}"] = data[name]
    return found


def _json(answer: Answer) -> Any:
    try:
        return json.loads(answer.body)
    except (ValueError, UnicodeDecodeError):
        return None


__all__ = ["STEPS", "STEP_NAMES", "Credentials", "ScenarioError", "Target", "run_scenario"]
