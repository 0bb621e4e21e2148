"""Each realm's keys, as in Keycloak: RSA keys to sign and publish, an HS512 key for refresh tokens.

Where a realm's RSA keys come from, in order: the key providers of its realm file (``components``),
the server's own key for the default realm (``customer``, else the first realm), else one of the
bundled TEST-ONLY pool keys, assigned by ``keys.assign_pool_keys`` so that no two realms of one
server share one and the same realm file gives the same keys after a restart.  Keys are parsed
when a realm first needs them (realm-file keys at once, so a bad one stops the start), and kept
parsed across resets; rotation replaces a realm's current list, never its initial one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping

from .config import RealmConfig
from .keys import (
    POOL_KEY_RESOURCES,
    HmacKey,
    SigningKey,
    assign_pool_keys,
    bundled_key,
    generated_key,
    realm_file_key,
)

#: The realm that gets the server's own key (the dev key, ``--signing-key``): finAPI's example.
DEFAULT_REALM = "customer"
_log = logging.getLogger("keycloak_mock")


class RealmKeys:
    """The keys of every realm of one server.  Guarded by the state's lock."""

    def __init__(
        self,
        pristine: Mapping[str, RealmConfig],
        server_key: SigningKey,
        lock: threading.RLock,
        current: Callable[[], Mapping[str, RealmConfig]],
    ) -> None:
        self._lock = lock
        self._current = current
        self._pristine = dict(pristine)
        self._server_key = server_key
        self.default_realm = (
            DEFAULT_REALM
            if DEFAULT_REALM in self._pristine
            else next(iter(self._pristine), DEFAULT_REALM)
        )
        self._pristine_pool = assign_pool_keys(
            name
            for name, realm in self._pristine.items()
            if name != self.default_realm and not realm.signing_keys
        )
        self._pool = dict(self._pristine_pool)
        self._pool_keys: dict[int, SigningKey] = {}
        #: The keys a realm starts with, parsed once.
        self._initial: dict[str, list[SigningKey]] = {}
        #: Each realm's published keys now, the active one first.
        self._published: dict[str, list[SigningKey]] = {}
        self._refresh: dict[tuple[str, str | None], HmacKey] = {}
        #: Realms added or redefined since the start (or the last reset).
        self._changed: set[str] = set()
        for name, realm in self._pristine.items():
            if realm.signing_keys:
                self._keys_of(name)

    def published(self, realm: str) -> list[SigningKey]:
        """The realm's published RSA keys, the active one first (a copy)."""
        with self._lock:
            return list(self._keys_of(realm))

    def active(self, realm: str) -> SigningKey:
        keys = self._published.get(realm)
        if keys is None:
            with self._lock:
                keys = self._keys_of(realm)
        return keys[0]

    def replace(self, realm: str, keys: list[SigningKey]) -> None:
        """Publish ``keys`` (the first signs) instead of the realm's current ones."""
        with self._lock:
            self._keys_of(realm)
            self._published[realm] = list(keys)

    def by_kid(self, kid: str, realm: str | None = None) -> SigningKey | None:
        """A key ``realm`` publishes (any realm's if ``None``) with this ``kid``."""
        with self._lock:
            served = self._current()
            names = [realm] if realm is not None else [self.default_realm, *served]
            for name in names:
                if name not in served and name != self.default_realm:
                    continue
                found = next((k for k in self._keys_of(name) if k.kid == kid), None)
                if found is not None:
                    return found
        return None

    def refresh_key(self, realm: RealmConfig) -> HmacKey:
        """The realm's HS512 key, derived from its initial RSA key: rotation keeps sessions."""
        cache_key = (realm.realm, realm.refresh_token_secret)
        key = self._refresh.get(cache_key)
        if key is None:
            with self._lock:
                self._keys_of(realm.realm)
                base = self._initial[realm.realm][0]
            key = base.refresh_key(realm.realm, realm.refresh_token_secret)
            self._refresh[cache_key] = key
        return key

    def realm_added(self, realm: RealmConfig) -> None:
        """A realm was added (or replaced): it starts with the keys its definition names.

        Raises ``ConfigError`` for a realm-file key that cannot be read.
        """
        with self._lock:
            name = realm.realm
            self._changed.add(name)
            if name not in self._pool and name != self.default_realm and not realm.signing_keys:
                used = {i for i in self._pool.values() if i is not None}
                self._pool.update(assign_pool_keys([name], used))
            self._forget(name)
            if realm.signing_keys:
                try:
                    self._keys_of(name)
                except Exception:
                    self._forget(name)
                    raise

    def reset(self) -> None:
        """Back to the pristine realms' initial keys; realms added since are forgotten."""
        with self._lock:
            self._pool = dict(self._pristine_pool)
            self._published.clear()
            for name in self._changed | {n for n in self._initial if n not in self._pristine}:
                self._forget(name)
            self._changed.clear()

    def _forget(self, name: str) -> None:
        self._published.pop(name, None)
        self._initial.pop(name, None)
        for cached in [c for c in self._refresh if c[0] == name]:
            del self._refresh[cached]

    def _keys_of(self, name: str) -> list[SigningKey]:
        """Under the lock: the realm's current keys, parsed on first use."""
        keys = self._published.get(name)
        if keys is None:
            initial = self._initial.get(name)
            if initial is None:
                initial = self._initial[name] = self._load(name)
            keys = self._published[name] = list(initial)
        return keys

    def _load(self, name: str) -> list[SigningKey]:
        realm = self._current().get(name) or self._pristine.get(name)
        if realm is not None and realm.signing_keys:
            return [
                realm_file_key(k.private_key_pem, k.origin, k.certificate_b64, k.kid)
                for k in realm.signing_keys
            ]
        if name == self.default_realm:
            return [self._server_key]
        index = self._pool.get(name)
        if index is None and name not in self._pool:
            used = {i for i in self._pool.values() if i is not None}
            index = self._pool[name] = assign_pool_keys([name], used)[name]
        if index is None:
            _log.warning(
                "realm %s: all %d bundled realm keys are taken, generating a key that will not "
                "survive a restart (give the realm a key in its realm file)",
                name,
                len(POOL_KEY_RESOURCES),
            )
            return [generated_key()]
        key = self._pool_keys.get(index)
        if key is None:
            key = self._pool_keys[index] = bundled_key(POOL_KEY_RESOURCES[index], keycloak_kid=True)
        return [key]
