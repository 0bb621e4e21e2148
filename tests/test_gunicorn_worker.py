"""The image's worker against the gunicorn it is installed with, and its pure decisions.

The worker subclasses gunicorn's threaded worker and leans on methods gunicorn does not
document; pyproject pins the tested release range, and these tests fail first if a release in
that range changes them.  How the worker behaves over HTTP is tested in test_container.py.
"""

from __future__ import annotations

import importlib
import inspect
from urllib.parse import urlencode

import pytest
from gunicorn.workers.gthread import ThreadWorker

from keycloak_mock.imitation.limits import MAX_BODY_BYTES
from keycloak_mock.serving.gunicorn_worker import (
    EARLY_READ_LIMIT,
    GUNICORN_INTERNALS,
    GilAwareThreadWorker,
    request_arrived,
)

#: Signatures of the internals the worker overrides or calls, as gunicorn 27 has them.
EXPECTED_SIGNATURES = {
    "gunicorn.workers.gthread.ThreadWorker.enqueue_req": "(self, conn)",
    "gunicorn.workers.gthread.ThreadWorker.finish_request": "(self, conn, fs)",
    "gunicorn.workers.gthread.ThreadWorker.get_thread_pool": "(self)",
    "gunicorn.workers.gthread.ThreadWorker.handle": "(self, conn)",
    "gunicorn.workers.gthread.ThreadWorker.load_wsgi": "(self)",
    "gunicorn.workers.gthread.ThreadWorker.on_client_socket_readable": "(self, conn, client)",
    "gunicorn.workers.gthread.ThreadWorker.on_pending_socket_readable": "(self, conn, client)",
    "gunicorn.workers.gthread.ThreadWorker._cap_keepalive": "(self, deadline)",
    "gunicorn.workers.gthread.TConn.init": "(self)",
    "gunicorn.workers.gthread.TConn.close": "(self, graceful=False)",
    "gunicorn.workers.gthread.TConn.set_timeout": "(self)",
    "gunicorn.workers.gthread.PollableMethodQueue.defer": "(self, callback, *args)",
    "gunicorn.http.unreader.Unreader.unread": "(self, data)",
    "gunicorn.http.wsgi.Response.default_headers": "(self)",
}


def _resolve(dotted: str) -> object:
    parts = dotted.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            target: object = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for name in parts[split:]:
            target = getattr(target, name)
        return target
    raise AssertionError(f"cannot import {dotted}")


def test_every_internal_the_worker_uses_is_listed_with_its_signature() -> None:
    listed = {f"{owner}.{name}" for owner, names in GUNICORN_INTERNALS.items() for name in names}
    assert listed == set(EXPECTED_SIGNATURES)


@pytest.mark.parametrize(("dotted", "signature"), sorted(EXPECTED_SIGNATURES.items()))
def test_gunicorn_internal_is_there_as_tested(dotted: str, signature: str) -> None:
    assert str(inspect.signature(_resolve(dotted))) == signature  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("owner", "attribute"),
    [
        ("gunicorn.workers.gthread.ThreadWorker", "__init__"),
        ("gunicorn.workers.gthread.TConn", "__init__"),
    ],
)
def test_gunicorn_state_the_worker_reads_is_set_up(owner: str, attribute: str) -> None:
    """``pending_conns``, ``keepalived_conns``, ``poller``, ``method_queue``, ``nr_conns``,
    ``tpool`` of the worker and ``initialized``, ``data_ready``, ``parser``, ``sock``, ``timeout``
    of a connection: read from gunicorn's source, as they are set in ``__init__``/``init_process``.
    """
    source = inspect.getsource(_resolve(owner))  # type: ignore[arg-type]
    names = {
        "gunicorn.workers.gthread.ThreadWorker": (
            "self.pending_conns",
            "self.keepalived_conns",
            "self.poller",
            "self.method_queue",
            "self.nr_conns",
            "self.tpool",
        ),
        "gunicorn.workers.gthread.TConn": (
            "self.initialized",
            "self.data_ready",
            "self.parser",
            "self.sock",
            "self.timeout",
        ),
    }[owner]
    missing = [name for name in names if f"{name} =" not in source]
    assert missing == [], f"{owner} no longer sets {missing} ({attribute})"


def test_the_worker_subclasses_gunicorns_threaded_worker() -> None:
    assert issubclass(GilAwareThreadWorker, ThreadWorker)


# -- when has a request arrived (read by the poller before a thread takes it) ---------------
FORM = urlencode({"grant_type": "password", "username": "demo", "password": "demo"}).encode()
HEAD = (
    b"POST /realms/customer/protocol/openid-connect/token HTTP/1.1\r\nHost: kc\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\n"
)


@pytest.mark.parametrize(
    ("data", "arrived"),
    [
        (b"", False),
        (b"GET /health/ready HTT", False),
        (b"GET /health/ready HTTP/1.1\r\nHost: kc\r\n", False),
        (b"GET /health/ready HTTP/1.1\r\nHost: kc\r\n\r\n", True),
        (b"GET /health/ready HTTP/1.0\n\n", True),
        (HEAD + b"Content-Length: %d\r\n\r\n" % len(FORM) + FORM[:-1], False),
        (HEAD + b"Content-Length: %d\r\n\r\n" % len(FORM) + FORM, True),
        (HEAD + b"content-length:%d\r\n\r\n" % len(FORM) + FORM, True),
        (HEAD + b"Content-Length: %d\r\n\r\n" % len(FORM) + FORM + b"GET / HT", True),
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n", True),
        (HEAD + b"Expect: 100-continue\r\nContent-Length: 10\r\n\r\n", True),
        (HEAD + b"Content-Length: ten\r\n\r\n", True),
        (HEAD + b"Content-Length: %d\r\n\r\n" % (EARLY_READ_LIMIT + 1), True),
        (b"GET /?" + b"a" * EARLY_READ_LIMIT, True),
    ],
    ids=[
        "nothing",
        "half-a-request-line",
        "head-without-its-end",
        "head",
        "head-with-bare-newlines",
        "body-one-byte-short",
        "body",
        "lower-case-header",
        "pipelined-start-of-the-next",
        "chunked-read-by-the-thread",
        "expect-continue-read-by-the-thread",
        "bad-length-refused-by-the-parser",
        "too-long-body-refused-by-the-app",
        "endless-head-refused-by-the-parser",
    ],
)
def test_request_arrived(data: bytes, arrived: bool) -> None:
    assert request_arrived(data) is arrived


def test_the_poller_reads_any_body_the_app_accepts() -> None:
    assert EARLY_READ_LIMIT > MAX_BODY_BYTES
