"""A small closed-loop load generator for machines without ``wrk``.

``python benchmarks/pyload.py --url URL --body FORM --connections 8 --duration 5`` prints one
JSON object: requests per second, p50/p99 latency in ms, request and error counts.  Each
connection is a thread with its own keep-alive ``http.client`` connection that sends the next
request as soon as the previous answer is read (like ``wrk``).  It runs as its own process so its
GIL is not the server's; it is slower than wrk, so compare figures only within one tool.
"""

from __future__ import annotations

import argparse
import http.client
import json
import threading
import time
from urllib.parse import urlsplit

HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}


def worker(
    host: str,
    port: int,
    path: str,
    body: bytes,
    deadline: float,
    latencies: list[float],
    errors: list[int],
) -> None:
    connection = http.client.HTTPConnection(host, port, timeout=5)
    while True:
        start = time.perf_counter()
        if start >= deadline:
            break
        try:
            connection.request("POST", path, body, HEADERS)
            response = connection.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            errors.append(1)
            connection.close()
            connection = http.client.HTTPConnection(host, port, timeout=5)
            continue
        if 200 <= response.status < 300:
            latencies.append(time.perf_counter() - start)
        else:
            errors.append(1)
    connection.close()


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--body", required=True)
    parser.add_argument("--connections", type=int, default=1)
    parser.add_argument("--duration", type=float, default=5.0)
    args = parser.parse_args()
    parts = urlsplit(args.url)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        parser.error("only loopback URLs")
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    per_thread: list[list[float]] = [[] for _ in range(args.connections)]
    errors: list[int] = []
    started = time.perf_counter()
    deadline = started + args.duration
    threads = [
        threading.Thread(
            target=worker,
            args=(
                parts.hostname,
                parts.port or 80,
                path,
                args.body.encode(),
                deadline,
                lat,
                errors,
            ),
        )
        for lat in per_thread
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies = [value for values in per_thread for value in values]
    print(
        json.dumps(
            {
                "requests_per_second": len(latencies) / elapsed,
                "p50_ms": percentile(latencies, 0.50) * 1e3,
                "p99_ms": percentile(latencies, 0.99) * 1e3,
                "requests": len(latencies) + len(errors),
                "errors": len(errors),
            }
        )
    )


if __name__ == "__main__":
    main()
