"""An offline mock of finAPI Demobank's Keycloak: token endpoint, JWKS, discovery and more.

Names are imported on first use (PEP 562): pytest loads our plugin in every run of a project
that has the kit installed, and that must not pay for importing flask and cryptography.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_EXPORTS = {
    "ClientConfig": "config",
    "Clock": "clock",
    "ConfigError": "errors",
    "MockConfig": "config",
    "MockServer": "server",
    "MockServerError": "errors",
    "OAuthError": "errors",
    "RealmConfig": "config",
    "SigningKey": "keys",
    "TokenExpired": "errors",
    "TokenVerificationError": "errors",
    "UserConfig": "config",
    "create_app": "app",
    "default_realm": "config",
    "load_signing_key": "keys",
    "mock_state": "app",
    "verify_access_token": "verify",
}
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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
