"""Run the app on a real socket: in-process for tests, or in the foreground for the CLI.

``MockServer`` is a context manager around werkzeug's threaded server: port 0 picks a free port,
``url`` tells which one, and ``stop`` waits a bounded time for the serving thread and raises if
it does not end.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
from types import TracebackType
from typing import Any

from flask import Flask
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from keycloak_mock.assembly import create_app
from keycloak_mock.imitation.app import mock_state
from keycloak_mock.imitation.config import MockConfig
from keycloak_mock.imitation.state import MockState
from keycloak_mock.imitation.tokens import compact_json

from .tls import TlsFiles, server_context, tls_files, wants_tls

_SHUTDOWN_POLL_SECONDS = 0.05
_log = logging.getLogger("keycloak_mock.requests")


def serve_on(
    host: str, port: int, app: Flask, ssl_context: ssl.SSLContext | None = None
) -> BaseWSGIServer:
    """A threaded werkzeug server bound to ``host:port``; raises ``OSError`` if it cannot bind.

    With ``ssl_context`` it speaks https, and the app sees the ``https`` scheme (so the issuer
    follows it).

    We bind the socket ourselves because werkzeug answers a taken port by printing advice and
    calling ``sys.exit``, which neither a test nor our CLI's one-line error wants.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.create_server((host, port), family=family, backlog=128) as listener:
        server = make_server(
            host,
            port,
            app,
            threaded=True,
            request_handler=QuietRequestHandler,
            fd=listener.fileno(),
        )
    if ssl_context is not None:
        # Not werkzeug's ssl_context argument: it wraps the listening socket so that accept()
        # runs the TLS handshake in the serving thread, where one client that connects and
        # says nothing stops every other.  Here each handshake happens on the request's own
        # thread, at its first read.
        server.socket = ssl_context.wrap_socket(
            server.socket, server_side=True, do_handshake_on_connect=False
        )
        server.ssl_context = ssl_context
    return server


class QuietRequestHandler(WSGIRequestHandler):
    """Logs method, path and status only (query strings may carry tokens); no ``Server`` or
    ``Date`` header."""

    def send_response(self, code: int, message: str | None = None) -> None:
        """http.server's, without the ``Server: Werkzeug/... Python/...`` and ``Date`` headers.

        Keycloak's HTTP server (Vert.x) sends neither (Keycloak took ``Server`` out in
        KEYCLOAK-4952), so a client sees the same headers as against Keycloak.
        """
        self.log_request(code)
        self.send_response_only(code, message)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # A request line that could not be parsed leaves no ``path`` (http.server sets it later).
        path = getattr(self, "path", "").split("?", 1)[0]
        _log.info('"%s %s" %s', getattr(self, "command", None) or "-", path, code)

    def log_error(self, format: str, *args: Any) -> None:
        # http.server's messages quote the raw request line, query string (and token) included.
        _log.warning("rejected a request: %s", format.split(" %", 1)[0])

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """What http.server refuses itself (bad request line, header lines over 64 KiB, too many
        headers) as JSON like the app's errors, instead of an HTML page that echoes the input."""
        body = compact_json({"error": f"HTTP {code} {HTTP_STATUS_CODES.get(code, 'Error')}"})
        if self.request_version == "HTTP/0.9":
            # Unparsable request line: http.server would send the body without a status line.
            self.request_version = "HTTP/1.0"
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if getattr(self, "command", None) != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(body)
        self.close_connection = True


class MockServer:
    """The mock Keycloak on a real loopback socket, served from a background thread."""

    def __init__(
        self,
        config: MockConfig | None = None,
        *,
        app: Flask | None = None,
        host: str | None = None,
        port: int | None = None,
    ) -> None:
        self.config = config or MockConfig(port=0)
        self.app = app or create_app(self.config)
        self._host = host if host is not None else self.config.host
        self._port = port if port is not None else self.config.port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._tls: TlsFiles | None = None

    @property
    def state(self) -> MockState:
        return mock_state(self.app)

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("server is not running")
        return self._server.port

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321`` (no trailing slash; ``https`` with TLS)."""
        host = self._host if ":" not in self._host else f"[{self._host}]"
        scheme = "https" if self._tls is not None else "http"
        return f"{scheme}://{host}:{self.port}"

    @property
    def ca_file(self) -> str | None:
        """The generated test-only CA bundle to trust (``--tls``); ``None`` otherwise."""
        return self._tls.ca_file if self._tls is not None else None

    def start(self) -> MockServer:
        """Bind and start serving; raises ``OSError`` if the port is taken."""
        context = None
        if wants_tls(self.config):
            self._tls = tls_files(self.config)
            assert self._tls is not None
            context = server_context(self._tls)
        self._server = serve_on(self._host, self._port, self.app, context)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            # serve_forever polls for shutdown; werkzeug's 0.5 s default would make every stop
            # (each test session, each keycloak_config test) wait that long.
            kwargs={"poll_interval": _SHUTDOWN_POLL_SECONDS},
            name=f"keycloak-mock:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving; raises ``TimeoutError`` if the thread is still alive after ``timeout``."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.shutdown()
        thread.join(timeout)
        server.server_close()
        self._server = self._thread = None
        if thread.is_alive():
            raise TimeoutError(f"mock server did not stop within {timeout} s")

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
