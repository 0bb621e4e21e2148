"""``MockControls``: the one contract of the test controls, in-process or over HTTP.

``Controls`` (in-process) and ``RemoteControls`` (the ``/_mock`` API of a mock in another process)
both implement it, and the suite checks that their signatures match it, so a test written against
the handle runs unchanged in either mode.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from keycloak_mock.imitation.config import RealmConfig, UserConfig

from .faults import ErrorRate, Fault
from .requestlog import RequestRecord
from .servererrors import ServerError


@runtime_checkable
class MockControls(Protocol):
    """What a test can do to a running mock (see ``KeycloakMock`` for the friendly wrapper)."""

    def reset(self) -> None:
        """Pristine realms and key, no sessions, faults, log or errors, real time."""
        ...

    def time(self) -> dict[str, Any]:
        """The mock's clock: now, and whether it is frozen."""
        ...

    def advance(self, seconds: float) -> dict[str, Any]:
        """Move the clock by ``seconds``; the result must stay a Unix time tokens can carry."""
        ...

    def freeze(self, at: float | None = None) -> dict[str, Any]:
        """Stop the clock, at ``at`` (a Unix time) or now."""
        ...

    def unfreeze(self) -> dict[str, Any]:
        """Let the clock run again from where it stands."""
        ...

    def expire_access_tokens(self, realm: str | None = None) -> dict[str, Any]:
        """Move time past the access-token lifespan: every access token issued so far is expired."""
        ...

    def expire_sessions(self, realm: str | None = None) -> dict[str, Any]:
        """Move time past the SSO idle timeout (or max lifespan) and purge expired sessions."""
        ...

    def realms(self) -> list[dict[str, Any]]:
        """Every realm, as the control API's JSON."""
        ...

    def realm(self, name: str) -> dict[str, Any]:
        """One realm as JSON; ``ControlError`` (404) if unknown."""
        ...

    def add_realm(self, realm: RealmConfig | Mapping[str, Any]) -> dict[str, Any]:
        """Add a realm (a ``RealmConfig`` or realm-export JSON); 409 if the name is taken."""
        ...

    def update_realm(self, name: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Change realm settings named by ``RealmConfig`` attribute; users dropped lose sessions."""
        ...

    def remove_realm(self, name: str) -> int:
        """Remove a realm and end its sessions; returns how many sessions ended."""
        ...

    def push_not_before(self, realm: str) -> int:
        """Keycloak's "push revocation": tokens issued before now become ``Stale token``."""
        ...

    def users(self, realm: str) -> list[dict[str, Any]]:
        """The users of a realm, as JSON without credentials."""
        ...

    def user(self, realm: str, username: str) -> dict[str, Any]: ...

    def add_user(self, realm: str, user: UserConfig | Mapping[str, Any]) -> dict[str, Any]:
        """Add a user (a ``UserConfig`` or realm-export JSON); 409 if the username is taken."""
        ...

    def update_user(self, realm: str, username: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Change user fields named by ``UserConfig`` attribute (``enabled``, ``email``, ...)."""
        ...

    def disable_user(self, realm: str, username: str) -> dict[str, Any]:
        """Disable a user: sessions stay (refresh answers ``User disabled``), logins fail."""
        ...

    def enable_user(self, realm: str, username: str) -> dict[str, Any]: ...

    def remove_user(self, realm: str, username: str) -> int:
        """Remove a user and end their sessions; returns how many sessions ended."""
        ...

    def set_password(
        self, realm: str, username: str, password: str, *, temporary: bool = False
    ) -> dict[str, Any]:
        """Keycloak's admin password reset: sessions stay; ``temporary`` adds UPDATE_PASSWORD."""
        ...

    def sessions(
        self, realm: str | None = None, username: str | None = None
    ) -> list[dict[str, Any]]: ...

    def end_session(self, session_id: str) -> None: ...

    def end_sessions(self, realm: str | None = None, username: str | None = None) -> int:
        """Admin logout of all sessions (of a realm, of a user); returns how many ended."""
        ...

    def inspect_token(self, token: str, issuer_base: str | None = None) -> dict[str, Any]:
        """Header, claims, and whether the endpoints would accept ``token`` now (and why not)."""
        ...

    def signing_keys(self, realm: str | None = None) -> list[dict[str, Any]]:
        """A realm's published keys (``None``: the default realm's), the active one first."""
        ...

    def rotate_signing_key(
        self, private_key_pem: str | None = None, realm: str | None = None
    ) -> dict[str, Any]:
        """Sign with a new key from now on; the old keys stay published until dropped."""
        ...

    def drop_signing_key(self, kid: str, realm: str | None = None) -> list[dict[str, Any]]:
        """Stop publishing a key (tokens it signed stop verifying); never the active one."""
        ...

    def drop_old_signing_keys(self, realm: str | None = None) -> list[dict[str, Any]]: ...

    def add_fault(self, fault: Fault) -> dict[str, Any]: ...

    def set_error_rate(self, error_rate: ErrorRate | None) -> dict[str, Any] | None: ...

    def list_faults(self) -> dict[str, Any]: ...

    def clear_faults(self) -> None: ...

    def endpoints(self) -> list[str]:
        """Names a fault may target: the short view names (``token``, ``certs``, ...)."""
        ...

    def requests(self, **filters: Any) -> list[RequestRecord]: ...

    def counters(self) -> dict[str, int]: ...

    def clear_requests(self) -> None: ...

    def server_errors(self) -> list[ServerError]: ...

    def take_server_errors(self) -> list[ServerError]:
        """The errors logged since the last call, removing them."""
        ...
