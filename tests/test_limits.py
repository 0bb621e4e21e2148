"""Over-limit and malformed requests get a clear 4xx, the client reads it, and the server serves on.

Everything goes over a real loopback socket: part of what is tested is what the HTTP server does
(werkzeug's, the one tests and ``keycloak-mock`` use) before the app sees anything, and whether the
client receives the answer instead of a connection reset.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import requests

from keycloak_mock import MockServer
from keycloak_mock.imitation.limits import (
    MAX_BODY_BYTES,
    MAX_FORM_FIELDS,
    MAX_HEADER_BYTES,
    MAX_REQUEST_LINE,
)

TOKEN_PATH = "/realms/customer/protocol/openid-connect/token"
FORM = "application/x-www-form-urlencoded"
LOGIN = b"grant_type=password&client_id=demobank-cli&username=demo&password=demo"
TOO_LARGE = {"error": "invalid_request", "error_description": "Request body too large"}
TOO_MANY_FIELDS = {"error": "invalid_request", "error_description": "Too many form parameters"}
URI_TOO_LONG = {"error": "HTTP 414 Request URI Too Long"}
HEADERS_TOO_LARGE = {"error": "HTTP 431 Request Header Fields Too Large"}
BAD_CREDENTIALS = {"error": "invalid_grant", "error_description": "Invalid user credentials"}
#: A hang guard for raw sockets, not a speed assertion: every answer here takes milliseconds.
SOCKET_TIMEOUT = 20.0


@dataclasses.dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def raw_exchange(
    server: MockServer | Gunicorn, request: bytes, *, then_half_close: bool = False
) -> RawResponse:
    """Send ``request`` as is and read until the server closes: a reset fails the test.

    ``then_half_close`` ends the client's sending side after the request (the server reads the
    end of the stream) while the answer can still be read.
    """
    # Gunicorn or MockServer: both have ``port``.
    with socket.create_connection(("127.0.0.1", server.port), timeout=SOCKET_TIMEOUT) as sock:
        sock.sendall(request)
        if then_half_close:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawResponse(int(status_line.split()[1]), headers, body)


def post_form(server: MockServer, body: bytes, extra: bytes = b"") -> bytes:
    return (
        f"POST {TOKEN_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {FORM}\r\n"
        f"Content-Length: {len(body)}\r\n".encode()
        + extra
        + b"\r\n"
        + body
    )


def post(server: MockServer, body: bytes) -> requests.Response:
    return requests.post(
        server.url + TOKEN_PATH, data=body, headers={"Content-Type": FORM}, timeout=10
    )


def padded_login(total: int) -> bytes:
    """A valid password-grant form padded with an ignored field to exactly ``total`` bytes."""
    prefix = LOGIN + b"&pad="
    return prefix + b"x" * (total - len(prefix))


@pytest.fixture
def server(keycloak_mock: MockServer) -> Iterator[MockServer]:
    yield keycloak_mock
    # Whatever the test sent, the server still answers the next client.
    assert requests.get(f"{keycloak_mock.url}/health/ready", timeout=10).status_code == 200


# -- body size -----------------------------------------------------------------------------


def test_ten_megabyte_body_is_413_and_the_client_reads_it(server: MockServer) -> None:
    body = b"password=" + b"x" * (10 * 1000 * 1000)
    response = requests.post(
        server.url + TOKEN_PATH, data=body, headers={"Content-Type": FORM}, timeout=30
    )
    assert response.status_code == 413
    assert response.json() == TOO_LARGE
    assert response.headers["Content-Type"] == "application/json"


def test_ten_megabyte_body_on_a_raw_socket_ends_with_the_413_and_a_clean_close(
    server: MockServer,
) -> None:
    """The body is drained before the answer, so the close is a FIN, not a reset."""
    response = raw_exchange(server, post_form(server, b"a=" + b"x" * (10 * 1024 * 1024)))
    assert response.status == 413
    assert json.loads(response.body) == TOO_LARGE
    assert response.headers["connection"] == "close"


def test_chunked_body_over_the_limit_is_413(server: MockServer) -> None:
    """Without Content-Length the limit is only found while reading; the form is not cut off."""

    def chunks() -> Iterator[bytes]:
        yield LOGIN + b"&pad="
        for _ in range(200):
            yield b"x" * 10240

    response = requests.post(
        server.url + TOKEN_PATH, data=chunks(), headers={"Content-Type": FORM}, timeout=30
    )
    assert (response.status_code, response.json()) == (413, TOO_LARGE)


@pytest.mark.parametrize(
    ("size", "status"),
    [(MAX_BODY_BYTES, 200), (MAX_BODY_BYTES + 1, 413)],
    ids=["at the limit", "one byte over"],
)
def test_body_limit_boundary(server: MockServer, size: int, status: int) -> None:
    body = padded_login(size)
    assert len(body) == size
    response = post(server, body)
    assert response.status_code == status
    if status == 413:
        assert response.json() == TOO_LARGE
    else:
        assert response.json()["token_type"] == "Bearer"


# -- form fields ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra_fields", "status"),
    [(MAX_FORM_FIELDS - 4, 200), (MAX_FORM_FIELDS - 3, 400)],
    ids=["at the limit", "one field over"],
)
def test_form_field_count(server: MockServer, extra_fields: int, status: int) -> None:
    body = LOGIN + b"".join(b"&f%d=1" % i for i in range(extra_fields))
    response = post(server, body)
    assert response.status_code == status
    if status == 400:
        assert response.json() == TOO_MANY_FIELDS
        assert response.headers["Content-Type"] == "application/json"


def test_one_long_field_within_the_body_limit_is_read_whole(server: MockServer) -> None:
    """A 60 KiB password is compared in full (and is wrong), not truncated or refused."""
    body = b"grant_type=password&client_id=demobank-cli&username=demo&password=" + b"d" * 60_000
    response = post(server, body)
    assert (response.status_code, response.json()) == (401, BAD_CREDENTIALS)


# -- request line and headers --------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_bytes", "status", "body"),
    [
        pytest.param(
            b"GET /health?" + b"q" * MAX_REQUEST_LINE + b" HTTP/1.1\r\nHost: x\r\n\r\n",
            414,
            URI_TOO_LONG,
            id="request line over 4096 (app)",
        ),
        pytest.param(
            b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
            414,
            URI_TOO_LONG,
            id="request line over 64 KiB (server)",
        ),
        pytest.param(
            b"GET /health HTTP/1.1\r\nHost: x\r\n"
            + b"".join(b"X-Pad-%d: %s\r\n" % (i, b"p" * 5000) for i in range(5))
            + b"\r\n",
            431,
            HEADERS_TOO_LARGE,
            id="headers over 20 KiB in total (app)",
        ),
        pytest.param(
            b"GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * 70_000 + b"\r\n\r\n",
            431,
            HEADERS_TOO_LARGE,
            id="one header line over 64 KiB (server)",
        ),
        pytest.param(
            b"GET /health HTTP/1.1\r\nHost: x\r\n"
            + b"".join(b"X-Pad-%d: p\r\n" % i for i in range(150))
            + b"\r\n",
            431,
            HEADERS_TOO_LARGE,
            id="over 100 header lines (server)",
        ),
        pytest.param(
            b"GARBAGE\r\n\r\n", 400, {"error": "HTTP 400 Bad Request"}, id="no request line"
        ),
        pytest.param(
            b"GET /health?access_token=SECRET HTTP/9.9\r\n\r\n",
            505,
            {"error": "HTTP 505 HTTP Version Not Supported"},
            id="unknown HTTP version",
        ),
    ],
)
def test_request_line_and_header_limits(
    server: MockServer, request_bytes: bytes, status: int, body: dict[str, str]
) -> None:
    response = raw_exchange(server, request_bytes)
    assert response.status == status
    assert response.headers["content-type"] == "application/json"
    assert response.body == json.dumps(body, separators=(",", ":")).encode()
    assert b"SECRET" not in response.body


def test_headers_just_under_the_limit_pass(server: MockServer) -> None:
    pad = "p" * (MAX_HEADER_BYTES - 1024)
    response = requests.get(f"{server.url}/health", headers={"X-Pad": pad}, timeout=10)
    assert response.status_code == 200


# -- malformed forms and bytes -------------------------------------------------------------

MISSING_GRANT = {
    "error": "invalid_request",
    "error_description": "Missing form parameter: grant_type",
}
UNSUPPORTED = {"error": "unsupported_grant_type", "error_description": "Unsupported grant_type"}


@pytest.mark.parametrize(
    ("body", "status", "expected"),
    [
        pytest.param(
            LOGIN.replace(b"password=demo", b"password=\xff\xfe"),
            401,
            BAD_CREDENTIALS,
            id="invalid UTF-8 password is just wrong",
        ),
        pytest.param(
            LOGIN.replace(b"password=demo", b"password=%FF%FE"),
            401,
            BAD_CREDENTIALS,
            id="percent-encoded invalid UTF-8",
        ),
        pytest.param(b"grant_type=\xc3", 400, UNSUPPORTED, id="truncated UTF-8 grant_type"),
        pytest.param(b"grant_type=%E2%82", 400, UNSUPPORTED, id="truncated percent UTF-8"),
        pytest.param(b"&&&===&&", 400, MISSING_GRANT, id="only separators"),
        pytest.param(b"grant_type", 400, UNSUPPORTED, id="key without value is empty"),
        pytest.param(b"%zz=%&grant_type=password%", 400, UNSUPPORTED, id="broken escapes"),
        pytest.param(b"\x00\x01\x02=\x03", 400, MISSING_GRANT, id="control bytes"),
        pytest.param(
            b"grant_type=password\x00&client_id=demobank-cli",
            400,
            UNSUPPORTED,
            id="NUL inside a value",
        ),
        pytest.param(
            LOGIN.replace(b"username=demo", b"username=d%C3%A9mo"),
            401,
            BAD_CREDENTIALS,
            id="non-ASCII username",
        ),
    ],
)
def test_malformed_forms_get_keycloak_errors(
    server: MockServer, body: bytes, status: int, expected: dict[str, str]
) -> None:
    response = post(server, body)
    assert (response.status_code, response.json()) == (status, expected)


def test_form_with_a_declared_charset_is_still_a_form(server: MockServer) -> None:
    response = requests.post(
        server.url + TOKEN_PATH,
        data=LOGIN,
        headers={"Content-Type": f"{FORM}; charset=ISO-8859-1"},
        timeout=10,
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "content_length",
    [b"abc", b"-5", b"99999999999999999999999"],
    ids=["not a number", "negative", "absurdly large"],
)
def test_nonsense_content_length_is_a_4xx(server: MockServer, content_length: bytes) -> None:
    request = (
        f"POST {TOKEN_PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: {FORM}\r\n".encode()
        + b"Content-Length: "
        + content_length
        + b"\r\n\r\n"
        + LOGIN
    )
    response = raw_exchange(server, request)
    assert 400 <= response.status < 500
    assert response.headers["content-type"] == "application/json"


@pytest.mark.parametrize("server_name", ["server", "gunicorn"])
def test_body_shorter_than_its_content_length_is_a_json_400(
    server_name: str, request: pytest.FixtureRequest
) -> None:
    """The client stops sending before the declared length: an answer, not a hang or a 500."""
    target = request.getfixturevalue(server_name)
    truncated = (
        f"POST {TOKEN_PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: {FORM}\r\n".encode()
        + f"Content-Length: {len(LOGIN) + 20}\r\nConnection: close\r\n\r\n".encode()
        + LOGIN
    )
    response = raw_exchange(target, truncated, then_half_close=True)
    assert response.status == 400
    assert response.headers["content-type"] == "application/json"
    assert json.loads(response.body) == {"error": "HTTP 400 Bad Request"}


# -- the same limits under gunicorn, as the container runs it ------------------------------


class Gunicorn:
    """``gunicorn`` with the container's settings, on a free loopback port."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def gunicorn() -> Iterator[Gunicorn]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "KEYCLOAK_MOCK_PORT": str(port), "KEYCLOAK_MOCK_HOST": "127.0.0.1"}
    command = [
        sys.executable, "-m", "gunicorn", "--config", "python:keycloak_mock.serving.gunicorn_conf",
        "keycloak_mock.serving.wsgi:app_from_env()",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    server = Gunicorn(port)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if requests.get(f"{server.url}/health/ready", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.05)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(15)


@pytest.mark.parametrize(
    ("body", "status", "expected"),
    [
        pytest.param(b"password=" + b"x" * (10 * 1000 * 1000), 413, TOO_LARGE, id="10 MB body"),
        pytest.param(
            LOGIN + b"".join(b"&f%d=1" % i for i in range(MAX_FORM_FIELDS)),
            400, TOO_MANY_FIELDS, id="too many fields",
        ),
        pytest.param(LOGIN.replace(b"password=demo", b"password=\xff"), 401, BAD_CREDENTIALS,
                     id="invalid UTF-8"),
    ],
)  # fmt: skip
def test_gunicorn_body_limits(
    gunicorn: Gunicorn, body: bytes, status: int, expected: dict[str, str]
) -> None:
    response = requests.post(
        gunicorn.url + TOKEN_PATH, data=body, headers={"Content-Type": FORM}, timeout=30
    )
    assert (response.status_code, response.json()) == (status, expected)
    assert requests.get(f"{gunicorn.url}/health/ready", timeout=10).status_code == 200


def test_gunicorn_chunked_body_over_the_limit_is_413(gunicorn: Gunicorn) -> None:
    def chunks() -> Iterator[bytes]:
        yield LOGIN + b"&pad="
        for _ in range(200):
            yield b"x" * 10240

    response = requests.post(
        gunicorn.url + TOKEN_PATH, data=chunks(), headers={"Content-Type": FORM}, timeout=30
    )
    assert (response.status_code, response.json()) == (413, TOO_LARGE)


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        pytest.param(
            b"GET /health?" + b"q" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
            414, id="request line over 8190",
        ),
        pytest.param(
            b"GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * 70_000 + b"\r\n\r\n",
            431, id="one header line over 64 KiB",
        ),
        pytest.param(
            b"GET /health HTTP/1.1\r\nHost: x\r\n"
            + b"".join(b"X-Pad-%d: p\r\n" % i for i in range(150))
            + b"\r\n",
            431, id="over 100 header lines",
        ),
    ],
)  # fmt: skip
def test_gunicorn_refuses_what_never_reaches_the_app(
    gunicorn: Gunicorn, request_bytes: bytes, status: int
) -> None:
    """Beyond the app's limits (tests/test_container.py compares those with werkzeug's), gunicorn
    itself refuses, with a 4xx, at once, and serves on."""
    response = raw_exchange(gunicorn, request_bytes)
    assert response.status == status
    assert requests.get(f"{gunicorn.url}/health/ready", timeout=10).status_code == 200
