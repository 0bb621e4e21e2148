"""``create_keycloak_app``: the Keycloak imitation as a fresh Flask app with its own state.

It knows nothing of the test controls: whoever composes the full mock passes them in as
``hooks`` (``keycloak_mock.assembly``), so this layer never imports the one above it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound, RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

from . import cors, limits
from .clock import Clock
from .config import MockConfig, RealmConfig
from .errors import OAuthError
from .http import (
    EXTENSION_KEY,
    SECURITY_HEADERS,
    current_globals,
    current_request,
    json_response,
    status_line,
)
from .keys import SigningKey, load_signing_key
from .realmfile import configured_realms
from .state import MockState
from .views import authorization, demobank, discovery, health, sessions, token

#: Kept for importers; the limits themselves live in ``limits.py``.
MAX_BODY_BYTES = limits.MAX_BODY_BYTES


#: Called with the app, its config and its state once the Keycloak endpoints are in place, and
#: before the response finisher: what a hook adds to ``after_request`` runs after the finisher.
AppHook = Callable[[Flask, MockConfig, MockState], None]


def create_keycloak_app(
    config: MockConfig | None = None,
    *,
    realms: tuple[RealmConfig, ...] | None = None,
    signing_key: SigningKey | None = None,
    clock: Clock | None = None,
    hooks: Sequence[AppHook] = (),
) -> Flask:
    """Build the Keycloak imitation.  ``realms``/``signing_key`` override what ``config`` names."""
    config = config or MockConfig()
    realms = realms if realms is not None else configured_realms(config)
    signing_key = signing_key or load_signing_key(config.signing_key, generate=config.generate_key)
    state = MockState(realms, signing_key, clock or Clock())

    # No static folder: Flask would otherwise serve /static/<path>, a path Keycloak does not have.
    app = Flask(__name__, static_folder=None)
    limits.install(app)
    app.extensions[EXTENSION_KEY] = {"config": config, "state": state}
    # Trust X-Forwarded-* so one container answers with the right issuer behind a proxy.
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_port=1, x_prefix=1)  # type: ignore[method-assign]
    app.url_map.strict_slashes = False

    app.register_blueprint(token.blueprint)
    app.register_blueprint(discovery.blueprint)
    app.register_blueprint(health.blueprint)
    app.register_blueprint(sessions.blueprint)
    app.register_blueprint(demobank.blueprint)
    app.register_blueprint(authorization.blueprint)
    _register_error_handlers(app)
    for hook in hooks:
        hook(app, config, state)
    app.after_request(_finish_response)
    return app


def mock_state(app: Flask) -> MockState:
    """The state of an app built by ``create_keycloak_app``."""
    state: MockState = app.extensions[EXTENSION_KEY]["state"]
    return state


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(OAuthError)
    def oauth_error(error: OAuthError) -> Response:
        return json_response(error.body(), error.status, error.headers)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        if isinstance(error, RequestEntityTooLarge):
            body: dict[str, Any] = {
                "error": "invalid_request",
                "error_description": "Request body too large",
            }
            # No "Connection: close": the body was drained (limits.py), and the server decides.
            return json_response(body, 413)
        if isinstance(error, MethodNotAllowed):
            return json_response({"error": "HTTP 405 Method Not Allowed"}, 405)
        if isinstance(error, NotFound):
            return json_response({"error": "Unable to find matching target resource method"}, 404)
        status = error.code or 400
        return json_response({"error": f"HTTP {status} {error.name}"}, status)

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        # Never a traceback on the wire: Keycloak answers unknown errors like this.
        app.logger.exception("unexpected error while serving %s %s", request.method, request.path)
        return json_response({"error": "unknown_error"}, 500)


def _finish_response(response: Response) -> Response:
    # Under any WSGI server (development server, gunicorn) the status line is what we pass here.
    response.status = status_line(response.status_code)
    context = current_globals()
    pending: dict[str, str] | None = context.get("response_headers")
    wanted = list(pending.items()) if pending else []
    req = current_request()
    cors.finish(context, req.environ.get("HTTP_ORIGIN"), response)
    if req.url_rule is not None and req.path.startswith("/realms/"):
        omitted = context.get("omitted_security_headers", ())
        wanted += [(name, value) for name, value in SECURITY_HEADERS.items() if name not in omitted]
    if wanted:
        # One pass over the present names instead of a ``setdefault`` scan per header: this hook
        # runs on every token request.
        headers = response.headers
        present = {name.lower() for name, _ in headers.items()}
        for name, value in wanted:
            if name.lower() not in present:
                headers.add(name, value)
                present.add(name.lower())
    return response
