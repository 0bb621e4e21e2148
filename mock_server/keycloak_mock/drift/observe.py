"""Turn one HTTP answer into an *observation*: what can be compared, with no secret left in it.

Fixed values (statuses, error texts, lifetimes, finAPI's fields, header values Keycloak sets)
are kept verbatim.  Values that differ on every request or every server (tokens, ids, times, key
material) are replaced by their *shape*, e.g. ``<uuid v4>`` or ``<base64url 43>``, so a change of
format (Keycloak 26.2+'s ``onrtro:`` prefix, 26.4+'s base64url session ids) still shows.  The
server's base URL becomes ``{base}`` so live and mock URLs compare equal.  The user's name
becomes ``<username>`` and personal profile values ``<personal>``; passwords and token values are
removed wherever they appear.  An observation is plain JSON: it is what a recording stores.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

#: Response fields that hold a JWT; each is also decoded into the observation's ``tokens``.
TOKEN_FIELDS = ("access_token", "refresh_token", "id_token")
#: Values that change with every login, key or server: compared by shape only.
SHAPED_KEYS = frozenset(
    {
        "session_state",
        "sid",
        "jti",
        "sub",
        "at_hash",
        "c_hash",
        "s_hash",
        "nonce",
        "kid",
        "n",
        "x5t",
        "x5t#S256",
        "x5c",
        "public_key",
    }
)
#: A person's profile data: whether it is there is compared, never its value.
PERSONAL_KEYS = frozenset({"name", "given_name", "family_name", "email"})
TIME_KEYS = frozenset({"iat", "auth_time", "nbf", "updated_at"})
#: Header whose values are Keycloak's and stable: kept.  Any other header keeps only its name
#: (its value may be a proxy's cookie or request id).
KEPT_HEADER_VALUES = frozenset(
    {
        "content-type",
        "cache-control",
        "pragma",
        "referrer-policy",
        "x-content-type-options",
        "x-frame-options",
        "x-robots-tag",
        "x-xss-protection",
        "content-security-policy",
        "strict-transport-security",
        "www-authenticate",
        "vary",
        "allow",
        "access-control-allow-origin",
        "access-control-allow-credentials",
        "access-control-allow-methods",
        "access-control-allow-headers",
        "access-control-expose-headers",
        "access-control-max-age",
    }
)
HIDDEN = "<value>"
SECRET = "<secret>"  # noqa: S105 - the placeholder that replaces secrets
USERNAME = "<username>"
PERSONAL = "<personal>"
JWT_SHAPE = "<jwt>"

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_UUID_RE = re.compile(_UUID)
_UUID4_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
_PREFIXED_RE = re.compile(r"([a-z]{2,8}):(.+)")
_B64URL_RE = re.compile(r"[A-Za-z0-9_-]+")
_B64_RE = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_JWT_RE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
#: Shorter secrets are only replaced where a value equals them: "demo" must not eat "demobank".
_MIN_SUBSTRING_SECRET = 8


@dataclass(frozen=True)
class Answer:
    """One HTTP answer as received: status, header lines in order, raw body."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes = field(repr=False)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


def shape_of(value: str) -> str:
    """The format of a volatile string, precise enough to see Keycloak change its id formats."""
    if _UUID4_RE.fullmatch(value):
        return "<uuid v4>"
    if _UUID_RE.fullmatch(value):
        return "<uuid layout, not v4>"
    prefixed = _PREFIXED_RE.fullmatch(value)
    if prefixed:
        return f"<{prefixed.group(1)}:{shape_of(prefixed.group(2))[1:-1]}>"
    if _JWT_RE.fullmatch(value) and value.count(".") == 2:
        return JWT_SHAPE
    if _B64URL_RE.fullmatch(value):
        return f"<base64url {len(value)}>"
    if _B64_RE.fullmatch(value):
        return "<base64>"
    return "<string>"


class Normalizer:
    """Builds observations for one side (live or mock) of a drift check."""

    def __init__(self, base_url: str, username: str, secrets: Iterable[str] = ()) -> None:
        self.base_url = base_url.rstrip("/")
        self.username = username.lower()
        self._secrets: set[str] = {s for s in secrets if s}

    def add_secret(self, value: str) -> None:
        """Remember a value (a token, a password) that must never reach an observation."""
        if value:
            self._secrets.add(value)

    # -- whole answers -------------------------------------------------------------------
    def observation(self, answer: Answer) -> dict[str, Any]:
        observed: dict[str, Any] = {
            "status": answer.status,
            "headers": [
                f"{name}: {self._header_value(name, value)}" for name, value in answer.headers
            ],
            "body": self._body(answer),
        }
        value = observed["body"].get("value")
        if isinstance(value, dict):
            raw = _json_or_none(answer.body)
            tokens = {
                name: self.jwt(raw[name])
                for name in TOKEN_FIELDS
                if isinstance(raw, dict) and isinstance(raw.get(name), str)
            }
            if tokens:
                observed["tokens"] = tokens
        return observed

    def _header_value(self, name: str, value: str) -> str:
        if name.lower() not in KEPT_HEADER_VALUES:
            return HIDDEN
        return self.text(value)

    def _body(self, answer: Answer) -> dict[str, Any]:
        if not answer.body:
            return {"type": "empty"}
        parsed = _json_or_none(answer.body)
        if parsed is None:
            # Pages and plain text are compared by kind only: they may quote the request.
            return {"type": "text"}
        return {"type": "json", "value": self.json(parsed)}

    # -- values --------------------------------------------------------------------------
    def json(self, value: Any, key: str | None = None) -> Any:
        if isinstance(value, dict):
            shaped = {k: self.json(v, k) for k, v in value.items()}
            if isinstance(value.get("exp"), int) and isinstance(value.get("iat"), int):
                # Absolute times are volatile; the lifetime they encode is not.
                shaped["exp"] = f"<iat+{value['exp'] - value['iat']}>"
            return shaped
        if isinstance(value, list):
            return [self.json(v, key) for v in value]
        if isinstance(value, bool) or value is None or isinstance(value, float):
            return value
        if isinstance(value, int):
            return "<time>" if key in TIME_KEYS or key == "exp" else value
        return self._string(str(value), key)

    def _string(self, value: str, key: str | None) -> str:
        if key in TOKEN_FIELDS:
            return JWT_SHAPE
        if self._is_secret(value):
            return SECRET
        if value.lower() == self.username:
            return USERNAME
        if key in PERSONAL_KEYS:
            return PERSONAL
        if key in SHAPED_KEYS:
            return shape_of(value)
        return self.text(value)

    def text(self, value: str) -> str:
        """A free text with the base URL abstracted and any secret cut out."""
        for secret in self._secrets:
            if len(secret) >= _MIN_SUBSTRING_SECRET and secret in value:
                value = value.replace(secret, SECRET)
        if value == self.username and self.username:
            return USERNAME
        return value.replace(self.base_url, "{base}") if self.base_url else value

    def _is_secret(self, value: str) -> bool:
        return value in self._secrets

    def jwt(self, token: str) -> dict[str, Any]:
        """A token's header layout, header and claims, shaped; ``{"format": ...}`` if no JWT."""
        self.add_secret(token)
        parts = token.split(".")
        if len(parts) != 3:
            return {"format": shape_of(token)}
        try:
            header_text = _b64url_decode(parts[0]).decode()
            header = json.loads(header_text)
            claims = json.loads(_b64url_decode(parts[1]))
        except (ValueError, UnicodeDecodeError, binascii.Error):
            return {"format": "<not a decodable JWT>"}
        if not isinstance(header, dict) or not isinstance(claims, dict):
            return {"format": "<not a decodable JWT>"}
        layout = header_text
        kid = header.get("kid")
        if isinstance(kid, str) and kid:
            layout = layout.replace(kid, shape_of(kid))
        return {"header_bytes": layout, "header": self.json(header), "claims": self.json(claims)}


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


def _b64url_decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


__all__ = ["JWT_SHAPE", "PERSONAL", "SECRET", "USERNAME", "Answer", "Normalizer", "shape_of"]
