"""Test controls: the operations a test (or the HTTP control API) performs on a running mock.

``Controls`` is the one implementation; the pytest handle calls it in-process and the control
blueprint (``views/control.py``) exposes it as JSON, so both behave the same.  Each operation does
what the matching Keycloak admin action does, as far as a client can see:

- removing a user ends their sessions (refresh then answers ``Session not active``); disabling
  one keeps them (refresh answers ``User disabled``); a password reset leaves sessions alone;
- pushing a realm's not-before makes every earlier token ``Stale token``;
- rotating a realm's signing key publishes the new key first; the old one stays in that realm's
  JWKS until dropped.

Realms are frozen ``RealmConfig`` values: every change replaces one under the state lock, and
``reset()`` puts the originals back.  Values are validated by the realm-file parser, so a bad
value gets the same message (naming the field) as it would in a realm file.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask

from keycloak_mock.imitation.config import MockConfig, RealmConfig, UserConfig, complete_user
from keycloak_mock.imitation.http import EXTENSION_KEY
from keycloak_mock.imitation.keys import SigningKey, parse_private_key
from keycloak_mock.imitation.passwords import PlainCredential
from keycloak_mock.imitation.realmfile import parse_realm, parse_user
from keycloak_mock.imitation.state import MockState, UserSession, session_expiry

from .faults import ANY_ENDPOINT, ErrorRate, Fault
from .hooks import (
    TOOL_BLUEPRINTS,
    faults_of,
    request_log_of,
    server_errors_of,
)
from .requestlog import RequestRecord
from .schema import (
    USER_SETTINGS,
    ControlError,
    not_found,
    realm_changes,
    realm_summary,
    user_summary,
    validated,
)
from .servererrors import ServerError
from .tokencheck import MAX_TOKEN_CHARS, inspect_token

#: Latest instant the clock may be moved to: far beyond any test, far below int64 overflow.
_YEAR_3000 = 32_503_680_000


class Controls:
    """Operations on one app's state, faults and request log.  Thread-safe."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.state: MockState = app.extensions[EXTENSION_KEY]["state"]
        self.config: MockConfig = app.extensions[EXTENSION_KEY]["config"]
        self.faults = faults_of(app)
        self.request_log = request_log_of(app)
        self.errors = server_errors_of(app)

    # -- everything -----------------------------------------------------------------------
    def reset(self) -> None:
        """Pristine realms and key, no sessions, faults, log or errors, real time."""
        self.state.reset()

    # -- time -----------------------------------------------------------------------------
    def time(self) -> dict[str, Any]:
        clock = self.state.clock
        now = clock.now()
        return {"now": now, "seconds": int(now), "frozen": clock.frozen}

    def advance(self, seconds: float) -> dict[str, Any]:
        """Move the clock by ``seconds``; the result must stay a Unix time tokens can carry."""
        if not _is_number(seconds):
            raise ControlError("seconds: must be a number")
        if not _is_time(self.state.clock.now() + seconds):
            raise ControlError("seconds: would move the clock before 1970 or past the year 3000")
        self.state.clock.advance(seconds)
        return self.time()

    def freeze(self, at: float | None = None) -> dict[str, Any]:
        if at is not None and not (_is_number(at) and _is_time(at)):
            raise ControlError("at: must be a Unix time in seconds (1970 to 3000), or null for now")
        self.state.clock.freeze(at)
        return self.time()

    def unfreeze(self) -> dict[str, Any]:
        self.state.clock.unfreeze()
        return self.time()

    def expire_access_tokens(self, realm: str | None = None) -> dict[str, Any]:
        """Move time past the access-token lifespan: every access token issued so far is expired.

        Sessions and refresh tokens live on as long as the realm's idle timeout exceeds the
        access-token lifespan (Keycloak's defaults: 1800 s against 900 s).
        """
        lifespan = max(r.access_token_lifespan for r in self._realms_named(realm))
        return self.advance(lifespan + 1)

    def expire_sessions(self, realm: str | None = None) -> dict[str, Any]:
        """Move time past the SSO idle timeout (or max lifespan) and purge expired sessions."""
        span = max(
            min(r.sso_session_idle_timeout, r.sso_session_max_lifespan)
            for r in self._realms_named(realm)
        )
        result = self.advance(span + 1)
        return {**result, "sessionsEnded": self.state.purge_expired()}

    # -- realms ---------------------------------------------------------------------------
    def realms(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return [realm_summary(r) for r in self.state.realms.values()]

    def realm(self, name: str) -> dict[str, Any]:
        return realm_summary(self._realm(name))

    def add_realm(self, realm: RealmConfig | Mapping[str, Any]) -> dict[str, Any]:
        """Add a realm (a ``RealmConfig`` or realm-export JSON); 409 if the name is taken."""
        parsed: RealmConfig = (
            realm if isinstance(realm, RealmConfig) else validated(parse_realm, realm)
        )
        new = self.config.apply_overrides(parsed)
        with self.state.lock:
            if new.realm in self.state.realms:
                raise ControlError(
                    f"Conflict detected. Realm {new.realm!r} exists", status=409, error="conflict"
                )
            validated(self.state.add_realm, new)
        return realm_summary(new)

    def update_realm(self, name: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Change realm settings named by ``RealmConfig`` attribute; users dropped lose sessions."""
        with self.state.lock:
            current = self._realm(name)
            updated = dataclasses.replace(current, **realm_changes(name, changes))
            if "signing_keys" in changes:
                # New keys from the realm's key providers: the realm signs with them from now on.
                validated(self.state.add_realm, updated)
            self.state.realms[name] = updated
            kept = {u.id for u in updated.users}
            self.state.end_sessions(lambda s: s.realm == name and s.user_id not in kept)
        return realm_summary(updated)

    def remove_realm(self, name: str) -> int:
        """Remove a realm and end its sessions; returns how many sessions ended."""
        with self.state.lock:
            self._realm(name)
            del self.state.realms[name]
            return self.state.end_sessions(lambda s: s.realm == name)

    def push_not_before(self, realm: str) -> int:
        """Keycloak's "push revocation": tokens issued before now become ``Stale token``.

        The clock moves on by one second first, so tokens issued in this very second are stale
        too (Keycloak compares whole seconds, ``iat < notBefore``); tokens issued afterwards are
        valid.  Returns the new not-before.
        """
        with self.state.lock:
            self._realm(realm)
            self.state.clock.advance(1)
            not_before = self.state.clock.seconds()
            self.state.update_realm(realm, lambda r: dataclasses.replace(r, not_before=not_before))
        return not_before

    # -- users ----------------------------------------------------------------------------
    def users(self, realm: str) -> list[dict[str, Any]]:
        return [user_summary(u) for u in self._realm(realm).users]

    def user(self, realm: str, username: str) -> dict[str, Any]:
        return user_summary(self._user(self._realm(realm), username))

    def add_user(self, realm: str, user: UserConfig | Mapping[str, Any]) -> dict[str, Any]:
        """Add a user (a ``UserConfig`` or realm-export JSON); 409 if the username is taken."""
        new: UserConfig = (
            complete_user(realm, user)
            if isinstance(user, UserConfig)
            else validated(lambda doc: parse_user(realm, doc), user)
        )
        with self.state.lock:
            current = self._realm(realm)
            if any(u.username == new.username for u in current.users):
                raise ControlError("User exists with same username", status=409, error="conflict")
            email = (new.email or "").lower()
            if email and any((u.email or "").lower() == email for u in current.users):
                raise ControlError("User exists with same email", status=409, error="conflict")
            self.state.realms[realm] = current.with_user(new)
        return user_summary(new)

    def update_user(self, realm: str, username: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Change user fields named by ``UserConfig`` attribute (``enabled``, ``email``, ...)."""
        unknown = sorted(set(changes) - set(USER_SETTINGS))
        if unknown:
            raise ControlError(
                f"unknown user field {unknown[0]!r}; known: {', '.join(sorted(USER_SETTINGS))}"
            )
        document: dict[str, Any] = {"username": username}
        for attribute, value in changes.items():
            document[USER_SETTINGS[attribute]] = list(value) if isinstance(value, tuple) else value
        parsed = validated(lambda doc: parse_user(realm, doc), document)
        with self.state.lock:
            current = self._realm(realm)
            user = self._user(current, username)
            updated = dataclasses.replace(
                user, **{attribute: getattr(parsed, attribute) for attribute in changes}
            )
            self.state.realms[realm] = current.with_user(updated)
        return user_summary(updated)

    def disable_user(self, realm: str, username: str) -> dict[str, Any]:
        """Disable a user: sessions stay (refresh answers ``User disabled``), logins fail."""
        return self.update_user(realm, username, {"enabled": False})

    def enable_user(self, realm: str, username: str) -> dict[str, Any]:
        return self.update_user(realm, username, {"enabled": True})

    def remove_user(self, realm: str, username: str) -> int:
        """Remove a user and end their sessions; returns how many sessions ended."""
        with self.state.lock:
            current = self._realm(realm)
            user = self._user(current, username)
            self.state.realms[realm] = dataclasses.replace(
                current, users=tuple(u for u in current.users if u.id != user.id)
            )
            return self.state.end_sessions(lambda s: s.realm == realm and s.user_id == user.id)

    def set_password(
        self, realm: str, username: str, password: str, *, temporary: bool = False
    ) -> dict[str, Any]:
        """Keycloak's admin password reset: sessions stay; ``temporary`` adds UPDATE_PASSWORD."""
        if not isinstance(password, str) or not password.strip():
            raise ControlError(
                "Empty password not allowed"
                if isinstance(password, str)
                else "No password provided"
            )
        if not isinstance(temporary, bool):
            raise ControlError("temporary: must be true or false")
        with self.state.lock:
            current = self._realm(realm)
            user = self._user(current, username)
            actions = tuple(a for a in user.required_actions if a != "UPDATE_PASSWORD")
            if temporary:
                actions = (*actions, "UPDATE_PASSWORD")
            updated = dataclasses.replace(
                user,
                credential=PlainCredential(password, temporary=temporary),
                required_actions=actions,
            )
            self.state.realms[realm] = current.with_user(updated)
        return user_summary(updated)

    # -- sessions -------------------------------------------------------------------------
    def sessions(
        self, realm: str | None = None, username: str | None = None
    ) -> list[dict[str, Any]]:
        with self.state.lock:
            chosen = self._sessions(realm, username)
            return [self._session_summary(s) for s in chosen]

    def inspect_token(self, token: str, issuer_base: str | None = None) -> dict[str, Any]:
        """Header, claims and whether the endpoints would accept ``token`` now, with the reason.

        ``issuer_base`` is the base URL ``iss`` must start with (the URL clients reach the mock
        at); it defaults to ``--issuer-url``.  Changes nothing, refresh tokens included.
        """
        if not isinstance(token, str) or not token.strip():
            raise ControlError("token: required")
        if len(token) > MAX_TOKEN_CHARS:
            raise ControlError(f"token: longer than {MAX_TOKEN_CHARS} characters")
        base = issuer_base if issuer_base is not None else self.config.issuer_url
        if not isinstance(base, str) or not base.startswith(("http://", "https://")):
            raise ControlError("issuerBase: required (an http(s) URL) without --issuer-url")
        return inspect_token(token, self.state, issuer_base=base.rstrip("/"))

    def end_session(self, session_id: str) -> None:
        """End the session with this id, online and offline."""
        online = self.state.end_session(session_id)
        if not (self.state.end_session(session_id, offline=True) or online):
            raise not_found(f"Session {session_id!r}")

    def end_sessions(self, realm: str | None = None, username: str | None = None) -> int:
        """Admin logout of all sessions (of a realm, of a user); returns how many ended."""
        with self.state.lock:
            doomed = {s.id for s in self._sessions(realm, username)}
            return self.state.end_sessions(lambda s: s.id in doomed)

    # -- keys -----------------------------------------------------------------------------
    # Each realm has its own keys, as in Keycloak; ``realm=None`` means the default realm.
    def signing_keys(self, realm: str | None = None) -> list[dict[str, Any]]:
        keys = self.state.realm_keys(self._key_realm(realm))
        return [{"kid": k.kid, "active": i == 0} for i, k in enumerate(keys)]

    def rotate_signing_key(
        self, private_key_pem: str | None = None, realm: str | None = None
    ) -> dict[str, Any]:
        """Sign with a new key from now on; the old keys stay published until dropped."""
        name = self._key_realm(realm)
        if private_key_pem is None:
            key = SigningKey(rsa.generate_private_key(public_exponent=65537, key_size=2048))
        elif isinstance(private_key_pem, str):
            key = SigningKey(
                validated(
                    lambda pem: parse_private_key(pem.encode(), "privateKeyPem"), private_key_pem
                )
            )
        else:
            raise ControlError("privateKeyPem: must be a PEM string")
        with self.state.lock:
            if self.state.key_by_kid(key.kid, name) is not None:
                raise ControlError(
                    f"key {key.kid} is already published", status=409, error="conflict"
                )
            self.state.set_realm_keys(name, [key, *self.state.realm_keys(name)])
        return {"kid": key.kid, "keys": self.signing_keys(name)}

    def drop_signing_key(self, kid: str, realm: str | None = None) -> list[dict[str, Any]]:
        """Stop publishing a key (tokens it signed stop verifying); never the active one."""
        name = self._key_realm(realm)
        with self.state.lock:
            keys = self.state.realm_keys(name)
            key = next((k for k in keys if k.kid == kid), None)
            if key is None:
                raise not_found(f"Key {kid!r}")
            if key is keys[0]:
                raise ControlError(
                    "the active signing key cannot be dropped", status=409, error="conflict"
                )
            self.state.set_realm_keys(name, [k for k in keys if k is not key])
        return self.signing_keys(name)

    def drop_old_signing_keys(self, realm: str | None = None) -> list[dict[str, Any]]:
        name = self._key_realm(realm)
        with self.state.lock:
            self.state.set_realm_keys(name, [self.state.active_key_of(name)])
        return self.signing_keys(name)

    def _key_realm(self, realm: str | None) -> str:
        if realm is None:
            return self.state.default_realm
        return self._realm(realm).realm

    # -- faults ---------------------------------------------------------------------------
    def add_fault(self, fault: Fault) -> dict[str, Any]:
        self._check_endpoint(fault.endpoint)
        self.faults.add(fault)
        return fault.to_json()

    def set_error_rate(self, error_rate: ErrorRate | None) -> dict[str, Any] | None:
        if error_rate is not None:
            self._check_endpoint(error_rate.endpoint)
        self.faults.set_error_rate(error_rate)
        return error_rate.to_json() if error_rate else None

    def list_faults(self) -> dict[str, Any]:
        return self.faults.listing()

    def clear_faults(self) -> None:
        self.faults.clear()

    def endpoints(self) -> list[str]:
        """Names a fault may target: the short view names (``token``, ``certs``, ...)."""
        names = {
            rule.endpoint.rpartition(".")[2]
            for rule in self.app.url_map.iter_rules()
            if rule.endpoint.partition(".")[0] not in TOOL_BLUEPRINTS and rule.endpoint != "static"
        }
        return sorted(names)

    # -- request log ----------------------------------------------------------------------
    def requests(self, **filters: Any) -> list[RequestRecord]:
        try:
            return self.request_log.records(**filters)
        except TypeError:
            raise ControlError(
                "filters: endpoint, grant_type, realm, client_id, username, status, limit"
            ) from None

    def counters(self) -> dict[str, int]:
        return self.request_log.counters()

    def clear_requests(self) -> None:
        self.request_log.clear()

    # -- server errors --------------------------------------------------------------------
    def server_errors(self) -> list[ServerError]:
        return self.errors.snapshot()

    def take_server_errors(self) -> list[ServerError]:
        """The errors logged since the last call, removing them."""
        return self.errors.clear()

    # -- helpers --------------------------------------------------------------------------
    def _realm(self, name: str) -> RealmConfig:
        realm = self.state.realm(name)
        if realm is None:
            raise not_found(f"Realm {name!r}")
        return realm

    def _realms_named(self, name: str | None) -> list[RealmConfig]:
        with self.state.lock:
            realms = [self._realm(name)] if name is not None else list(self.state.realms.values())
        if not realms:
            raise ControlError("no realm is configured")
        return realms

    @staticmethod
    def _user(realm: RealmConfig, username: str) -> UserConfig:
        wanted = username.lower()
        user = next((u for u in realm.users if u.username == wanted), None)
        if user is None:
            raise not_found(f"User {username!r} in realm {realm.realm!r}")
        return user

    def _sessions(self, realm: str | None, username: str | None) -> list[UserSession]:
        user_id = None
        if username is not None:
            if realm is None:
                raise ControlError("username: needs a realm")
            user_id = self._user(self._realm(realm), username).id
        elif realm is not None:
            self._realm(realm)
        return [
            s
            for s in self.state.sessions.values()
            if (realm is None or s.realm == realm) and (user_id is None or s.user_id == user_id)
        ]

    def _session_summary(self, session: UserSession) -> dict[str, Any]:
        realm = self.state.realm(session.realm)
        user = realm.user_by_id(session.user_id) if realm else None
        expires = access_expires = None
        if realm is not None:
            expires = session_expiry(realm, session)
            if session.clients:
                issued = max(c.timestamp for c in session.clients.values())
                access_expires = min(issued + realm.access_token_lifespan, expires)
        return {
            "id": session.id,
            "realm": session.realm,
            "userId": session.user_id,
            "username": user.username if user else None,
            "started": session.started,
            "lastRefresh": session.last_refresh,
            "clients": sorted(session.clients),
            # The ``exp`` of the newest refresh and access tokens (the session's end caps both):
            # the page counts down to them on the mock's clock.
            "expires": expires,
            "accessExpires": access_expires,
        }

    def _check_endpoint(self, endpoint: str) -> None:
        if endpoint == ANY_ENDPOINT:
            return
        known = self.endpoints()
        full = {
            rule.endpoint
            for rule in self.app.url_map.iter_rules()
            if rule.endpoint.partition(".")[0] not in TOOL_BLUEPRINTS
        }
        if endpoint not in known and endpoint not in full:
            raise ControlError(f"endpoint: unknown {endpoint!r}; known: {', '.join(known)}, *")


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_time(value: float) -> bool:
    return 0 <= value <= _YEAR_3000


def controls_of(app: Flask) -> Controls:
    """The app's ``Controls``, made once and cached in ``app.extensions``."""
    store = app.extensions[EXTENSION_KEY]
    controls: Controls | None = store.get("controls")
    if controls is None:
        controls = store.setdefault("controls", Controls(app))
    return controls
