"""``/demobank/<path>``: a stand-in for the Demobank API that only knows how it authorizes.

It knows nothing of Demobank's real resources.  Any method on any path checks the bearer token the
way a resource server validating Keycloak JWTs locally does (``verify.check_access_token``: RS256
against the realm key, ``iss``, ``typ``, ``exp``) and then echoes who called what.  Its purpose is
to let code under test meet a real 401 (expired, tampered, wrong key, refresh token) and handle it.

After the signature it applies userinfo's session checks (a resource server that introspects), so
what a test does on the mock (logout, revocation, ending sessions, a not-before push, disabling
the user) turns the next resource call into a 401, as "finAPI revoked my token" would.  The realm
is the one the token's issuer names, so one base URL serves every mandator.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from keycloak_mock.imitation.errors import BearerChallenge, TokenVerificationError
from keycloak_mock.imitation.http import issuer_base, json_response, state
from keycloak_mock.imitation.verify import check_access_token

from .sessions import SessionProblem, live_session_of

blueprint = Blueprint("demobank", __name__)

_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
#: Resource answers must not be cached by a proxy between test and mock.
_NO_STORE = {"Cache-Control": "no-store"}


_ROUTE: dict[str, Any] = {"methods": _METHODS, "provide_automatic_options": False}


@blueprint.route("/demobank", defaults={"path": ""}, **_ROUTE)
@blueprint.route("/demobank/", defaults={"path": ""}, **_ROUTE)
@blueprint.route("/demobank/<path:path>", **_ROUTE)
def resource(path: str) -> Response:
    token = _bearer_token(request.headers.get("Authorization"))
    if token is None:
        # RFC 6750 3.1: a request without credentials gets a challenge without an error code.
        raise BearerChallenge(401, description="Bearer token required")
    try:
        verified = check_access_token(token, state(), issuer_base=issuer_base())
    except TokenVerificationError as failure:
        raise BearerChallenge(401, "invalid_token", failure.reason) from None
    claims = verified.claims
    realm = state().realm(verified.realm)
    try:
        if realm is None:
            raise SessionProblem("Realm does not exist")
        live_session_of(state(), realm, claims)
    except SessionProblem as problem:
        raise BearerChallenge(401, "invalid_token", str(problem)) from None
    body = {
        "path": "/" + path,
        "method": request.method,
        "subject": claims.get("sub"),
        "mandator": verified.realm,
        "scope": claims.get("scope"),
    }
    return json_response(body, headers=_NO_STORE)


def _bearer_token(header: str | None) -> str | None:
    """The token of ``Authorization: Bearer <token>`` (scheme case-insensitive), else ``None``."""
    scheme, _, token = (header or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


@blueprint.errorhandler(BearerChallenge)
def _refusal(refusal: BearerChallenge) -> Response:
    """401 with the challenge in ``WWW-Authenticate`` and the same facts as JSON for humans."""
    description = refusal.description if refusal.error else None
    header = BearerChallenge(refusal.status, refusal.error, description)
    body = {"error": refusal.error or "unauthorized", "error_description": refusal.description}
    return json_response(
        body, refusal.status, {"WWW-Authenticate": header.challenge(), **_NO_STORE}
    )
