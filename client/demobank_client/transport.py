"""HTTP to Keycloak: one ``requests.Session`` with bounded retries and a timeout on every request.

Retries are urllib3's ``Retry`` on the session's adapter, not a loop of ours: connection errors
and 502/503/504 are repeated with exponential backoff, POST included (a repeated password grant
only opens one more session; a repeated refresh is at worst refused and answered by a login).
4xx answers are final.  ``Retry-After`` is honoured but capped, so a proxy asking for an hour
cannot stall the caller.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from . import decisions
from .errors import AuthError, TransportError, UnexpectedResponse, UnknownMandator, redact_request
from .settings import Settings

_log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({502, 503, 504})
#: The longest ``Retry-After`` we wait for between two attempts, in seconds.
RETRY_AFTER_MAX = 10.0
USER_AGENT = "demobank-keycloak-mock-client/0.1"


class _CappedRetry(Retry):
    """urllib3's ``Retry`` with ``Retry-After`` capped (``retry_after_max`` is urllib3 2.6+)."""

    def parse_retry_after(self, retry_after: str) -> float:
        return min(super().parse_retry_after(retry_after), RETRY_AFTER_MAX)


def retry_policy(settings: Settings) -> Retry:
    return _CappedRetry(
        total=settings.retries,
        connect=settings.retries,
        read=settings.retries,
        status=settings.retries,
        other=0,
        redirect=0,
        allowed_methods=frozenset({"GET", "POST"}),
        status_forcelist=RETRY_STATUSES,
        backoff_factor=settings.backoff_factor,
        raise_on_status=False,
        respect_retry_after_header=True,
    )


def build_session(settings: Settings) -> requests.Session:
    """A session for Keycloak's endpoints only; resource requests never get these retries."""
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry_policy(settings))
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    session.headers["Accept"] = "application/json"
    return session


def post_form(
    session: requests.Session,
    url: str,
    form: Mapping[str, str],
    *,
    settings: Settings,
    grant: str,
) -> tuple[requests.Response, Any]:
    """POST ``form``; return the 2xx response and its parsed JSON (``None`` for an empty body).

    Raises the ``AuthError`` subclass the answer means (``decisions.error_class``); the response
    an error keeps has its request body redacted.
    """
    started = time.monotonic()
    try:
        # ``verify`` per request: requests lets REQUESTS_CA_BUNDLE override a session's own.
        response = session.post(
            url, data=dict(form), timeout=settings.timeout, verify=settings.ca_bundle or True
        )
    except requests.RequestException as exc:
        # The retries already happened inside urllib3; this is the last attempt's failure.
        raise TransportError(f"no answer from {url}: {_reason(exc)}") from exc
    _log.debug(
        "POST %s (%s) -> %s in %.3f s", url, grant, response.status_code, time.monotonic() - started
    )
    body = _json_or_none(response)
    if 200 <= response.status_code < 300:
        if response.content and body is None:
            redact_request(response)
            raise UnexpectedResponse(
                f"{url} answered HTTP {response.status_code} with a non-JSON body",
                status=response.status_code,
                response=response,
            )
        return response, body
    raise error_from_response(url, response, body, grant)


def error_from_response(url: str, response: requests.Response, body: Any, grant: str) -> AuthError:
    cls = decisions.error_class(response.status_code, body, grant)
    error, description = decisions.error_fields(body)
    status = response.status_code
    if error is not None and cls is not UnexpectedResponse:
        message = (
            f"{description} ({error}, HTTP {status})" if description else f"{error} (HTTP {status})"
        )
        if cls is UnknownMandator:
            message = f"{message}: {url}"
    else:
        kind = response.headers.get("Content-Type", "no content type")
        message = f"{url} answered HTTP {status} ({kind}); is the Keycloak base URL right?"
        if status >= 500:
            message = f"Keycloak answered HTTP {status} at {url}"
    redact_request(response)
    return cls(
        message, error=error, error_description=description, status=status, response=response
    )


def _json_or_none(response: requests.Response) -> Any:
    if not response.content:
        return None
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def _reason(exc: requests.RequestException) -> str:
    """The innermost cause, without the URL and pool details requests stacks around it."""
    if isinstance(exc, requests.Timeout):
        return "timed out"
    cause: BaseException = exc
    seen = {id(exc)}
    while True:
        reason = getattr(cause, "reason", None)
        inner = reason if isinstance(reason, BaseException) else cause.__cause__
        inner = inner or cause.__context__
        if inner is None or id(inner) in seen:
            break
        seen.add(id(inner))
        cause = inner
    return f"{type(cause).__name__}: {cause}" if str(cause) else type(cause).__name__
