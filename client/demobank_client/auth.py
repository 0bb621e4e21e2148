"""requests integration: a bearer ``AuthBase`` that renews and resends once on 401.

Modelled on requests' ``HTTPDigestAuth.handle_401``: the 401 response is read and closed, the
request copied with a new ``Authorization`` header, its body rewound, and sent again on the same
connection adapter; the 401 stays in ``history``.  The resent request goes through the adapter,
not the session, so this hook does not see it again: a second 401 is returned, never a loop.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from requests.cookies import extract_cookies_to_jar

from .manager import TokenManager

_log = logging.getLogger(__name__)

#: Default timeout (seconds) ``authorized_session`` gives requests that set none.
DEFAULT_TIMEOUT = 30.0


class BearerAuth(AuthBase):
    """``Authorization: Bearer <token>`` from a shared ``TokenManager``, renewed on one 401."""

    def __init__(self, manager: TokenManager) -> None:
        self.manager = manager

    def __repr__(self) -> str:
        return f"<BearerAuth {self.manager!r}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BearerAuth) and other.manager is self.manager

    def __hash__(self) -> int:
        return hash(id(self.manager))

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        token = self.manager.access_token()
        request.headers["Authorization"] = f"Bearer {token}"
        position = _body_position(request.body)

        def handle_401(response: requests.Response, **kwargs: Any) -> requests.Response:
            return self._handle_401(response, token, position, **kwargs)

        request.hooks["response"].append(handle_401)
        return request

    def _handle_401(
        self,
        response: requests.Response,
        sent_token: str,
        position: int | None,
        **kwargs: Any,
    ) -> requests.Response:
        if response.status_code != 401:
            return response
        original = response.request
        if not _rewind(original.body, position):
            _log.debug("401 not retried: the request body cannot be sent again")
            return response
        fresh = self.manager.renew(sent_token).access_token
        # Release the connection of the 401 before we send on the adapter again.
        _ = response.content
        response.close()
        retry = original.copy()
        retry.hooks = {"response": []}  # the resend must not trigger another renewal
        jar = getattr(original, "_cookies", None)
        if jar is not None and response.raw is not None:
            extract_cookies_to_jar(jar, original, response.raw)  # type: ignore[no-untyped-call]
            retry.prepare_cookies(jar)
        retry.headers["Authorization"] = f"Bearer {fresh}"
        connection = response.connection
        second: requests.Response = connection.send(retry, **kwargs)
        second.history.append(response)
        second.request = retry
        _log.info(
            "resource answered 401; resent once with a renewed token -> %s", second.status_code
        )
        return second


def _body_position(body: Any) -> int | None:
    """Where a file-like body starts, so it can be rewound; ``None`` for other bodies."""
    tell = getattr(body, "tell", None)
    if tell is None:
        return None
    try:
        position = tell()
    except OSError:
        return None
    return position if isinstance(position, int) else None


def _rewind(body: Any, position: int | None) -> bool:
    """Make ``body`` sendable again; False for streams we cannot rewind (e.g. generators)."""
    if body is None or isinstance(body, (bytes, str)):
        return True
    if position is not None and hasattr(body, "seek"):
        try:
            body.seek(position)
        except OSError:
            return False
        return True
    return not isinstance(body, Iterable)


class _TimeoutAdapter(HTTPAdapter):
    """Gives every request a timeout: requests itself waits forever unless told otherwise."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.default_timeout = timeout

    def send(  # type: ignore[override]  # same signature, keyword-passed like requests does
        self, request: requests.PreparedRequest, timeout: Any = None, **kwargs: Any
    ) -> requests.Response:
        if timeout is None:
            timeout = self.default_timeout
        return super().send(request, timeout=timeout, **kwargs)


def authorized_session(
    manager: TokenManager, *, timeout: float = DEFAULT_TIMEOUT
) -> requests.Session:
    """A ``requests.Session`` that authenticates every request through ``manager``.

    Requests without an explicit ``timeout`` get ``timeout`` seconds.  Sessions are cheap: make
    one per thread if you like and share the manager, which holds the tokens.
    """
    session = requests.Session()
    session.auth = BearerAuth(manager)
    adapter = _TimeoutAdapter(timeout)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
