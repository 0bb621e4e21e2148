"""``keycloak-mock``: run the mock Keycloak in the foreground (and its ``healthcheck``, ``drift``).

Every problem a user can cause (bad flag, unreadable realm file, taken port) ends in one line on
stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import types
from collections.abc import Sequence

from keycloak_mock.assembly import create_app
from keycloak_mock.imitation.app import mock_state
from keycloak_mock.imitation.errors import ConfigError

from . import healthcheck
from .banner import announce
from .options import EXIT_USAGE, PROG, config_from, url_host, validate
from .server import serve_on
from .tls import server_context, tls_files


def _raise_keyboard_interrupt(signum: int, frame: types.FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``keycloak-mock`` and ``python -m keycloak_mock``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["healthcheck"]:
        return healthcheck.main(args[1:], os.environ)
    if args[:1] == ["drift"]:
        # Imported here, not above: the drift check loads requests and its scenario, which the
        # server's start-up path must not pay for.
        from . import driftcheck

        return driftcheck.main(args[1:], os.environ)
    try:
        config = config_from(argv, os.environ)
        validate(config)
        app = create_app(config)
        tls = tls_files(config)
        server = serve_on(config.host, config.port, app, server_context(tls) if tls else None)
    except ConfigError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        print(
            f"{PROG}: error: cannot listen on {config.host}:{config.port}: {reason}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    # SIGINT too: a shell that starts us in the background leaves SIGINT ignored, and Python then
    # installs no KeyboardInterrupt handler of its own.
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, _raise_keyboard_interrupt)
    scheme = "https" if tls else "http"
    announce(
        mock_state(app).realms,
        config.issuer_url or f"{scheme}://{url_host(config.host)}:{server.port}",
        ca_file=tls.ca_file if tls else None,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    print(f"{PROG}: stopped", file=sys.stderr)
    return 0


__all__ = ["main"]
