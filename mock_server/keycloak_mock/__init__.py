"""An offline mock of finAPI Demobank's Keycloak: token endpoint, JWKS, discovery and more.

Layers, each a subpackage: ``imitation`` (the Keycloak a client sees), ``controls`` (what a test
changes: faults, users, the clock, the request log) and ``serving`` (CLI, WSGI, servers);
``assembly`` joins the first two, and the pytest plugin with its handle sits on top.

Names are imported on first use (PEP 562): pytest loads our plugin in every run of a project
that has the kit installed, and that must not pay for importing flask and cryptography.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keycloak_mock.assembly import create_app
    from keycloak_mock.controls.protocol import MockControls
    from keycloak_mock.handle import KeycloakMock
    from keycloak_mock.imitation.app import mock_state
    from keycloak_mock.imitation.clock import Clock
    from keycloak_mock.imitation.config import (
        ClientConfig,
        MockConfig,
        RealmConfig,
        UserConfig,
        default_realm,
    )
    from keycloak_mock.imitation.errors import (
        ConfigError,
        MockServerError,
        OAuthError,
        TokenExpired,
        TokenVerificationError,
    )
    from keycloak_mock.imitation.keys import SigningKey, load_signing_key
    from keycloak_mock.imitation.verify import verify_access_token
    from keycloak_mock.serving.server import MockServer

_EXPORTS = {
    "ClientConfig": "imitation.config",
    "Clock": "imitation.clock",
    "ConfigError": "imitation.errors",
    "KeycloakMock": "handle",
    "MockConfig": "imitation.config",
    "MockControls": "controls.protocol",
    "MockServer": "serving.server",
    "MockServerError": "imitation.errors",
    "OAuthError": "imitation.errors",
    "RealmConfig": "imitation.config",
    "SigningKey": "imitation.keys",
    "TokenExpired": "imitation.errors",
    "TokenVerificationError": "imitation.errors",
    "UserConfig": "imitation.config",
    "create_app": "assembly",
    "default_realm": "imitation.config",
    "load_signing_key": "imitation.keys",
    "mock_state": "imitation.app",
    "verify_access_token": "imitation.verify",
}
__all__ = [
    "ClientConfig",
    "Clock",
    "ConfigError",
    "KeycloakMock",
    "MockConfig",
    "MockControls",
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
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
