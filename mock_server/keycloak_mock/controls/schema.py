"""Realm and user settings as the controls take them, and as the control API shows them.

Controls name settings by ``RealmConfig``/``UserConfig`` attribute; realm files and the control
API use Keycloak's realm-export names.  The tables here map one to the other, changes are
validated by the realm-file parser (so a bad value reads like a realm-file error, naming the
field), and the summaries never include a credential or secret.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from keycloak_mock.imitation.config import ClientConfig, RealmConfig, UserConfig, complete_user
from keycloak_mock.imitation.errors import ConfigError, MockServerError
from keycloak_mock.imitation.realmfile import parse_realm

#: Where the control API lives: outside Keycloak's paths, so no client mistakes it for Keycloak.
PREFIX = "/_mock"
#: ``RealmConfig`` attribute -> realm-export JSON name, for the settings a test may change.
REALM_SETTINGS: dict[str, str] = {
    "enabled": "enabled",
    "access_token_lifespan": "accessTokenLifespan",
    "sso_session_idle_timeout": "ssoSessionIdleTimeout",
    "sso_session_max_lifespan": "ssoSessionMaxLifespan",
    "revoke_refresh_token": "revokeRefreshToken",
    "refresh_token_max_reuse": "refreshTokenMaxReuse",
    "not_before": "notBefore",
    "login_with_email_allowed": "loginWithEmailAllowed",
    "offline_session_idle_timeout": "offlineSessionIdleTimeout",
    "offline_session_max_lifespan_enabled": "offlineSessionMaxLifespanEnabled",
    "offline_session_max_lifespan": "offlineSessionMaxLifespan",
    "refresh_token_secret": "refreshTokenSecret",
    "clients": "clients",
    "users": "users",
    "client_scopes": "clientScopes",
    #: A realm export's ``components`` (its key providers): the realm's own RSA keys.
    "signing_keys": "components",
}
#: finAPI's mandator fields: realm attributes in a realm export.
MANDATOR_ATTRIBUTES = ("mandator_name", "mandator_uuid", "is_test_mandator")

#: ``UserConfig`` attribute -> realm-export JSON name, for user updates.
USER_SETTINGS: dict[str, str] = {
    "enabled": "enabled",
    "first_name": "firstName",
    "last_name": "lastName",
    "email": "email",
    "email_verified": "emailVerified",
    "attributes": "attributes",
    "realm_roles": "realmRoles",
    "client_roles": "clientRoles",
    "required_actions": "requiredActions",
}


class ControlError(MockServerError):
    """A control operation that cannot be done: ``status`` and ``error`` say how it renders."""

    def __init__(self, message: str, *, status: int = 400, error: str = "invalid_request") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.error = error


def not_found(what: str) -> ControlError:
    return ControlError(f"{what} not found", status=404, error="not_found")


def realm_changes(name: str, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Validated ``RealmConfig`` attribute values for ``changes`` (attribute names, Python values).

    Values go through the realm-file parser, so errors read like realm-file errors; config
    objects (``UserConfig``/``ClientConfig``) are taken as they are.
    """
    known = set(REALM_SETTINGS) | set(MANDATOR_ATTRIBUTES)
    unknown = sorted(set(changes) - known)
    if unknown:
        raise ControlError(
            f"unknown realm setting {unknown[0]!r}; known: {', '.join(sorted(known))}"
        )
    document: dict[str, Any] = {"realm": name}
    direct: dict[str, Any] = {}
    for attribute, value in changes.items():
        if attribute in MANDATOR_ATTRIBUTES:
            document.setdefault("attributes", {})[attribute] = value
        elif attribute in ("users", "clients") and _all_configs(value):
            direct[attribute] = _configs(name, attribute, value)
        elif attribute == "client_scopes" and isinstance(value, Mapping):
            document["clientScopes"] = [
                {"name": scope, "attributes": {"include.in.token.scope": str(v).lower()}}
                for scope, v in value.items()
            ]
        else:
            document[REALM_SETTINGS[attribute]] = list(value) if isinstance(value, tuple) else value
    parsed = validated(parse_realm, document)
    values = {a: getattr(parsed, a) for a in changes if a not in direct}
    return {**values, **direct}


def _all_configs(value: object) -> bool:
    return (
        isinstance(value, (list, tuple))
        and bool(value)
        and all(isinstance(v, (UserConfig, ClientConfig)) for v in value)
    )


def _configs(realm: str, attribute: str, value: Iterable[Any]) -> tuple[Any, ...]:
    kind = UserConfig if attribute == "users" else ClientConfig
    items = tuple(value)
    if not all(isinstance(v, kind) for v in items):
        raise ControlError(f"{attribute}: mix of config objects and other values")
    if kind is UserConfig:
        return tuple(complete_user(realm, u) for u in items)
    return items


def validated(parse: Any, document: Any) -> Any:
    """``parse(document)``, a ``ConfigError`` turned into a 400 ``ControlError``."""
    try:
        return parse(document)
    except ConfigError as exc:
        raise ControlError(str(exc)) from None


def realm_summary(realm: RealmConfig) -> dict[str, Any]:
    """A realm as the control API shows it: realm-export names, never a secret."""
    body: dict[str, Any] = {"realm": realm.realm}
    for attribute, key in REALM_SETTINGS.items():
        if attribute in (
            "clients",
            "users",
            "client_scopes",
            "refresh_token_secret",
            "signing_keys",
        ):
            continue
        body[key] = getattr(realm, attribute)
    body["attributes"] = {name: getattr(realm, name) for name in MANDATOR_ATTRIBUTES}
    body["clients"] = [c.client_id for c in realm.clients]
    body["users"] = [u.username for u in realm.users]
    body["clientDetails"] = [client_summary(c) for c in realm.clients]
    return body


def client_summary(client: ClientConfig) -> dict[str, Any]:
    """A client as the page shows it: its type, the grants it may use, web origins; no secret."""
    if client.bearer_only:
        kind, grants = "bearer-only", []
    else:
        kind = "public" if client.public_client else "confidential"
        grants = ["password", "refresh_token"] if client.direct_access_grants_enabled else []
    return {
        "clientId": client.client_id,
        "enabled": client.enabled,
        "type": kind,
        "grants": grants,
        "webOrigins": list(client.web_origins),
    }


def user_summary(user: UserConfig) -> dict[str, Any]:
    """A user as the control API shows it: realm-export names, never the credential."""
    return {
        "id": user.id,
        "username": user.username,
        "enabled": user.enabled,
        "firstName": user.first_name,
        "lastName": user.last_name,
        "email": user.email,
        "emailVerified": user.email_verified,
        "attributes": {k: list(v) for k, v in user.attributes.items()},
        "requiredActions": list(user.required_actions),
    }
