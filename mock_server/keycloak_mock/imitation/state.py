"""Per-app mutable state: current realms, user sessions, signing keys, the clock.

One ``MockState`` lives in each Flask app (``app.extensions``), never at module level, so two
servers in one process share nothing.  Every mutation happens under one lock; token *signing*
happens outside it (cryptography releases the GIL while it signs, so threads overlap there).

Sessions follow Keycloak's rules: a session is valid while ``last_refresh + idle > now`` and
``started + max > now`` (whole seconds).  Expired sessions are purged on a timer driven by
incoming logins, so memory stays bounded under any traffic.  Revoked access-token ids are kept
only until the token would have expired anyway, and purged on the same timer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .clock import Clock
from .config import RealmConfig
from .ids import random_uuid
from .keys import HmacKey, SigningKey

_PURGE_INTERVAL_SECONDS = 30


@dataclass
class ClientSession:
    """A client's attachment to a user session, with Keycloak's refresh-token reuse bookkeeping."""

    timestamp: int
    current_refresh_token: str | None = None
    refresh_token_use_count: int = 0


@dataclass
class UserSession:
    """A Keycloak user session: what ``sid``/``session_state`` name."""

    id: str
    realm: str
    user_id: str
    started: int
    last_refresh: int
    clients: dict[str, ClientSession] = field(default_factory=dict)


class MockState:
    """Everything that changes while the server runs."""

    def __init__(
        self, realms: Iterable[RealmConfig], signing_key: SigningKey, clock: Clock
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self._pristine_realms = {realm.realm: realm for realm in realms}
        self._pristine_key = signing_key
        self.realms: dict[str, RealmConfig] = dict(self._pristine_realms)
        self.sessions: dict[str, UserSession] = {}
        #: Published keys, the active one first; rotation prepends a key, the old ones still verify.
        self.signing_keys: list[SigningKey] = [signing_key]
        self._refresh_keys: dict[tuple[str, str | None], HmacKey] = {}
        self._last_purge = 0
        #: ``jti`` of revoked access tokens -> the second after which the entry can go.
        self.revoked_access_tokens: dict[str, int] = {}
        self.reset_listeners: list[Callable[[], None]] = []

    # -- realms ---------------------------------------------------------------------------
    def realm(self, name: str) -> RealmConfig | None:
        return self.realms.get(name)

    def update_realm(self, name: str, change: Callable[[RealmConfig], RealmConfig]) -> RealmConfig:
        """Replace a realm by ``change(realm)`` atomically; raises ``KeyError`` if unknown."""
        with self.lock:
            realm = change(self.realms[name])
            self.realms[name] = realm
            return realm

    def add_realm(self, realm: RealmConfig) -> None:
        with self.lock:
            self.realms[realm.realm] = realm

    # -- keys -----------------------------------------------------------------------------
    @property
    def active_key(self) -> SigningKey:
        return self.signing_keys[0]

    def key_by_kid(self, kid: str) -> SigningKey | None:
        return next((k for k in self.signing_keys if k.kid == kid), None)

    def refresh_key(self, realm: RealmConfig) -> HmacKey:
        """The realm's HS512 key, derived from the start-up key so rotation keeps sessions alive."""
        cache_key = (realm.realm, realm.refresh_token_secret)
        key = self._refresh_keys.get(cache_key)
        if key is None:
            key = self._pristine_key.refresh_key(realm.realm, realm.refresh_token_secret)
            self._refresh_keys[cache_key] = key
        return key

    # -- sessions -------------------------------------------------------------------------
    def create_session(
        self, realm: RealmConfig, user_id: str, client_id: str, now: int
    ) -> UserSession:
        session = UserSession(
            id=random_uuid(),
            realm=realm.realm,
            user_id=user_id,
            started=now,
            last_refresh=now,
            clients={client_id: ClientSession(timestamp=now)},
        )
        with self.lock:
            self.sessions[session.id] = session
            if now - self._last_purge >= _PURGE_INTERVAL_SECONDS:
                self._purge(now)
        return session

    def session(self, session_id: str) -> UserSession | None:
        return self.sessions.get(session_id)

    def live_session(self, realm: RealmConfig, session_id: str, now: int) -> UserSession | None:
        """The session if it exists, belongs to ``realm`` and has not timed out."""
        session = self.sessions.get(session_id)
        if (
            session is None
            or session.realm != realm.realm
            or not session_is_valid(realm, session, now)
        ):
            return None
        return session

    def end_session(self, session_id: str) -> bool:
        with self.lock:
            return self.sessions.pop(session_id, None) is not None

    def end_sessions(self, predicate: Callable[[UserSession], bool]) -> int:
        with self.lock:
            doomed = [sid for sid, s in self.sessions.items() if predicate(s)]
            for sid in doomed:
                del self.sessions[sid]
            return len(doomed)

    # -- revoked access tokens ------------------------------------------------------------
    def revoke_access_token(self, token_id: str, exp: int, now: int) -> None:
        """Remember a revoked access token for ``max(exp - now + 1, 10)`` s, as Keycloak does."""
        with self.lock:
            self.revoked_access_tokens[token_id] = now + max(exp - now + 1, 10)
            if now - self._last_purge >= _PURGE_INTERVAL_SECONDS:
                self._purge(now)

    def is_access_token_revoked(self, token_id: str, now: int) -> bool:
        with self.lock:
            until = self.revoked_access_tokens.get(token_id)
            return until is not None and until >= now

    def purge_expired(self) -> int:
        with self.lock:
            return self._purge(self.clock.seconds())

    def _purge(self, now: int) -> int:
        self._last_purge = now
        for token_id in [t for t, until in self.revoked_access_tokens.items() if until < now]:
            del self.revoked_access_tokens[token_id]

        def expired(session: UserSession) -> bool:
            realm = self.realms.get(session.realm)
            return realm is None or not session_is_valid(realm, session, now)

        return self.end_sessions(expired)

    # -- reset ----------------------------------------------------------------------------
    def reset(self) -> None:
        """Back to the pristine realms and key, no sessions, real time."""
        with self.lock:
            self.realms = dict(self._pristine_realms)
            self.sessions.clear()
            self.revoked_access_tokens.clear()
            self.signing_keys = [self._pristine_key]
            self._last_purge = 0
            self.clock.reset()
            for listener in self.reset_listeners:
                listener()


def session_is_valid(realm: RealmConfig, session: UserSession, now: int) -> bool:
    return (
        session.last_refresh + realm.sso_session_idle_timeout > now
        and session.started + realm.sso_session_max_lifespan > now
    )


def session_expiry(realm: RealmConfig, session: UserSession) -> int:
    """The second from which ``session_is_valid`` is false: idle or max lifespan, the earlier."""
    return min(
        session.last_refresh + realm.sso_session_idle_timeout,
        session.started + realm.sso_session_max_lifespan,
    )
