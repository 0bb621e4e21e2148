"""Client authentication as Keycloak's ``client-secret`` authenticator does it.

``client_id`` comes from the form or from ``Authorization: Basic``; a form value wins over the
header.  Public clients pass without a secret (one sent anyway is ignored).  Whatever fails before a
client is found ends as 401 ``invalid_client``; a known confidential client with a missing or wrong
secret gets 401 ``unauthorized_client`` with the same description.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from urllib.parse import unquote_plus

from .config import ClientConfig, RealmConfig
from .errors import InvalidClient, UnauthorizedClient

BAD_CLIENT = "Invalid client or Invalid client credentials"


def parse_basic(header: str | None) -> tuple[str, str] | None:
    """``(client_id, secret)`` from a Basic header, form-decoded as RFC 6749 2.3.1 says."""
    if not header or header[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    if ":" not in decoded:
        return None
    client_id, secret = decoded.split(":", 1)
    return unquote_plus(client_id), unquote_plus(secret)


def authenticate_client(
    realm: RealmConfig, form: Mapping[str, str], authorization: str | None
) -> ClientConfig:
    """The calling client, or raise the OAuth error Keycloak would send."""
    client_id: str | None = None
    secret: str | None = None
    basic = parse_basic(authorization)
    if basic is not None:
        client_id, secret = basic
    if "client_id" in form:
        client_id = form["client_id"]
    if "client_secret" in form:
        secret = form["client_secret"]
    client = realm.client(client_id) if client_id is not None else None
    if client is None or not client.enabled:
        raise InvalidClient(BAD_CLIENT)
    if client.public_client:
        return client
    if secret is None or client.secret is None:
        raise UnauthorizedClient(BAD_CLIENT)
    if not hmac.compare_digest(secret.encode(), client.secret.encode()):
        raise UnauthorizedClient(BAD_CLIENT)
    return client
