"""``RemoteControls``: the operations of ``Controls``, performed over the HTTP control API.

Used when the mock runs in another process (the container in CI, ``--keycloak-url``).  Every
method has the signature and return value of its ``Controls`` twin, and failures raise the same
``ControlError`` (status and message from the server's JSON), so the pytest handle works the
same whichever it holds.  Config objects (``UserConfig``, ``RealmConfig``) cannot travel; pass
realm-export JSON instead and the error says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import requests

from keycloak_mock.imitation.config import ClientConfig, RealmConfig, UserConfig

from .faults import ErrorRate, Fault
from .requestlog import RequestRecord
from .schema import MANDATOR_ATTRIBUTES, PREFIX, REALM_SETTINGS, USER_SETTINGS, ControlError
from .servererrors import ServerError

DEFAULT_TIMEOUT = 10.0
_FILTER_NAMES = {
    "endpoint": "endpoint",
    "grant_type": "grantType",
    "realm": "realm",
    "client_id": "clientId",
    "username": "username",
    "status": "status",
    "limit": "limit",
}


class RemoteControls:
    """``Controls`` over HTTP against ``base_url`` (e.g. ``http://127.0.0.1:8080``)."""

    def __init__(
        self, base_url: str, *, admin_token: str | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._http = requests.Session()
        if admin_token:
            self._http.headers["Authorization"] = f"Bearer {admin_token}"

    def __repr__(self) -> str:
        return f"<RemoteControls {self.base_url}>"

    def close(self) -> None:
        self._http.close()

    def _call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        url = f"{self.base_url}{PREFIX}{path}"
        try:
            response = self._http.request(
                method, url, json=body, params=params, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise ControlError(
                f"control API at {self.base_url} unreachable: {type(exc).__name__}",
                status=503,
                error="unreachable",
            ) from exc
        try:
            document = response.json()
        except ValueError:
            document = None
        if response.ok and document is not None:
            return document
        if isinstance(document, dict) and "error" in document:
            message = document.get("error_description") or document["error"]
            if response.status_code == 404 and "error_description" not in document:
                message = f"{method} {path}: not found (is the control API enabled?)"
            raise ControlError(message, status=response.status_code, error=document["error"])
        raise ControlError(
            f"{method} {path}: unexpected answer HTTP {response.status_code}",
            status=response.status_code,
            error="unexpected_response",
        )

    # -- everything -----------------------------------------------------------------------
    def reset(self) -> None:
        self._call("POST", "/reset")

    # -- time -----------------------------------------------------------------------------
    def time(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/time")
        return result

    def advance(self, seconds: float) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", "/time/advance", {"seconds": seconds})
        return result

    def freeze(self, at: float | None = None) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", "/time/freeze", {"at": at})
        return result

    def unfreeze(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", "/time/unfreeze")
        return result

    def expire_access_tokens(self, realm: str | None = None) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", "/time/expire-access-tokens", {"realm": realm})
        return result

    def expire_sessions(self, realm: str | None = None) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", "/time/expire-sessions", {"realm": realm})
        return result

    # -- realms ---------------------------------------------------------------------------
    def realms(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "/realms")["realms"]
        return result

    def realm(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", f"/realms/{_q(name)}")
        return result

    def add_realm(self, realm: RealmConfig | Mapping[str, Any]) -> dict[str, Any]:
        if isinstance(realm, RealmConfig):
            raise ControlError("a RealmConfig cannot be sent over HTTP; pass realm-export JSON")
        result: dict[str, Any] = self._call("POST", "/realms", realm)
        return result

    def update_realm(self, name: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            "PATCH", f"/realms/{_q(name)}", realm_changes_json(changes)
        )
        return result

    def remove_realm(self, name: str) -> int:
        ended: int = self._call("DELETE", f"/realms/{_q(name)}")["sessionsEnded"]
        return ended

    def push_not_before(self, realm: str) -> int:
        not_before: int = self._call("POST", f"/realms/{_q(realm)}/not-before")["notBefore"]
        return not_before

    # -- users ----------------------------------------------------------------------------
    def users(self, realm: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", f"/realms/{_q(realm)}/users")["users"]
        return result

    def user(self, realm: str, username: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", f"/realms/{_q(realm)}/users/{_q(username)}")
        return result

    def add_user(self, realm: str, user: UserConfig | Mapping[str, Any]) -> dict[str, Any]:
        if isinstance(user, UserConfig):
            raise ControlError("a UserConfig cannot be sent over HTTP; pass realm-export JSON")
        result: dict[str, Any] = self._call("POST", f"/realms/{_q(realm)}/users", user)
        return result

    def update_user(self, realm: str, username: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(changes) - set(USER_SETTINGS))
        if unknown:
            raise ControlError(
                f"unknown user field {unknown[0]!r}; known: {', '.join(sorted(USER_SETTINGS))}"
            )
        body = {USER_SETTINGS[k]: _jsonable(v) for k, v in changes.items()}
        result: dict[str, Any] = self._call(
            "PATCH", f"/realms/{_q(realm)}/users/{_q(username)}", body
        )
        return result

    def disable_user(self, realm: str, username: str) -> dict[str, Any]:
        return self.update_user(realm, username, {"enabled": False})

    def enable_user(self, realm: str, username: str) -> dict[str, Any]:
        return self.update_user(realm, username, {"enabled": True})

    def remove_user(self, realm: str, username: str) -> int:
        ended: int = self._call("DELETE", f"/realms/{_q(realm)}/users/{_q(username)}")[
            "sessionsEnded"
        ]
        return ended

    def set_password(
        self, realm: str, username: str, password: str, *, temporary: bool = False
    ) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            "PUT",
            f"/realms/{_q(realm)}/users/{_q(username)}/password",
            {"value": password, "temporary": temporary},
        )
        return result

    # -- sessions -------------------------------------------------------------------------
    def sessions(
        self, realm: str | None = None, username: str | None = None
    ) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call(
            "GET", "/sessions", params=_params(realm=realm, username=username)
        )["sessions"]
        return result

    def end_session(self, session_id: str) -> None:
        self._call("DELETE", f"/sessions/{_q(session_id)}")

    def end_sessions(self, realm: str | None = None, username: str | None = None) -> int:
        ended: int = self._call(
            "DELETE", "/sessions", params=_params(realm=realm, username=username)
        )["ended"]
        return ended

    def inspect_token(self, token: str, issuer_base: str | None = None) -> dict[str, Any]:
        """The decoder's verdict; ``issuer_base`` defaults to the URL the mock is reached at."""
        result: dict[str, Any] = self._call(
            "POST", "/tokens/inspect", {"token": token, "issuerBase": issuer_base}
        )
        return result

    # -- keys -----------------------------------------------------------------------------
    def signing_keys(self, realm: str | None = None) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "/keys", params=_params(realm=realm))[
            "keys"
        ]
        return result

    def rotate_signing_key(
        self, private_key_pem: str | None = None, realm: str | None = None
    ) -> dict[str, Any]:
        body = {"privateKeyPem": private_key_pem, "realm": realm}
        result: dict[str, Any] = self._call("POST", "/keys/rotate", body)
        return result

    def drop_signing_key(self, kid: str, realm: str | None = None) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call(
            "DELETE", f"/keys/{_q(kid)}", params=_params(realm=realm)
        )["keys"]
        return result

    def drop_old_signing_keys(self, realm: str | None = None) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("DELETE", "/keys", params=_params(realm=realm))[
            "keys"
        ]
        return result

    # -- faults ---------------------------------------------------------------------------
    def add_fault(self, fault: Fault) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", "/faults", fault.to_json())
        return result

    def set_error_rate(self, error_rate: ErrorRate | None) -> dict[str, Any] | None:
        if error_rate is None:
            self._call("DELETE", "/faults/error-rate")
            return None
        result: dict[str, Any] = self._call("PUT", "/faults/error-rate", error_rate.to_json())[
            "errorRate"
        ]
        return result

    def list_faults(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/faults")
        return result

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def endpoints(self) -> list[str]:
        result: list[str] = self._call("GET", "")["endpoints"]
        return result

    def overview(self) -> dict[str, Any]:
        """``GET /_mock``: realms, time, fault endpoints and ``issuerBase``."""
        result: dict[str, Any] = self._call("GET", "")
        return result

    # -- request log ----------------------------------------------------------------------
    def requests(self, **filters: Any) -> list[RequestRecord]:
        unknown = sorted(set(filters) - set(_FILTER_NAMES))
        if unknown:
            raise ControlError(f"filters: {', '.join(_FILTER_NAMES)}")
        params = {_FILTER_NAMES[k]: v for k, v in filters.items() if v is not None}
        records = self._call("GET", "/requests", params=params)["requests"]
        return [record_from_json(r) for r in records]

    def counters(self) -> dict[str, int]:
        result: dict[str, int] = self._call("GET", "/requests")["counters"]
        return result

    def clear_requests(self) -> None:
        self._call("DELETE", "/requests")

    # -- server errors --------------------------------------------------------------------
    def server_errors(self) -> list[ServerError]:
        return [_error(e) for e in self._call("GET", "/errors")["errors"]]

    def take_server_errors(self) -> list[ServerError]:
        return [_error(e) for e in self._call("DELETE", "/errors")["errors"]]


def realm_changes_json(changes: Mapping[str, Any]) -> dict[str, Any]:
    """``RealmConfig`` attribute changes as the PATCH body (realm-export names)."""
    body: dict[str, Any] = {}
    for attribute, value in changes.items():
        if attribute in MANDATOR_ATTRIBUTES:
            body.setdefault("attributes", {})[attribute] = value
        elif attribute not in REALM_SETTINGS:
            known = sorted({*REALM_SETTINGS, *MANDATOR_ATTRIBUTES})
            raise ControlError(f"unknown realm setting {attribute!r}; known: {', '.join(known)}")
        elif attribute == "client_scopes" and isinstance(value, Mapping):
            body["clientScopes"] = [
                {"name": scope, "attributes": {"include.in.token.scope": str(v).lower()}}
                for scope, v in value.items()
            ]
        else:
            body[REALM_SETTINGS[attribute]] = _jsonable(value)
    return body


def record_from_json(document: Mapping[str, Any]) -> RequestRecord:
    return RequestRecord(
        at=document["at"],
        method=document["method"],
        path=document["path"],
        endpoint=document["endpoint"],
        realm=document["realm"],
        grant_type=document["grantType"],
        client_id=document["clientId"],
        username=document["username"],
        status=document["status"],
        fault=document["fault"],
        duration=document.get("duration"),
    )


def _error(document: Mapping[str, Any]) -> ServerError:
    return ServerError(
        method=document["method"],
        path=document["path"],
        type=document["type"],
        message=document["message"],
        traceback=document["traceback"],
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, (UserConfig, ClientConfig, RealmConfig)):
        raise ControlError(
            f"a {type(value).__name__} cannot be sent over HTTP; pass realm-export JSON"
        )
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def _params(**values: str | None) -> dict[str, str]:
    return {k: v for k, v in values.items() if v is not None}


def _q(segment: str) -> str:
    return quote(segment, safe="")
