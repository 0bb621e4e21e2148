"""The page at ``/``: realms, live sessions, a token decoder, the request log and the controls.

One server-rendered page (Flask's Jinja) and a small script, both shipped in the package, so it
works offline and needs no build step.  The page holds no data of its own: the script reads and
changes everything through the control API, so the page adds no second way of changing state,
and with ``--admin-token`` it asks for the token and sends it with every call.  It polls (no
connection held open per page) and stops polling while hidden.

On by default for the development server, off with ``--disable-ui``, off in the image unless
``KEYCLOAK_MOCK_DISABLE_UI=false``, and off whenever the control API is.  Like ``/_mock`` it
answers only to the mock's own host names (``hostcheck.py``).  Its own requests are neither
logged nor faultable.
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template

from keycloak_mock.imitation.http import mock_config

from .hostcheck import refuse_foreign_host
from .schema import PREFIX

UI_BLUEPRINT = "ui"
#: Where the script and style sheet are served: below the mock's own prefix, never a Keycloak path.
STATIC_PATH = f"{PREFIX}/ui"

#: Everything from this origin, nothing inline, nothing from elsewhere, no framing.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

blueprint = Blueprint(
    UI_BLUEPRINT,
    __name__,
    template_folder="ui_templates",
    static_folder="ui_static",
    static_url_path=STATIC_PATH,
)
blueprint.before_request(refuse_foreign_host)


@blueprint.after_request
def _page_headers(response: Response) -> Response:
    for name, value in _PAGE_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


@blueprint.route("/", methods=["GET"])
def page() -> Response:
    body = render_template(
        "keycloak_mock_ui.html",
        control_prefix=PREFIX,
        static_path=STATIC_PATH,
        issuer_url=mock_config().issuer_url or "",
    )
    return Response(body, content_type="text/html; charset=utf-8")
