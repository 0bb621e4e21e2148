"""Load generators: ``wrk`` when it is installed, else a small Python one in its own process.

Both send the same POST over keep-alive connections to one loopback URL for a fixed time and
report requests per second and the 50th/99th latency percentiles.  Any answer other than 2xx,
refused connection or timeout is counted as an error and shown beside the figures, so a server
that fails fast cannot look fast unnoticed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

PYLOAD = Path(__file__).with_name("pyload.py")
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}
_WRK_SCRIPT = """\
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
"""


@dataclass(frozen=True)
class LoadResult:
    """One timed run against one URL."""

    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


def check_loopback(url: str) -> None:
    """Refuse anything but loopback: the benchmark must never send load elsewhere."""
    host = urlsplit(url).hostname or ""
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"benchmark URLs must be on loopback, not {host!r}")


def wrk_path() -> str | None:
    return shutil.which("wrk")


def run_load(url: str, body: str, *, connections: int, duration: float, tool: str) -> LoadResult:
    """Run ``tool`` ("wrk" or "python") against ``url`` with ``connections`` for ``duration`` s."""
    check_loopback(url)
    if tool == "wrk":
        return _run_wrk(url, body, connections, duration)
    return _run_python(url, body, connections, duration)


def _run_wrk(url: str, body: str, connections: int, duration: float) -> LoadResult:
    wrk = wrk_path()
    if wrk is None:
        raise RuntimeError("wrk is not installed")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_WRK_SCRIPT.format(body=json.dumps(body)))
    try:
        # One wrk thread: it leaves the second core to the server, the same for every target.
        result = subprocess.run(
            [
                wrk,
                "-t1",
                f"-c{connections}",
                f"-d{max(duration, 1.0):.0f}s",
                "--latency",
                "--timeout",
                "5s",
                "-s",
                script.name,
                url,
            ],
            capture_output=True,
            text=True,
            timeout=duration + 30,
            check=False,
        )
    finally:
        os.unlink(script.name)
    if result.returncode != 0:
        raise RuntimeError(f"wrk failed: {result.stderr.strip() or result.stdout.strip()}")
    return parse_wrk(result.stdout)


def parse_wrk(output: str) -> LoadResult:
    """Pull req/s, p50, p99 and error counts out of ``wrk --latency`` output."""
    rps = float(_search(r"Requests/sec:\s+([\d.]+)", output))
    p50 = _latency_ms(_search(r"^\s*50%\s+(\S+)", output))
    p99 = _latency_ms(_search(r"^\s*99%\s+(\S+)", output))
    total = int(_search(r"(\d+) requests in", output))
    errors = 0
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    if non_2xx:
        errors += int(non_2xx.group(1))
    socket = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if socket:
        # connect and timeout errors are failed requests.  read/write errors are not counted:
        # wrk reports them whenever a server closes the connection after each answer, as
        # werkzeug's development server does, and the requests themselves succeeded.
        connect, _, _, timeout = (int(n) for n in socket.groups())
        errors += connect + timeout
    return LoadResult(rps, p50, p99, total, errors)


def _search(pattern: str, text: str) -> str:
    match = re.search(pattern, text, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"unexpected wrk output (no {pattern!r}):\n{text}")
    return match.group(1)


def _latency_ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    if match is None:
        raise RuntimeError(f"unexpected wrk latency {value!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _run_python(url: str, body: str, connections: int, duration: float) -> LoadResult:
    result = subprocess.run(
        [
            sys.executable,
            str(PYLOAD),
            "--url",
            url,
            "--body",
            body,
            "--connections",
            str(connections),
            "--duration",
            str(duration),
        ],
        capture_output=True,
        text=True,
        timeout=duration + 30,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"python load generator failed: {result.stderr.strip()}")
    data = json.loads(result.stdout)
    return LoadResult(
        data["requests_per_second"],
        data["p50_ms"],
        data["p99_ms"],
        data["requests"],
        data["errors"],
    )
