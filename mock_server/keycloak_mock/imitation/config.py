"""Typed configuration: the server options and the realms (finAPI "mandators") it serves.

``MockConfig`` is the one place where server defaults live: the CLI, the env vars, the pytest
marker and the in-process runner all derive their options from its fields.  Realms are frozen
``RealmConfig`` values; runtime changes (pytest controls) replace them rather than mutate them, so
"reset to pristine" is just putting the originals back.

Realm files use Keycloak's realm-export field names (see ``realmfile.py``), so a trimmed export of
a real realm loads unchanged.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .passwords import Credential, PlainCredential

#: Scopes Keycloak creates in every realm with "Include in token scope" switched off.
SCOPES_NOT_IN_TOKEN_SCOPE = frozenset({"basic", "acr", "roles", "web-origins"})

#: Keycloak's composite ``default-roles-<realm>`` expands to these (realm roles, account roles).
DEFAULT_ROLES_REALM = ("offline_access", "uma_authorization")
DEFAULT_ROLES_ACCOUNT = ("view-profile", "manage-account", "manage-account-links")

DEFAULT_MANDATOR_UUID = "044ab580-5d4e-4f6b-9a2c-991e324704b7"


def _user_id(realm: str, username: str) -> str:
    """A stable user id, so ``sub`` is the same across restarts and replicas."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"keycloak-mock:{realm}:{username}"))


@dataclass(frozen=True, kw_only=True)
class UserConfig:
    """A user of a realm.  ``credential`` never shows in reprs."""

    username: str
    credential: Credential | None = field(default=None, repr=False)
    id: str = ""
    enabled: bool = True
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    email_verified: bool = False
    attributes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: ``None`` means what Keycloak gives a new user: the realm's composite default roles.
    realm_roles: tuple[str, ...] | None = None
    client_roles: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    required_actions: tuple[str, ...] = ()
    service_account_client: str | None = None

    @property
    def is_technical_user(self) -> str:
        """finAPI's ``is_technical_user`` response field: the attribute, ``"false"`` if unset."""
        values = self.attributes.get("is_technical_user") or ("false",)
        return values[0]

    def check_password(self, password: str | None) -> bool:
        return (
            self.credential is not None
            and password is not None
            and self.credential.verify(password)
        )


@dataclass(frozen=True, kw_only=True)
class ClientConfig:
    """An OIDC client.  Defaults match Keycloak's for a new public client."""

    client_id: str
    enabled: bool = True
    public_client: bool = True
    secret: str | None = field(default=None, repr=False)
    bearer_only: bool = False
    consent_required: bool = False
    direct_access_grants_enabled: bool = True
    default_client_scopes: tuple[str, ...] = (
        "web-origins",
        "acr",
        "profile",
        "roles",
        "basic",
        "email",
    )
    optional_client_scopes: tuple[str, ...] = (
        "address",
        "phone",
        "offline_access",
        "microprofile-jwt",
    )
    web_origins: tuple[str, ...] = ()
    #: A confidential client with this on may use ``client_credentials`` as its service account.
    service_accounts_enabled: bool = False
    #: Keycloak's client attribute ``client_credentials.use_refresh_token`` (off by default).
    client_credentials_refresh_token: bool = False
    redirect_uris: tuple[str, ...] = ()
    #: The ``post.logout.redirect.uris`` attribute; ``+`` stands for the redirect URIs.
    post_logout_redirect_uris: tuple[str, ...] = ("+",)


DEMOBANK_CLI = ClientConfig(
    client_id="demobank-cli",
    # finAPI's response scope is "xs2a_mock:user profile": its client has no default `email` scope.
    default_client_scopes=("xs2a_mock:user", "profile", "web-origins", "acr", "roles", "basic"),
    optional_client_scopes=("email",),
)


@dataclass(frozen=True, kw_only=True)
class RealmConfig:
    """A realm, i.e. a finAPI mandator, with its lifetimes, clients and users."""

    realm: str
    enabled: bool = True
    access_token_lifespan: int = 900
    sso_session_idle_timeout: int = 1800
    sso_session_max_lifespan: int = 36000
    revoke_refresh_token: bool = False
    refresh_token_max_reuse: int = 0
    not_before: int = 0
    login_with_email_allowed: bool = True
    mandator_name: str = "finAPI Demobank"
    mandator_uuid: str = DEFAULT_MANDATOR_UUID
    is_test_mandator: str = "false"
    clients: tuple[ClientConfig, ...] = (DEMOBANK_CLI,)
    users: tuple[UserConfig, ...] = ()
    #: client scope name -> "include in token scope"; names not listed use Keycloak's defaults.
    client_scopes: Mapping[str, bool] = field(default_factory=dict)
    #: Secret for the HS512 refresh-token key; derived from the signing key when unset.
    refresh_token_secret: str | None = field(default=None, repr=False)
    offline_session_idle_timeout: int = 2592000
    offline_session_max_lifespan_enabled: bool = False
    offline_session_max_lifespan: int = 5184000
    #: RSA keys from the realm file's key providers (``components``), the active one first.
    signing_keys: tuple[RealmKey, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        # Keycloak creates the service-account user when a client's service account is switched
        # on; adding it here covers realm files, the control API and the pytest marker alike.
        missing = [
            service_account_user(self.realm, c.client_id)
            for c in self.clients
            if c.service_accounts_enabled
            and not any(u.service_account_client == c.client_id for u in self.users)
        ]
        if missing:
            object.__setattr__(self, "users", (*self.users, *missing))

    def client(self, client_id: str) -> ClientConfig | None:
        return next((c for c in self.clients if c.client_id == client_id), None)

    def find_user(self, name: str) -> UserConfig | None:
        """Look a user up the way Keycloak's direct grant does: username, else e-mail."""
        wanted = name.strip().lower()
        for user in self.users:
            if user.username.lower() == wanted:
                return user
        if self.login_with_email_allowed and "@" in wanted:
            for user in self.users:
                if user.email and user.email.lower() == wanted:
                    return user
        return None

    def user_by_id(self, user_id: str) -> UserConfig | None:
        return next((u for u in self.users if u.id == user_id), None)

    def includes_in_token_scope(self, scope: str) -> bool:
        if scope in self.client_scopes:
            return self.client_scopes[scope]
        return scope not in SCOPES_NOT_IN_TOKEN_SCOPE

    def with_user(self, user: UserConfig) -> RealmConfig:
        """A copy with ``user`` added or replacing the user of the same username."""
        user = complete_user(self.realm, user)
        others = tuple(u for u in self.users if u.username.lower() != user.username.lower())
        return dataclasses.replace(self, users=(*others, user))


@dataclass(frozen=True)
class RealmKey:
    """An RSA key a realm file's key provider carries: PEM text, parsed when first used."""

    private_key_pem: str = field(repr=False)
    certificate_b64: str | None = field(default=None, repr=False)
    #: The provider's configured ``kid``; Keycloak's derived one when ``None``.
    kid: str | None = None
    priority: int = 0
    active: bool = True
    #: Where it came from, for error messages: the JSON path of the component.
    origin: str = ""


SERVICE_ACCOUNT_PREFIX = "service-account-"


def service_account_user(realm: str, client_id: str) -> UserConfig:
    """The user Keycloak creates for a client's service account (no credential: no login)."""
    return complete_user(
        realm,
        UserConfig(username=SERVICE_ACCOUNT_PREFIX + client_id, service_account_client=client_id),
    )


def complete_user(realm: str, user: UserConfig) -> UserConfig:
    """Fill in what Keycloak fills in on user creation: an id, lower-case username and e-mail."""
    username = user.username.lower()
    user_id = user.id or _user_id(realm, username)
    # Keycloak stores e-mail addresses lower-cased, a blank one as none (user adapters' setEmail).
    email = user.email.lower() if user.email and user.email.strip() else None
    if username == user.username and user_id == user.id and email == user.email:
        return user
    return dataclasses.replace(user, username=username, id=user_id, email=email)


def default_realm() -> RealmConfig:
    """The embedded realm ``customer`` with finAPI's public client and the user demo/demo."""
    demo = UserConfig(
        username="demo",
        credential=PlainCredential("demo"),
        first_name="Demo",
        last_name="User",
        attributes={"is_technical_user": ("false",)},
    )
    return RealmConfig(realm="customer", users=(complete_user("customer", demo),))


@dataclass(frozen=True, kw_only=True)
class MockConfig:
    """Server options.  Each field is a CLI flag ``--field-name`` and an env var
    ``KEYCLOAK_MOCK_FIELD_NAME``.

    ``metadata["help"]`` is the flag's help text; the CLI builds its parser from these fields, so
    flags, env vars, the pytest marker and the in-process runner cannot drift apart.
    """

    host: str = field(default="127.0.0.1", metadata={"help": "interface to bind"})
    port: int = field(default=8080, metadata={"help": "TCP port (0 picks a free one)"})
    config: str | None = field(
        default=None,
        metadata={"help": "realm file (JSON, Keycloak realm-export names): one realm or a list"},
    )
    access_token_lifespan: int | None = field(
        default=None, metadata={"help": "access token lifespan in seconds, for every realm"}
    )
    refresh_token_lifespan: int | None = field(
        default=None,
        metadata={"help": "refresh token lifespan (SSO session idle) in seconds, for every realm"},
    )
    signing_key: str | None = field(
        default=None, metadata={"help": "PEM file with the RSA private key that signs tokens"}
    )
    generate_key: bool = field(
        default=False, metadata={"help": "generate a fresh RSA-2048 signing key at start"}
    )
    issuer_url: str | None = field(
        default=None,
        metadata={"help": "public base URL for `iss` and discovery"},
    )
    allow_remote: bool = field(
        default=False,
        metadata={"help": "allow binding a non-loopback host (the mock must not guard real data)"},
    )
    disable_control_api: bool = field(
        default=False,
        metadata={"help": "do not serve the test control API under /_mock"},
    )
    disable_ui: bool = field(
        default=False,
        metadata={"help": "do not serve the page at / (needs the control API; off in the image)"},
    )
    allowed_hosts: str | None = field(
        default=None,
        metadata={
            "help": "more Host names the page and /_mock answer, comma-separated, * for any "
            "(IPs, localhost, names without a dot and the issuer host always pass)"
        },
    )
    admin_token: str | None = field(
        default=None,
        repr=False,
        metadata={"help": "bearer token the control API requires (prefer the env var)"},
    )
    tls: bool = field(
        default=False,
        metadata={
            "help": "serve https with a test-only CA and certificate made at start "
            "(localhost, 127.0.0.1, ::1); the CA bundle's path is printed"
        },
    )
    tls_hostnames: str | None = field(
        default=None,
        metadata={"help": "more names for the --tls certificate, comma-separated"},
    )
    tls_ca_file: str | None = field(
        default=None,
        metadata={"help": "where --tls writes the CA bundle (default: a new temporary folder)"},
    )
    tls_cert: str | None = field(
        default=None,
        metadata={"help": "serve https with this PEM certificate chain (with --tls-key)"},
    )
    tls_key: str | None = field(default=None, metadata={"help": "PEM private key of --tls-cert"})

    def apply_overrides(self, realm: RealmConfig) -> RealmConfig:
        changes: dict[str, Any] = {}
        if self.access_token_lifespan is not None:
            changes["access_token_lifespan"] = self.access_token_lifespan
        if self.refresh_token_lifespan is not None:
            changes["sso_session_idle_timeout"] = self.refresh_token_lifespan
        return dataclasses.replace(realm, **changes) if changes else realm
