"""Faults applied inside a running app: the per-app store, delays, dropped connections.

Faults live in the app (``Faults`` in ``app.extensions``), never at module level, and are cleared
by ``MockState.reset()``.  Matching and counting happen under one lock, so "the next 2 requests"
means exactly two even when ten threads race; sleeping happens outside it.
"""

from __future__ import annotations

import contextlib
import errno
import random
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from werkzeug.http import HTTP_STATUS_CODES

from .faults import ErrorRate, Fault, endpoint_matches

#: WSGI environ keys under which servers expose the client socket (werkzeug, gunicorn).
_SOCKET_KEYS = ("werkzeug.socket", "gunicorn.socket")
DROP_ENVIRON_KEY = "keycloak_mock.drop_connection"
#: WSGI environ key of a server that can lend a thread's place to others while a delay fault
#: sleeps: a callable returning a context manager (the container's worker sets it).
PARK_ENVIRON_KEY = "keycloak_mock.park_thread"


@dataclass
class _Armed:
    fault: Fault
    remaining: int | None


class Faults:
    """The faults of one app; every method is thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: list[_Armed] = []
        self._error_rate: ErrorRate | None = None
        self._random = random.Random()  # noqa: S311 - picks which requests fail, not a secret

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._armed.append(_Armed(fault, fault.times))

    def set_error_rate(self, error_rate: ErrorRate | None) -> None:
        with self._lock:
            self._error_rate = error_rate
            self._random = random.Random(error_rate.seed if error_rate else None)  # noqa: S311

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()
            self._error_rate = None

    def listing(self) -> dict[str, Any]:
        with self._lock:
            faults = [{**a.fault.to_json(), "remaining": a.remaining} for a in self._armed]
            rate = self._error_rate.to_json() if self._error_rate else None
        return {"faults": faults, "errorRate": rate}

    @property
    def idle(self) -> bool:
        """True when nothing is armed: the request hook then costs one attribute read."""
        return not self._armed and self._error_rate is None

    def take(self, endpoint: str | None, grant_type: str | None, realm: str | None) -> Fault | None:
        """The fault this request gets (counting it down), or ``None``; first armed wins."""
        with self._lock:
            for armed in self._armed:
                if armed.fault.matches(endpoint, grant_type, realm):
                    if armed.remaining is not None:
                        armed.remaining -= 1
                        if armed.remaining == 0:
                            self._armed.remove(armed)
                    return armed.fault
            rate = self._error_rate
            if (
                rate is not None
                and endpoint_matches(rate.endpoint, endpoint)
                and (rate.grant_type is None or rate.grant_type == grant_type)
                and (rate.realm is None or rate.realm == realm)
                and self._random.random() < rate.rate
            ):
                return Fault(
                    endpoint=rate.endpoint,
                    times=None,
                    status=rate.status,
                    body=rate.body,
                    headers=rate.headers,
                )
        return None


def default_error_body(status: int) -> dict[str, str]:
    """Keycloak's generic error shape, e.g. ``{"error": "HTTP 503 Service Unavailable"}``."""
    return {"error": f"HTTP {status} {HTTP_STATUS_CODES.get(status, 'Unknown')}".rstrip()}


def fault_body(fault: Fault) -> Any:
    """The JSON a status fault answers: its own body, or Keycloak's generic error shape."""
    return fault.body if fault.body is not None else default_error_body(fault.status or 500)


def drop_connection(environ: Mapping[str, Any]) -> None:
    """Shut the client's socket so it sees the connection end without an answer."""
    for key in _SOCKET_KEYS:
        sock = environ.get(key)
        if isinstance(sock, socket.socket):
            # OSError: already gone, the client has its dropped connection.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            return


def sleep_for_delay(environ: Mapping[str, Any], seconds: float) -> None:
    """Sleep out a delay fault, letting the server run other requests in this thread's place.

    The container's worker runs only a few requests at once (fewer threads contending for the
    GIL answer faster), so a sleeping request must not count as one of them: otherwise two
    delayed logins would hold up the health check and the control call that clears the fault.
    """
    park = environ.get(PARK_ENVIRON_KEY)
    with park() if park is not None else contextlib.nullcontext():
        time.sleep(seconds)


class DropConnectionMiddleware:
    """Turns a request marked for dropping into an aborted connection at the WSGI layer.

    The socket is shut in the request hook; raising ``ConnectionAbortedError`` here makes the
    server skip writing the response (werkzeug treats it as a dropped connection; servers that
    would write a 500 instead find the socket already shut).
    """

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        result = self.app(environ, start_response)
        if environ.get(DROP_ENVIRON_KEY):
            close = getattr(result, "close", None)
            if close is not None:
                close()
            # ECONNRESET: gunicorn logs that at debug level instead of a traceback per drop.
            raise ConnectionAbortedError(
                errno.ECONNRESET, "keycloak-mock: connection dropped by a scripted fault"
            )
        return result
