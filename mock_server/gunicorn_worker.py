"""gunicorn's threaded worker, tuned for a process whose requests mostly hold the GIL.

Two changes to gunicorn's ``gthread``, both measured on the 2-core VM the benchmark runs on:

**Back-to-back requests are served at once.**  ``gthread`` hands every keep-alive connection
back to its poller thread after each answer; the poller wakes up when the next request arrives
and hands the connection to a pool thread again.  That round trip (a pipe write, an epoll
registration, a future, and two thread wake-ups with a GIL hand-off each) cost about 600 µs of
CPU per request: a client that sends its requests one after the other on one connection, as a
load test or a token-refreshing loop does, got 15 to 25 % fewer answers per second than it
could (with two such clients, 30 % fewer).  So a thread waits up to
``NEXT_REQUEST_WAIT_SECONDS`` after an answer, without holding the GIL, and serves the next
request itself when it arrives.  It only does so while no request waits for a thread and at
least half of the threads are idle (under load it is plain ``gthread``, and busy clients are
served in turn), and at most ``MAX_REQUESTS_PER_VISIT`` times per visit, after which the
connection goes back through the poller, where gunicorn checks its keep-alive timeouts and its
shutdown.  A connection that goes quiet is back in the poller within that short wait, so idle
pooled connections never hold a thread.

**A request asleep in a delay fault does not count as running.**  gunicorn's ``--threads`` is
the number of requests that run at once.  Every running request past two only adds GIL
hand-offs here (signing, the one long step, already overlaps with the other thread's Python),
so the image runs two; but two requests sleeping in a scripted ``delay`` fault would then hold
up the health check and the control call that clears the fault.  The app sleeps through
``environ[PARK_ENVIRON_KEY]`` (``faults.sleep_for_delay``): while it sleeps, the request gives
its place to the next one waiting, on one of ``PARKING_THREADS`` extra pool threads, which
exist only once used.  Requests waiting for a place queue in arrival order, and a thread that
finishes takes the next one itself rather than waking another thread.

Everything else stays gunicorn's own: the parser, keep-alive timeouts, graceful shutdown and the
socket in the environ (the "drop" fault needs it).  The subclass relies on
``ThreadWorker.enqueue_req``, ``finish_request``, ``method_queue.defer``, ``get_thread_pool``,
``load_wsgi`` and on ``handle`` returning ``True`` when the connection stays open: the
``container`` extra requires gunicorn 27, the first release whose own threaded worker answers
pipelined requests.
"""

from __future__ import annotations

import select
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent import futures
from contextlib import contextmanager
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

from .faults import PARK_ENVIRON_KEY

#: How long a thread waits for the next request on the connection it just answered.  A client
#: that sends its next request as soon as it has read the answer (wrk, a refresh loop) does so
#: within 0.2 ms on loopback; measured at 0.2, 0.5, 2 and 5 ms, every value kept the gain.
NEXT_REQUEST_WAIT_SECONDS = 0.002
#: Requests served on one connection before it goes back through gunicorn's poller.
MAX_REQUESTS_PER_VISIT = 16
#: Requests that can sleep in a delay fault without holding a running place; past that, a
#: sleeping request keeps its place, as under plain ``gthread``.
PARKING_THREADS = 16


class LingeringThreadWorker(ThreadWorker):  # type: ignore[misc]  # gunicorn ships no types
    """``gthread`` that serves back-to-back requests itself and does not count sleepers."""

    wsgi: Callable[..., Iterable[bytes]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._places_lock = threading.Lock()
        #: Connections with a request, waiting for a running place, in arrival order.
        self._waiting: deque[Any] = deque()
        self._running = 0
        self._parked = 0

    def get_thread_pool(self) -> futures.ThreadPoolExecutor:
        # Threads are started on demand: past ``threads`` only while requests are parked.
        return futures.ThreadPoolExecutor(max_workers=self.cfg.threads + PARKING_THREADS)

    def load_wsgi(self) -> None:
        super().load_wsgi()
        app = self.wsgi
        park = self._parked_request

        def app_with_parking(
            environ: dict[str, Any], start_response: Callable[..., Any]
        ) -> Iterable[bytes]:
            environ[PARK_ENVIRON_KEY] = park
            return app(environ, start_response)

        self.wsgi = app_with_parking

    def enqueue_req(self, conn: Any) -> None:
        with self._places_lock:
            if self._running >= self.cfg.threads:
                self._waiting.append(conn)
                return
            self._running += 1
        self.tpool.submit(self._run, conn)

    def _run(self, conn: Any) -> None:
        """Serve ``conn``, then each waiting connection in turn while this place is needed."""
        while conn is not None:
            outcome: futures.Future[Any] = futures.Future()
            try:
                outcome.set_result(self._serve(conn))
            except BaseException as exc:
                # As the pool's own future would: gunicorn's finish_request closes the connection.
                outcome.set_exception(exc)
            self.method_queue.defer(self.finish_request, conn, outcome)
            with self._places_lock:
                if self._waiting and self._running <= self.cfg.threads:
                    conn = self._waiting.popleft()
                else:
                    self._running -= 1
                    conn = None

    def _serve(self, conn: Any) -> Any:
        result = self.handle(conn)
        served = 1
        while (
            result is True
            and served < MAX_REQUESTS_PER_VISIT
            and self.alive
            and self._others_leave_room()
            and _next_request_arrives(conn)
        ):
            result = self.handle(conn)
            served += 1
        return result

    def _others_leave_room(self) -> bool:
        """Nobody waits for a place, and at least half of the places stay free for newcomers.

        Under load (more than half of the places taken) the worker serves connections in
        arrival order as ``gthread`` does: a thread waiting for its own client's next request
        could leave a request that arrived meanwhile waiting, and on a saturated machine clients
        are slow to send their next one.  Measured on 2 cores with 4 threads, interleaved
        rounds: lingering while any thread was idle lost 2 to 4 % at 8 connections and raised
        p99 from 34 to 38 ms; with this rule 8 connections were served as by ``gthread`` (498 vs
        484 req/s), 2 connections got 614 instead of 433 req/s and 1 connection 318 instead
        of 273.
        """
        return not self._waiting and self._running * 2 <= self.cfg.threads

    @contextmanager
    def _parked_request(self) -> Iterator[None]:
        """Give this request's running place to the next waiting one while it sleeps."""
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
                # its thread hands its place on only while running stays within ``threads``.
                with self._places_lock:
                    self._parked -= 1
                    self._running += 1


def _next_request_arrives(conn: Any) -> bool:
    """Whether the connection has the start of another request within the short wait."""
    read_ahead = getattr(getattr(conn.parser, "unreader", None), "buf", None)
    if read_ahead is not None and read_ahead.getvalue():
        return True  # pipelined: the bytes are already read, the socket may never turn readable
    pending = getattr(conn.sock, "pending", None)  # TLS: bytes decrypted but not yet read
    if pending is not None and pending():
        return True
    poller = select.poll()
    try:
        poller.register(conn.sock, select.POLLIN)
        return bool(poller.poll(NEXT_REQUEST_WAIT_SECONDS * 1000))
    except (OSError, ValueError):
        return False  # closed under us: gunicorn's own path decides what happens next
