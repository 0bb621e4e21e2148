"""Request limits: whatever a client sends, it gets a clear 4xx quickly, never a hang or a reset.

The numbers follow the Quarkus HTTP layer that Keycloak runs on (``quarkus.http.limits.*``):
request line 4096 bytes, all headers together 20 KiB, at most 256 form fields.  The body limit is
the mock's own and far lower than Keycloak's 10 MiB: no OAuth form is anywhere near 64 KiB, and a
small limit keeps a misbehaving client from making the mock buffer megabytes per thread.

The checks live in the app, not in the HTTP server, so they hold under werkzeug's server (tests,
``keycloak-mock``) and gunicorn (the container) alike.  What the app cannot see because the server
refuses first (werkzeug: header lines over 64 KiB; gunicorn: its ``limit_request_*`` settings) is
still a 4xx, from the server.

An over-long body is *read and discarded* before the 413 is sent, up to ``DRAIN_LIMIT``: a server
that closes a socket with unread data in it makes the kernel send a reset, and the client then
sees "connection reset" instead of the 413.
"""

from __future__ import annotations

import time
from io import BytesIO
from typing import IO, Any
from urllib.parse import parse_qsl

from flask import Flask, Request, request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import ClientDisconnected, HTTPException, RequestEntityTooLarge
from werkzeug.formparser import FormDataParser
from werkzeug.http import HTTP_STATUS_CODES

from .errors import InvalidRequest
from .http import current_request, json_response

MAX_BODY_BYTES = 64 * 1024
MAX_FORM_FIELDS = 256
MAX_REQUEST_LINE = 4096
MAX_HEADER_BYTES = 20 * 1024
#: An over-long body up to this size is drained so that the client reads the 413; beyond it the
#: server just closes (a client that sends that much is not an OAuth client).
DRAIN_LIMIT = 32 * 1024 * 1024
_DRAIN_SECONDS = 5.0
_CHUNK = 64 * 1024


_BODY_HEADERS = frozenset({"CONTENT_TYPE", "CONTENT_LENGTH"})
_PREFIXED_BODY_HEADERS = frozenset({"HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"})


class UriTooLong(HTTPException):
    code = 414


class HeadersTooLarge(HTTPException):
    code = 431


class LenientFormParser(FormDataParser):
    """Parses url-encoded forms the way Keycloak's Java stack does, and counts the fields.

    werkzeug decodes the body as strict UTF-8 and, on a single bad byte, silently returns an empty
    form, so a client would be told ``Missing form parameter: grant_type`` about a form that has
    one.  Java replaces undecodable bytes with U+FFFD and carries on; so do we.  werkzeug offers no
    public hook for this, so the private ``_parse_urlencoded`` is overridden: pinned and guarded
    like ``LimitedRequest._load_form_data``.
    """

    def _parse_urlencoded(
        self,
        stream: IO[bytes],
        mimetype: str,
        content_length: int | None,
        options: dict[str, str],
    ) -> tuple[IO[bytes], MultiDict[str, Any], MultiDict[str, Any]]:
        raw = stream.read()
        if content_length is None and len(raw) >= MAX_BODY_BYTES:
            # A chunked body: werkzeug's stream stops at the limit without saying so, and parsing
            # the cut-off form would answer as if fields were missing.  What is left can be read
            # to its end (the server de-chunks it), so drain it and refuse.
            discard_body(request.environ)
            raise RequestEntityTooLarge()
        return stream, self.cls(parse_form(raw)), self.cls()


def parse_form(raw: bytes) -> list[tuple[str, str]]:
    """The fields of a url-encoded body, decoded as Java does, at most ``MAX_FORM_FIELDS``."""
    text = raw.decode("utf-8", "replace")
    # A field is a non-empty '&'-separated part, as parse_qsl counts them.
    if sum(1 for part in text.split("&") if part) > MAX_FORM_FIELDS:
        raise InvalidRequest("Too many form parameters")
    return parse_qsl(text, keep_blank_values=True, errors="replace")


class LimitedRequest(Request):
    form_data_parser_class = LenientFormParser

    def _load_form_data(self) -> None:
        """Parse the common form (url-encoded, with a Content-Length within the limit) directly.

        Overrides a private werkzeug method, pinned and guarded (tests/test_dependency_guards.py),
        for two reasons.  A body shorter than its Content-Length must be a 400, as in Keycloak,
        but under gunicorn werkzeug's general path parses the short body as if it were whole.
        And every token, logout and introspection call sends such a form: reading it in one
        call of exactly the declared length skips the parser, limited stream and reader that
        werkzeug builds per request (docs/design/dependency-overrides.md has the count).
        Everything else (chunked bodies, other types, oversized bodies, a body already read)
        takes werkzeug's path with ``LenientFormParser``.
        """
        if "form" in self.__dict__:
            return
        length = self.content_length
        if (
            length is None
            or length > MAX_BODY_BYTES
            or self.mimetype != "application/x-www-form-urlencoded"
            or "stream" in self.__dict__
            or getattr(self, "_cached_data", None) is not None
        ):
            super()._load_form_data()
            return
        raw = self.environ["wsgi.input"].read(length) if length else b""
        if len(raw) < length:
            raise ClientDisconnected()
        fields = self.parameter_storage_class(parse_form(raw))
        state = self.__dict__
        state["stream"], state["form"] = BytesIO(), fields
        state["files"] = self.parameter_storage_class()


def install(app: Flask) -> None:
    """Apply the limits to ``app`` (called by ``create_app``)."""
    app.request_class = LimitedRequest
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES, MAX_FORM_PARTS=MAX_FORM_FIELDS)
    app.before_request(_check_request_size)
    app.register_error_handler(UriTooLong, _limit_error)
    app.register_error_handler(HeadersTooLarge, _limit_error)


def _limit_error(error: HTTPException) -> Any:
    code = error.code or 400
    return json_response({"error": f"HTTP {code} {HTTP_STATUS_CODES[code]}"}, code)


def _check_request_size() -> None:
    req = current_request()
    environ = req.environ
    uri = environ.get("RAW_URI") or environ.get("REQUEST_URI") or req.full_path
    request_line = len(req.method) + len(uri) + len(environ.get("SERVER_PROTOCOL", "")) + 2
    if request_line > MAX_REQUEST_LINE:
        raise UriTooLong()
    # Straight from the environ, counting what ``request.headers`` yields without rebuilding every
    # name (this runs on every request): ``HTTP_X_Y`` is the header ``X-Y``, 5 characters longer;
    # Content-Type and Content-Length arrive without the prefix, and only when not empty.
    header_bytes = sum(
        len(key) - 5 + len(value) + 4 if key[:5] == "HTTP_" else len(key) + len(value) + 4
        for key, value in environ.items()
        if (key[:5] == "HTTP_" and key not in _PREFIXED_BODY_HEADERS)
        or (key in _BODY_HEADERS and value)
    )
    if header_bytes > MAX_HEADER_BYTES:
        raise HeadersTooLarge()
    length = req.content_length
    if length is not None and length > MAX_BODY_BYTES:
        discard_body(environ)
        raise RequestEntityTooLarge()


def discard_body(environ: dict[str, Any]) -> None:
    """Read what is left of the request body and throw it away, within bounds.

    Reads at most the declared ``Content-Length`` (reading past it would block on a keep-alive
    socket), or up to the end of a chunked body the server has de-chunked.  Stops at
    ``DRAIN_LIMIT`` bytes or after ``_DRAIN_SECONDS``.
    """
    stream = environ.get("wsgi.input")
    if stream is None:
        return
    try:
        declared = int(environ.get("CONTENT_LENGTH") or -1)
    except ValueError:
        return
    if declared < 0 and not environ.get("wsgi.input_terminated"):
        return
    if declared > DRAIN_LIMIT:
        return
    remaining = declared if declared >= 0 else DRAIN_LIMIT
    deadline = time.monotonic() + _DRAIN_SECONDS
    try:
        while remaining > 0 and time.monotonic() < deadline:
            chunk = stream.read(min(_CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
    except (OSError, ValueError):
        # The client went away or sent a broken chunk: nothing left to protect.
        return
