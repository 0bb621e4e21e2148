"""The practical ceiling: the least a Flask token endpoint can do.

``POST /token`` parses the form, signs one RS256 JWT with a parsed key object (the bundled
TEST-ONLY dev key, the one the mock signs with) and answers a small JSON body.  No sessions, no
realm, no checks: whatever the mock does beyond this is what its fidelity costs.  The benchmark
serves it the same two ways it serves the mock:

- ``python benchmarks/ceiling_app.py --port N``: werkzeug's threaded server, exactly as
  ``keycloak-mock`` runs (``keycloak_mock.serving.server.serve_on``);
- the Dockerfile's gunicorn command with ``ceiling_app:app_from_env()`` as the app.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import uuid

import jwt
from flask import Flask, Response, request

from keycloak_mock.imitation.keys import load_signing_key
from keycloak_mock.serving.server import serve_on

LIFESPAN = 300


def create_app() -> Flask:
    key = load_signing_key()
    headers = {"kid": key.kid}
    app = Flask(__name__)

    @app.get("/health/ready")
    def ready() -> dict[str, object]:
        return {"status": "UP", "checks": []}

    @app.post("/token")
    def token() -> dict[str, object] | Response:
        form = request.form
        username = form.get("username")
        if not username:
            return Response(status=400)
        now = int(time.time())
        claims = {"exp": now + LIFESPAN, "iat": now, "jti": str(uuid.uuid4()), "sub": username}
        signed = jwt.encode(claims, key.private_key, algorithm="RS256", headers=headers)
        return {"access_token": signed, "token_type": "Bearer", "expires_in": LIFESPAN}

    return app


def app_from_env() -> Flask:
    """gunicorn factory, mirroring ``keycloak_mock.serving.wsgi:app_from_env()``."""
    return create_app()


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the ceiling app like keycloak-mock does.")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    server = serve_on("127.0.0.1", args.port, create_app())
    # The same request log as keycloak-mock's, so both pay for it.
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    print(f"ceiling app on http://127.0.0.1:{server.port}/token", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
