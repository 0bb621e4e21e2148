"""Instructions per password grant, counted by valgrind's callgrind: figures that repeat.

    python benchmarks/instructions.py           # 2 to 3 minutes on 2 cores; needs valgrind
    python benchmarks/instructions.py --quick   # seconds, no valgrind: checks the plumbing only

On a shared machine a timing moves by 10 to 25 % from one run to the next
(docs/design/performance.md), so a change that saves 3 % of a request cannot be seen in req/s.
An instruction count of the same code on the same input repeats to about 0.1 %, whatever else
the machine is doing; it is the measure to judge a change to the per-request path by.

It runs the container's command (the Dockerfile's CMD, on the host, as ``run.py`` does) under
``valgrind --tool=callgrind --trace-children=yes``, sends N1 and then, in a second server, N2
password grants one after another on one keep-alive connection, and counts the instructions of
the worker process.  (N2 - N1) divides the difference: start-up and shut-down cancel out.  Three
apps run under that same server:

- the mock;
- the ceiling (``ceiling_app.py``: a minimal Flask app that signs one RS256 JWT);
- ``empty_app`` below, which answers ``{}``: the server's own cost per request.

A fourth count is one RS256 signature alone (``cryptography``, the bundled TEST-ONLY key): the
part that the mock and the ceiling both pay, and that runs without the GIL.  What a grant costs
beyond it is nearly all Python, which holds the GIL; at 8 connections that is what bounds one
process, so the ceiling's remainder divided by the mock's predicts the container ÷ ceiling ratio
at 8 connections.
"""

from __future__ import annotations

import argparse
import functools
import http.client
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from targets import (
    BENCH,
    FORM,
    KC_PASSWORD,
    KC_TOKEN_PATH,
    Running,
    Target,
    container_command,
    dockerfile_command,
    launch,
)

FORM_HEADERS = {"Content-Type": FORM}
#: Valgrind runs a program about 50 times slower: the server gets that much more time to start
#: and to stop, and gunicorn must not take the slow worker for a hung one.
SLOW_SERVER_ARGS = "--timeout 600 --graceful-timeout 120"
START_TIMEOUT_SECONDS = 180.0


def empty_app(environ: dict[str, object], start_response: Callable[..., object]) -> list[bytes]:
    """The least a WSGI app can answer: the server's own cost of a request."""
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "2")])
    return [b"{}"]


@dataclass(frozen=True)
class App:
    name: str
    spec: str | None  # None: the Dockerfile's own app
    token_path: str


APPS = (
    App("mock (container setup)", None, KC_TOKEN_PATH),
    App("ceiling (same server)", "ceiling_app:app_from_env()", "/token"),
    App("empty WSGI app (same server)", "instructions:empty_app", "/token"),
)


def callgrind_prefix(out_pattern: str) -> list[str]:
    return [
        "valgrind",
        "--tool=callgrind",
        "--trace-children=yes",
        f"--callgrind-out-file={out_pattern}",
    ]


def total_instructions(out_file: Path) -> int:
    """The ``summary:`` (or ``totals:``) line of a callgrind output file."""
    for line in out_file.read_text(errors="replace").splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise RuntimeError(f"no instruction total in {out_file}")


def post_grants(running: Running, count: int) -> None:
    """``count`` password grants on one keep-alive connection (``Running.post`` opens one per
    request, and accepting connections is not what is counted); each must be a 200."""
    connection = http.client.HTTPConnection("127.0.0.1", running.port, timeout=120)
    try:
        for _ in range(count):
            connection.request(
                "POST", running.target.token_path, running.target.password_body, FORM_HEADERS
            )
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"{running.url}: HTTP {response.status}")
    finally:
        connection.close()


def worker_instructions(app: App, grants: int, *, counted: bool) -> int:
    """Instructions of the gunicorn worker that served ``grants`` grants (0 when not counted)."""
    _, image_env = dockerfile_command()
    env = {
        **image_env,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(BENCH), os.environ.get("PYTHONPATH")])),
        "GUNICORN_CMD_ARGS": f"{image_env.get('GUNICORN_CMD_ARGS', '')} {SLOW_SERVER_ARGS}".strip(),
        "PYTHONHASHSEED": "0",  # the same dict layouts in every run
    }
    with tempfile.TemporaryDirectory(prefix="callgrind-") as scratch:
        prefix = callgrind_prefix(f"{scratch}/callgrind.%p") if counted else []
        server_command = container_command(app.spec)
        target = Target(
            app.name,
            lambda port: [*prefix, *server_command(port)],
            token_path=app.token_path,
            password_body=KC_PASSWORD,
            env=env,
            container=True,
        )
        running, _ = launch(target, wait=START_TIMEOUT_SECONDS, poll=0.5)
        try:
            post_grants(running, grants)
        finally:
            # A count cut short by the kill after the timeout leaves no file: refused below.
            running.stop(timeout=START_TIMEOUT_SECONDS)
        if not counted:
            return 0
        # The arbiter keeps the Popen's pid (valgrind execs the program in place); every other
        # file is a worker's, and the image runs one.
        workers = [
            path
            for path in Path(scratch).glob("callgrind.*")
            if path.name != f"callgrind.{running.process.pid}"
        ]
        if len(workers) != 1:
            raise RuntimeError(f"expected one worker's callgrind file, found {len(workers)}")
        return total_instructions(workers[0])


def sign_in_a_loop(count: int) -> None:
    """The child of the signature count: ``count`` RS256 signatures with the dev key."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    from keycloak_mock.imitation.keys import load_signing_key

    key = load_signing_key().private_key  # the bundled TEST-ONLY key
    message = b"e" * 700  # about the size of a signed access token's header and claims
    for _ in range(count):
        key.sign(message, padding.PKCS1v15(), hashes.SHA256())


def signature_instructions(count: int, *, counted: bool) -> int:
    with tempfile.TemporaryDirectory(prefix="callgrind-") as scratch:
        out = f"{scratch}/callgrind.out"
        prefix = callgrind_prefix(out) if counted else []
        subprocess.run(
            [*prefix, sys.executable, __file__, "--sign-child", str(count)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
        return total_instructions(Path(out)) if counted else 0


def per_unit(count: Callable[[int], int], low: int, high: int) -> float:
    """Instructions per unit: the two counts run side by side (one core each)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        low_total, high_total = pool.map(count, (low, high))
    return (high_total - low_total) / (high - low)


def report(rows: Iterable[tuple[str, float]], signature: float) -> None:
    rows = list(rows)
    print(f"{'':32s} {'M instr/grant':>14s} {'beyond one RS256 signature':>28s}")
    for name, value in rows:
        beyond = "" if name.startswith("empty") else f"{(value - signature) / 1e6:28.3f}"
        print(f"{name:32s} {value / 1e6:14.3f} {beyond}")
    print(f"{'one RS256 signature alone':32s} {signature / 1e6:14.3f}")
    mock, ceiling = rows[0][1] - signature, rows[1][1] - signature
    print(f"\nceiling ÷ mock, beyond the signature: {ceiling / mock:.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--grants", type=int, nargs=2, default=(20, 120), metavar=("N1", "N2"))
    parser.add_argument("--signatures", type=int, nargs=2, default=(32, 96), metavar=("N1", "N2"))
    parser.add_argument("--quick", action="store_true", help="no valgrind; 2 grants per app")
    parser.add_argument("--sign-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sign_child is not None:
        sign_in_a_loop(args.sign_child)
        return 0
    if args.quick:
        for app in APPS:
            worker_instructions(app, 2, counted=False)
        signature_instructions(1, counted=False)
        print("quick: every app served its grants and the signature loop ran; nothing counted")
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    started = time.monotonic()
    low, high = args.grants
    rows = []
    for app in APPS:
        print(f"counting {app.name} ...", flush=True)
        count_app = functools.partial(worker_instructions, app, counted=True)
        rows.append((app.name, per_unit(count_app, low, high)))
    count_signatures = functools.partial(signature_instructions, counted=True)
    signature = per_unit(count_signatures, *args.signatures)
    print()
    report(rows, signature)
    print(f"\n(counted in {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
