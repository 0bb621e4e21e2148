"""Which production WSGI server the container uses, decided by measurement.

    python benchmarks/server_choice.py [--duration 3] [--repeats 3]

Serves the mock (``mock_server.wsgi:app_from_env()``) with each candidate and runs the password
grant at 1 and 8 connections, interleaved over rounds (medians reported).  Candidates:

- gunicorn, one process with threads (``gthread``), 2 / 4 / 8 / 16 threads: the Dockerfile's CMD
  with ``--threads`` overridden on the command line;
- gunicorn with 2 ``sync`` worker processes: faster on 2 cores, but each process has its own
  sessions, clock and faults, which the script demonstrates: it logs in once and refreshes 20
  times, and counts the refreshes another worker refuses as "Session not active";
- waitress (one process, 8 threads), granian (Rust HTTP, one process, 2 or 8 threads) and uWSGI
  (C HTTP, ``pip install pyuwsgi``: one process, 2 or 4 threads), when installed;
- werkzeug's threaded development server (``keycloak-mock``), for reference.

Speed is not all a candidate must offer, so two behaviours are checked on each, after the load:

- **drop**: a scripted "drop the connection" fault armed for 10 token requests; counted are the
  requests whose connection closed without a byte of answer (what the fault promises).  A 500 or
  a cut-off 200 (headers sent, then the connection ends) is a different failure for a client's
  retry logic, and counts as not dropped;
- **idle**: 8 keep-alive connections left idle after one request each, then the time a new
  client waits for ``/health/ready``.  A server that parks a thread on every idle connection
  makes the next client wait for its keep-alive timeout: pooled HTTP clients (requests sessions,
  the kit's own client) hold such connections all the time.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from load import wrk_path
from run import timed_load
from targets import (
    KC_PASSWORD,
    KC_TOKEN_PATH,
    Target,
    bin_path,
    dockerfile_command,
    launch,
    stop_all,
)


def gunicorn_target(name: str, *extra: str) -> Target:
    command, image_env = dockerfile_command()

    def build(port: int) -> list[str]:
        return [bin_path(command[0]), *command[1:-1], *extra, command[-1]]

    return Target(name, build, KC_TOKEN_PATH, KC_PASSWORD, env=image_env, container=True)


def candidates() -> list[Target]:
    found = [
        gunicorn_target("gunicorn gthread 1x2", "--threads", "2"),
        gunicorn_target("gunicorn gthread 1x4", "--threads", "4"),
        gunicorn_target("gunicorn gthread 1x8", "--threads", "8"),
        gunicorn_target("gunicorn gthread 1x16", "--threads", "16"),
        gunicorn_target("gunicorn sync 2 procs", "--worker-class", "sync", "--workers", "2"),
        Target(
            "werkzeug (dev server)",
            lambda port: [bin_path("keycloak-mock"), "--port", str(port)],
            KC_TOKEN_PATH,
            KC_PASSWORD,
        ),
    ]
    try:
        waitress = bin_path("waitress-serve")
    except RuntimeError:
        print("waitress: not installed, skipped (pip install waitress)")
    else:
        found.append(
            Target(
                "waitress 1x8",
                lambda port: [
                    waitress,
                    f"--listen=127.0.0.1:{port}",
                    "--threads=8",
                    "--call",
                    "mock_server.wsgi:app_from_env",
                ],
                KC_TOKEN_PATH,
                KC_PASSWORD,
            )
        )
    try:
        granian = bin_path("granian")
    except RuntimeError:
        print("granian: not installed, skipped (pip install granian)")
    else:
        for threads in (2, 8):
            found.append(
                Target(
                    f"granian 1x{threads}",
                    lambda port, threads=threads: [
                        granian,
                        "--interface",
                        "wsgi",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(port),
                        "--workers",
                        "1",
                        "--blocking-threads",
                        str(threads),
                        "--log-level",
                        "warning",
                        "--factory",
                        "mock_server.wsgi:app_from_env",
                    ],
                    KC_TOKEN_PATH,
                    KC_PASSWORD,
                )
            )
    try:
        uwsgi = bin_path("uwsgi")
    except RuntimeError:
        print("uWSGI: not installed, skipped (pip install pyuwsgi)")
    else:
        for threads in (2, 4):
            found.append(
                Target(
                    f"uWSGI 1x{threads}",
                    lambda port, threads=threads: [
                        uwsgi,
                        "--http11-socket",
                        f"127.0.0.1:{port}",
                        "--threads",
                        str(threads),
                        "--master",
                        "--die-on-term",
                        "--need-app",
                        "--disable-logging",
                        "--buffer-size",
                        "65535",
                        "--eval",
                        "from mock_server.wsgi import app_from_env; application = app_from_env()",
                    ],
                    KC_TOKEN_PATH,
                    KC_PASSWORD,
                )
            )
    return found


def dropped_connections(running: object, attempts: int = 10) -> int:
    """Arm a "drop" fault for ``attempts`` token requests; count connections closed unanswered."""
    from targets import Running

    assert isinstance(running, Running)
    arm = json.dumps({"endpoint": "token", "drop": True, "times": attempts})
    connection = http.client.HTTPConnection("127.0.0.1", running.port, timeout=10)
    connection.request("POST", "/_mock/faults", arm, {"Content-Type": "application/json"})
    connection.getresponse().read()
    connection.close()
    dropped = 0
    for _ in range(attempts):
        connection = http.client.HTTPConnection("127.0.0.1", running.port, timeout=10)
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        try:
            connection.request("POST", running.target.token_path, KC_PASSWORD, headers)
            connection.getresponse().read()
        except (http.client.RemoteDisconnected, ConnectionResetError):
            dropped += 1
        except (http.client.HTTPException, OSError):
            pass  # an answer started, then broke off: not what the fault promises
        finally:
            connection.close()
    connection = http.client.HTTPConnection("127.0.0.1", running.port, timeout=10)
    connection.request("DELETE", "/_mock/faults")
    connection.getresponse().read()
    connection.close()
    return dropped


def wait_behind_idle_connections(running: object, idle: int = 8) -> float:
    """Seconds a new client waits for /health/ready while ``idle`` keep-alive connections idle."""
    from targets import Running

    assert isinstance(running, Running)
    parked = []
    try:
        for _ in range(idle):
            connection = http.client.HTTPConnection("127.0.0.1", running.port, timeout=30)
            connection.request("GET", running.target.ready_path)
            connection.getresponse().read()
            parked.append(connection)
        started = time.monotonic()
        fresh = http.client.HTTPConnection("127.0.0.1", running.port, timeout=30)
        try:
            fresh.request("GET", running.target.ready_path)
            fresh.getresponse().read()
        finally:
            fresh.close()
        return time.monotonic() - started
    finally:
        for connection in parked:
            connection.close()


def refused_refreshes(running: object, attempts: int = 20) -> int:
    """Log in once, refresh ``attempts`` times; count answers other than 200."""
    from targets import Running

    assert isinstance(running, Running)
    body = running.target.refresh_body(running.refresh_token())
    return sum(1 for _ in range(attempts) if running.post(body)[0] != 200)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    tool = "wrk" if wrk_path() else "python"
    running = []
    try:
        for target in candidates():
            item, _ = launch(target)
            running.append(item)
        rates: dict[tuple[str, int], list[float]] = {}
        p99: dict[tuple[str, int], list[float]] = {}
        cpu: dict[tuple[str, int], list[float]] = {}
        for _ in range(args.repeats):
            for item in running:
                for connections in (1, 8):
                    result, cpu_us = timed_load(item, KC_PASSWORD, connections, args.duration, tool)
                    key = (item.target.name, connections)
                    rates.setdefault(key, []).append(result.requests_per_second)
                    p99.setdefault(key, []).append(result.p99_ms)
                    cpu.setdefault(key, []).append(cpu_us)
        refused = {item.target.name: refused_refreshes(item) for item in running}
        dropped = {item.target.name: dropped_connections(item) for item in running}
        idle_wait = {item.target.name: wait_behind_idle_connections(item) for item in running}
    finally:
        stop_all(running)
    print(f"password grant, {tool}, median of {args.repeats} x {args.duration:g} s")
    print(
        f"{'server':<24} {'1 conn':>8} {'8 conn':>8} {'p99@8 ms':>9} {'CPU us/req@8':>13} "
        f"{'refused refreshes':>18} {'dropped':>8} {'idle wait s':>12}"
    )
    report = []
    for item in running:
        name = item.target.name
        one, eight = (statistics.median(rates[(name, n)]) for n in (1, 8))
        tail = statistics.median(p99[(name, 8)])
        cost = statistics.median(cpu[(name, 8)])
        print(
            f"{name:<24} {one:>8.0f} {eight:>8.0f} {tail:>9.2f} {cost:>13.0f} "
            f"{refused[name]:>15}/20 {dropped[name]:>5}/10 {idle_wait[name]:>12.2f}"
        )
        report.append(
            {
                "server": name,
                "rps_1": one,
                "rps_8": eight,
                "p99_8_ms": tail,
                "cpu_us_8": cost,
                "refused_refreshes_of_20": refused[name],
                "dropped_of_10": dropped[name],
                "idle_wait_s": round(idle_wait[name], 3),
            }
        )
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
