"""What several views share: realm lookup and form access."""

from __future__ import annotations

from flask import abort
from werkzeug.datastructures import MultiDict

from keycloak_mock.imitation.config import RealmConfig
from keycloak_mock.imitation.http import current_request, json_response, state

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


def require_realm(name: str) -> RealmConfig:
    """The realm, or Keycloak's 404 for unknown realms (before any endpoint logic runs)."""
    realm = state().realm(name)
    if realm is None:
        abort(json_response({"error": "Realm does not exist"}, 404))
    return realm


def require_form() -> MultiDict[str, str]:
    """The form of a ``@Consumes(form-urlencoded)`` endpoint, or Keycloak's 415.

    A request without any Content-Type is read as an empty form, which is what clients that post
    no parameters at all expect.
    """
    req = current_request()
    if req.mimetype not in ("", FORM_CONTENT_TYPE):
        abort(
            json_response(
                {"error": "The content-type header value did not match the value in @Consumes"}, 415
            )
        )
    form: MultiDict[str, str] = req.form
    return form


def single_values(form: MultiDict[str, str]) -> dict[str, str]:
    return {key: form[key] for key in form}


def duplicated_parameter(form: MultiDict[str, str]) -> bool:
    return any(len(values) > 1 for values in form.listvalues())
