"""``GET /_mock/openapi.json``: the OpenAPI 3.1 description of this server (``openapi.py``).

Public even when the control API needs an admin token: it describes the API, it holds no secret.
Built once per app, with the control paths only if the control API is on.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app

from keycloak_mock.imitation.http import EXTENSION_KEY, mock_config

from .openapi import PATH, document_json

blueprint = Blueprint("openapi", __name__)
_CACHE_KEY = "openapi_document"


@blueprint.route(PATH, methods=["GET"])
def openapi_document() -> Response:
    store = current_app.extensions[EXTENSION_KEY]
    body = store.get(_CACHE_KEY)
    if body is None:
        config = mock_config()
        document = document_json(
            control_api=not config.disable_control_api, ui=not config.disable_ui
        )
        body = store.setdefault(_CACHE_KEY, document)
    return Response(body, content_type="application/json", headers={"Cache-Control": "no-cache"})
