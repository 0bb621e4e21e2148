"""WSGI entry point for production servers (the container runs it under gunicorn).

``app_from_env()`` reads the same ``KEYCLOAK_MOCK_*`` env vars as ``keycloak-mock`` through the
CLI's own parser (``options.config_from``), so the container and the command line cannot
drift apart.
It is a factory rather than a module-level ``app``: importing this module builds nothing.

    gunicorn --config python:keycloak_mock.serving.gunicorn_conf \
        'keycloak_mock.serving.wsgi:app_from_env()'

A bad setting ends the process with one line on stderr and exit status 2, as the CLI does; the
server must load the app before it forks (gunicorn's ``preload_app``, set by our config) so that
this exit stops the server instead of a worker being restarted forever.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from flask import Flask

from keycloak_mock.assembly import create_app
from keycloak_mock.imitation.app import mock_state
from keycloak_mock.imitation.errors import ConfigError

from .banner import announce
from .options import EXIT_USAGE, PROG, config_from, validate
from .tls import wants_tls


def app_from_env(environ: Mapping[str, str] | None = None) -> Flask:
    """The mock Keycloak configured by ``KEYCLOAK_MOCK_*`` env vars (``os.environ`` by default)."""
    try:
        config = config_from([], os.environ if environ is None else environ)
        validate(config)
        app = create_app(config)
    except ConfigError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(EXIT_USAGE) from None
    announce(
        mock_state(app).realms,
        config.issuer_url
        or f"{'https' if wants_tls(config) else 'http'}://localhost:{config.port}",
        file=sys.stderr,
    )
    return app


__all__ = ["app_from_env"]
