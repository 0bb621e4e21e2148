"""gunicorn's threaded worker, tuned for a process whose requests mostly hold the GIL.

Four changes to gunicorn's ``gthread``; figures in ``docs/design/server.md``.

**A connection takes a thread only once its request has arrived.**  ``gthread`` hands every new
connection to a pool thread at accept, which then waits up to 5 s for the first byte and, once
bytes come, blocks until the whole request head is read.  With two threads, two connections
that send nothing (a pool that pre-connects, a browser's speculative connection, a TCP probe)
stall every other client for seconds, and half-sent requests stall it for good.  Here gunicorn's
poller thread reads new connections, and kept-alive ones that speak again, without blocking
until the head and the body it announces are in (``request_arrived``); only then does a thread
take the connection, with those bytes handed to gunicorn's parser.  Connections that never
complete a request are closed after gunicorn's keep-alive timeout, as gunicorn closes idle
kept-alive ones.  Under TLS the poller cannot read the request (the handshake and decryption
run in the thread), so there it only waits for the first byte.

**Busy keep-alive connections are watched by the worker threads, not the poller.**  ``gthread``
hands every keep-alive connection back to its poller thread after each answer; the poller wakes
up when the next request arrives and hands the connection to a pool thread again.  That round
trip (a pipe write, an epoll registration, a future, and thread wake-ups with a GIL hand-off
each) is a large share of the server's own CPU per request.  Here an answered connection goes
into a selector of the worker's own for ``NEXT_REQUEST_WAIT_SECONDS``: one thread at a time,
holding no running place, waits on it without the GIL and queues each connection whose next
request arrives.  A connection that stays quiet goes back to gunicorn's poller, so idle pooled
connections never hold a thread and gunicorn still applies its keep-alive timeout.

**Connections with a request queue in arrival order for a running place.**  gunicorn's
``--threads`` is the number of requests that run at once.  Every running request past two only
adds GIL hand-offs here (signing, the one long step, already overlaps with the other thread's
Python), so the image runs two.  A thread that finishes takes the next queued connection itself
instead of waking another thread, and busy clients are served in turn.

**A request asleep in a delay fault gives its place away.**  With two places, two requests
sleeping in a scripted ``delay`` fault would hold up the health check and the control call that
clears the fault.  The app sleeps through ``environ[PARK_ENVIRON_KEY]``
(``faults.sleep_for_delay``): meanwhile its place goes to the next queued request, on one of
``PARKING_THREADS`` extra pool threads (started only when needed).

One change that is not about load: answers carry the transport headers Keycloak's do, so no
``Server: gunicorn``, no ``Date`` and no ``Connection: keep-alive`` on HTTP/1.1.

Everything else stays gunicorn's own: the parser, keep-alive timeouts, graceful shutdown and the
socket in the environ (the "drop" fault needs it).  What the subclass relies on of gunicorn's
internals is listed in ``GUNICORN_INTERNALS`` and checked by ``tests/test_gunicorn_worker.py``
against the installed gunicorn; the ``container`` extra pins the release range it was tested on.
"""

from __future__ import annotations

import math
import selectors
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent import futures
from contextlib import contextmanager
from functools import partial
from typing import Any, Final

from gunicorn.http import wsgi as gunicorn_wsgi
from gunicorn.http.wsgi import Response
from gunicorn.workers.gthread import ThreadWorker

from keycloak_mock.controls.injection import PARK_ENVIRON_KEY
from keycloak_mock.imitation.limits import MAX_BODY_BYTES

#: How long an answered connection is watched for its next request before it goes back to
#: gunicorn's poller.  A client that sends its next request as soon as it has read the answer
#: (a load test, a refresh loop) does so within 0.2 ms on loopback.
NEXT_REQUEST_WAIT_SECONDS = 0.002
#: Requests that can sleep in a delay fault without holding a running place; past that, a
#: sleeping request keeps its place, as under plain ``gthread``.
PARKING_THREADS = 16
#: Most the poller reads of one request before a thread takes it anyway: a body the app accepts
#: and a generous head.  Past it gunicorn's parser and the app's limits decide, as before.
EARLY_READ_LIMIT: Final = MAX_BODY_BYTES + 64 * 1024
#: Bytes read from a connection per readiness event.
_READ_SIZE: Final = 65536
#: Where a connection keeps what the poller has read of its request so far.
_EARLY: Final = "keycloak_mock_early"

#: gunicorn internals this module relies on: ``ThreadWorker`` methods it overrides or calls and
#: the attributes it reads, by owner.  A gunicorn that lacks one fails the suite, not the image.
GUNICORN_INTERNALS: Final = {
    "gunicorn.workers.gthread.ThreadWorker": (
        "enqueue_req",
        "finish_request",
        "get_thread_pool",
        "handle",
        "load_wsgi",
        "on_client_socket_readable",
        "on_pending_socket_readable",
        "_cap_keepalive",
    ),
    "gunicorn.workers.gthread.TConn": ("init", "close", "set_timeout"),
    "gunicorn.workers.gthread.PollableMethodQueue": ("defer",),
    "gunicorn.http.unreader.Unreader": ("unread",),
    "gunicorn.http.wsgi.Response": ("default_headers",),
}


class GilAwareThreadWorker(ThreadWorker):  # type: ignore[misc]  # gunicorn ships no types
    """``gthread`` that watches busy connections itself and runs a few requests at a time."""

    wsgi: Callable[..., Iterable[bytes]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Guards everything below; held only for bookkeeping, never across I/O.
        self._places_lock = threading.Lock()
        #: Connections with a request, waiting for a running place, in arrival order.
        self._waiting: deque[Any] = deque()
        self._running = 0
        self._parked = 0
        #: Answered connections watched for their next request: socket -> (conn, give-up time),
        #: in the order they were answered, so the first one is the next to give up.
        self._watched: dict[Any, tuple[Any, float]] = {}
        self._watch_selector = selectors.DefaultSelector()
        self._someone_watches = False
        #: Whether the poller can read requests: plain HTTP/1, no TLS and no h2c preface
        #: sniffing.  Read once: gunicorn's settings are looked up through Python code.
        self._reads_early = not self.cfg.is_ssl and (
            getattr(self.cfg, "http2_cleartext", "off") == "off"
        )

    def get_thread_pool(self) -> futures.ThreadPoolExecutor:
        # Threads are started on demand: past ``threads`` only while requests are parked, plus
        # the one that watches answered connections.
        return futures.ThreadPoolExecutor(max_workers=self.cfg.threads + PARKING_THREADS + 1)

    def load_wsgi(self) -> None:
        super().load_wsgi()
        # gunicorn builds every HTTP/1 response through ``wsgi.create``, which looks its class up
        # by this module-level name at each call.  Set here, in the worker process only.  (Giving
        # each response the subclass afterwards counted slower in benchmarks/instructions.py: an
        # object whose class changes loses CPython's fast attribute reads in all of gunicorn's
        # response code.)
        gunicorn_wsgi.Response = _KeycloakHeadersResponse
        app = self.wsgi
        park = self._parked_request

        def app_with_parking(
            environ: dict[str, Any], start_response: Callable[..., Any]
        ) -> Iterable[bytes]:
            environ[PARK_ENVIRON_KEY] = park
            return app(environ, start_response)

        self.wsgi = app_with_parking

    # -- places ---------------------------------------------------------------------------
    def enqueue_req(self, conn: Any) -> None:
        """A connection with a request (from gunicorn's poller): run it, or queue it.

        gunicorn's accept hands every new connection here before it has sent anything; those
        wait in the poller until their request has arrived.
        """
        if not conn.initialized and not conn.data_ready:
            self._await_request(conn)
            return
        with self._places_lock:
            if self._running >= self.cfg.threads:
                self._waiting.append(conn)
                return
            self._running += 1
        self.tpool.submit(self._run, conn)

    def _run(self, conn: Any) -> None:
        """Serve ``conn``, then whatever is queued next, while this thread holds a place."""
        while conn is not None:
            try:
                result, error = self.handle(conn), None
            except BaseException as exc:
                result, error = None, exc
            if error is not None or result is not True or not self.alive:
                # gunicorn's finish_request takes the future the pool would have made; only this
                # path builds one (a Future per request cost about 3 % of the worker's Python).
                outcome: futures.Future[Any] = futures.Future()
                if error is not None:
                    # As the pool's own future would: finish_request closes the connection.
                    outcome.set_exception(error)
                else:
                    outcome.set_result(result)
                self.method_queue.defer(self.finish_request, conn, outcome)
            elif _has_buffered_request(conn):
                with self._places_lock:
                    self._waiting.append(conn)
            else:
                self._watch(conn)
            conn = self._next_connection()

    def _next_connection(self, *, holding_place: bool = True) -> Any:
        """The next queued connection for this thread's place, or ``None`` once it is given up.

        With nothing queued the thread gives its place up and, unless another thread already
        does, watches the answered connections until one has a request (which it then serves,
        if a place is free) or none is left to watch.
        """
        while True:
            with self._places_lock:
                limit = self.cfg.threads if holding_place else self.cfg.threads - 1
                if self._waiting and self._running <= limit:
                    # A watcher that goes back to serving hands the watching on.
                    hand_on = not holding_place and bool(self._watched)
                    if not holding_place:
                        self._running += 1
                    conn = self._waiting.popleft()
                    break
                if holding_place:
                    self._running -= 1
                    holding_place = False
                if self._someone_watches or not self._watched:
                    return None
                if not self.alive:
                    self._give_back_quiet(math.inf)
                    return None
                self._someone_watches = True
                give_up_at = next(iter(self._watched.values()))[1]
            ready = self._watch_selector.select(max(give_up_at - time.monotonic(), 0.0))
            with self._places_lock:
                self._someone_watches = False
                for key, _ in ready:
                    arrived = self._read_early(key.data) if self._reads_early else True
                    if arrived is False:
                        # Part of the request: most clients (http.client, urllib3) write the
                        # head and the body separately, so the rest is on its way.  It stays
                        # watched until its give-up time, then gunicorn's poller waits for it.
                        continue
                    self._unwatch(key.fileobj)
                    if arrived:
                        self._waiting.append(key.data)
                    else:
                        self._close_before_request(key.data)
                helpers = []
                while len(self._waiting) > 1 and self._running < self.cfg.threads - 1:
                    self._running += 1
                    helpers.append(self._waiting.popleft())
                self._give_back_quiet(time.monotonic())
            for helper in helpers:
                self.tpool.submit(self._run, helper)
        if hand_on:
            self.tpool.submit(self._watch_for_others)
        return conn

    def _watch_for_others(self) -> None:
        """Watch the answered connections on a thread without a place, then serve as usual."""
        self._run(self._next_connection(holding_place=False))

    @contextmanager
    def _parked_request(self) -> Iterator[None]:
        """Give this request's running place to the next queued one while it sleeps."""
        with self._places_lock:
            parked = self._parked < PARKING_THREADS
            successor = None
            if parked:
                self._parked += 1
                self._running -= 1
                if self._waiting and self._running < self.cfg.threads:
                    successor = self._waiting.popleft()
                    self._running += 1
        if successor is not None:
            self.tpool.submit(self._run, successor)
        try:
            yield
        finally:
            if parked:
                # Back to running, even past ``threads`` for a moment: when this request ends,
                # its thread takes the next queued one only while running stays within
                # ``threads``.
                with self._places_lock:
                    self._parked -= 1
                    self._running += 1

    # -- connections whose request has not arrived yet --------------------------------------
    def handle(self, conn: Any) -> bool:
        """gunicorn's ``handle``, with what the poller already read of the request put back."""
        early = getattr(conn, _EARLY, b"")
        if early:
            setattr(conn, _EARLY, b"")
            # Plain HTTP/1 here (see __init__): builds the parser without I/O.  gunicorn's
            # handle makes the socket blocking again before the parser reads.
            conn.init()
            conn.parser.unreader.unread(early)
        handled: bool = super().handle(conn)
        return handled

    def on_client_socket_readable(self, conn: Any, client: Any) -> None:
        """A kept-alive connection speaks again: in gunicorn's poller until its request is in."""
        if not self._reads_early:
            super().on_client_socket_readable(conn, client)
            return
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._await_request(conn)
        self._on_request_bytes(conn, client)

    def _await_request(self, conn: Any) -> None:
        """In the poller thread: watch ``conn`` without a thread until its request is in.

        Kept with gunicorn's own pending connections, so gunicorn closes it after its
        keep-alive timeout and a stopping worker counts it as open.
        """
        conn.sock.setblocking(False)
        conn.set_timeout()
        self.pending_conns.append(conn)
        if self._reads_early:
            callback = partial(self._on_request_bytes, conn)
        else:
            callback = partial(self.on_pending_socket_readable, conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, callback)

    def _on_request_bytes(self, conn: Any, client: Any) -> None:
        """In the poller thread: ``conn`` has bytes; a thread takes it once its request is in."""
        arrived = self._read_early(conn)
        if arrived is False:
            return
        self.poller.unregister(client)
        self.pending_conns.remove(conn)
        if arrived:
            conn.data_ready = True
            self.enqueue_req(conn)
        else:
            self._close_before_request(conn)

    def _read_early(self, conn: Any) -> bool | None:
        """Read what is there without waiting: has the request arrived (``None``: gone)?"""
        early = getattr(conn, _EARLY, b"")
        try:
            chunk = conn.sock.recv(_READ_SIZE, socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            return None
        if not chunk:
            # The client stopped sending.  With part of a request sent it may still wait for an
            # answer (a half-close after a short body): the parser and the app give it one.
            return True if early else None
        early += chunk
        setattr(conn, _EARLY, early)
        return request_arrived(early)

    def _close_before_request(self, conn: Any) -> None:
        """The client left before its request was in: nothing to answer, gunicorn closes it."""
        setattr(conn, _EARLY, b"")
        gone: futures.Future[Any] = futures.Future()
        gone.set_result(False)
        self.method_queue.defer(self.finish_request, conn, gone)

    def _cap_keepalive(self, deadline: float) -> None:
        # A stopping worker gives connections that never sent a request the linger gunicorn
        # gives kept-alive ones, instead of their whole timeout.
        super()._cap_keepalive(deadline)
        for conn in self.pending_conns:
            conn.timeout = min(conn.timeout, deadline)

    # -- watched connections --------------------------------------------------------------
    def _watch(self, conn: Any) -> None:
        with self._places_lock:
            try:
                self._watch_selector.register(conn.sock, selectors.EVENT_READ, conn)
            except (OSError, ValueError):
                pass  # closed under us: gunicorn's own path below decides what happens next
            else:
                self._watched[conn.sock] = (conn, time.monotonic() + NEXT_REQUEST_WAIT_SECONDS)
                return
        self._give_back(conn)

    def _unwatch(self, sock: Any) -> None:
        del self._watched[sock]
        self._watch_selector.unregister(sock)

    def _give_back_quiet(self, now: float) -> None:
        """Connections without a next request by ``now`` go back to gunicorn's poller (all of
        them at ``math.inf``, when the worker stops)."""
        quiet = [conn for conn, give_up_at in self._watched.values() if give_up_at <= now]
        for conn in quiet:
            self._unwatch(conn.sock)
            self._give_back(conn)

    def _give_back(self, conn: Any) -> None:
        kept_alive: futures.Future[Any] = futures.Future()
        kept_alive.set_result(True)
        self.method_queue.defer(self.finish_request, conn, kept_alive)


class _KeycloakHeadersResponse(Response):  # type: ignore[misc]  # gunicorn ships no types
    """gunicorn's HTTP/1 response with the transport headers Keycloak's HTTP server (Vert.x) sends.

    gunicorn always writes ``Server: gunicorn``, ``Date`` and ``Connection``, and has no setting
    for them.  Vert.x writes no ``Server`` and no ``Date`` (Keycloak took ``Server`` out in
    KEYCLOAK-4952), and ``Connection`` only where HTTP/1.1 needs it: ``close`` when the connection
    ends, ``keep-alive`` for an HTTP/1.0 client that keeps it.
    """

    def default_headers(self) -> list[str]:
        lines: list[str] = super().default_headers()
        implicit_keep_alive = "Connection: keep-alive\r\n" if self.req.version >= (1, 1) else None
        return [
            line
            for line in lines
            if not line.startswith(("Server:", "Date:")) and line != implicit_keep_alive
        ]


_CONTENT_LENGTH = b"\ncontent-length:"


def request_arrived(data: bytes) -> bool:
    """Whether ``data`` holds a request head and the body its ``Content-Length`` announces.

    Answers yes early whenever waiting would not help: a chunked body or ``Expect`` (the
    client may wait for ``100 Continue``), a head with bare newlines, a length the parser will
    refuse, or more than ``EARLY_READ_LIMIT`` bytes.  An early yes only means a thread reads the
    rest, as plain ``gthread`` does.  (Plain byte searches: this runs for every request, and
    regular expressions over the head showed in the instruction count of a login.)
    """
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return b"\n\n" in data or len(data) >= EARLY_READ_LIMIT
    head = data[:end].lower()
    if b"\ntransfer-encoding:" in head or b"\nexpect:" in head:
        return True
    at = head.find(_CONTENT_LENGTH)
    if at < 0:
        return True  # no body
    if head.find(_CONTENT_LENGTH, at + 1) >= 0:
        return True  # two lengths: the parser refuses them
    line_end = head.find(b"\n", at + 1)
    value = head[at + len(_CONTENT_LENGTH) : line_end if line_end >= 0 else None].strip()
    if not value.isdigit():
        return True
    length = int(value)
    return length > EARLY_READ_LIMIT or len(data) - (end + 4) >= length


def _has_buffered_request(conn: Any) -> bool:
    """Whether the start of the next request is already read: pipelined, or decrypted TLS.

    Such a connection may never turn readable again, so it is queued rather than watched.
    """
    read_ahead = getattr(getattr(conn.parser, "unreader", None), "buf", None)
    if read_ahead is not None and read_ahead.getvalue():
        return True
    pending = getattr(conn.sock, "pending", None)
    return pending is not None and bool(pending())
