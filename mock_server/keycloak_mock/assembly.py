"""The full mock: the Keycloak imitation with the test controls installed.

The one place the two layers meet.  Everything that serves the mock (the CLI, the WSGI entry,
the in-process server, the pytest plugin) builds its app here.
"""

from __future__ import annotations

from flask import Flask

from keycloak_mock.controls import hooks, openapi_view, ui
from keycloak_mock.controls import views as control_views
from keycloak_mock.imitation.app import create_keycloak_app
from keycloak_mock.imitation.clock import Clock
from keycloak_mock.imitation.config import MockConfig, RealmConfig
from keycloak_mock.imitation.keys import SigningKey
from keycloak_mock.imitation.state import MockState


def install_controls(app: Flask, config: MockConfig, state: MockState) -> None:
    """Faults, the request log and error capture; the ``/_mock`` API unless it is disabled, and
    the page at ``/``, which works through that API, unless either is disabled."""
    hooks.install(app, config, state)
    if not config.disable_control_api:
        app.register_blueprint(control_views.blueprint)
        if not config.disable_ui:
            app.register_blueprint(ui.blueprint)
    app.register_blueprint(openapi_view.blueprint)


def create_app(
    config: MockConfig | None = None,
    *,
    realms: tuple[RealmConfig, ...] | None = None,
    signing_key: SigningKey | None = None,
    clock: Clock | None = None,
) -> Flask:
    """Build the mock Keycloak.  ``realms``/``signing_key`` override what ``config`` names."""
    return create_keycloak_app(
        config, realms=realms, signing_key=signing_key, clock=clock, hooks=(install_controls,)
    )


__all__ = ["create_app", "install_controls"]
