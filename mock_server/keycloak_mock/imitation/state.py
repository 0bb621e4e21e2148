"""Per-app mutable state: current realms, user sessions (online and offline), keys, the clock.

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
from .realmkeys import RealmKeys

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
    #: An offline session (``offline_access``): its own store and timeouts, same id as the
    #: online session it was created with, as in Keycloak.
    offline: bool = False


class MockState:
    """Everything that changes while the server runs."""

    def __init__(
        self, realms: Iterable[RealmConfig], signing_key: SigningKey, clock: Clock
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self._pristine_realms = {realm.realm: realm for realm in realms}
        self.realms: dict[str, RealmConfig] = dict(self._pristine_realms)
        self.sessions: dict[str, UserSession] = {}
        self.offline_sessions: dict[str, UserSession] = {}
        self.keys = RealmKeys(self._pristine_realms, signing_key, self.lock, lambda: self.realms)
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
        """Serve ``realm``; raises ``ConfigError`` (and adds nothing) if its keys are unusable."""
        with self.lock:
            previous = self.realms.get(realm.realm)
            self.realms[realm.realm] = realm
            try:
                self.keys.realm_added(realm)
            except Exception:
                if previous is None:
                    del self.realms[realm.realm]
                else:
                    self.realms[realm.realm] = previous
                    self.keys.realm_added(previous)
                raise

    # -- keys (each realm's own: ``realmkeys.RealmKeys``) ----------------------------------
    def realm_keys(self, realm: str) -> list[SigningKey]:
        """The realm's published RSA keys, the active one first (a copy)."""
        return self.keys.published(realm)

    def active_key_of(self, realm: str) -> SigningKey:
        """The key that signs the realm's access and ID tokens."""
        return self.keys.active(realm)

    def set_realm_keys(self, realm: str, keys: list[SigningKey]) -> None:
        self.keys.replace(realm, keys)

    @property
    def default_realm(self) -> str:
        """The realm that signs with the server's own key."""
        return self.keys.default_realm

    @property
    def signing_keys(self) -> list[SigningKey]:
        """The default realm's published keys, the active one first."""
        return self.keys.published(self.keys.default_realm)

    @property
    def active_key(self) -> SigningKey:
        """The default realm's signing key."""
        return self.keys.active(self.keys.default_realm)

    def key_by_kid(self, kid: str, realm: str | None = None) -> SigningKey | None:
        """A key ``realm`` publishes (any realm's if ``None``) with this ``kid``."""
        return self.keys.by_kid(kid, realm)

    def refresh_key(self, realm: RealmConfig) -> HmacKey:
        """The realm's HS512 key, derived from its first key so rotation keeps sessions alive."""
        return self.keys.refresh_key(realm)

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

    def create_offline_session(self, online: UserSession, client_id: str, now: int) -> UserSession:
        """Keycloak's ``createOrUpdateOfflineSession``: the online session's id, a life apart."""
        with self.lock:
            session = self.offline_sessions.get(online.id)
            if session is None:
                session = UserSession(
                    id=online.id,
                    realm=online.realm,
                    user_id=online.user_id,
                    started=now,
                    last_refresh=now,
                    offline=True,
                )
                self.offline_sessions[session.id] = session
            session.clients.setdefault(client_id, ClientSession(timestamp=now))
            return session

    def session(self, session_id: str, *, offline: bool = False) -> UserSession | None:
        return (self.offline_sessions if offline else self.sessions).get(session_id)

    def live_session(
        self, realm: RealmConfig, session_id: str, now: int, *, offline: bool = False
    ) -> UserSession | None:
        """The session if it exists, belongs to ``realm`` and has not timed out."""
        session = self.session(session_id, offline=offline)
        if (
            session is None
            or session.realm != realm.realm
            or not session_is_valid(realm, session, now)
        ):
            return None
        return session

    def end_session(self, session_id: str, *, offline: bool = False) -> bool:
        with self.lock:
            store = self.offline_sessions if offline else self.sessions
            return store.pop(session_id, None) is not None

    def end_sessions(self, predicate: Callable[[UserSession], bool]) -> int:
        """End the online and offline sessions ``predicate`` picks; how many ended."""
        with self.lock:
            ended = 0
            for store in (self.sessions, self.offline_sessions):
                doomed = [sid for sid, s in store.items() if predicate(s)]
                for sid in doomed:
                    del store[sid]
                ended += len(doomed)
            return ended

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
            self.offline_sessions.clear()
            self.revoked_access_tokens.clear()
            self.keys.reset()
            self._last_purge = 0
            self.clock.reset()
            for listener in self.reset_listeners:
                listener()


def session_is_valid(realm: RealmConfig, session: UserSession, now: int) -> bool:
    if session.offline:
        # Offline sessions: their own idle timeout; a maximum only where the realm enables one.
        return session.last_refresh + realm.offline_session_idle_timeout > now and (
            not realm.offline_session_max_lifespan_enabled
            or session.started + realm.offline_session_max_lifespan > now
        )
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
