"""An offline mock of finAPI Demobank's Keycloak: token endpoint, JWKS, discovery and more."""

from .app import create_app, mock_state
from .clock import Clock
from .config import ClientConfig, MockConfig, RealmConfig, UserConfig, default_realm
from .errors import (
    ConfigError,
    MockServerError,
    OAuthError,
    TokenExpired,
    TokenVerificationError,
)
from .keys import SigningKey, load_signing_key
from .server import MockServer
from .verify import verify_access_token

__all__ = [
    "ClientConfig",
    "Clock",
    "ConfigError",
    "MockConfig",
    "MockServer",
    "MockServerError",
    "OAuthError",
    "RealmConfig",
    "SigningKey",
    "TokenExpired",
    "TokenVerificationError",
    "UserConfig",
    "create_app",
    "default_realm",
    "load_signing_key",
    "mock_state",
    "verify_access_token",
]
