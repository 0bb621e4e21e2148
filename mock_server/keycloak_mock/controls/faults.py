"""Scripted failures: make the next requests to an endpoint answer badly, late, or not at all.

A ``Fault`` says *which* requests it hits (endpoint, grant type, realm), *how often* (the next
``times`` matching requests, or until cleared) and *what* happens instead of the normal answer:
a given status/JSON/headers, the normal answer after a delay, or a dropped connection.  An
``ErrorRate`` fails a random share of matching requests, for soak tests; its generator can be
seeded so a run can be replayed.

This module holds what a fault *is* (values, JSON, checks) and loads no web framework, so the
remote controls can use it; ``injection`` applies faults inside a running app.

Endpoints are named by their Flask view: the short name (``token``, ``certs``, ``userinfo``),
the full name (``token.token``) or ``*`` for every endpoint except the control API.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from keycloak_mock.imitation.errors import MockServerError

#: Longest accepted delay: long enough for any client timeout, short enough not to hang a suite.
MAX_DELAY_SECONDS = 300.0
ANY_ENDPOINT = "*"


class FaultError(MockServerError):
    """A fault or error rate that cannot be installed; the message names the field."""


@dataclass(frozen=True, kw_only=True)
class Fault:
    """What to do instead of answering normally, for which requests, how many times."""

    endpoint: str = "token"
    grant_type: str | None = None
    realm: str | None = None
    #: How many matching requests this fault hits; ``None`` means until cleared.
    times: int | None = 1
    #: Status to answer with; ``None`` answers normally (after ``delay``).
    status: int | None = None
    #: JSON body for ``status``; default is Keycloak's generic ``{"error": "HTTP 503 ..."}``.
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    #: Seconds to wait (real time) before answering or dropping.
    delay: float = 0.0
    #: Close the connection without any answer.
    drop: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.endpoint, str) or not self.endpoint:
            raise FaultError("endpoint: must be a view name such as 'token', or '*'")
        _check_optional_str(self.grant_type, "grant_type")
        _check_optional_str(self.realm, "realm")
        if self.times is not None and (not _is_int(self.times) or self.times < 1):
            raise FaultError("times: must be a positive integer, or null for 'until cleared'")
        _check_status(self.status, "status")
        _check_delay(self.delay)
        _check_headers(self.headers)
        if not isinstance(self.drop, bool):
            raise FaultError("drop: must be true or false")
        _check_json(self.body)
        if self.drop and (self.status is not None or self.body is not None):
            raise FaultError("drop: a dropped connection has no status or body")
        if self.body is not None and self.status is None:
            raise FaultError("body: needs a status to answer with")
        if not self.drop and self.status is None and self.delay == 0:
            raise FaultError("a fault needs a status, a delay or drop")

    def matches(self, endpoint: str | None, grant_type: str | None, realm: str | None) -> bool:
        return (
            endpoint_matches(self.endpoint, endpoint)
            and (self.grant_type is None or self.grant_type == grant_type)
            and (self.realm is None or self.realm == realm)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "grantType": self.grant_type,
            "realm": self.realm,
            "times": self.times,
            "status": self.status,
            "body": self.body,
            "headers": dict(self.headers),
            "delay": self.delay,
            "drop": self.drop,
        }


@dataclass(frozen=True, kw_only=True)
class ErrorRate:
    """Fail a random share of matching requests with ``status`` (soak tests)."""

    rate: float
    status: int = 503
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    endpoint: str = "token"
    grant_type: str | None = None
    realm: str | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        if (
            isinstance(self.rate, bool)
            or not isinstance(self.rate, (int, float))
            or not (0.0 <= float(self.rate) <= 1.0)
        ):
            raise FaultError("rate: must be a probability between 0 and 1")
        _check_status(self.status, "status")
        if self.status is None:
            raise FaultError("status: required")
        _check_headers(self.headers)
        _check_json(self.body)
        _check_optional_str(self.grant_type, "grant_type")
        _check_optional_str(self.realm, "realm")
        if self.seed is not None and not _is_int(self.seed):
            raise FaultError("seed: must be an integer")

    def to_json(self) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "status": self.status,
            "body": self.body,
            "headers": dict(self.headers),
            "endpoint": self.endpoint,
            "grantType": self.grant_type,
            "realm": self.realm,
            "seed": self.seed,
        }


def endpoint_matches(pattern: str, endpoint: str | None) -> bool:
    if endpoint is None:
        return pattern == ANY_ENDPOINT
    return pattern in (ANY_ENDPOINT, endpoint, endpoint.rpartition(".")[2])


def fault_from_json(document: object) -> Fault:
    """A ``Fault`` from the control API's camelCase JSON."""
    fault: Fault = _from_json(Fault, document, {"grantType": "grant_type"})
    return fault


def error_rate_from_json(document: object) -> ErrorRate:
    if isinstance(document, Mapping) and "rate" not in document:
        raise FaultError("rate: required")
    rate: ErrorRate = _from_json(ErrorRate, document, {"grantType": "grant_type"})
    return rate


def _from_json(kind: Callable[..., Any], document: object, renames: Mapping[str, str]) -> Any:
    """``kind(**fields)`` from JSON whose keys are the field names, camelCased per ``renames``."""
    if not isinstance(document, Mapping):
        raise FaultError("expected a JSON object")
    attribute_of = {key: key for key in (f.name for f in dataclasses.fields(kind))}  # type: ignore[arg-type]
    for json_name, attribute in renames.items():
        attribute_of.pop(attribute, None)
        attribute_of[json_name] = attribute
    kwargs: dict[str, Any] = {}
    for key, value in document.items():
        if key not in attribute_of:
            raise FaultError(f"unknown field {key!r}; known: {', '.join(sorted(attribute_of))}")
        if value is None and key == "headers":
            continue
        kwargs[attribute_of[key]] = value
    result: Any = kind(**kwargs)
    return result


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_optional_str(value: object, name: str) -> None:
    if value is not None and (not isinstance(value, str) or not value):
        raise FaultError(f"{name}: must be a non-empty string or null")


def _check_status(status: object, name: str) -> None:
    if status is not None and (not _is_int(status) or not 100 <= status <= 599):  # type: ignore[operator]
        raise FaultError(f"{name}: must be an HTTP status between 100 and 599")


def _check_delay(delay: object) -> None:
    if (
        isinstance(delay, bool)
        or not isinstance(delay, (int, float))
        or not math.isfinite(delay)
        or not 0 <= delay <= MAX_DELAY_SECONDS
    ):
        raise FaultError(f"delay: must be between 0 and {MAX_DELAY_SECONDS:g} seconds")


def _check_headers(headers: object) -> None:
    if not isinstance(headers, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) and k and "\n" not in k + v and "\r" not in k + v
        for k, v in headers.items()
    ):
        raise FaultError("headers: must map header names to string values (no line breaks)")


def _check_json(body: object) -> None:
    try:
        json.dumps(body, allow_nan=False)
    except (TypeError, ValueError):
        raise FaultError("body: must be JSON-serialisable") from None
