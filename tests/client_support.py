"""Helpers for the client tests: a request recorder and fault injector in front of a real mock.

``Wiretap`` wraps a ``MockServer``'s WSGI app, so every request still reaches the real mock over
loopback; it only records what arrived (path and grant type, never secrets) and, when a test asks,
answers the next requests of a path itself (a 503, a slow answer) before letting traffic through.
"""

from __future__ import annotations

import contextlib
import io
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from keycloak_mock import MockServer

TOKEN_PATH = "/realms/customer/protocol/openid-connect/token"
#: A held request is answered after this many seconds even if the test never releases it.
HOLD_LIMIT = 60.0

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True)
class Call:
    """One request as the server received it."""

    method: str
    path: str
    grant_type: str | None
    authorization: str | None
    #: Request body of resource calls (``/demobank``); token calls' bodies hold secrets, not kept.
    body: bytes | None


class Wiretap:
    """WSGI middleware: records requests, and can answer some of them instead of the mock."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self._lock = threading.Lock()
        self.calls: list[Call] = []
        self._faults: list[tuple[str, Callable[[], tuple[int, bytes, dict[str, str]] | None]]] = []
        self._release = threading.Event()

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length:
            body = environ["wsgi.input"].read(length)
        elif environ.get("wsgi.input_terminated"):  # chunked: werkzeug ends the stream for us
            body = environ["wsgi.input"].read()
        else:
            body = b""
        environ["wsgi.input"] = io.BytesIO(body)
        form = dict(parse_qsl(body.decode("utf-8", "replace")))
        path = environ.get("PATH_INFO", "")
        kept = body if path.startswith("/demobank") else None
        call = Call(
            environ["REQUEST_METHOD"],
            path,
            form.get("grant_type"),
            environ.get("HTTP_AUTHORIZATION"),
            kept,
        )
        fault = None
        with self._lock:
            self.calls.append(call)
            index = next((i for i, (p, _) in enumerate(self._faults) if p == path), None)
            if index is not None:
                fault = self._faults.pop(index)[1]
        if fault is not None:
            answer = fault()
            if answer is not None:
                status, payload, headers = answer
                start_response(
                    f"{status} Injected", [*headers.items(), ("Content-Length", str(len(payload)))]
                )
                return [payload]
        return self.app(environ, start_response)

    # -- what arrived -------------------------------------------------------------------------
    def grants(self, path: str = TOKEN_PATH) -> list[str | None]:
        """Grant types of the token requests, in order of arrival."""
        with self._lock:
            return [c.grant_type for c in self.calls if c.path == path]

    def paths(self) -> list[str]:
        with self._lock:
            return [c.path for c in self.calls]

    def calls_to(self, path: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.path == path]

    def clear(self) -> None:
        self.release()
        with self._lock:
            self.calls.clear()
            self._faults.clear()

    # -- faults -------------------------------------------------------------------------------
    def fail_next(
        self,
        count: int,
        status: int = 503,
        path: str = TOKEN_PATH,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> None:
        """The next ``count`` requests to ``path`` get ``status`` (a proxy's error page, say)."""
        answer = (status, body, headers or {"Content-Type": "text/html"})
        with self._lock:
            self._faults.extend((path, lambda: answer) for _ in range(count))

    def hold_next(self, count: int, path: str = TOKEN_PATH) -> None:
        """The next ``count`` requests to ``path`` get no answer until ``release()``.

        A held request is answered when the test ends (or calls ``release``), never after a guessed
        time: the client's timeout, however generous, always fires first.
        """
        release = self._release

        def held() -> None:
            release.wait(HOLD_LIMIT)

        with self._lock:
            self._faults.extend((path, held) for _ in range(count))

    def release(self) -> None:
        """Let every held request be answered by the mock; later holds wait again."""
        with self._lock:
            release, self._release = self._release, threading.Event()
        release.set()


def tap(server: MockServer) -> Wiretap:
    """Put a ``Wiretap`` in front of ``server``'s app (for servers a test module owns)."""
    wiretap = Wiretap(server.app.wsgi_app)
    server.app.wsgi_app = wiretap  # type: ignore[method-assign]
    return wiretap


class FakeClock:
    """A monotonic clock the test moves by hand; passed to the manager, never patched in."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


def advance_both(server: MockServer, clock: FakeClock, seconds: float) -> None:
    """Time passes for the mock and the client alike."""
    server.state.clock.advance(seconds)
    clock.advance(seconds)


def run_threads(count: int, target: Callable[[], Any]) -> list[Any]:
    """Run ``target`` in ``count`` threads released at once; return results, re-raise errors."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        barrier.wait()
        try:
            results[index] = target()
        except BaseException as exc:  # handed to the test thread below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    if errors:
        raise errors[0]
    return results


def chunks(data: bytes, size: int = 4) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


class DroppingProxy:
    """A TCP proxy to ``upstream`` that closes the first ``drop`` connections unanswered.

    A connection closed right after accept looks to the client exactly like a server or load
    balancer that died mid-request: the request was sent and no response came back.
    """

    def __init__(self, upstream_port: int, drop: int) -> None:
        self.upstream_port = upstream_port
        self.drop = drop
        self.accepted = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._sockets: list[socket.socket] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> DroppingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() on Linux
        self._listener.close()
        self._thread.join(5)
        for sock in self._sockets:
            sock.close()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.accepted += 1
            if self.accepted <= self.drop:
                conn.recv(65536)  # let the request arrive, then hang up without a word
                conn.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            self._sockets += [conn, upstream]
            for source, sink in ((conn, upstream), (upstream, conn)):
                threading.Thread(target=_pipe, args=(source, sink), daemon=True).start()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
