"""Soak: mixed traffic from several threads against the mock for a fixed time, then a report.

    python benchmarks/soak.py                         # 60 s, 8 threads, keycloak-mock (werkzeug)
    python benchmarks/soak.py --server gunicorn       # the container's server setup, on the host
    python benchmarks/soak.py --duration 600 --json soak.json

Traffic, by weight: password logins (half with ``scope=openid``), refreshes, userinfo, calls to
the ``/demobank`` stand-in, logouts, and bad requests of eight kinds (wrong password, garbage
refresh token, unknown realm, unsupported grant, JSON body, a 100 KiB body, a tampered bearer
token, no client).  Every answer is checked against the status Keycloak gives for it; anything
else, and any transport error, counts as an error of its kind.

Every ``--jump`` seconds the server clock jumps past the SSO idle timeout (through the control
API), so every session and token issued so far expires, and the server's purge timer has to
clear them: the sessions left at the end and the resident memory before and after show whether
state stays bounded.  Tokens issued before a jump are expected to be refused after it.

Loopback only; the run ends after ``--duration`` seconds whatever happens.  Reported: requests
by operation, errors by kind, latency p50/p99/max, throughput, the server's resident memory
before (after warm-up), at its peak and after, and the sessions the server still holds.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

OIDC = "/realms/customer/protocol/openid-connect"
CLIENT = "demobank-cli"
USER, PASSWORD = "demo", "demo"
#: Operation -> weight in the mix.
MIX = {
    "login": 12,
    "refresh": 18,
    "userinfo": 12,
    "standin": 28,
    "logout": 6,
    "bad": 24,
}
#: Sessions a worker keeps; older ones are abandoned (left for the server to expire and purge).
POOL = 16
REQUEST_TIMEOUT = 10.0


@dataclass
class Session:
    """Tokens of one login, and the clock generation they were issued in."""

    generation: int
    access: str
    refresh: str
    openid: bool


@dataclass(frozen=True)
class SoakConfig:
    duration: float = 60.0
    threads: int = 8
    #: Wall seconds between clock jumps past the idle timeout; 0 disables them.
    jump_every: float = 10.0
    seed: int = 1


@dataclass
class SoakReport:
    duration_s: float
    threads: int
    requests: int
    requests_per_s: float
    by_operation: dict[str, int]
    errors: int
    errors_by_kind: dict[str, int]
    latency_ms: dict[str, float]
    latency_ms_by_operation: dict[str, dict[str, float]]
    clock_jumps: int
    rss_mib_before: float | None
    rss_mib_peak: float | None
    rss_mib_after: float | None
    sessions_at_end: int | None
    logins_since_last_jump: int
    samples: list[tuple[float, float | None, int]] = field(default_factory=list)
    """(seconds since start, RSS MiB, requests so far), one per second."""

    def text(self) -> str:
        lines = [
            f"soak: {self.duration_s:.0f} s, {self.threads} threads, "
            f"{self.requests} requests ({self.requests_per_s:.0f}/s), "
            f"{self.clock_jumps} clock jumps",
            "requests: " + ", ".join(f"{k} {v}" for k, v in sorted(self.by_operation.items())),
            f"errors: {self.errors}"
            + "".join(f"\n  {n:6d}  {kind}" for kind, n in sorted(self.errors_by_kind.items())),
            "latency: " + ", ".join(f"{k} {v:.1f} ms" for k, v in self.latency_ms.items()),
        ]
        for operation, figures in sorted(self.latency_ms_by_operation.items()):
            lines.append(
                f"  {operation:10s} " + ", ".join(f"{k} {v:.1f}" for k, v in figures.items())
            )
        lines.append(
            f"server RSS: before {_mib(self.rss_mib_before)}, peak {_mib(self.rss_mib_peak)}, "
            f"after {_mib(self.rss_mib_after)}"
        )
        lines.append(
            f"sessions held at end: {self.sessions_at_end} "
            f"(logins since the last clock jump: {self.logins_since_last_jump})"
        )
        return "\n".join(lines)


def _mib(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} MiB"


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": 0.0, "p99": 0.0, "max": 0.0}
    ordered = sorted(values)
    return {
        "p50": statistics.median(ordered) * 1000,
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        "max": ordered[-1] * 1000,
    }


class Soak:
    """The traffic generator.  ``run()`` blocks for ``config.duration`` seconds."""

    def __init__(
        self, url: str, config: SoakConfig, rss: Callable[[], float | None] = lambda: None
    ) -> None:
        host = urlsplit(url).hostname or ""
        if not _is_loopback(host):
            raise ValueError(f"soak runs against loopback only, not {host!r}")
        self.url = url.rstrip("/")
        self.config = config
        self.rss = rss
        self._lock = threading.Lock()
        #: Clock jumps begun and finished.  Only while they are equal is the server's clock the
        #: one a token was issued under; a request overlapping a jump may see either clock.
        self._jumps_started = 0
        self._jumps_done = 0
        self._logins_in_generation = 0
        self._latencies: dict[str, list[float]] = {op: [] for op in MIX}
        self._errors: Counter[str] = Counter()
        self._count = 0
        self._stop = threading.Event()
        self._idle_timeout = 1800

    # -- bookkeeping --------------------------------------------------------------------
    def _epoch(self) -> tuple[int, int]:
        return self._jumps_started, self._jumps_done

    @staticmethod
    def _settled(before: tuple[int, int], after: tuple[int, int]) -> int | None:
        """The generation a request ran in, or ``None`` if a clock jump overlapped it."""
        if before == after and before[0] == before[1]:
            return before[1]
        return None

    def _done(self, operation: str, seconds: float, error: str | None) -> None:
        with self._lock:
            self._latencies[operation].append(seconds)
            self._count += 1
            if error is not None:
                self._errors[f"{operation}: {error}"] += 1

    def _call(
        self,
        http: requests.Session,
        operation: str,
        expected: set[int],
        method: str,
        path: str,
        **kwargs: Any,
    ) -> requests.Response | None:
        began = time.perf_counter()
        try:
            response = http.request(method, self.url + path, timeout=REQUEST_TIMEOUT, **kwargs)
        except requests.RequestException as exc:
            self._done(operation, time.perf_counter() - began, type(exc).__name__)
            return None
        elapsed = time.perf_counter() - began
        error = None if response.status_code in expected else f"unexpected {response.status_code}"
        self._done(operation, elapsed, error)
        return response

    # -- operations ---------------------------------------------------------------------
    def login(self, http: requests.Session, rng: random.Random, pool: list[Session]) -> None:
        openid = rng.random() < 0.5
        form = {"grant_type": "password", "client_id": CLIENT, "username": USER}
        form["password"] = PASSWORD
        if openid:
            form["scope"] = "openid"
        before = self._epoch()
        response = self._call(http, "login", {200}, "POST", f"{OIDC}/token", data=form)
        if response is not None and response.status_code == 200:
            body = response.json()
            # A login that overlapped a jump may hold a session from before it: stale (-1).
            generation = self._settled(before, self._epoch())
            with self._lock:
                if generation is not None and generation == self._jumps_done:
                    self._logins_in_generation += 1
            pool.append(
                Session(
                    -1 if generation is None else generation,
                    body["access_token"],
                    body["refresh_token"],
                    openid,
                )
            )
            if len(pool) > POOL:
                pool.pop(0)

    def refresh(self, http: requests.Session, rng: random.Random, pool: list[Session]) -> None:
        session = rng.choice(pool)
        form = {
            "grant_type": "refresh_token",
            "client_id": CLIENT,
            "refresh_token": session.refresh,
        }
        response = self._with_token(session, http, "refresh", {200}, {400}, form=form)
        if response is not None and response.status_code == 200:
            session.refresh = response.json()["refresh_token"]
            session.access = response.json()["access_token"]

    def userinfo(self, http: requests.Session, rng: random.Random, pool: list[Session]) -> None:
        session = rng.choice(pool)
        # Without ``openid`` in the token's scope Keycloak answers 403 insufficient_scope.
        fresh = {200} if session.openid else {403}
        self._with_token(
            session, http, "userinfo", fresh, {401},
            method="GET", path=f"{OIDC}/userinfo",
            headers={"Authorization": f"Bearer {session.access}"},
        )  # fmt: skip

    def standin(self, http: requests.Session, rng: random.Random, pool: list[Session]) -> None:
        session = rng.choice(pool)
        path = rng.choice(["/demobank/accounts", "/demobank/transactions?page=2", "/demobank/"])
        self._with_token(
            session, http, "standin", {200}, {401},
            method=rng.choice(["GET", "POST"]), path=path,
            headers={"Authorization": f"Bearer {session.access}"},
        )  # fmt: skip

    def logout(self, http: requests.Session, rng: random.Random, pool: list[Session]) -> None:
        session = pool.pop(rng.randrange(len(pool)))
        # Keycloak logs out without checking expiry and answers 204 for a session already gone.
        form = {"client_id": CLIENT, "refresh_token": session.refresh}
        self._call(http, "logout", {204}, "POST", f"{OIDC}/logout", data=form)

    def bad(self, http: requests.Session, rng: random.Random, pool: list[Session]) -> None:
        token = f"{OIDC}/token"
        kind = rng.randrange(8)
        login = {"grant_type": "password", "client_id": CLIENT, "username": USER}
        if kind == 0:
            self._call(http, "bad", {400, 401}, "POST", token, data={**login, "password": "nope"})
        elif kind == 1:
            form = {"grant_type": "refresh_token", "client_id": CLIENT, "refresh_token": "x.y.z"}
            self._call(http, "bad", {400}, "POST", token, data=form)
        elif kind == 2:
            unknown = "/realms/nowhere/protocol/openid-connect/token"
            self._call(http, "bad", {404}, "POST", unknown, data=login)
        elif kind == 3:
            self._call(http, "bad", {400}, "POST", token, data={**login, "grant_type": "magic"})
        elif kind == 4:
            self._call(http, "bad", {415}, "POST", token, json=login)
        elif kind == 5:
            body = b"password=" + b"x" * (100 * 1024)
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            self._call(http, "bad", {413}, "POST", token, data=body, headers=headers)
        elif kind == 6:
            forged = (pool[0].access[:-6] + "AAAAAA") if pool else "a.b.c"
            headers = {"Authorization": f"Bearer {forged}"}
            self._call(http, "bad", {401}, "GET", "/demobank/accounts", headers=headers)
        else:
            form = {"grant_type": "password", "username": USER, "password": PASSWORD}
            self._call(http, "bad", {401}, "POST", token, data=form)

    def _with_token(
        self,
        session: Session,
        http: requests.Session,
        operation: str,
        fresh: set[int],
        stale: set[int],
        *,
        method: str = "POST",
        path: str = f"{OIDC}/token",
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> requests.Response | None:
        """A call with a session's token: ``fresh`` statuses expected, or ``stale`` ones too if
        the clock jumped since the token was issued (before or while the request was in flight).
        """
        before = self._epoch()
        began = time.perf_counter()
        try:
            response = http.request(
                method, self.url + path, data=form, headers=headers, timeout=REQUEST_TIMEOUT
            )
        except requests.RequestException as exc:
            self._done(operation, time.perf_counter() - began, type(exc).__name__)
            return None
        elapsed = time.perf_counter() - began
        current = session.generation == self._settled(before, self._epoch())
        allowed = fresh if current else fresh | stale
        status = response.status_code
        self._done(operation, elapsed, None if status in allowed else f"unexpected {status}")
        return response

    # -- threads ------------------------------------------------------------------------
    def _worker(self, index: int) -> None:
        # Reproducible traffic, not secrets: a seeded PRNG is the point.
        rng = random.Random(self.config.seed * 1000 + index)  # noqa: S311
        pool: list[Session] = []
        operations = list(MIX)
        weights = [MIX[op] for op in operations]
        with requests.Session() as http:
            while not self._stop.is_set():
                operation = rng.choices(operations, weights)[0]
                if operation in ("refresh", "userinfo", "standin", "logout") and not pool:
                    operation = "login"
                getattr(self, operation)(http, rng, pool)

    def _jump_clock(self) -> None:
        """Move the server clock past the idle timeout: every token and session so far expires."""
        with self._lock:
            self._jumps_started += 1
        try:
            response = requests.post(
                f"{self.url}/_mock/time/advance",
                json={"seconds": self._idle_timeout + 1},
                timeout=REQUEST_TIMEOUT,
            )
            response.raise_for_status()
        finally:
            with self._lock:
                self._jumps_done += 1
                self._logins_in_generation = 0

    def sessions_held(self) -> int | None:
        try:
            response = requests.get(f"{self.url}/_mock/sessions", timeout=REQUEST_TIMEOUT)
        except requests.RequestException:
            return None
        return len(response.json()["sessions"]) if response.status_code == 200 else None

    def run(self) -> SoakReport:
        realm = requests.get(f"{self.url}/_mock/realms/customer", timeout=REQUEST_TIMEOUT)
        if realm.status_code == 200:
            self._idle_timeout = int(realm.json()["ssoSessionIdleTimeout"])
        jumps_enabled = realm.status_code == 200 and self.config.jump_every > 0
        # Warm-up: the first token builds the per-realm certificate and caches.
        with requests.Session() as http:
            self.login(http, random.Random(0), [])  # noqa: S311
        rss_before = self.rss()
        samples: list[tuple[float, float | None, int]] = []
        threads = [
            threading.Thread(target=self._worker, args=(i,), name=f"soak-{i}", daemon=True)
            for i in range(self.config.threads)
        ]
        began = time.monotonic()
        for thread in threads:
            thread.start()
        jumps = 0
        next_jump = began + self.config.jump_every
        deadline = began + self.config.duration
        while (now := time.monotonic()) < deadline:
            samples.append((now - began, self.rss(), self._count))
            if jumps_enabled and now >= next_jump:
                self._jump_clock()
                jumps += 1
                next_jump += self.config.jump_every
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
        self._stop.set()
        for thread in threads:
            thread.join(REQUEST_TIMEOUT + 5)
        elapsed = time.monotonic() - began
        everything = [t for values in self._latencies.values() for t in values]
        rss_after = self.rss()
        rss_values = [r for _, r, _ in samples if r is not None] + (
            [rss_after] if rss_after is not None else []
        )
        return SoakReport(
            duration_s=elapsed,
            threads=self.config.threads,
            requests=self._count,
            requests_per_s=self._count / elapsed,
            by_operation={op: len(v) for op, v in self._latencies.items()},
            errors=sum(self._errors.values()),
            errors_by_kind=dict(self._errors),
            latency_ms=percentiles(everything),
            latency_ms_by_operation={op: percentiles(v) for op, v in self._latencies.items()},
            clock_jumps=jumps,
            rss_mib_before=rss_before,
            rss_mib_peak=max(rss_values) if rss_values else None,
            rss_mib_after=rss_after,
            sessions_at_end=self.sessions_held(),
            logins_since_last_jump=self._logins_in_generation,
            samples=samples,
        )


# -- servers and their memory ---------------------------------------------------------------


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def rss_mib(pid: int) -> float | None:
    """Resident memory of ``pid`` and its children (gunicorn's worker), from /proc; Linux only."""
    total = 0
    for process in [pid, *_children(pid)]:
        try:
            status = Path(f"/proc/{process}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024 if total else None


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            found += [int(child) for child in task.read_text().split()]
    return found + [grandchild for child in found for grandchild in _children(child)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def serve(kind: str) -> Iterator[tuple[str, int]]:
    """Start ``keycloak-mock`` (``cli``) or the container's gunicorn setup; yield (url, pid)."""
    port = _free_port()
    env = {**os.environ, "KEYCLOAK_MOCK_PORT": str(port), "KEYCLOAK_MOCK_HOST": "127.0.0.1"}
    if kind == "cli":
        command = [sys.executable, "-m", "keycloak_mock"]
    else:
        command = [
            sys.executable, "-m", "gunicorn",
            "--config", "python:keycloak_mock.serving.gunicorn_conf",
            "keycloak_mock.serving.wsgi:app_from_env()",
        ]  # fmt: skip
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{url}/health/ready", timeout=1).status_code == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{kind} server did not start")
            time.sleep(0.1)
        yield url, process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of traffic (60)")
    parser.add_argument("--threads", type=int, default=8, help="client threads (8)")
    parser.add_argument(
        "--jump", type=float, default=10.0, help="seconds between clock jumps, 0 = none (10)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--server", choices=["cli", "gunicorn"], default="cli", help="server to start (cli)"
    )
    parser.add_argument("--url", help="soak a running mock instead (loopback only)")
    parser.add_argument("--pid", type=int, help="with --url: the server's pid, for its memory")
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")
    args = parser.parse_args(argv)
    config = SoakConfig(
        duration=args.duration, threads=args.threads, jump_every=args.jump, seed=args.seed
    )
    with contextlib.ExitStack() as stack:
        if args.url:
            url, pid = args.url, args.pid
        else:
            url, pid = stack.enter_context(serve(args.server))
        soak = Soak(url, config, rss=(lambda: rss_mib(pid)) if pid else (lambda: None))
        report = soak.run()
    print(report.text())
    if args.json:
        args.json.write_text(json.dumps(asdict(report), indent=2) + "\n")
    return 0 if report.errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
