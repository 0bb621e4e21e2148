"""The test hooks ``create_app`` installs: scripted faults, the request log, server-error capture.

Every hook is app-level (``before_request``/``after_request``) and keyed by the Flask endpoint
name, so endpoints added later by other blueprints are covered without changes here.  The
control API's own requests are neither faulted nor logged.  All three stores live in
``app.extensions`` and are emptied by ``MockState.reset()``.
"""

from __future__ import annotations

import logging
import threading
import traceback
from dataclasses import dataclass
from time import perf_counter
from typing import Any

from flask import (
    Flask,
    Request,
    Response,
    current_app,
    g,
    has_app_context,
    has_request_context,
    request,
)
from werkzeug.exceptions import HTTPException

from keycloak_mock.imitation.config import MockConfig
from keycloak_mock.imitation.http import (
    EXTENSION_KEY,
    current_flask_app,
    current_globals,
    current_request,
    json_response,
)
from keycloak_mock.imitation.state import MockState

from .faults import Fault
from .injection import (
    DROP_ENVIRON_KEY,
    DropConnectionMiddleware,
    Faults,
    drop_connection,
    fault_body,
    sleep_for_delay,
)
from .requestlog import RequestLog, RequestRecord, client_id_from, session_id_from_token
from .servererrors import ServerError, ServerErrors

CONTROL_BLUEPRINT = "control"
#: Blueprints of the mock's own tools: neither faulted nor logged, and no fault may target them.
TOOL_BLUEPRINTS = frozenset({CONTROL_BLUEPRINT, "ui"})
_FORM_ENDPOINTS = frozenset({"token", "logout", "revoke", "introspect"})


@dataclass(frozen=True)
class _Identity:
    endpoint: str | None
    realm: str | None
    grant_type: str | None
    client_id: str | None
    username: str | None
    #: ``perf_counter()`` when the hook first saw the request: carried here, not in ``g``, so
    #: timing the request adds no attribute write on the token path.
    started: float | None = None


def install(app: Flask, config: MockConfig, state: MockState) -> None:
    """Attach faults, the request log and error capture to ``app``."""
    faults = Faults()
    request_log = RequestLog()
    errors = ServerErrors()
    app.extensions[EXTENSION_KEY].update(
        {"faults": faults, "request_log": request_log, "server_errors": errors}
    )

    def on_reset() -> None:
        faults.clear()
        request_log.clear()
        errors.clear()

    state.reset_listeners.append(on_reset)
    app.before_request(_before_request)
    app.after_request(_after_request)
    app.wsgi_app = DropConnectionMiddleware(app.wsgi_app)  # type: ignore[method-assign]
    _capture_logged_errors(app)


def faults_of(app: Flask) -> Faults:
    faults: Faults = app.extensions[EXTENSION_KEY]["faults"]
    return faults


def request_log_of(app: Flask) -> RequestLog:
    log: RequestLog = app.extensions[EXTENSION_KEY]["request_log"]
    return log


def server_errors_of(app: Flask) -> ServerErrors:
    errors: ServerErrors = app.extensions[EXTENSION_KEY]["server_errors"]
    return errors


def _before_request() -> Response | None:
    req = current_request()
    if req.blueprint in TOOL_BLUEPRINTS:
        return None
    app = current_flask_app()
    context = current_globals()
    context.keycloak_mock_log_epoch = request_log_of(app).epoch
    identity = _identify(req, app)
    context.keycloak_mock_identity = identity
    faults = faults_of(app)
    if faults.idle:
        return None
    fault = faults.take(identity.endpoint, identity.grant_type, identity.realm)
    if fault is None:
        return None
    return _apply(fault)


def _apply(fault: Fault) -> Response | None:
    if fault.delay:
        sleep_for_delay(request.environ, fault.delay)
    if fault.drop:
        g.keycloak_mock_fault = "drop"
        request.environ[DROP_ENVIRON_KEY] = True
        drop_connection(request.environ)
        return Response(status=500)
    if fault.status is None:
        g.keycloak_mock_fault = "delay"
        return None
    g.keycloak_mock_fault = "status"
    return json_response(fault_body(fault), fault.status, fault.headers)


def _after_request(response: Response) -> Response:
    req = current_request()
    if req.blueprint in TOOL_BLUEPRINTS:
        return response
    app = current_flask_app()
    context = current_globals()
    identity: _Identity = context.get("keycloak_mock_identity") or _Identity(
        req.endpoint, None, None, None, None
    )
    fault = context.get("keycloak_mock_fault")
    state: MockState = app.extensions[EXTENSION_KEY]["state"]
    request_log_of(app).add(
        RequestRecord(
            at=state.clock.now(),
            method=req.method,
            path=req.path,
            endpoint=identity.endpoint.rpartition(".")[2] if identity.endpoint else None,
            realm=identity.realm,
            grant_type=identity.grant_type,
            client_id=identity.client_id,
            username=identity.username,
            status=None if fault == "drop" else response.status_code,
            fault=fault,
            duration=None if identity.started is None else perf_counter() - identity.started,
        ),
        context.get("keycloak_mock_log_epoch"),
    )
    return response


def _identify(req: Request, app: Flask) -> _Identity:
    """Who and what a request is about, read before the view changes any session."""
    started = perf_counter()
    endpoint = req.endpoint
    realm_name = (req.view_args or {}).get("realm_name")
    short = endpoint.rpartition(".")[2] if endpoint else None
    if short not in _FORM_ENDPOINTS or req.method != "POST":
        return _Identity(endpoint, realm_name, None, None, None, started)
    try:
        form = req.form
    except HTTPException:
        # The view answers the error.
        return _Identity(endpoint, realm_name, None, None, None, started)
    grant_type = form.get("grant_type") if short == "token" else None
    client_id = client_id_from(form, req.headers.get("Authorization"))
    state: MockState = app.extensions[EXTENSION_KEY]["state"]
    username = _username(state, realm_name, form)
    return _Identity(endpoint, realm_name, grant_type, client_id, username, started)


def _username(state: MockState, realm_name: str | None, form: Any) -> str | None:
    realm = state.realm(realm_name) if realm_name else None
    typed = form.get("username")
    if typed is not None:
        user = realm.find_user(typed) if realm else None
        return user.username if user else typed
    token = form.get("refresh_token") or form.get("token")
    sid = session_id_from_token(token) if token else None
    session = state.session(sid) if sid else None
    user = realm.user_by_id(session.user_id) if realm and session else None
    return user.username if user else None


class _ErrorCapture(logging.Handler):
    """Routes exceptions logged by an app (its 500 handler) to that app's ``ServerErrors``."""

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info is None or not has_app_context():
            return
        errors = current_app.extensions.get(EXTENSION_KEY, {}).get("server_errors")
        if errors is None:
            return
        _, exc, tb = record.exc_info
        method = request.method if has_request_context() else None
        path = request.path if has_request_context() else None
        errors.add(
            ServerError(
                method=method,
                path=path,
                type=type(exc).__name__ if exc else "Exception",
                message=str(exc) if exc else record.getMessage(),
                traceback="".join(traceback.format_exception(type(exc), exc, tb)) if exc else "",
                exception=exc,
            )
        )


_capture_lock = threading.Lock()


def _capture_logged_errors(app: Flask) -> None:
    """One capture handler per logger (every app of this module shares ``app.logger``)."""
    logger = app.logger
    with _capture_lock:
        if not any(isinstance(h, _ErrorCapture) for h in logger.handlers):
            logger.addHandler(_ErrorCapture(level=logging.ERROR))
