"""Compare two sets of observations field by field, and say which setting would close each gap.

Statuses, header values, JSON keys (presence, order, type) and values are compared as the
observations hold them, i.e. volatile values by shape.  Headers are compared by name, case-blind,
after the ignore list (what a proxy in front of finAPI adds); a JSON list whose order Keycloak
does not keep stable (``scopes_supported``, the JWKS ``keys``) is compared as a set.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from fnmatch import fnmatchcase
from typing import Any

from .scenario import STEP_NAMES

#: Headers a reverse proxy or load balancer in front of Keycloak adds or rewrites, and framing
#: headers that follow from the transport rather than from Keycloak.
DEFAULT_IGNORED_HEADERS: tuple[str, ...] = (
    "Strict-Transport-Security",
    "Via",
    "Date",
    "Server",
    "Connection",
    "Keep-Alive",
    "Transfer-Encoding",
    "Content-Length",
    "Content-Encoding",
    "Vary",
    "Alt-Svc",
    "Set-Cookie",
    "Age",
    "X-Request-Id",
    "X-Correlation-Id",
    "X-Amzn-*",
    "X-Cache*",
    "CF-*",
    "Report-To",
    "NEL",
)
ABSENT = "(absent)"
NOT_RUN = "(step not run)"
RAN = "(ran)"

#: Lists Keycloak emits in no stable order (fact sheet 6.1, 6.2).
_UNORDERED = ("body.scopes_supported", "body.keys")

_LIFESPAN = "--access-token-lifespan, or realm accessTokenLifespan"
_IDLE = "--refresh-token-lifespan, or realm ssoSessionIdleTimeout (ssoSessionMaxLifespan caps it)"
_REUSE = "realm revokeRefreshToken, refreshTokenMaxReuse"
_SCOPES = "client defaultClientScopes / optionalClientScopes, realm clientScopes"
_USER_ID = "the user's id (Keycloak makes UUID v4 ids)"
#: (step pattern, where pattern, hint): the first match wins.  "realm"/"client"/"user" settings
#: are realm-export fields of the realm file the mock side loads with ``--config``.
_HINTS: tuple[tuple[str, str, str], ...] = (
    ("refresh_reused", "status", _REUSE),
    ("refresh_reused", "body", _REUSE),
    ("*", "body.expires_in", _LIFESPAN),
    ("*", "tokens.access_token.claims.exp", _LIFESPAN),
    ("*", "tokens.id_token.claims.exp", _LIFESPAN),
    ("*", "body.refresh_expires_in", _IDLE),
    ("*", "tokens.refresh_token.claims.exp", _IDLE),
    ("*", "body.scope", _SCOPES),
    ("*", "tokens.*.claims.scope", _SCOPES),
    ("*", "tokens.*.claims.email*", _SCOPES),
    ("userinfo_*", "body.email*", _SCOPES),
    ("discovery", "body.scopes_supported*", "realm clientScopes"),
    ("*", "body.mandator_name", "realm attribute mandator_name"),
    ("*", "body.mandator_uuid", "realm attribute mandator_uuid"),
    ("*", "body.is_test_mandator", "realm attribute is_test_mandator"),
    ("*", "body.is_technical_user", "user attribute is_technical_user"),
    ("*", "tokens.*.claims.realm_access*", "user realmRoles"),
    ("*", "tokens.*.claims.resource_access*", "user clientRoles"),
    ("*", "tokens.*.claims.allowed-origins*", "client webOrigins"),
    ("*", "tokens.*.claims.aud*", "user clientRoles (aud names the clients they have roles on)"),
    ("*", "body.not-before-policy", "realm notBefore"),
    ("*", "tokens.*.claims.sub", _USER_ID),
    ("userinfo_*", "body.sub", _USER_ID),
)
NO_SETTING = "no setting: the mock differs"


@dataclass(frozen=True)
class Difference:
    """One field where the live server and the mock disagree (values as JSON text)."""

    step: str
    where: str
    live: str
    mock: str
    hint: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def hint_for(step: str, where: str) -> str:
    for step_pattern, where_pattern, hint in _HINTS:
        if fnmatchcase(step, step_pattern) and fnmatchcase(where, where_pattern):
            return hint
    return NO_SETTING


def compare(
    live: Mapping[str, Mapping[str, Any]],
    mock: Mapping[str, Mapping[str, Any]],
    ignored_headers: Iterable[str] = DEFAULT_IGNORED_HEADERS,
) -> list[Difference]:
    """Every difference, step by step in scenario order; a step only one side ran is one."""
    ignored = tuple(name.lower() for name in ignored_headers)
    found: list[tuple[str, str, Any, Any]] = []
    steps = [s for s in STEP_NAMES if s in live or s in mock]
    steps += sorted((set(live) | set(mock)) - set(STEP_NAMES))
    for step in steps:
        if step not in live or step not in mock:
            found.append(
                (step, "step", RAN if step in live else NOT_RUN, RAN if step in mock else NOT_RUN)
            )
            continue
        out: list[tuple[str, Any, Any]] = []
        _compare_step(live[step], mock[step], ignored, out)
        found.extend((step, where, a, b) for where, a, b in out)
    return [Difference(s, w, _render(a), _render(b), hint_for(s, w)) for s, w, a, b in found]


def _compare_step(
    live: Mapping[str, Any],
    mock: Mapping[str, Any],
    ignored: Sequence[str],
    out: list[tuple[str, Any, Any]],
) -> None:
    live_body, mock_body = live.get("body") or {}, mock.get("body") or {}
    if live.get("status") != mock.get("status"):
        # A different status means a different kind of answer: its fields would all differ, so
        # the body is summed up in one row instead.
        out.append(("status", live.get("status"), mock.get("status")))
        out.append(("body", _gist(live_body), _gist(mock_body)))
        return
    _compare_headers(live.get("headers", []), mock.get("headers", []), ignored, out)
    if live_body.get("type") != mock_body.get("type"):
        out.append(("body", _gist(live_body), _gist(mock_body)))
    else:
        _walk("body", live_body.get("value"), mock_body.get("value"), out)
    _walk("tokens", live.get("tokens", {}), mock.get("tokens", {}), out)


def _gist(body: Mapping[str, Any]) -> Any:
    """A body in one short value: an error's code and text, else its field names or kind."""
    value = body.get("value")
    if isinstance(value, dict):
        if "error" in value:
            return {k: value[k] for k in ("error", "error_description") if k in value}
        if "access_token" in value:
            return "token response"
        return f"JSON object with {', '.join(value)}"
    if body.get("type") == "json":
        return value
    return f"({body.get('type', 'no')} body)"


def _compare_headers(
    live: Sequence[str],
    mock: Sequence[str],
    ignored: Sequence[str],
    out: list[tuple[str, Any, Any]],
) -> None:
    def grouped(lines: Sequence[str]) -> dict[str, tuple[str, list[str]]]:
        groups: dict[str, tuple[str, list[str]]] = {}
        for line in lines:
            name, _, value = line.partition(": ")
            key = name.lower()
            if any(fnmatchcase(key, pattern) for pattern in ignored):
                continue
            groups.setdefault(key, (name, []))[1].append(value)
        return groups

    left, right = grouped(live), grouped(mock)
    for key in [*left, *(k for k in right if k not in left)]:
        name = (left.get(key) or right[key])[0]
        a = left[key][1] if key in left else ABSENT
        b = right[key][1] if key in right else ABSENT
        if a != b:
            out.append((f"headers.{name}", _single(a), _single(b)))


def _single(values: Any) -> Any:
    return values[0] if isinstance(values, list) and len(values) == 1 else values


def _walk(where: str, a: Any, b: Any, out: list[tuple[str, Any, Any]]) -> None:
    if _kind(a) != _kind(b):
        out.append((where, a, b))
    elif isinstance(a, dict):
        for key in a:
            if key not in b:
                out.append((f"{where}.{key}", a[key], ABSENT))
        for key in b:
            if key not in a:
                out.append((f"{where}.{key}", ABSENT, b[key]))
        common_a = [k for k in a if k in b]
        common_b = [k for k in b if k in a]
        if common_a != common_b:
            out.append((f"{where} (key order)", common_a, common_b))
        for key in common_a:
            _walk(f"{where}.{key}", a[key], b[key], out)
    elif isinstance(a, list):
        _walk_list(where, a, b, out)
    elif where.endswith(".scope") and isinstance(a, str) and isinstance(b, str):
        # Keycloak joins scope names from a Java set: their order changes between restarts.
        if sorted(a.split()) != sorted(b.split()):
            out.append((where, a, b))
    elif a != b:
        out.append((where, a, b))


def _walk_list(where: str, a: list[Any], b: list[Any], out: list[tuple[str, Any, Any]]) -> None:
    if where.endswith(_UNORDERED):
        a, b = sorted(a, key=_sort_key), sorted(b, key=_sort_key)
    if len(a) == len(b):
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            _walk(f"{where}[{index}]", x, y, out)
        return
    only_a = [v for v in a if v not in b]
    only_b = [v for v in b if v not in a]
    if only_a or only_b:
        out.append((where, {"only live": only_a}, {"only mock": only_b}))
    else:
        out.append((f"{where} (repeated items)", a, b))


def _sort_key(value: Any) -> str:
    if isinstance(value, dict):
        # JWKS keys: by what they are for, not by their (shaped) key id.
        return json.dumps([value.get("use"), value.get("alg"), value.get("kty")])
    return json.dumps(value, sort_keys=True)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _render(value: Any) -> str:
    if value in (ABSENT, NOT_RUN, RAN):
        return str(value)
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


__all__ = ["ABSENT", "DEFAULT_IGNORED_HEADERS", "NO_SETTING", "Difference", "compare", "hint_for"]
