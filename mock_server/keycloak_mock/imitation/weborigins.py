"""A client's web origins as Keycloak resolves them (``WebOriginsUtils``): for CORS and for the
``allowed-origins`` claim.  Pure, so the token builder can use it without Flask."""

from __future__ import annotations

import functools
from urllib.parse import urlsplit

from .config import ClientConfig
from .javaorder import java_hash_order

#: Web origin that stands for the origins of the client's redirect URIs.
INCLUDE_REDIRECTS = "+"
ANY_ORIGIN = "*"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(uri: str) -> str | None:
    """``scheme://host[:port]`` of an absolute http(s) URI, a default port left out."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.netloc.rsplit("@", 1)[-1]
    if port is not None and port == _DEFAULT_PORTS[parts.scheme]:
        host = host.rsplit(":", 1)[0]
    return f"{parts.scheme}://{host}"


@functools.lru_cache(maxsize=256)
def resolved_web_origins(client: ClientConfig) -> tuple[str, ...]:
    """The client's web origins with ``+`` replaced by its redirect URIs' origins, in the
    order Keycloak's ``HashSet`` gives them (the ``allowed-origins`` claim shows that order).

    ``*`` stays as it is: in the claim it reads "any origin", and so it does for CORS.
    """
    origins = [o for o in client.web_origins if o != INCLUDE_REDIRECTS]
    if INCLUDE_REDIRECTS in client.web_origins:
        for uri in client.redirect_uris:
            origin = origin_of(uri)
            if origin is not None:
                origins.append(origin)
    return tuple(java_hash_order(origins))
