"""Which production WSGI server the container uses, decided by measurement.

    python benchmarks/server_choice.py [--duration 3] [--repeats 3] [--skip-node]

Serves the mock (``keycloak_mock.serving.wsgi:app_from_env()``) with each candidate and runs
the password grant at 1 and 8 connections, interleaved over rounds (medians reported).  Candidates:

- gunicorn, one process with threads, 2 (the image) / 4 / 8 threads: the Dockerfile's CMD (the
  image's worker, ``keycloak_mock.serving.gunicorn_worker.GilAwareThreadWorker``) with ``--threads``
  overridden on the command line, and once with gunicorn's plain ``gthread`` worker, 2 threads;
- gunicorn with 2 worker processes (``sync``, and the image's worker with 2 threads each):
  faster on 2 cores, but each process has its own sessions, clock and faults, which the script
  demonstrates: it logs in once and refreshes 20 times, and counts the refreshes another worker
  refuses as "Session not active";
- waitress (one process, 8 threads), granian (Rust HTTP, one process, 2 or 8 threads) and uWSGI
  (C HTTP, ``pip install pyuwsgi``: one process, 2 or 8 threads; it gives each connection a
  thread, so only 8 threads serve all 8 connections), when installed;
- werkzeug's threaded development server (``keycloak-mock``), for reference;
- oauth2-mock-server (when node/npm exist), the yardstick of the speed targets: every
  candidate's req/s at 8 connections is also given as a ratio to it, with the cores each kept busy.

Speed is not all a candidate must offer, so two behaviours are checked on each, after the load:

- **drop**: a scripted "drop the connection" fault armed for 10 token requests; counted are the
  requests whose connection closed without a byte of answer (what the fault promises).  A 500 or
  a cut-off 200 (headers sent, then the connection ends) is a different failure for a client's
  retry logic, and counts as not dropped;
- **idle**: 8 keep-alive connections left idle after one request each, then the time a new
  client waits for ``/health/ready``.  A server that parks a thread on every idle connection
  makes the next client wait for its keep-alive timeout: pooled HTTP clients (requests sessions,
  the kit's own client) hold such connections all the time;
- **chunked**: a password grant whose body arrives with ``Transfer-Encoding: chunked`` (as
  ``requests`` sends a generator, or Java's HTTP clients a stream) must get its token;
- **garbage**: a request that is not HTTP must get a 4xx answer within 3 s, not a hang;
- **asleep**: 4 token requests asleep in a 2 s delay fault, then the time a new client waits for
  ``/health/ready``.  A server that runs only a few requests at once must not let scripted
  delays take them all.
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from load import wrk_path
from run import cores_busy, timed_load
from targets import (
    FORM,
    KC_PASSWORD,
    KC_TOKEN_PATH,
    Running,
    Target,
    bin_path,
    dockerfile_command,
    launch,
    node_missing,
    stop_all,
    targets,
)

NODE = "oauth2-mock-server"


def gunicorn_target(name: str, *extra: str) -> Target:
    command, image_env = dockerfile_command()

    def build(port: int) -> list[str]:
        return [bin_path(command[0]), *command[1:-1], *extra, command[-1]]

    return Target(name, build, KC_TOKEN_PATH, KC_PASSWORD, env=image_env, container=True)


def installed(executable: str, package: str) -> str | None:
    """The executable's path in this environment, or ``None`` with a note that it is skipped."""
    try:
        return bin_path(executable)
    except RuntimeError:
        print(f"{executable}: not installed, skipped (pip install {package})")
        return None


def granian_command(granian: str, threads: int) -> Callable[[int], list[str]]:
    def build(port: int) -> list[str]:
        return [
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
            "keycloak_mock.serving.wsgi:app_from_env",
        ]

    return build


def uwsgi_command(uwsgi: str, threads: int) -> Callable[[int], list[str]]:
    def build(port: int) -> list[str]:
        return [
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
            "from keycloak_mock.serving.wsgi import app_from_env; application = app_from_env()",
        ]

    return build


def candidates() -> list[Target]:
    found = [
        gunicorn_target("gunicorn 1x2 (image)", "--threads", "2"),
        gunicorn_target("gunicorn 1x4", "--threads", "4"),
        gunicorn_target("gunicorn 1x8", "--threads", "8"),
        gunicorn_target("gunicorn plain gthread 1x2", "--worker-class", "gthread"),
        gunicorn_target("gunicorn sync 2 procs", "--worker-class", "sync", "--workers", "2"),
        gunicorn_target("gunicorn 2x2", "--workers", "2", "--threads", "2"),
        Target(
            "werkzeug (dev server)",
            lambda port: [bin_path("keycloak-mock"), "--port", str(port)],
            KC_TOKEN_PATH,
            KC_PASSWORD,
        ),
    ]
    waitress = installed("waitress-serve", "waitress")
    if waitress is not None:
        found.append(
            Target(
                "waitress 1x8",
                lambda port: [
                    waitress,
                    f"--listen=127.0.0.1:{port}",
                    "--threads=8",
                    "--call",
                    "keycloak_mock.serving.wsgi:app_from_env",
                ],
                KC_TOKEN_PATH,
                KC_PASSWORD,
            )
        )
    for label, executable, package, command in (
        ("granian", "granian", "granian", granian_command),
        ("uWSGI", "uwsgi", "pyuwsgi", uwsgi_command),
    ):
        path = installed(executable, package)
        if path is not None:
            found += [
                Target(f"{label} 1x{threads}", command(path, threads), KC_TOKEN_PATH, KC_PASSWORD)
                for threads in (2, 8)
            ]
    return found


def dropped_connections(running: Running, attempts: int = 10) -> int:
    """Arm a "drop" fault for ``attempts`` token requests; count connections closed unanswered."""
    faults(running, "POST", {"endpoint": "token", "drop": True, "times": attempts})
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
    faults(running, "DELETE")
    return dropped


def faults(running: Running, method: str, fault: dict[str, object] | None = None) -> None:
    """Arm (POST) or clear (DELETE) scripted faults through the control API."""
    connection = http.client.HTTPConnection("127.0.0.1", running.port, timeout=10)
    try:
        body = None if fault is None else json.dumps(fault)
        connection.request(method, "/_mock/faults", body, {"Content-Type": "application/json"})
        status = connection.getresponse().status
    finally:
        connection.close()
    if status >= 300:
        raise RuntimeError(f"{running.target.name}: {method} /_mock/faults answered {status}")


def wait_behind_idle_connections(running: Running, idle: int = 8) -> float:
    """Seconds a new client waits for /health/ready while ``idle`` keep-alive connections idle."""
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


def wait_behind_delayed_requests(running: Running, delayed: int = 4, delay: float = 2.0) -> float:
    """Seconds a new client waits for /health/ready while ``delayed`` logins sleep in a fault."""
    faults(running, "POST", {"endpoint": "token", "delay": delay, "times": delayed})
    with ThreadPoolExecutor(delayed) as pool:
        sleepers = [pool.submit(running.post, running.target.password_body) for _ in range(delayed)]
        time.sleep(delay / 4)  # all of them asleep by now
        started = time.monotonic()
        running.get(running.target.ready_path, timeout=30)
        waited = time.monotonic() - started
        for sleeper in sleepers:
            # Waited for, not judged: on two processes a "drop" fault left armed in the other
            # process (the DELETE reached only one) may cut a sleeper off.
            sleeper.exception()
    return waited


def refused_refreshes(running: Running, attempts: int = 20) -> int:
    """Log in once, refresh ``attempts`` times; count answers other than 200."""
    body = running.target.refresh_body(running.refresh_token())
    return sum(1 for _ in range(attempts) if running.post(body)[0] != 200)


def chunked_login_answered(running: Running) -> bool:
    """Whether a password grant with a chunked body gets its token."""
    connection = http.client.HTTPConnection("127.0.0.1", running.port, timeout=10)
    try:
        body = running.target.password_body.encode()
        connection.request(
            "POST",
            running.target.token_path,
            iter([body[:10], body[10:]]),
            {"Content-Type": FORM},
            encode_chunked=True,
        )
        response = connection.getresponse()
        return response.status == 200 and b"access_token" in response.read()
    except (http.client.HTTPException, OSError):
        return False
    finally:
        connection.close()


def garbage_answered(running: Running) -> bool:
    """Whether a request that is not HTTP gets a 4xx status line within 3 s."""
    try:
        with socket.create_connection(("127.0.0.1", running.port), timeout=3) as sock:
            sock.sendall(b"HELLO\r\n\r\n")
            first = sock.recv(64)
    except OSError:  # refused, reset or timed out: no answer
        return False
    parts = first.split(b" ", 2)
    return len(parts) > 1 and parts[0].startswith(b"HTTP/") and parts[1].startswith(b"4")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-node", action="store_true", help="leave out oauth2-mock-server")
    args = parser.parse_args()
    tool = "wrk" if wrk_path() else "python"
    running = []
    try:
        chosen = candidates()
        reason = "--skip-node" if args.skip_node else node_missing()
        if reason is None:
            chosen += [t for t in targets(include_node=True) if t.name == NODE]
        else:
            print(f"{NODE}: skipped ({reason})")
        for target in chosen:
            item, _ = launch(target)
            running.append(item)
        rates: dict[tuple[str, int], list[float]] = {}
        p99: dict[tuple[str, int], list[float]] = {}
        cpu: dict[tuple[str, int], list[float]] = {}
        cores: dict[tuple[str, int], list[float]] = {}
        for _ in range(args.repeats):
            for item in running:
                for connections in (1, 8):
                    body = item.target.password_body
                    result, cpu_us = timed_load(item, body, connections, args.duration, tool)
                    key = (item.target.name, connections)
                    rates.setdefault(key, []).append(result.requests_per_second)
                    p99.setdefault(key, []).append(result.p99_ms)
                    cpu.setdefault(key, []).append(cpu_us)
                    cores.setdefault(key, []).append(cores_busy(result, cpu_us))
        mocks = [item for item in running if item.target.name != NODE]
        refused = {item.target.name: refused_refreshes(item) for item in mocks}
        dropped = {item.target.name: dropped_connections(item) for item in mocks}
        idle_wait = {item.target.name: wait_behind_idle_connections(item) for item in mocks}
        chunked = {item.target.name: chunked_login_answered(item) for item in mocks}
        garbage = {item.target.name: garbage_answered(item) for item in mocks}
        asleep = {item.target.name: wait_behind_delayed_requests(item) for item in mocks}
    finally:
        stop_all(running)
    print(f"password grant, {tool}, median of {args.repeats} x {args.duration:g} s")
    node_rate = statistics.median(rates[(NODE, 8)]) if (NODE, 8) in rates else None
    print(
        f"{'server':<24} {'1 conn':>7} {'8 conn':>7} {'/Node@8':>7} {'p99@8 ms':>8} "
        f"{'CPU us@8':>8} {'cores@8':>7} {'refused':>7} {'dropped':>7} {'idle s':>6} "
        f"{'chunked':>7} {'garbage':>7} {'asleep s':>8}"
    )
    report = []
    for item in running:
        name = item.target.name
        one, eight = (statistics.median(rates[(name, n)]) for n in (1, 8))
        entry: dict[str, object] = {
            "server": name,
            "rps_1": one,
            "rps_8": eight,
            "ratio_to_node_8": eight / node_rate if node_rate else None,
            "p99_8_ms": statistics.median(p99[(name, 8)]),
            "cpu_us_8": statistics.median(cpu[(name, 8)]),
            "cores_busy_8": statistics.median(cores[(name, 8)]),
        }
        checks = "       -       -      -       -       -        -"
        if name in refused:
            entry.update(
                refused_refreshes_of_20=refused[name],
                dropped_of_10=dropped[name],
                idle_wait_s=round(idle_wait[name], 3),
                chunked_body_served=chunked[name],
                garbage_answered_4xx=garbage[name],
                wait_behind_delayed_s=round(asleep[name], 3),
            )
            checks = (
                f"{refused[name]:>4}/20 {dropped[name]:>4}/10 {idle_wait[name]:>6.2f} "
                f"{'yes' if chunked[name] else 'NO':>7} {'yes' if garbage[name] else 'NO':>7} "
                f"{asleep[name]:>8.2f}"
            )
        ratio_to_node = entry["ratio_to_node_8"]
        ratio = f"{ratio_to_node:>7.2f}" if isinstance(ratio_to_node, float) else f"{'-':>7}"
        print(
            f"{name:<24} {one:>7.0f} {eight:>7.0f} {ratio} {entry['p99_8_ms']:>8.2f} "
            f"{entry['cpu_us_8']:>8.0f} {entry['cores_busy_8']:>7.2f} {checks}"
        )
        report.append(entry)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
