"""Exceptions of the mock server.

::

    MockServerError                 root: catch this to catch everything we raise
    ├── ConfigError                 a realm file, flag or env var is wrong (message names it)
    ├── TokenVerificationError      a bearer token failed verification (``reason`` says why)
    └── OAuthError                  an OAuth/Keycloak wire error: status + JSON body
        ├── InvalidRequest          400 invalid_request
        ├── InvalidClient           401 invalid_client
        ├── UnauthorizedClient      401 unauthorized_client
        ├── InvalidGrant            400 invalid_grant
        ├── InvalidScope            400 invalid_scope
        ├── UnsupportedGrantType    400 unsupported_grant_type
        └── AccessDenied            403 access_denied

``OAuthError`` instances are rendered by one handler in ``app.py``; views raise them and never
build error responses by hand.  Statuses differ between Keycloak checks that share an error code
(a wrong password is 401, a disabled account 400), so each instance may override its class status.
"""

from __future__ import annotations

from collections.abc import Mapping


class MockServerError(Exception):
    """Base class of every exception the mock server raises."""


class ConfigError(MockServerError):
    """Configuration that cannot be used; the message names the field and the problem."""


class TokenVerificationError(MockServerError):
    """A bearer token was rejected; ``reason`` is Keycloak's wording for why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class OAuthError(MockServerError):
    """An error answered as ``{"error": ..., "error_description": ...}``."""

    status = 400
    error = "invalid_request"

    def __init__(
        self,
        description: str,
        *,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(description)
        self.description = description
        if status is not None:
            self.status = status
        self.headers = dict(headers or {})

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


class InvalidRequest(OAuthError):
    """400 ``invalid_request``."""


class InvalidClient(OAuthError):
    """401 ``invalid_client``: unknown, missing or disabled client."""

    status = 401
    error = "invalid_client"


class UnauthorizedClient(OAuthError):
    """401 ``unauthorized_client``: confidential client with a missing or wrong secret."""

    status = 401
    error = "unauthorized_client"


class InvalidGrant(OAuthError):
    """400 ``invalid_grant``: bad credentials or an unusable refresh token."""

    error = "invalid_grant"


class InvalidScope(OAuthError):
    """400 ``invalid_scope``."""

    error = "invalid_scope"


class UnsupportedGrantType(OAuthError):
    """400 ``unsupported_grant_type``."""

    error = "unsupported_grant_type"


class AccessDenied(OAuthError):
    """403 ``access_denied``."""

    status = 403
    error = "access_denied"
