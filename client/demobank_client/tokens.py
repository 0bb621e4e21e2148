"""``TokenSet``: one token response as an immutable value with absolute deadlines.

Deadlines are computed once, on receipt, from the ``expires_in``/``refresh_expires_in`` seconds the
server sent and the moment the request was *sent*, on a monotonic clock: latency can only make us
early, and neither the server's clock nor a change of the wall clock can make us late.  The wall
time of sending is kept too, so a caller that persists the response (``on_token``) can restore it
in another process with ``TokenSet.restore``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeGuard

import jwt

from .errors import UnexpectedResponse


def parse_flag(value: str | None) -> bool | None:
    """finAPI's string booleans (``"true"``/``"false"``); ``None`` when absent or anything else."""
    if value is None:
        return None
    lowered = value.strip().lower()
    return True if lowered == "true" else False if lowered == "false" else None


@dataclass(frozen=True, kw_only=True)
class TokenSet:
    """A token response; the tokens themselves never show in ``repr``.

    ``expires_at`` and ``refresh_expires_at`` are on the clock that received the response
    (``time.monotonic`` unless the manager was given another clock).
    """

    access_token: str = field(repr=False)
    token_type: str
    expires_in: int
    expires_at: float
    refresh_token: str | None = field(default=None, repr=False)
    refresh_expires_in: int | None = None
    #: ``None`` when there is no refresh token or the server gave it no deadline (``0``).
    refresh_expires_at: float | None = None
    id_token: str | None = field(default=None, repr=False)
    scope: str | None = None
    session_state: str | None = None
    not_before_policy: int | None = None
    #: finAPI's extra response fields, exactly as sent (strings).
    mandator_name: str | None = None
    mandator_uuid: str | None = None
    is_test_mandator: str | None = None
    is_technical_user: str | None = None
    received_at: float
    received_at_epoch: float
    #: The whole response body as received (read-only), for fields not modelled here.
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_response(
        cls,
        body: Any,
        *,
        sent_at: float,
        sent_at_epoch: float | None = None,
        previous: TokenSet | None = None,
    ) -> TokenSet:
        """Build from a parsed token response; raises ``UnexpectedResponse`` if it is not one.

        ``previous`` is the set a refresh replaces: if the server sends no new refresh token
        the old one stays valid, with its old deadline (RFC 6749 section 6).
        """
        if not isinstance(body, dict):
            raise UnexpectedResponse("token response is not a JSON object")
        access_token = body.get("access_token")
        expires_in = body.get("expires_in")
        if not isinstance(access_token, str) or not access_token:
            raise UnexpectedResponse("token response has no access_token")
        if not _is_int(expires_in) or expires_in < 0:
            raise UnexpectedResponse("token response has no valid expires_in")
        refresh_token = _optional(body, "refresh_token", str)
        refresh_expires_in = _optional(body, "refresh_expires_in", int)
        refresh_expires_at: float | None = None
        if refresh_token:
            if refresh_expires_in:
                refresh_expires_at = sent_at + refresh_expires_in
        elif previous is not None and previous.refresh_token:
            refresh_token = previous.refresh_token
            refresh_expires_in = previous.refresh_expires_in
            refresh_expires_at = previous.refresh_expires_at
        return cls(
            access_token=access_token,
            token_type=_optional(body, "token_type", str) or "Bearer",
            expires_in=expires_in,
            expires_at=sent_at + expires_in,
            refresh_token=refresh_token or None,
            refresh_expires_in=refresh_expires_in,
            refresh_expires_at=refresh_expires_at,
            id_token=_optional(body, "id_token", str),
            scope=_optional(body, "scope", str),
            session_state=_optional(body, "session_state", str),
            not_before_policy=_optional(body, "not-before-policy", int),
            mandator_name=_optional(body, "mandator_name", str),
            mandator_uuid=_optional(body, "mandator_uuid", str),
            is_test_mandator=_optional(body, "is_test_mandator", str),
            is_technical_user=_optional(body, "is_technical_user", str),
            received_at=sent_at,
            received_at_epoch=time.time() if sent_at_epoch is None else sent_at_epoch,
            raw=MappingProxyType(dict(body)),
        )

    @classmethod
    def restore(
        cls,
        body: Mapping[str, Any],
        received_at_epoch: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> TokenSet:
        """Rebuild a persisted response (``raw`` and ``received_at_epoch``) in a new process."""
        age = max(0.0, wall_clock() - received_at_epoch)
        return cls.from_response(dict(body), sent_at=clock() - age, sent_at_epoch=received_at_epoch)

    # -- deadlines ------------------------------------------------------------------------
    def is_expired(self, leeway: float = 0.0, *, now: float | None = None) -> bool:
        """True once the access token is within ``leeway`` seconds of its deadline."""
        current = time.monotonic() if now is None else now
        return current >= self.expires_at - leeway

    def refresh_is_expired(self, leeway: float = 0.0, *, now: float | None = None) -> bool:
        """True if there is no refresh token or it is within ``leeway`` of its deadline."""
        if not self.refresh_token:
            return True
        if self.refresh_expires_at is None:
            return False
        current = time.monotonic() if now is None else now
        return current >= self.refresh_expires_at - leeway

    @property
    def expires_at_epoch(self) -> float:
        """The access token's deadline as a Unix timestamp (for display and persistence)."""
        return self.received_at_epoch + self.expires_in

    # -- finAPI's string flags -------------------------------------------------------------
    @property
    def test_mandator(self) -> bool | None:
        """``is_test_mandator`` as a boolean; ``None`` if absent or not ``true``/``false``."""
        return parse_flag(self.is_test_mandator)

    @property
    def technical_user(self) -> bool | None:
        """``is_technical_user`` as a boolean; ``None`` if absent or not ``true``/``false``."""
        return parse_flag(self.is_technical_user)

    # -- claims -----------------------------------------------------------------------------
    def claims(self) -> dict[str, Any]:
        """The access token's claims, decoded WITHOUT verifying anything.

        Fine for reading ``sub`` or ``preferred_username`` of a token you just received from
        Keycloak over TLS; use ``TokenManager.verify`` when the signature matters.
        """
        return decode_unverified(self.access_token)

    def id_claims(self) -> dict[str, Any] | None:
        """The ID token's claims (unverified), if one was issued (``scope=openid``)."""
        return decode_unverified(self.id_token) if self.id_token else None

    @property
    def authorization(self) -> str:
        """The ``Authorization`` header value: ``Bearer <access token>``."""
        return f"Bearer {self.access_token}"


def decode_unverified(token: str) -> dict[str, Any]:
    """A JWT's payload without signature or time checks; ``UnexpectedResponse`` if unreadable."""
    try:
        claims: Any = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise UnexpectedResponse(f"token is not a readable JWT: {exc}") from exc
    if not isinstance(claims, dict):
        raise UnexpectedResponse("token payload is not a JSON object")
    return claims


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _optional(body: Mapping[str, Any], name: str, kind: type) -> Any:
    value = body.get(name)
    if value is None:
        return None
    if kind is int and not _is_int(value):
        raise UnexpectedResponse(f"token response field {name!r} is not an integer")
    if kind is str and not isinstance(value, str):
        raise UnexpectedResponse(f"token response field {name!r} is not a string")
    return value
