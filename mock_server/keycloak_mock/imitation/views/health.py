"""Health endpoints in Keycloak's management format, for container health checks."""

from __future__ import annotations

from flask import Blueprint, Response

from keycloak_mock.imitation.http import json_response

blueprint = Blueprint("health", __name__)


@blueprint.route("/health/ready", methods=["GET"])
@blueprint.route("/health/live", methods=["GET"])
@blueprint.route("/health", methods=["GET"])
def health() -> Response:
    # Answering at all means the server serves: all state is in memory and built before binding.
    return json_response({"status": "UP", "checks": []})
