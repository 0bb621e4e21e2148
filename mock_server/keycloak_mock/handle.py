"""``KeycloakMock``: what a test holds: the mock's URLs and its controls, in one object.

The same handle drives an in-process server (``Controls``) or a mock in another process
(``RemoteControls`` over ``/_mock``), so a test written against the ``keycloak_mock`` fixture runs
unchanged against the container.  Methods take the default realm (the first one served) unless
told otherwise, and keyword arguments named like ``RealmConfig``/``UserConfig`` fields.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from keycloak_mock.controls.faults import ErrorRate, Fault
from keycloak_mock.controls.protocol import MockControls
from keycloak_mock.controls.requestlog import RequestRecord
from keycloak_mock.controls.schema import USER_SETTINGS, ControlError
from keycloak_mock.controls.servererrors import ServerError
from keycloak_mock.imitation.config import RealmConfig, UserConfig

if TYPE_CHECKING:
    from flask import Flask

    from keycloak_mock.imitation.state import MockState
    from keycloak_mock.serving.server import MockServer


@dataclass(frozen=True)
class RealmUrls:
    """Where a client finds one realm (finAPI mandator) of the mock."""

    realm: str
    issuer: str
    token_url: str
    jwks_url: str
    discovery_url: str
    userinfo_url: str
    logout_url: str
    #: The protected Demobank stand-in; the realm is taken from the token, so it is shared.
    demobank_url: str


class KeycloakMock:
    """URLs of the mock plus every control: time, users, realms, sessions, keys, faults, log."""

    def __init__(
        self,
        url: str,
        controls: MockControls,
        *,
        server: MockServer | None = None,
        issuer_base: str | None = None,
        default_realm: str | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.controls = controls
        self._server = server
        self._issuer_base = (issuer_base or self.url).rstrip("/")
        self._default_realm = default_realm
        #: Mock time minus wall time, and the frozen instant, as of the last time control.
        self._offset = 0.0
        self._frozen_at: float | None = None

    @property
    def ca_file(self) -> str | None:
        """The test-only CA bundle an https mock (``tls=True``) was made with, to trust in
        clients (``requests.get(..., verify=keycloak_mock.ca_file)``); ``None`` over http."""
        return self._server.ca_file if self._server is not None else None

    def __repr__(self) -> str:
        where = "in-process" if self._server is not None else "remote"
        return f"<KeycloakMock {self.url} ({where})>"

    # -- in-process only ------------------------------------------------------------------
    @property
    def server(self) -> MockServer:
        """The in-process ``MockServer``; not available against a mock in another process."""
        if self._server is None:
            raise ControlError(
                "the mock runs in another process (--keycloak-url); use the handle's controls",
                status=409,
                error="not_in_process",
            )
        return self._server

    @property
    def state(self) -> MockState:
        """The server's ``MockState`` (in-process only): realms, sessions, keys, clock."""
        return self.server.state

    @property
    def app(self) -> Flask:
        return self.server.app

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def in_process(self) -> bool:
        return self._server is not None

    # -- URLs -----------------------------------------------------------------------------
    @property
    def issuer_base(self) -> str:
        """Base of every realm URL in tokens: ``issuer_url`` if configured, else ``url``."""
        return self._issuer_base

    @property
    def realm(self) -> str:
        """The default realm: the first one the server serves (``customer`` unless configured)."""
        if self._default_realm is None:
            names = self.realm_names()
            if not names:
                raise ControlError("the mock serves no realm")
            self._default_realm = names[0]
        return self._default_realm

    def realm_names(self) -> list[str]:
        return [r["realm"] for r in self.controls.realms()]

    def urls(self, realm: str | None = None) -> RealmUrls:
        name = quote(realm or self.realm, safe="")
        # Endpoints are where this test reaches the mock; the issuer is what its tokens say
        # (they differ when the mock has a public ``issuer_url``, e.g. in a compose network).
        base = f"{self.url}/realms/{name}"
        oidc = f"{base}/protocol/openid-connect"
        return RealmUrls(
            realm=realm or self.realm,
            issuer=f"{self._issuer_base}/realms/{name}",
            token_url=f"{oidc}/token",
            jwks_url=f"{oidc}/certs",
            discovery_url=f"{base}/.well-known/openid-configuration",
            userinfo_url=f"{oidc}/userinfo",
            logout_url=f"{oidc}/logout",
            demobank_url=f"{self.url}/demobank",
        )

    @property
    def issuer(self) -> str:
        return self.urls().issuer

    @property
    def token_url(self) -> str:
        return self.urls().token_url

    @property
    def jwks_url(self) -> str:
        return self.urls().jwks_url

    @property
    def demobank_url(self) -> str:
        return self.urls().demobank_url

    # -- reset ----------------------------------------------------------------------------
    def reset(self) -> None:
        """Pristine realms and key, no sessions, faults or log, real time."""
        self.controls.reset()
        self._offset, self._frozen_at = 0.0, None

    # -- time -----------------------------------------------------------------------------
    def now(self) -> float:
        """The mock's time (Unix seconds), without a request: what its tokens are stamped with."""
        if self._server is not None:
            return self._server.state.clock.now()
        return self._frozen_at if self._frozen_at is not None else time.time() + self._offset

    def advance(self, seconds: float) -> float:
        """Move the mock's clock forward (or back); returns the new mock time."""
        return self._track(self.controls.advance(seconds))

    def freeze(self, at: float | None = None) -> float:
        """Stop the mock's clock (at ``at``, default now) until ``unfreeze``."""
        return self._track(self.controls.freeze(at))

    def unfreeze(self) -> float:
        return self._track(self.controls.unfreeze())

    def expire_access_tokens(self, realm: str | None = None) -> float:
        """Move time just past the access-token lifespan (of ``realm``, default: every realm)."""
        return self._track(self.controls.expire_access_tokens(realm))

    def expire_sessions(self, realm: str | None = None) -> float:
        """Move time past the SSO idle timeout: refresh tokens expire, sessions are purged."""
        return self._track(self.controls.expire_sessions(realm))

    def _track(self, clock: Mapping[str, Any]) -> float:
        now = float(clock["now"])
        self._frozen_at = now if clock["frozen"] else None
        self._offset = now - time.time()
        return now

    # -- realms ---------------------------------------------------------------------------
    def set_lifetimes(
        self,
        *,
        access_token_lifespan: int | None = None,
        sso_session_idle_timeout: int | None = None,
        sso_session_max_lifespan: int | None = None,
        realm: str | None = None,
    ) -> dict[str, Any]:
        """Change token/session lifetimes (seconds); only the values given change."""
        changes = {
            name: value
            for name, value in (
                ("access_token_lifespan", access_token_lifespan),
                ("sso_session_idle_timeout", sso_session_idle_timeout),
                ("sso_session_max_lifespan", sso_session_max_lifespan),
            )
            if value is not None
        }
        if not changes:
            raise ControlError("set_lifetimes: give at least one lifetime")
        return self.controls.update_realm(realm or self.realm, changes)

    def update_realm(self, realm: str | None = None, **changes: Any) -> dict[str, Any]:
        """Change realm settings named like ``RealmConfig`` fields (``users=`` replaces users)."""
        return self.controls.update_realm(realm or self.realm, changes)

    def add_realm(
        self, realm: str | RealmConfig | Mapping[str, Any], **settings: Any
    ) -> dict[str, Any]:
        """Add a realm: a name (plus ``RealmConfig`` field settings), a ``RealmConfig`` or JSON."""
        if isinstance(realm, str):
            summary = self.controls.add_realm({"realm": realm})
            return self.controls.update_realm(realm, settings) if settings else summary
        if settings:
            raise ControlError("add_realm: settings go with a realm name, not a full realm")
        return self.controls.add_realm(realm)

    def remove_realm(self, realm: str) -> int:
        return self.controls.remove_realm(realm)

    def realm_settings(self, realm: str | None = None) -> dict[str, Any]:
        return self.controls.realm(realm or self.realm)

    # -- users ----------------------------------------------------------------------------
    def add_user(
        self,
        user: str | UserConfig | Mapping[str, Any],
        password: str | None = None,
        *,
        realm: str | None = None,
        temporary: bool = False,
        id: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Add a user by username and password (``UserConfig`` field names as keywords), or pass
        a ``UserConfig`` / realm-export JSON object.  ``temporary`` makes the password one that
        must be changed ("Account is not fully set up")."""
        if not isinstance(user, str):
            if password is not None or fields or id is not None or temporary:
                raise ControlError("add_user: keywords go with a username, not a full user")
            return self.controls.add_user(realm or self.realm, user)
        document = user_document(user, password, temporary=temporary, id=id, **fields)
        return self.controls.add_user(realm or self.realm, document)

    def update_user(
        self, username: str, *, realm: str | None = None, **changes: Any
    ) -> dict[str, Any]:
        return self.controls.update_user(realm or self.realm, username, changes)

    def disable_user(self, username: str, *, realm: str | None = None) -> dict[str, Any]:
        """Logins answer ``Account disabled``; refreshes ``User disabled``; sessions stay."""
        return self.controls.disable_user(realm or self.realm, username)

    def enable_user(self, username: str, *, realm: str | None = None) -> dict[str, Any]:
        return self.controls.enable_user(realm or self.realm, username)

    def remove_user(self, username: str, *, realm: str | None = None) -> int:
        """Delete the user and end their sessions (refresh: ``Session not active``)."""
        return self.controls.remove_user(realm or self.realm, username)

    def set_password(
        self, username: str, password: str, *, realm: str | None = None, temporary: bool = False
    ) -> dict[str, Any]:
        """Admin password reset: the old password stops working, sessions stay."""
        return self.controls.set_password(
            realm or self.realm, username, password, temporary=temporary
        )

    def users(self, realm: str | None = None) -> list[dict[str, Any]]:
        return self.controls.users(realm or self.realm)

    # -- sessions -------------------------------------------------------------------------
    def sessions(
        self, username: str | None = None, *, realm: str | None = None
    ) -> list[dict[str, Any]]:
        """Live sessions: all, a realm's, or a user's (in ``realm``, default the default realm)."""
        if username is not None and realm is None:
            realm = self.realm
        return self.controls.sessions(realm, username)

    def end_session(self, session_id: str) -> None:
        """Admin logout of one session (the ``session_state`` of a token response)."""
        self.controls.end_session(session_id)

    def end_sessions(self, username: str | None = None, *, realm: str | None = None) -> int:
        """Admin logout of every session (of a realm, of a user); returns how many ended."""
        if username is not None and realm is None:
            realm = self.realm
        return self.controls.end_sessions(realm, username)

    def inspect_token(self, token: str) -> dict[str, Any]:
        """The page's decoder: header, claims, and whether the endpoints would accept ``token``
        now (``accepted``), else why not (``reason``); issuer checked against ``issuer_base``."""
        return self.controls.inspect_token(token, self.issuer_base)

    def push_not_before(self, realm: str | None = None) -> int:
        """Keycloak's "push revocation": earlier tokens become ``Stale token`` (clock +1 s)."""
        not_before = self.controls.push_not_before(realm or self.realm)
        self._track(self.controls.time())
        return not_before

    # -- keys -----------------------------------------------------------------------------
    # Each realm has its own keys; ``realm=None`` means this handle's realm.
    def rotate_signing_key(
        self, private_key_pem: str | None = None, *, realm: str | None = None
    ) -> str:
        """Sign the realm's tokens with a new RSA key (generated unless given); both keys stay in
        its JWKS."""
        kid: str = self.controls.rotate_signing_key(private_key_pem, realm or self.realm)["kid"]
        return kid

    def drop_signing_key(self, kid: str, *, realm: str | None = None) -> None:
        self.controls.drop_signing_key(kid, realm or self.realm)

    def drop_old_signing_keys(self, *, realm: str | None = None) -> None:
        """Publish only the realm's active key: tokens signed by older keys stop verifying."""
        self.controls.drop_old_signing_keys(realm or self.realm)

    def signing_kids(self, *, realm: str | None = None) -> list[str]:
        """The realm's published key ids, the active one first."""
        return [k["kid"] for k in self.controls.signing_keys(realm or self.realm)]

    # -- faults ---------------------------------------------------------------------------
    def fail_next(
        self,
        endpoint: str = "token",
        *,
        status: int = 503,
        times: int | None = 1,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        grant_type: str | None = None,
        realm: str | None = None,
        delay: float = 0.0,
    ) -> None:
        """The next ``times`` matching requests answer ``status`` (default body: Keycloak's
        ``{"error": "HTTP 503 Service Unavailable"}``); ``times=None`` until cleared."""
        self.controls.add_fault(
            Fault(
                endpoint=endpoint,
                grant_type=grant_type,
                realm=realm,
                times=times,
                status=status,
                body=body,
                headers=dict(headers or {}),
                delay=delay,
            )
        )

    def delay_next(
        self,
        seconds: float,
        endpoint: str = "token",
        *,
        times: int | None = 1,
        grant_type: str | None = None,
        realm: str | None = None,
    ) -> None:
        """The next ``times`` matching requests are answered normally, ``seconds`` late."""
        self.controls.add_fault(
            Fault(endpoint=endpoint, grant_type=grant_type, realm=realm, times=times, delay=seconds)
        )

    def drop_next(
        self,
        endpoint: str = "token",
        *,
        times: int | None = 1,
        grant_type: str | None = None,
        realm: str | None = None,
        delay: float = 0.0,
    ) -> None:
        """The next ``times`` matching requests get their connection closed, no answer."""
        self.controls.add_fault(
            Fault(
                endpoint=endpoint,
                grant_type=grant_type,
                realm=realm,
                times=times,
                drop=True,
                delay=delay,
            )
        )

    def set_error_rate(
        self,
        rate: float,
        *,
        status: int = 503,
        endpoint: str = "token",
        grant_type: str | None = None,
        realm: str | None = None,
        seed: int | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Fail a random share ``rate`` (0..1) of matching requests; ``seed`` replays a run."""
        self.controls.set_error_rate(
            ErrorRate(
                rate=rate,
                status=status,
                endpoint=endpoint,
                grant_type=grant_type,
                realm=realm,
                seed=seed,
                body=body,
                headers=dict(headers or {}),
            )
        )

    def clear_faults(self) -> None:
        """Remove every scripted fault and the error rate."""
        self.controls.clear_faults()
        self.controls.set_error_rate(None)

    def faults(self) -> dict[str, Any]:
        return self.controls.list_faults()

    # -- request log ----------------------------------------------------------------------
    def requests(
        self,
        endpoint: str | None = None,
        *,
        grant_type: str | None = None,
        realm: str | None = None,
        client_id: str | None = None,
        username: str | None = None,
        status: int | None = None,
    ) -> list[RequestRecord]:
        """What the mock received since the test began, oldest first, filtered."""
        return self.controls.requests(
            endpoint=endpoint,
            grant_type=grant_type,
            realm=realm,
            client_id=client_id,
            username=username,
            status=status,
        )

    def count(
        self,
        endpoint: str | None = None,
        *,
        grant_type: str | None = None,
        realm: str | None = None,
        client_id: str | None = None,
        username: str | None = None,
        status: int | None = None,
    ) -> int:
        """How many requests matched, e.g. ``count(grant_type="refresh_token") == 2``."""
        return len(
            self.requests(
                endpoint,
                grant_type=grant_type,
                realm=realm,
                client_id=client_id,
                username=username,
                status=status,
            )
        )

    def counters(self) -> dict[str, int]:
        """Requests per ``endpoint`` or ``endpoint:grant_type``, e.g. ``{"token:password": 1}``."""
        return self.controls.counters()

    def clear_requests(self) -> None:
        self.controls.clear_requests()

    # -- server errors --------------------------------------------------------------------
    def take_server_errors(self) -> list[ServerError]:
        """Exceptions the server raised (its 500s) since the last call; clears them, so a test
        that provokes one on purpose can acknowledge it."""
        return self.controls.take_server_errors()


def user_document(
    username: str,
    password: str | None = None,
    *,
    temporary: bool = False,
    id: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Realm-export JSON for a user given by ``UserConfig`` field names."""
    unknown = sorted(set(fields) - set(USER_SETTINGS))
    if unknown:
        raise ControlError(
            f"unknown user field {unknown[0]!r}; known: password, temporary, id, "
            + ", ".join(sorted(USER_SETTINGS))
        )
    document: dict[str, Any] = {"username": username}
    if id is not None:
        document["id"] = id
    for name, value in fields.items():
        document[USER_SETTINGS[name]] = _listed(value)
    if password is not None:
        document["credentials"] = [{"type": "password", "value": password, "temporary": temporary}]
    elif temporary:
        raise ControlError("temporary: needs a password")
    return document


def _listed(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Mapping):
        return {k: _listed(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_listed(v) for v in value]
    return value
