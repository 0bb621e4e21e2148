"""The client's decisions, apart from any I/O: when to refresh, what an error answer means.

Every function here is pure and takes ``now`` (on the clock the ``TokenSet`` deadlines use), so
the rules are unit-tested without sockets or sleeping, and the manager only executes them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from .errors import (
    AccountDisabled,
    AccountNotFullySetUp,
    AuthError,
    InvalidClient,
    InvalidCredentials,
    InvalidGrant,
    OAuthError,
    ServerError,
    UnexpectedResponse,
    UnknownMandator,
)
from .settings import CLIENT_CREDENTIALS_GRANT, PASSWORD_GRANT
from .tokens import TokenSet

__all__ = ["CLIENT_CREDENTIALS_GRANT", "PASSWORD_GRANT", "REFRESH_GRANT", "Action"]

#: A leeway never exceeds this fraction of the token's lifetime: with the default 30 s a 15-min
#: token is renewed 30 s early, a 60 s token 15 s early and a 2 s token half a second early, so
#: short-lived tokens in tests are still used instead of being renewed on every call.
LEEWAY_FRACTION = 0.25

REFRESH_GRANT = "refresh_token"

#: Keycloak's ``error_description`` values of the direct grant that name the account's state.
_ACCOUNT_STATES: dict[str, type[OAuthError]] = {
    "Account disabled": AccountDisabled,
    "User disabled": AccountDisabled,
    "Account is not fully set up": AccountNotFullySetUp,
}


class Action(enum.Enum):
    """What the manager must do before it can hand out an access token."""

    USE = "use"  # the current access token is good
    REFRESH = "refresh"  # refresh grant with the current refresh token
    LOGIN = "login"  # password grant (client credentials for a service account)


def effective_leeway(leeway: float, lifetime: float) -> float:
    """``leeway`` capped at ``LEEWAY_FRACTION`` of ``lifetime`` (both seconds), never negative."""
    return max(0.0, min(leeway, lifetime * LEEWAY_FRACTION))


def next_action(tokens: TokenSet | None, now: float, leeway: float) -> Action:
    """Whether the current token set can be used as it is, or how to renew it."""
    if tokens is not None and not tokens.is_expired(
        effective_leeway(leeway, tokens.expires_in), now=now
    ):
        return Action.USE
    return renewal(tokens, now, leeway)


def renewal(tokens: TokenSet | None, now: float, leeway: float) -> Action:
    """How to get a new access token: refresh while the refresh token lives, else log in."""
    if tokens is None:
        return Action.LOGIN
    refresh_leeway = effective_leeway(leeway, tokens.refresh_expires_in or 0)
    if tokens.refresh_is_expired(refresh_leeway, now=now):
        return Action.LOGIN
    return Action.REFRESH


def after_rejection(
    tokens: TokenSet | None, rejected_access_token: str, now: float, leeway: float
) -> Action:
    """A resource answered 401 to ``rejected_access_token``: renew it, unless already replaced.

    Many threads may see the same 401; the first renews, the others find a newer token here and
    use it, so one revoked token costs one refresh, not one per thread.
    """
    if tokens is not None and tokens.access_token != rejected_access_token:
        return next_action(tokens, now, leeway)
    return renewal(tokens, now, leeway)


def should_login_again(error: AuthError) -> bool:
    """A failed refresh that a password login can repair: the refresh token or session is dead.

    Keycloak answers all of these with ``invalid_grant`` (``Token is not active``, ``Session not
    active``, ``Stale token``, ``Invalid refresh token``, ``User disabled``, reuse exceeded...).
    Anything else (a wrong client, a server error) would fail the login the same way.
    """
    return isinstance(error, InvalidGrant)


def error_class(status: int, body: Any, grant: str) -> type[AuthError]:
    """The exception for a non-2xx answer of the token (or logout) endpoint.

    ``body`` is the parsed JSON (``None`` if the body was not JSON).  The classification reads
    ``error`` and ``error_description``, never the status alone: Keycloak answers a wrong password
    with 401 up to 26.5 and 400 from 26.6 on.
    """
    if status >= 500:
        return ServerError
    error, description = error_fields(body)
    if error is None:
        return UnexpectedResponse
    if status == 404:
        # Keycloak's only JSON 404 for a realm path; any other 404 means a wrong base URL.
        return UnknownMandator if error == "Realm does not exist" else UnexpectedResponse
    if error in ("invalid_client", "unauthorized_client"):
        return InvalidClient
    if error == "invalid_grant":
        if grant != PASSWORD_GRANT:
            return InvalidGrant
        account_state = _ACCOUNT_STATES.get(description or "")
        return account_state or InvalidCredentials
    return OAuthError


def error_fields(body: Any) -> tuple[str | None, str | None]:
    """``(error, error_description)`` of an OAuth error body; ``(None, None)`` if it is not one."""
    if not isinstance(body, Mapping):
        return None, None
    error = body.get("error")
    description = body.get("error_description")
    if not isinstance(error, str):
        return None, None
    return error, description if isinstance(description, str) else None
