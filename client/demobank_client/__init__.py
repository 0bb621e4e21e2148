"""A thin client for finAPI Demobank's Keycloak: get a valid access token and keep it valid.

Works unchanged against finAPI's live Keycloak and against the mock in ``mock_server``::

    from demobank_client import Settings, TokenManager, authorized_session

    manager = TokenManager(Settings(mandator="customer", username="demo", password="demo"))
    session = authorized_session(manager)   # Authorization: Bearer ..., renewed as needed
"""

from .auth import BearerAuth, authorized_session
from .errors import (
    AccountDisabled,
    AccountNotFullySetUp,
    AuthError,
    ConfigurationError,
    InvalidClient,
    InvalidCredentials,
    InvalidGrant,
    OAuthError,
    ServerError,
    TransportError,
    UnexpectedResponse,
    UnknownMandator,
)
from .manager import TokenManager
from .settings import DEFAULT_BASE_URL, DEFAULT_CLIENT_ID, ENV_VARS, Settings
from .tokens import TokenSet

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_CLIENT_ID",
    "ENV_VARS",
    "AccountDisabled",
    "AccountNotFullySetUp",
    "AuthError",
    "BearerAuth",
    "ConfigurationError",
    "InvalidClient",
    "InvalidCredentials",
    "InvalidGrant",
    "OAuthError",
    "ServerError",
    "Settings",
    "TokenManager",
    "TokenSet",
    "TransportError",
    "UnexpectedResponse",
    "UnknownMandator",
    "authorized_session",
]
