"""``Settings``: the one place the client's defaults live.

The manager, ``from_env`` and the ``demobank-token`` CLI all build a ``Settings``; the CLI's flags
and the env vars are derived from the same field names, so they cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from .errors import ConfigurationError

#: finAPI's live Keycloak, from finAPI's "API Authorization" page.
DEFAULT_BASE_URL = "https://keycloak-finapi-general-live.finapi.io"
DEFAULT_CLIENT_ID = "demobank-cli"
#: The grants a manager logs in with: a user's password, or a client's service account.
PASSWORD_GRANT = "password"  # noqa: S105 - a grant type name, not a password
CLIENT_CREDENTIALS_GRANT = "client_credentials"

#: Settings field -> environment variable read by ``Settings.from_env``.
ENV_VARS = {
    "base_url": "FINAPI_KEYCLOAK_URL",
    "mandator": "FINAPI_MANDATOR",
    "username": "FINAPI_USERNAME",
    "password": "FINAPI_PASSWORD",
    "client_id": "FINAPI_CLIENT_ID",
    "client_secret": "FINAPI_CLIENT_SECRET",
    "grant_type": "FINAPI_GRANT_TYPE",
}


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Where and as whom to log in, and how patiently.  Secrets never show in ``repr``.

    A service account (``grant_type="client_credentials"``, see ``Settings.service_account``)
    logs in as its confidential client: no username or password, a ``client_secret`` instead.
    """

    mandator: str
    username: str = ""
    password: str = field(default="", repr=False)
    base_url: str = DEFAULT_BASE_URL
    client_id: str = DEFAULT_CLIENT_ID
    #: Only for confidential clients; finAPI's ``demobank-cli`` is public.
    client_secret: str | None = field(default=None, repr=False)
    #: ``scope`` sent with the password grant; ``"openid"`` adds an ID token.
    scope: str | None = None
    #: Seconds for connecting and for each read, per attempt.
    timeout: float = 10.0
    #: Renew the access token this many seconds before it expires (capped for short lifetimes).
    leeway: float = 30.0
    #: Extra attempts after a connection error or a 502/503/504 of Keycloak; 4xx never repeat.
    retries: int = 3
    #: urllib3 backoff: sleeps 0, 2*f, 4*f ... seconds between attempts.
    backoff_factor: float = 0.2
    #: ``"password"`` (a user) or ``"client_credentials"`` (the client's service account).
    grant_type: str = PASSWORD_GRANT
    #: PEM bundle of the CAs to trust for https (e.g. the mock's ``--tls`` CA); ``None``: the
    #: system's.
    ca_bundle: str | None = None

    def __post_init__(self) -> None:
        if self.grant_type not in (PASSWORD_GRANT, CLIENT_CREDENTIALS_GRANT):
            raise ConfigurationError(
                f"grant_type must be {PASSWORD_GRANT!r} or {CLIENT_CREDENTIALS_GRANT!r}, "
                f"not {self.grant_type!r}"
            )
        for name in ("mandator", "client_id", *self._identity()):
            if not getattr(self, name):
                raise ConfigurationError(f"{name} must not be empty")
        base = self.base_url.rstrip("/")
        if not base.startswith(("http://", "https://")):
            raise ConfigurationError(f"base_url must start with http:// or https://: {base!r}")
        object.__setattr__(self, "base_url", base)
        if not self.timeout > 0:
            raise ConfigurationError("timeout must be positive")
        if self.leeway < 0:
            raise ConfigurationError("leeway must not be negative")
        if self.retries < 0:
            raise ConfigurationError("retries must not be negative")
        if self.backoff_factor < 0:
            raise ConfigurationError("backoff_factor must not be negative")

    @property
    def is_service_account(self) -> bool:
        return self.grant_type == CLIENT_CREDENTIALS_GRANT

    def _identity(self) -> tuple[str, ...]:
        """The settings that say who logs in, for this grant."""
        if self.grant_type == CLIENT_CREDENTIALS_GRANT:
            return ("client_secret",)
        return ("username", "password")

    @classmethod
    def service_account(
        cls, *, mandator: str, client_id: str, client_secret: str, **other: Any
    ) -> Settings:
        """Settings for a confidential client's service account (``client_credentials``)."""
        return cls(
            mandator=mandator,
            client_id=client_id,
            client_secret=client_secret,
            grant_type=CLIENT_CREDENTIALS_GRANT,
            **other,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``FINAPI_*`` env vars (see ``ENV_VARS``); ``overrides`` win when not None.

        Raises ``ConfigurationError`` naming every required variable that is missing.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name, variable in ENV_VARS.items():
            if env.get(variable):
                values[name] = env[variable]
        values.update({k: v for k, v in overrides.items() if v is not None})
        required = ["mandator", "username", "password"]
        if values.get("grant_type") == CLIENT_CREDENTIALS_GRANT:
            required = ["mandator", "client_id", "client_secret"]
        missing = [ENV_VARS[n] for n in required if n not in values]
        if missing:
            raise ConfigurationError(f"missing setting(s): set {', '.join(missing)}")
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    # -- endpoints ------------------------------------------------------------------------
    @property
    def issuer(self) -> str:
        """The realm URL Keycloak writes into ``iss``: ``<base_url>/realms/<mandator>``."""
        return f"{self.base_url}/realms/{quote(self.mandator, safe='')}"

    @property
    def token_endpoint(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/token"

    @property
    def logout_endpoint(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/logout"

    @property
    def jwks_uri(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/certs"
