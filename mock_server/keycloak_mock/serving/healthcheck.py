"""``keycloak-mock healthcheck``: exit 0 when a running mock answers ``/health/ready`` with UP.

Made for container ``HEALTHCHECK``s: slim images have no curl or wget, and this needs nothing but
the package.  Without ``--url`` it asks the address the server itself would bind, read from the
same ``KEYCLOAK_MOCK_HOST``/``KEYCLOAK_MOCK_PORT`` env vars through the CLI's parser, so changing
the port in one place moves the check with it.  Proxies from ``HTTP_PROXY`` are ignored on
purpose: a CI runner's proxy must not answer for the mock on loopback.

Exit status follows Docker's convention: 0 healthy, 1 anything else (usage errors included;
Docker reserves 2).
"""

from __future__ import annotations

import argparse
import json
import ssl
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from typing import NoReturn

from .options import config_from, url_host
from .tls import wants_tls

PROG = "keycloak-mock healthcheck"
HEALTHY = 0
UNHEALTHY = 1
READY_PATH = "/health/ready"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(UNHEALTHY, f"{self.prog}: error: {message}\n")


def default_url(environ: Mapping[str, str]) -> str:
    """``/health/ready`` on the host and port the server reads from the same env vars."""
    config = config_from([], environ)
    scheme = "https" if wants_tls(config) else "http"
    return f"{scheme}://{url_host(config.host)}:{config.port}{READY_PATH}"


def probe(url: str, timeout: float) -> str | None:
    """``None`` if ``url`` answers 200 with ``"status": "UP"``, else why not (one line)."""
    # The mock's own certificate may come from a CA only the mock knows; a probe that reads one
    # status word from loopback has nothing to protect by checking it.
    unverified = ssl.create_default_context()
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=unverified)
    )
    try:
        with opener.open(url, timeout=timeout) as response:
            body = response.read(64 * 1024)
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"not reachable ({reason})"
    try:
        status = json.loads(body).get("status")
    except (ValueError, AttributeError):
        return "answer is not Keycloak's health JSON"
    return None if status == "UP" else f"status {status!r}"


def main(argv: Sequence[str], environ: Mapping[str, str]) -> int:
    parser = _Parser(
        prog=PROG,
        description="Exit 0 if a running mock Keycloak answers /health/ready with UP, else 1.",
    )
    parser.add_argument(
        "--url",
        metavar="URL",
        help="health URL to ask (default: /health/ready on KEYCLOAK_MOCK_HOST:KEYCLOAK_MOCK_PORT)",
    )
    parser.add_argument(
        "--timeout", type=float, default=3.0, metavar="SECONDS", help="give up after (default 3)"
    )
    args = parser.parse_args(argv)
    if args.url is None:
        try:
            url = default_url(environ)
        except SystemExit:  # a bad KEYCLOAK_MOCK_PORT: the parser has said why on stderr
            return UNHEALTHY
    else:
        url = args.url
    problem = probe(url, args.timeout)
    if problem is not None:
        print(f"{PROG}: {url}: {problem}", file=sys.stderr)
        return UNHEALTHY
    print(f"{PROG}: {url}: UP")
    return HEALTHY


__all__ = ["default_url", "main", "probe"]
