"""Exceptions of the mock server.

::

    MockServerError                 root: catch this to catch everything we raise
    ├── ConfigError                 a realm file, flag or env var is wrong (message names it)
    ├── TokenVerificationError      a bearer token failed verification (``reason`` says why)
    │   └── TokenExpired            ... only because its ``exp`` has passed
    ├── BearerChallenge             a protected resource refuses a request: ``WWW-Authenticate``
    └── OAuthError                  an OAuth/Keycloak wire error: status + JSON body
        ├── InvalidRequest          400 invalid_request
        ├── InvalidClient           401 invalid_client
        ├── UnauthorizedClient      401 unauthorized_client
        ├── InvalidGrant            400 invalid_grant
        ├── InvalidScope            400 invalid_scope
        ├── UnsupportedGrantType    400 unsupported_grant_type
        ├── InvalidToken            invalid_token (revocation answers it with status 200)
        ├── UnsupportedTokenType    400 unsupported_token_type
        ├── AccessDenied            403 access_denied
        └── NotAllowed              400 not_allowed

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


class TokenExpired(TokenVerificationError):
    """The token is genuine but its ``exp`` has passed: a client fixes this by refreshing."""


class BearerChallenge(MockServerError):
    """An RFC 6750 refusal: the status and a ``WWW-Authenticate: Bearer`` challenge.

    Userinfo and the Demobank stand-in answer this way instead of with OAuth error JSON; each
    renders the body its own way (see their blueprints).
    """

    def __init__(
        self,
        status: int,
        error: str | None = None,
        description: str | None = None,
        *,
        realm: str | None = None,
    ) -> None:
        super().__init__(description or error or f"HTTP {status}")
        self.status = status
        self.error = error
        self.description = description
        self.realm = realm

    def challenge(self) -> str:
        """The header value, e.g. ``Bearer realm="customer", error="invalid_token", ...``."""
        params = (
            ("realm", self.realm),
            ("error", self.error),
            ("error_description", self.description),
        )
        quoted = [f'{name}="{_quotable(value)}"' for name, value in params if value is not None]
        return "Bearer " + ", ".join(quoted) if quoted else "Bearer"


def _quotable(value: str) -> str:
    """Keep to RFC 6750's error_description alphabet: printable ASCII without ``"`` and ``\\``."""
    return "".join(c if " " <= c <= "~" and c not in '"\\' else "?" for c in value)


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


class InvalidToken(OAuthError):
    """``invalid_token``: how Keycloak's revocation answers an unusable token (status 200)."""

    error = "invalid_token"


class UnsupportedTokenType(OAuthError):
    """400 ``unsupported_token_type``: revocation of a token that is neither access nor refresh."""

    error = "unsupported_token_type"


class AccessDenied(OAuthError):
    """403 ``access_denied``."""

    status = 403
    error = "access_denied"


class NotAllowed(OAuthError):
    """``not_allowed``: e.g. an offline token for a user without the ``offline_access`` role."""

    error = "not_allowed"
