"""The HTTP control API under ``/_mock``: the handle's controls for a mock in another process.

JSON in and out, camelCase like Keycloak's admin API.  Outside Keycloak's paths on purpose, so no
client can mistake it for Keycloak.  Off with ``--disable-control-api``; with ``--admin-token``
(env ``KEYCLOAK_MOCK_ADMIN_TOKEN``) every call needs ``Authorization: Bearer <token>``.
Errors answer ``{"error": ..., "error_description": ...}`` with 400, 401, 404 or 409, and 403
for a ``Host`` that is not one of the mock's names (``hostcheck.py``).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, request
from werkzeug.exceptions import MethodNotAllowed, NotFound

from keycloak_mock.imitation.errors import MockServerError
from keycloak_mock.imitation.http import current_flask_app, issuer_base, json_response, mock_config

from .faults import error_rate_from_json, fault_from_json
from .hostcheck import refuse_foreign_host
from .local import Controls, controls_of
from .schema import PREFIX, REALM_SETTINGS, USER_SETTINGS, ControlError

blueprint = Blueprint("control", __name__, url_prefix=PREFIX)
Handler = Callable[..., Response]
#: (method, path segments, handler); ``<name>`` segments capture.  Matched by ``dispatch``.
_ROUTES: list[tuple[str, tuple[str, ...], Handler]] = []
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
_JSON_TO_REALM = {key: attribute for attribute, key in REALM_SETTINGS.items()}
_JSON_TO_USER = {key: attribute for attribute, key in USER_SETTINGS.items()}
_REQUEST_FILTERS = {
    "endpoint": "endpoint",
    "grantType": "grant_type",
    "realm": "realm",
    "clientId": "client_id",
    "username": "username",
    "status": "status",
    "limit": "limit",
}


# First: a foreign Host learns nothing, not even whether a token is needed.
blueprint.before_request(refuse_foreign_host)


@blueprint.before_request
def _require_admin_token() -> Response | None:
    expected = mock_config().admin_token
    if not expected:
        return None
    given = request.headers.get("Authorization", "")
    scheme, _, token = given.partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(
        token.strip().encode(), expected.encode()
    ):
        return None
    return json_response(
        {
            "error": "unauthorized",
            "error_description": "the control API needs Authorization: Bearer <admin token>",
        },
        401,
        {"WWW-Authenticate": 'Bearer realm="keycloak-mock-control"'},
    )


@blueprint.errorhandler(MockServerError)
def _control_error(error: MockServerError) -> Response:
    if isinstance(error, ControlError):
        body = {"error": error.error, "error_description": error.message}
        return json_response(body, error.status)
    return json_response({"error": "invalid_request", "error_description": str(error)}, 400)


def _controls() -> Controls:
    # The real app, not the proxy: ``Controls`` is cached per app and outlives this request.
    return controls_of(current_flask_app())


def _body() -> dict[str, Any]:
    """The JSON object sent, ``{}`` for an empty body; anything else is a 400."""
    if not request.get_data(cache=True):
        return {}
    document = request.get_json(force=True, silent=True)
    if not isinstance(document, dict):
        raise ControlError("the request body must be a JSON object")
    return document


def _field(
    body: dict[str, Any], name: str, kind: type | tuple[type, ...], *, required: bool = False
) -> Any:
    if name not in body or body[name] is None:
        if required:
            raise ControlError(f"{name}: required")
        return None
    value = body[name]
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise ControlError(f"{name}: wrong type")
    if not isinstance(value, kind):
        raise ControlError(f"{name}: wrong type")
    return value


def _only(body: dict[str, Any], *names: str) -> None:
    unknown = sorted(set(body) - set(names))
    if unknown:
        raise ControlError(f"unknown field {unknown[0]!r}; known: {', '.join(names) or 'none'}")


def _renamed(body: dict[str, Any], table: dict[str, str], what: str) -> dict[str, Any]:
    unknown = sorted(set(body) - set(table))
    if unknown:
        raise ControlError(f"unknown {what} {unknown[0]!r}; known: {', '.join(sorted(table))}")
    return {table[key]: value for key, value in body.items()}


# -- routing ----------------------------------------------------------------------------------
# Two Flask rules and a small router, rather than one Flask rule per route: werkzeug compiles
# every rule of every app it builds (milliseconds each), and the plugin builds an app per session
# and per ``keycloak_config`` test.  Matching three dozen short patterns per call costs nothing.
def _route(path: str, method: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        _ROUTES.append((method, tuple(s for s in path.split("/") if s), handler))
        return handler

    return register


def routes() -> list[tuple[str, str]]:
    """Every (method, path) the control API serves, e.g. ``("PATCH", "/_mock/realms/<realm>")``."""
    return [(method, "/".join((PREFIX, *segments))) for method, segments, _ in _ROUTES]


@blueprint.route("", methods=_METHODS, provide_automatic_options=False)
@blueprint.route("/<path:subpath>", methods=_METHODS, provide_automatic_options=False)
def dispatch(subpath: str = "") -> Response:
    parts = [p for p in subpath.split("/") if p]
    path_known = False
    for method, segments, handler in _ROUTES:
        args = _match(segments, parts)
        if args is None:
            continue
        if method == request.method:
            return handler(**args)
        path_known = True
    raise MethodNotAllowed() if path_known else NotFound()


def _match(segments: tuple[str, ...], parts: list[str]) -> dict[str, str] | None:
    if len(segments) != len(parts):
        return None
    args: dict[str, str] = {}
    for segment, part in zip(segments, parts, strict=True):
        if segment.startswith("<"):
            args[segment[1:-1]] = part
        elif segment != part:
            return None
    return args


# -- overview and reset ---------------------------------------------------------------------
@_route("", "GET")
def overview() -> Response:
    controls = _controls()
    return json_response(
        {
            "realms": [r["realm"] for r in controls.realms()],
            "time": controls.time(),
            "endpoints": controls.endpoints(),
            # What ``iss`` starts with for requests that arrive the way this one did.
            "issuerBase": issuer_base(),
        }
    )


@_route("/reset", "POST")
def reset() -> Response:
    _controls().reset()
    return json_response({"reset": True})


# -- time -----------------------------------------------------------------------------------
@_route("/time", "GET")
def time_now() -> Response:
    return json_response(_controls().time())


@_route("/time/advance", "POST")
def advance() -> Response:
    body = _body()
    _only(body, "seconds")
    return json_response(_controls().advance(_field(body, "seconds", (int, float), required=True)))


@_route("/time/freeze", "POST")
def freeze() -> Response:
    body = _body()
    _only(body, "at")
    return json_response(_controls().freeze(_field(body, "at", (int, float))))


@_route("/time/unfreeze", "POST")
def unfreeze() -> Response:
    _only(_body())
    return json_response(_controls().unfreeze())


@_route("/time/expire-access-tokens", "POST")
def expire_access_tokens() -> Response:
    body = _body()
    _only(body, "realm")
    return json_response(_controls().expire_access_tokens(_field(body, "realm", str)))


@_route("/time/expire-sessions", "POST")
def expire_sessions() -> Response:
    body = _body()
    _only(body, "realm")
    return json_response(_controls().expire_sessions(_field(body, "realm", str)))


# -- realms ---------------------------------------------------------------------------------
@_route("/realms", "GET")
def list_realms() -> Response:
    return json_response({"realms": _controls().realms()})


@_route("/realms", "POST")
def add_realm() -> Response:
    return json_response(_controls().add_realm(_body()), 201)


@_route("/realms/<realm>", "GET")
def get_realm(realm: str) -> Response:
    return json_response(_controls().realm(realm))


@_route("/realms/<realm>", "PATCH")
def update_realm(realm: str) -> Response:
    body = _body()
    attributes = body.pop("attributes", None)
    changes = _renamed(body, _JSON_TO_REALM, "realm setting")
    if attributes is not None:
        if not isinstance(attributes, dict):
            raise ControlError("attributes: must be an object")
        changes.update(attributes)
    return json_response(_controls().update_realm(realm, changes))


@_route("/realms/<realm>", "DELETE")
def remove_realm(realm: str) -> Response:
    return json_response({"sessionsEnded": _controls().remove_realm(realm)})


@_route("/realms/<realm>/not-before", "POST")
def push_not_before(realm: str) -> Response:
    _only(_body())
    return json_response({"notBefore": _controls().push_not_before(realm)})


# -- users ----------------------------------------------------------------------------------
@_route("/realms/<realm>/users", "GET")
def list_users(realm: str) -> Response:
    return json_response({"users": _controls().users(realm)})


@_route("/realms/<realm>/users", "POST")
def add_user(realm: str) -> Response:
    return json_response(_controls().add_user(realm, _body()), 201)


@_route("/realms/<realm>/users/<username>", "GET")
def get_user(realm: str, username: str) -> Response:
    return json_response(_controls().user(realm, username))


@_route("/realms/<realm>/users/<username>", "PATCH")
def update_user(realm: str, username: str) -> Response:
    changes = _renamed(_body(), _JSON_TO_USER, "user field")
    return json_response(_controls().update_user(realm, username, changes))


@_route("/realms/<realm>/users/<username>", "DELETE")
def remove_user(realm: str, username: str) -> Response:
    return json_response({"sessionsEnded": _controls().remove_user(realm, username)})


@_route("/realms/<realm>/users/<username>/password", "PUT")
def set_password(realm: str, username: str) -> Response:
    body = _body()
    _only(body, "value", "temporary")
    value = _field(body, "value", str, required=True)
    temporary = _field(body, "temporary", bool) or False
    return json_response(_controls().set_password(realm, username, value, temporary=temporary))


# -- sessions -------------------------------------------------------------------------------
@_route("/sessions", "GET")
def list_sessions() -> Response:
    args = request.args
    return json_response(
        {"sessions": _controls().sessions(args.get("realm"), args.get("username"))}
    )


@_route("/sessions", "DELETE")
def end_sessions() -> Response:
    args = request.args
    return json_response(
        {"ended": _controls().end_sessions(args.get("realm"), args.get("username"))}
    )


@_route("/sessions/<session_id>", "DELETE")
def end_session(session_id: str) -> Response:
    _controls().end_session(session_id)
    return json_response({"ended": 1})


@_route("/tokens/inspect", "POST")
def inspect_token() -> Response:
    """The decoder's verdict; ``issuerBase`` defaults to the URL this request came in on."""
    body = _body()
    _only(body, "token", "issuerBase")
    token = _field(body, "token", str, required=True)
    base = _field(body, "issuerBase", str)
    return json_response(
        _controls().inspect_token(token, base if base is not None else issuer_base())
    )


# -- keys -----------------------------------------------------------------------------------
# Each realm has its own keys; ``?realm=`` (or ``realm`` in the body) picks one, else the default.
@_route("/keys", "GET")
def list_keys() -> Response:
    return json_response({"keys": _controls().signing_keys(request.args.get("realm"))})


@_route("/keys/rotate", "POST")
def rotate_key() -> Response:
    body = _body()
    _only(body, "privateKeyPem", "realm")
    return json_response(
        _controls().rotate_signing_key(
            _field(body, "privateKeyPem", str), _field(body, "realm", str)
        )
    )


@_route("/keys", "DELETE")
def drop_old_keys() -> Response:
    return json_response({"keys": _controls().drop_old_signing_keys(request.args.get("realm"))})


@_route("/keys/<kid>", "DELETE")
def drop_key(kid: str) -> Response:
    return json_response({"keys": _controls().drop_signing_key(kid, request.args.get("realm"))})


# -- faults ---------------------------------------------------------------------------------
@_route("/faults", "GET")
def list_faults() -> Response:
    return json_response(_controls().list_faults())


@_route("/faults", "POST")
def add_fault() -> Response:
    return json_response(_controls().add_fault(fault_from_json(_body())), 201)


@_route("/faults", "DELETE")
def clear_faults() -> Response:
    _controls().clear_faults()
    return json_response(_controls().list_faults())


@_route("/faults/error-rate", "PUT")
def set_error_rate() -> Response:
    rate = error_rate_from_json(_body())
    return json_response({"errorRate": _controls().set_error_rate(rate)})


@_route("/faults/error-rate", "DELETE")
def clear_error_rate() -> Response:
    return json_response({"errorRate": _controls().set_error_rate(None)})


# -- request log and server errors ---------------------------------------------------------
@_route("/requests", "GET")
def list_requests() -> Response:
    filters: dict[str, Any] = {}
    for key, value in request.args.items():
        if key not in _REQUEST_FILTERS:
            raise ControlError(f"unknown filter {key!r}; known: {', '.join(_REQUEST_FILTERS)}")
        if key in ("status", "limit"):
            if not (value.isascii() and value.isdigit()) or len(value) > 9:
                raise ControlError(f"{key}: must be an integer")
            filters[key] = int(value)
        else:
            filters[_REQUEST_FILTERS[key]] = value
    controls = _controls()
    records = controls.requests(**filters)
    return json_response(
        {
            "count": len(records),
            "requests": [r.to_json() for r in records],
            "counters": controls.counters(),
        }
    )


@_route("/requests", "DELETE")
def clear_requests() -> Response:
    _controls().clear_requests()
    return json_response({"count": 0, "requests": [], "counters": {}})


@_route("/errors", "GET")
def list_errors() -> Response:
    return json_response({"errors": [e.to_json() for e in _controls().server_errors()]})


@_route("/errors", "DELETE")
def take_errors() -> Response:
    """Read and clear in one step, so an error is reported to exactly one test."""
    return json_response({"errors": [e.to_json() for e in _controls().take_server_errors()]})
