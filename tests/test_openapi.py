"""The OpenAPI description is served, valid, true to the routes, and the server lives up to it.

The fuzz test is schemathesis driven by that description against a real server on loopback:
every operation gets its documented examples plus generated and deliberately invalid input, and
every answer must be documented (status, content type, body schema, required headers), never a
5xx and never slower than ``MAX_RESPONSE_SECONDS``.  The mock is reset after each case, so a
case that arms a fault or deletes a realm cannot bleed into the next.

Bounded here (``FUZZ_EXAMPLES`` per operation: 8 locally, 20 and never the same under ``CI=true``);
``FUZZ_EXAMPLES=500 pytest tests/test_openapi.py`` is the long run (docs/robustness.md).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest
import requests
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from keycloak_mock import MockConfig, MockServer, create_app
from keycloak_mock.controls import views as control
from keycloak_mock.controls.openapi import PATH, document

from .conftest import IN_CI, REALMS_FILE

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "20" if IN_CI else "8"))
MAX_RESPONSE_SECONDS = 5.0
#: Methods every rule gets implicitly (werkzeug adds HEAD to GET; Flask answers OPTIONS itself).
IMPLICIT = {"HEAD"}


def flask_path(rule: str) -> str:
    """``/realms/<realm_name>`` and ``/demobank/<path:path>`` as OpenAPI writes them."""
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def served_operations(app: Flask) -> set[tuple[str, str]]:
    operations: set[tuple[str, str]] = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "control.dispatch":
            continue  # the control API routes itself; its table is below
        methods = set(rule.methods or ()) - IMPLICIT
        if getattr(rule, "provide_automatic_options", False):
            methods.discard("OPTIONS")
        operations |= {(method, flask_path(rule.rule)) for method in methods}
    if "control.dispatch" in app.view_functions:
        operations |= {(method, flask_path(path)) for method, path in control.routes()}
    return operations


def described_operations(spec: dict[str, object]) -> set[tuple[str, str]]:
    paths = spec["paths"]
    assert isinstance(paths, dict)
    return {
        (method.upper(), path)
        for path, item in paths.items()
        for method in item
        if method not in ("parameters", "summary", "description")
    }


def test_document_is_valid_openapi_3_1() -> None:
    spec = document()
    assert spec["openapi"] == "3.1.0"
    validate(spec)


def test_every_route_is_described_and_every_description_is_a_route() -> None:
    app = create_app()
    assert served_operations(app) == described_operations(document())


def test_without_the_control_api_nothing_under_it_is_described() -> None:
    app = create_app(MockConfig(disable_control_api=True))
    with app.test_client() as client:
        spec = client.get(PATH).json
    assert spec is not None
    assert served_operations(app) == described_operations(spec)
    assert not [path for path in spec["paths"] if path.startswith("/_mock/") and path != PATH]


def test_served_document_is_the_packaged_one(keycloak_mock: MockServer) -> None:
    response = requests.get(keycloak_mock.url + PATH, timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == document()


def test_served_document_needs_no_admin_token() -> None:
    with MockServer(MockConfig(port=0, admin_token="TEST-ONLY-admin")) as server:
        assert requests.get(server.url + PATH, timeout=10).status_code == 200
        assert requests.get(server.url + "/_mock/time", timeout=10).status_code == 401


# -- fuzzing ---------------------------------------------------------------------------------

schema = schemathesis.openapi.from_dict(document())


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[MockServer]:
    """A server of its own with the fixture realms (a confidential client for introspection)."""
    with MockServer(MockConfig(port=0, config=str(REALMS_FILE))) as server:
        yield server


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
]


@schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    # Locally the same cases each run; CI draws new ones every time (a failure prints its blob).
    derandomize=not IN_CI,
)
def test_fuzz_the_server_from_its_description(
    case: schemathesis.Case, fuzz_server: MockServer
) -> None:
    try:
        response = case.call(base_url=fuzz_server.url, timeout=MAX_RESPONSE_SECONDS)
        assert response.elapsed < MAX_RESPONSE_SECONDS, f"took {response.elapsed:.1f} s"
        case.validate_response(response, checks=CHECKS)
    finally:
        fuzz_server.state.reset()
