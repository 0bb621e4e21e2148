"""Exceptions of the client.

::

    AuthError                       root: catch this to catch everything the client raises
    ├── ConfigurationError          a setting or env var is missing or unusable (also a ValueError)
    ├── TransportError              no HTTP answer after the retries: refused, reset, timed out
    ├── ServerError                 Keycloak answered 5xx (after the retries for 502/503/504)
    ├── UnexpectedResponse          an answer that is neither a token response nor an OAuth error
    └── OAuthError                  Keycloak refused: ``{"error": ..., "error_description": ...}``
        ├── InvalidCredentials      unknown user or wrong password (``Invalid user credentials``)
        ├── AccountDisabled         the user is disabled (``Account disabled`` / ``User disabled``)
        ├── AccountNotFullySetUp    pending required actions (e.g. a temporary password)
        ├── InvalidClient           unknown client, wrong client secret, direct grants switched off
        ├── InvalidGrant            the refresh token or its session is no longer valid
        └── UnknownMandator         the realm (finAPI mandator) does not exist on this server

Every error carries ``error``, ``error_description``, ``status`` and ``response`` (``None`` when
nothing was answered), and wrapped causes are chained with ``from``.  Messages are built only
from what Keycloak answered and never contain a password or a token; the request body kept on
``response.request`` is redacted before the error is raised (see ``redact_request``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode

if TYPE_CHECKING:
    import requests

#: Form fields whose values never leave the client in an error, a log line or a repr.
SECRET_FIELDS = frozenset(
    {"password", "refresh_token", "client_secret", "access_token", "token", "id_token_hint"}
)
REDACTED = "[redacted]"


class AuthError(Exception):
    """Base class of every exception the client raises."""

    def __init__(
        self,
        message: str,
        *,
        error: str | None = None,
        error_description: str | None = None,
        status: int | None = None,
        response: requests.Response | None = None,
    ) -> None:
        super().__init__(message)
        self.error = error
        self.error_description = error_description
        self.status = status
        self.response = response

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}({self.args[0]!r}, error={self.error!r}, status={self.status!r})"


class ConfigurationError(AuthError, ValueError):
    """The client cannot be built from the given settings or environment."""


class TransportError(AuthError):
    """Keycloak could not be reached or did not answer in time, even after the retries."""


class ServerError(AuthError):
    """Keycloak answered with a 5xx status."""


class UnexpectedResponse(AuthError):
    """The answer is not what Keycloak sends: not JSON, no ``access_token``, a wrong base URL."""


class OAuthError(AuthError):
    """Keycloak refused the request with an OAuth error body."""


class InvalidCredentials(OAuthError):
    """The username is unknown or the password is wrong (Keycloak does not say which)."""


class AccountDisabled(OAuthError):
    """The user exists but an administrator disabled it."""


class AccountNotFullySetUp(OAuthError):
    """The user must finish required actions (e.g. replace a temporary password) in a browser."""


class InvalidClient(OAuthError):
    """The client id or secret is wrong, or the client may not use the password grant."""


class InvalidGrant(OAuthError):
    """The refresh token is expired, revoked or belongs to a session that has ended."""


class UnknownMandator(OAuthError):
    """The realm named by the mandator does not exist on this Keycloak."""


def redact_form(body: str | bytes | None) -> str | bytes | None:
    """The form body with the values of ``SECRET_FIELDS`` replaced; other bodies unchanged."""
    if body is None:
        return None
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    pairs = parse_qsl(text, keep_blank_values=True)
    redacted = urlencode([(k, REDACTED if k in SECRET_FIELDS else v) for k, v in pairs])
    return redacted.encode() if isinstance(body, bytes) else redacted


def redact_request(response: requests.Response) -> requests.Response:
    """Drop secrets from the request a response remembers, before the response is handed out.

    An error keeps its response for debugging; ``response.request.body`` would otherwise still
    hold the password or refresh token that was posted.
    """
    request = response.request
    if request is not None and isinstance(request.body, (str, bytes)):
        request.body = redact_form(request.body)
    return response
