"""gunicorn's threaded worker, with the next request on a busy keep-alive connection served at once.

gunicorn's ``gthread`` worker hands every keep-alive connection back to its poller thread after
each answer; the poller wakes up when the next request arrives and hands the connection to a pool
thread again.  That round trip (a pipe write, an epoll registration, a future, and two thread
wake-ups with a GIL hand-off each) costs about 600 µs of CPU per request on the 2-core VM the
benchmark ran on: a client that sends its requests one after the other on one connection, as a
load test or a token-refreshing loop does, got 15 to 25 % fewer answers per second than it could
(with two such clients, 30 % fewer).

``LingeringThreadWorker`` keeps the thread on the connection for up to
``NEXT_REQUEST_WAIT_SECONDS`` after an answer, waiting for the socket without holding the GIL,
and serves the next request itself when it arrives.  Everything that makes ``gthread`` the right
server for the mock stays: a connection that goes quiet returns to the poller after that short
wait (so idle pooled connections never hold a thread), a thread only lingers while no other
connection waits for a thread and at least half of the threads are idle (so under load it is
plain ``gthread``, and busy clients are served in turn), and at most
``MAX_REQUESTS_PER_VISIT`` requests are served per visit before the connection goes back through
the poller, where gunicorn checks its keep-alive timeouts and its shutdown.

The subclass relies only on ``ThreadWorker.enqueue_req`` and on ``ThreadWorker.handle``
returning ``True`` when the connection stays open.  The ``container`` extra requires gunicorn 27,
the first release whose own threaded worker answers pipelined requests; ``handle`` returns
``True`` since gunicorn 24, and with gunicorn 23 (a tuple) the worker would behave exactly like
``gthread``.
"""

from __future__ import annotations

import select
import threading
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

#: How long a thread waits for the next request on the connection it just answered.  A client
#: that sends its next request as soon as it has read the answer (wrk, a refresh loop) does so
#: within 0.2 ms on loopback; measured at 0.2, 0.5, 2 and 5 ms, every value kept the gain.
NEXT_REQUEST_WAIT_SECONDS = 0.002
#: Requests served on one connection before it goes back through gunicorn's poller.
MAX_REQUESTS_PER_VISIT = 16


class LingeringThreadWorker(ThreadWorker):  # type: ignore[misc]  # gunicorn ships no types
    """``gthread`` serving back-to-back requests on a connection without the poller round trip."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._waiting_for_a_thread = 0
        self._busy_threads = 0
        self._counts_lock = threading.Lock()

    def enqueue_req(self, conn: Any) -> None:
        with self._counts_lock:
            self._waiting_for_a_thread += 1
        super().enqueue_req(conn)

    def handle(self, conn: Any) -> Any:
        with self._counts_lock:
            self._waiting_for_a_thread -= 1
            self._busy_threads += 1
        try:
            result = super().handle(conn)
            served = 1
            while (
                result is True
                and served < MAX_REQUESTS_PER_VISIT
                and self.alive
                and self._a_thread_is_free_for_others()
                and _next_request_arrives(conn)
            ):
                result = super().handle(conn)
                served += 1
            return result
        finally:
            with self._counts_lock:
                self._busy_threads -= 1

    def _a_thread_is_free_for_others(self) -> bool:
        """Nobody waits for a thread, and at least half of the threads stay idle for newcomers.

        Under load (more than half of the threads busy) the worker is plain ``gthread``: a
        thread waiting for its own client's next request could leave a request that arrived
        meanwhile waiting, and on a saturated machine clients are slow to send their next one.
        Measured on 2 cores with 4 threads, interleaved rounds: lingering while any thread was
        idle lost 2 to 4 % at 8 connections and raised p99 from 34 to 38 ms; with this rule 8
        connections are served as by ``gthread`` (498 vs 484 req/s), 2 connections got 614
        instead of 433 req/s and 1 connection 318 instead of 273.
        """
        return self._waiting_for_a_thread <= 0 and self._busy_threads * 2 <= self.cfg.threads


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
