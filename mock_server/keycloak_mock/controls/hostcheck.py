"""The DNS-rebinding guard of the page and the control API: answer only to our own host names.

A page on any web site can make the browser resolve its own name to 127.0.0.1 and then talk to
the mock as "same origin".  Such a request still carries the attacker's name in ``Host``, so the
page and ``/_mock`` refuse a ``Host`` that is not one of the mock's.  Keycloak's own paths are
not guarded: tokens are what a client is meant to fetch from anywhere, and Keycloak answers them
by any name too.

The rule (as Vite's dev server has it): IP literals, ``localhost`` and ``*.localhost`` pass, since
no public DNS name is involved; so do names without a dot (compose, CI service and Kubernetes
short names, which public DNS cannot hand out), the host of ``--issuer-url``, the name given to
``--host``, and whatever ``--allowed-hosts`` lists (``*`` switches the guard off).  The ``Host``
checked is the one the client sent, before ``X-Forwarded-Host`` is applied: a rebinding page may
set that header on its "same-origin" requests.
"""

from __future__ import annotations

import ipaddress
from functools import cache
from urllib.parse import urlsplit

from flask import Response

from keycloak_mock.imitation.config import MockConfig
from keycloak_mock.imitation.http import current_request, json_response, mock_config

_PROXY_FIX_ORIGINAL = "werkzeug.proxy_fix.orig"


@cache
def _configured_names(config: MockConfig) -> frozenset[str] | None:
    """Names the config adds; ``None`` when ``--allowed-hosts`` is ``*`` (no guard)."""
    names: set[str] = set()
    for raw in (config.allowed_hosts or "").split(","):
        name = raw.strip().lower().rstrip(".")
        if name == "*":
            return None
        if name:
            names.add(name)
    if config.issuer_url:
        issuer_host = urlsplit(config.issuer_url).hostname
        if issuer_host:
            names.add(issuer_host.lower())
    names.add(config.host.lower())
    return frozenset(names)


def hostname_of(host_header: str) -> str:
    """The name in a ``Host`` header: without the port, the brackets of an IPv6 literal."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    name, _, _port = host.rpartition(":") if host.count(":") == 1 else (host, "", "")
    return name.rstrip(".")


def host_allowed(host_header: str, config: MockConfig) -> bool:
    """Whether a request with this ``Host`` may see the page or the control API."""
    configured = _configured_names(config)
    if configured is None:
        return True
    name = hostname_of(host_header)
    if not name:
        return False
    if name == "localhost" or name.endswith(".localhost") or "." not in name:
        return True
    if name in configured:
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def refuse_foreign_host() -> Response | None:
    """``before_request`` of the page and the control API: 403 for a ``Host`` not ours."""
    environ = current_request().environ
    original = environ.get(_PROXY_FIX_ORIGINAL) or {}
    host = original.get("HTTP_HOST") or environ.get("HTTP_HOST") or ""
    if host_allowed(host, mock_config()):
        return None
    return json_response(
        {
            "error": "forbidden_host",
            "error_description": "this Host is not a name of the mock (DNS rebinding guard); "
            "add it with --allowed-hosts",
        },
        403,
    )
