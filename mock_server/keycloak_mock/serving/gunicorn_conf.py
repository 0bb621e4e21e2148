"""gunicorn settings for the container (``--config python:keycloak_mock.serving.gunicorn_conf``).

One worker process with threads, on purpose.  Sessions, the clock, rotated keys and scripted
faults live in the memory of the process that serves the request; with two worker processes a
refresh token minted by one would be "Session not active" at the other, and a ``freeze`` sent
through the control API would stop only half the clocks.  One process keeps the state consistent,
and threads still overlap where the time goes: OpenSSL releases the GIL while it signs.  The
benchmark (``benchmarks/run.py``) measured this setup against the alternatives;
docs/design/server-choice.md has the figures.

The bind address comes from ``KEYCLOAK_MOCK_HOST``/``KEYCLOAK_MOCK_PORT`` through the CLI's
parser and checks, so the container honours exactly the options ``keycloak-mock`` documents (a
non-loopback host needs ``KEYCLOAK_MOCK_ALLOW_REMOTE=true``, which the image sets).
"""

from __future__ import annotations

import os
import sys

from keycloak_mock.imitation.errors import ConfigError

from .options import EXIT_USAGE, PROG, config_from, validate
from .tls import tls_files

try:
    _config = config_from([], os.environ)
    validate(_config)
    _tls = tls_files(_config)
except ConfigError as _exc:
    print(f"{PROG}: error: {_exc}", file=sys.stderr, flush=True)
    raise SystemExit(EXIT_USAGE) from None

_host = f"[{_config.host}]" if ":" in _config.host else _config.host
bind = [f"{_host}:{_config.port}"]
#: ``KEYCLOAK_MOCK_TLS=true`` (or ``_TLS_CERT``/``_TLS_KEY``): gunicorn's own TLS settings.
if _tls is not None:
    certfile, keyfile = _tls.cert_file, _tls.key_file
    if _tls.ca_file is not None:
        print(f"{PROG}: TEST-ONLY CA bundle (trust it in your client): {_tls.ca_file}", flush=True)

workers = 1
#: gunicorn's ``gthread`` worker, except that busy keep-alive connections are watched by a worker
#: thread instead of going round gunicorn's poller after every answer, connections with a request
#: queue for a running place, and a request asleep in a delay fault lends its place to others
#: (``serving/gunicorn_worker.py``), and connections take a thread only once their request is in.
worker_class = "keycloak_mock.serving.gunicorn_worker.GilAwareThreadWorker"
#: Requests running at once; idle keep-alive connections and requests asleep in a ``delay``
#: fault do not take a place.  Signing is the only long step and it releases the GIL, so two
#: already keep two cores busy; every one more adds GIL hand-offs (measured against four:
#: docs/design/server.md).  Tune with gunicorn's own ``GUNICORN_CMD_ARGS="--threads N"``.
threads = 2
#: Build the app in the arbiter, before forking: a bad realm file stops the server with the
#: one-line error instead of a worker that fails to boot again and again.
preload_app = True
#: Request limits are the app's (``imitation/limits.py``, Keycloak's numbers, JSON errors), so
#: gunicorn's own, stricter defaults (4094-byte request line, 8190-byte header line: an HTML
#: error page) are raised to let the app decide, as it does under the development server.  Past
#: these (gunicorn's maximum request line, http.server's 64 KiB header line) gunicorn refuses.
limit_request_line = 8190
limit_request_field_size = 64 * 1024
limit_request_fields = 100
#: SIGTERM: finish requests in flight, then stop; CI jobs should not wait 30 s for a mock.
graceful_timeout = 3
keepalive = 5
#: No access log: query strings can carry tokens.  Errors still go to stderr.
accesslog = None
errorlog = "-"
loglevel = "warning"
#: The worker heartbeat file: on tmpfs where there is one, as Docker's overlay file system
#: can stall it (gunicorn's deployment docs).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108 - tmpfs, not a temp file
proc_name = "keycloak-mock"
# gunicorn 25.1+ opens a control socket in $HOME/.gunicorn (or $XDG_RUNTIME_DIR) by default, and
# ``gunicornc`` can add workers through it: a second worker would split the sessions and the
# clock.  The image's user has no home directory either, so it would only warn at every start.
control_socket_disable = True
