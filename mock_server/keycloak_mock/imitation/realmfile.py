"""Load realms from JSON that uses Keycloak's realm-export field names.

A trimmed export of a real realm loads unchanged: fields we do not model are ignored, fields we do
model are type-checked, and every error names the JSON path of the offending value, e.g.
``realms.json: $[1].users[0].enabled: expected a boolean, got "yes"``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from .config import (
    ClientConfig,
    MockConfig,
    RealmConfig,
    RealmKey,
    UserConfig,
    complete_user,
    default_realm,
)
from .errors import ConfigError
from .passwords import PBKDF2_ALGORITHMS, Credential, Pbkdf2Credential, PlainCredential

T = TypeVar("T")
_TYPE_NAMES = {
    bool: "a boolean",
    int: "an integer",
    str: "a string",
    list: "a list",
    dict: "an object",
}
_SECRET_FIELDS = (".value", ".secret", ".secretData", ".refreshTokenSecret", ".privateKey")
_MANDATOR_ATTRIBUTES = ("mandator_name", "mandator_uuid", "is_test_mandator")
#: Where a realm export keeps its keys, and the providers whose keys sign with RS256.
KEY_PROVIDER_TYPE = "org.keycloak.keys.KeyProvider"
_RSA_SIGNING_PROVIDERS = ("rsa", "rsa-generated")
_USE_REFRESH_TOKEN_FOR_CLIENT_CREDENTIALS = "client_credentials.use_refresh_token"  # noqa: S105
_log = logging.getLogger("keycloak_mock")


def load_realm_file(path: str | Path) -> tuple[RealmConfig, ...]:
    """Read ``path`` and return its realms, or raise ``ConfigError`` naming the problem."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read realm file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    try:
        return parse_realms(document)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def parse_realms(document: object) -> tuple[RealmConfig, ...]:
    """Realms from a decoded realm file: one realm object or a list of them."""
    if isinstance(document, list):
        realms = tuple(_realm(item, f"$[{i}]") for i, item in enumerate(document))
    else:
        realms = (_realm(document, "$"),)
    if not realms:
        raise ConfigError("$: the file lists no realm")
    _reject_duplicates([r.realm for r in realms], "$", "realm")
    return realms


def parse_realm(document: object, path: str = "$") -> RealmConfig:
    """One realm object, as the HTTP control API and the pytest marker take it."""
    return _realm(document, path)


def parse_user(realm: str, document: object, path: str = "$") -> UserConfig:
    """One user object (realm-export names), completed as Keycloak completes new users."""
    return complete_user(realm, _user(document, path))


def _realm(node: object, path: str) -> RealmConfig:
    obj = _expect(node, dict, path)
    name = _required(obj, "realm", str, path)
    if not name or "/" in name:
        raise ConfigError(f"{path}.realm: must be a non-empty name without '/'")
    kwargs: dict[str, Any] = {"realm": name}
    for key, attr, kind in (
        ("enabled", "enabled", bool),
        ("accessTokenLifespan", "access_token_lifespan", int),
        ("ssoSessionIdleTimeout", "sso_session_idle_timeout", int),
        ("ssoSessionMaxLifespan", "sso_session_max_lifespan", int),
        ("revokeRefreshToken", "revoke_refresh_token", bool),
        ("refreshTokenMaxReuse", "refresh_token_max_reuse", int),
        ("notBefore", "not_before", int),
        ("loginWithEmailAllowed", "login_with_email_allowed", bool),
        ("offlineSessionIdleTimeout", "offline_session_idle_timeout", int),
        ("offlineSessionMaxLifespanEnabled", "offline_session_max_lifespan_enabled", bool),
        ("offlineSessionMaxLifespan", "offline_session_max_lifespan", int),
    ):
        if key in obj:
            kwargs[attr] = _expect(obj[key], kind, f"{path}.{key}")
    for key in (
        "accessTokenLifespan",
        "ssoSessionIdleTimeout",
        "ssoSessionMaxLifespan",
        "offlineSessionIdleTimeout",
        "offlineSessionMaxLifespan",
    ):
        if key in obj and obj[key] <= 0:
            raise ConfigError(f"{path}.{key}: must be a positive number of seconds")
    attributes = _expect(obj.get("attributes", {}), dict, f"{path}.attributes")
    for key in _MANDATOR_ATTRIBUTES:
        if key in attributes:
            kwargs[key] = _attribute_string(attributes[key], f"{path}.attributes.{key}")
    if "refreshTokenSecret" in obj:
        kwargs["refresh_token_secret"] = _expect(
            obj["refreshTokenSecret"], str, f"{path}.refreshTokenSecret"
        )
    if "clients" in obj:
        clients = tuple(
            _client(c, f"{path}.clients[{i}]")
            for i, c in enumerate(_expect(obj["clients"], list, f"{path}.clients"))
        )
        _reject_duplicates([c.client_id for c in clients], f"{path}.clients", "clientId")
        kwargs["clients"] = clients
    if "users" in obj:
        users = tuple(
            complete_user(name, _user(u, f"{path}.users[{i}]"))
            for i, u in enumerate(_expect(obj["users"], list, f"{path}.users"))
        )
        _reject_duplicates([u.username for u in users], f"{path}.users", "username")
        for i, user in enumerate(users):
            if user.credential is None and user.service_account_client is None:
                _log.warning(
                    "%s.users[%d] (%s, realm %s) has no password credential: "
                    "this user can never log in",
                    path,
                    i,
                    user.username,
                    name,
                )
        kwargs["users"] = users
    if "clientScopes" in obj:
        kwargs["client_scopes"] = _client_scopes(obj["clientScopes"], f"{path}.clientScopes")
    if "components" in obj:
        kwargs["signing_keys"] = _key_providers(obj["components"], f"{path}.components")
    return RealmConfig(**kwargs)


def _key_providers(node: object, path: str) -> tuple[RealmKey, ...]:
    """RSA signing keys of a realm export's key providers, highest priority first.

    Keycloak signs with the enabled, active key of the highest priority and publishes every
    enabled one.  Encryption keys (``rsa-enc-generated``), HMAC, AES and keystore providers are
    not modelled and are skipped.
    """
    components = _expect(node, dict, path)
    here = f"{path}.{KEY_PROVIDER_TYPE}"
    providers = _expect(components.get(KEY_PROVIDER_TYPE, []), list, here)
    keys: list[RealmKey] = []
    for i, item in enumerate(providers):
        where = f"{here}[{i}]"
        provider = _expect(item, dict, where)
        if provider.get("providerId") not in _RSA_SIGNING_PROVIDERS:
            continue
        config = _expect(provider.get("config", {}), dict, f"{where}.config")
        settings = {
            key: _first_value(config[key], f"{where}.config.{key}")
            for key in (
                "privateKey",
                "certificate",
                "kid",
                "keyUse",
                "priority",
                "enabled",
                "active",
                "algorithm",
            )
            if key in config
        }
        if settings.get("keyUse", "SIG").upper() == "ENC":
            continue  # an encryption key: published by Keycloak as use "enc", never signs
        if settings.get("algorithm", "RS256") != "RS256" or settings.get("enabled") == "false":
            continue
        if "privateKey" not in settings:
            raise ConfigError(f"{where}.config.privateKey: an RSA key provider needs its key")
        try:
            priority = int(settings.get("priority", "0"))
        except ValueError:
            raise ConfigError(f"{where}.config.priority: expected a number") from None
        keys.append(
            RealmKey(
                private_key_pem=settings["privateKey"],
                certificate_b64=settings.get("certificate"),
                kid=settings.get("kid"),
                priority=priority,
                active=settings.get("active", "true") != "false",
                origin=f"{where}.config.privateKey",
            )
        )
    # Stable sort: of equal priorities the file's order decides, as good as any for a mock.
    return tuple(sorted(keys, key=lambda k: (not k.active, -k.priority)))


def _first_value(node: object, path: str) -> str:
    """Component config values are lists of strings in an export; a bare string is accepted."""
    if isinstance(node, list):
        if not node:
            raise ConfigError(f"{path}: expected a non-empty list of strings")
        node = node[0]
    return _attribute_string(node, path)


_POST_LOGOUT_URIS = "post.logout.redirect.uris"


def _client(node: object, path: str) -> ClientConfig:
    obj = _expect(node, dict, path)
    kwargs: dict[str, Any] = {"client_id": _required(obj, "clientId", str, path)}
    for key, attr, kind in (
        ("enabled", "enabled", bool),
        ("publicClient", "public_client", bool),
        ("secret", "secret", str),
        ("bearerOnly", "bearer_only", bool),
        ("consentRequired", "consent_required", bool),
        ("directAccessGrantsEnabled", "direct_access_grants_enabled", bool),
        ("serviceAccountsEnabled", "service_accounts_enabled", bool),
    ):
        if key in obj:
            kwargs[attr] = _expect(obj[key], kind, f"{path}.{key}")
    attributes = _expect(obj.get("attributes", {}), dict, f"{path}.attributes")
    flag = _USE_REFRESH_TOKEN_FOR_CLIENT_CREDENTIALS
    if flag in attributes:
        value = _attribute_string(attributes[flag], f"{path}.attributes.{flag}")
        kwargs["client_credentials_refresh_token"] = value.lower() == "true"
    for key, attr in (
        ("defaultClientScopes", "default_client_scopes"),
        ("optionalClientScopes", "optional_client_scopes"),
        ("webOrigins", "web_origins"),
        ("redirectUris", "redirect_uris"),
    ):
        if key in obj:
            kwargs[attr] = _strings(obj[key], f"{path}.{key}")
    attributes = _expect(obj.get("attributes", {}), dict, f"{path}.attributes")
    if _POST_LOGOUT_URIS in attributes:
        value = _attribute_string(attributes[_POST_LOGOUT_URIS], f"{path}.attributes")
        # Keycloak keeps the list in one attribute, joined with "##".
        kwargs["post_logout_redirect_uris"] = tuple(u for u in value.split("##") if u)
    # A client file that gives a secret but not publicClient means a confidential client.
    if "publicClient" not in obj:
        kwargs["public_client"] = "secret" not in obj
    if not kwargs.get("public_client", True) and not kwargs.get("secret"):
        raise ConfigError(
            f"{path}.secret: a confidential client (publicClient false) needs a secret"
        )
    return ClientConfig(**kwargs)


def _user(node: object, path: str) -> UserConfig:
    obj = _expect(node, dict, path)
    kwargs: dict[str, Any] = {"username": _required(obj, "username", str, path)}
    for key, attr, kind in (
        ("id", "id", str),
        ("enabled", "enabled", bool),
        ("firstName", "first_name", str),
        ("lastName", "last_name", str),
        ("email", "email", str),
        ("emailVerified", "email_verified", bool),
        ("serviceAccountClientId", "service_account_client", str),
    ):
        if key in obj and obj[key] is not None:
            kwargs[attr] = _expect(obj[key], kind, f"{path}.{key}")
    if "realmRoles" in obj:
        kwargs["realm_roles"] = _strings(obj["realmRoles"], f"{path}.realmRoles")
    if "requiredActions" in obj:
        kwargs["required_actions"] = _strings(obj["requiredActions"], f"{path}.requiredActions")
    if "clientRoles" in obj:
        roles = _expect(obj["clientRoles"], dict, f"{path}.clientRoles")
        kwargs["client_roles"] = {
            client: _strings(names, f"{path}.clientRoles.{client}")
            for client, names in roles.items()
        }
    if "attributes" in obj:
        attributes = _expect(obj["attributes"], dict, f"{path}.attributes")
        kwargs["attributes"] = {
            key: _attribute_values(value, f"{path}.attributes.{key}")
            for key, value in attributes.items()
        }
    credential = _password_credential(obj.get("credentials", []), f"{path}.credentials")
    if credential is not None:
        kwargs["credential"] = credential
        if credential.temporary and "UPDATE_PASSWORD" not in kwargs.get("required_actions", ()):
            kwargs["required_actions"] = (*kwargs.get("required_actions", ()), "UPDATE_PASSWORD")
    return UserConfig(**kwargs)


def _password_credential(node: object, path: str) -> Credential | None:
    for i, item in enumerate(_expect(node, list, path)):
        here = f"{path}[{i}]"
        cred = _expect(item, dict, here)
        if cred.get("type", "password") != "password":
            continue  # OTP and other credential types are not modelled
        temporary = _expect(cred.get("temporary", False), bool, f"{here}.temporary")
        if "value" in cred:
            return PlainCredential(
                _expect(cred["value"], str, f"{here}.value"), temporary=temporary
            )
        if "secretData" in cred:
            return _hashed_credential(cred, here, temporary)
        raise ConfigError(f"{here}: a password credential needs `value` or `secretData`")
    return None


def _hashed_credential(cred: Mapping[str, Any], path: str, temporary: bool) -> Credential:
    try:
        secret = json.loads(_expect(cred["secretData"], str, f"{path}.secretData"))
        data = json.loads(_expect(cred.get("credentialData", "{}"), str, f"{path}.credentialData"))
    except json.JSONDecodeError:
        raise ConfigError(f"{path}: secretData/credentialData must be JSON strings") from None
    algorithm = data.get("algorithm", "pbkdf2-sha256")
    if algorithm not in PBKDF2_ALGORITHMS:
        raise ConfigError(
            f"{path}.credentialData.algorithm: {algorithm!r} is not supported "
            f"(use one of {', '.join(sorted(PBKDF2_ALGORITHMS))}, or a plain `value`)"
        )
    try:
        return Pbkdf2Credential.from_export(
            algorithm,
            int(data.get("hashIterations", 27500)),
            secret["salt"],
            secret["value"],
            temporary=temporary,
        )
    except (KeyError, ValueError, TypeError):
        raise ConfigError(f"{path}.secretData: expected base64 `value` and `salt`") from None


def _client_scopes(node: object, path: str) -> dict[str, bool]:
    scopes: dict[str, bool] = {}
    for i, item in enumerate(_expect(node, list, path)):
        obj = _expect(item, dict, f"{path}[{i}]")
        name = _required(obj, "name", str, f"{path}[{i}]")
        attributes = _expect(obj.get("attributes", {}), dict, f"{path}[{i}].attributes")
        include = attributes.get("include.in.token.scope", "true")
        scopes[name] = str(include).lower() == "true"
    return scopes


def _attribute_values(node: object, path: str) -> tuple[str, ...]:
    """Keycloak user attributes are lists of strings; a single string is accepted too."""
    if isinstance(node, list):
        return tuple(_attribute_string(v, f"{path}[{i}]") for i, v in enumerate(node))
    return (_attribute_string(node, path),)


def _attribute_string(node: object, path: str) -> str:
    if isinstance(node, bool):
        return "true" if node else "false"
    return _expect(node, str, path)


def _strings(node: object, path: str) -> tuple[str, ...]:
    items = _expect(node, list, path)
    return tuple(_expect(v, str, f"{path}[{i}]") for i, v in enumerate(items))


def _required(obj: Mapping[str, Any], key: str, kind: type[T], path: str) -> T:
    if key not in obj:
        raise ConfigError(f"{path}.{key}: required field is missing")
    return _expect(obj[key], kind, f"{path}.{key}")


def _expect(value: object, kind: type[T], path: str) -> T:
    # bool is an int subclass in Python; JSON keeps them apart and so do we.
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    if path.endswith(_SECRET_FIELDS):
        raise ConfigError(f"{path}: expected {_TYPE_NAMES.get(kind, kind.__name__)} (value hidden)")
    shown = json.dumps(value)
    if len(shown) > 40:
        shown = shown[:37] + "..."
    raise ConfigError(f"{path}: expected {_TYPE_NAMES.get(kind, kind.__name__)}, got {shown}")


def _reject_duplicates(names: list[str], path: str, field_name: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ConfigError(f"{path}: {field_name} {name!r} appears twice")
        seen.add(name)


def configured_realms(config: MockConfig) -> tuple[RealmConfig, ...]:
    """The realms to serve: the realm file's or the embedded default, overrides applied."""
    realms = load_realm_file(config.config) if config.config else (default_realm(),)
    return tuple(config.apply_overrides(r) for r in realms)
