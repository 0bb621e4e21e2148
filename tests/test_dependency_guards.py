"""Guards for the private APIs of dependencies that the kit overrides or reads.

Each override earns its place (``docs/design/dependency-overrides.md``) and is pinned to the
tested range in pyproject; these tests fail first if a new release changes what it relies on, so
widening a pin starts here.
"""

from __future__ import annotations

import inspect
from importlib import metadata
from io import BytesIO

from flask import Flask, g
from flask.ctx import _AppCtxGlobals
from werkzeug.datastructures import MultiDict
from werkzeug.formparser import FormDataParser
from werkzeug.test import EnvironBuilder
from werkzeug.utils import cached_property
from werkzeug.wrappers import Request

from keycloak_mock.imitation.http import current_globals
from keycloak_mock.imitation.limits import LenientFormParser, LimitedRequest


def _major_minor(distribution: str) -> tuple[int, int]:
    major, minor = metadata.version(distribution).split(".")[:2]
    return int(major), int(minor)


def test_installed_versions_are_the_pinned_ones() -> None:
    assert _major_minor("werkzeug") == (3, 1)
    assert _major_minor("flask") == (3, 1)


def test_werkzeug_request_still_loads_forms_through_the_overridden_method() -> None:
    assert list(inspect.signature(Request._load_form_data).parameters) == ["self"]
    for name in ("form", "files", "stream"):
        # Values are stored in the instance dict under the property's name, which is what
        # LimitedRequest writes and reads.
        assert isinstance(inspect.getattr_static(Request, name), cached_property)


def test_a_form_put_in_the_instance_dict_is_what_request_form_returns() -> None:
    environ = EnvironBuilder(method="POST", data={"a": "1"}).get_environ()
    req = Request(environ)
    planted: MultiDict[str, str] = MultiDict([("grant_type", "password")])
    req.__dict__["form"] = planted
    assert req.form is planted


def test_limited_request_reads_exactly_the_declared_form() -> None:
    body = b"grant_type=password&username=demo"
    environ = EnvironBuilder(
        method="POST",
        input_stream=BytesIO(body),
        content_type="application/x-www-form-urlencoded",
        content_length=len(body),
    ).get_environ()
    assert LimitedRequest(environ).form.to_dict() == {"grant_type": "password", "username": "demo"}


def test_form_parser_still_dispatches_url_encoded_bodies_to_the_overridden_method() -> None:
    params = list(inspect.signature(FormDataParser._parse_urlencoded).parameters)
    assert params == ["self", "stream", "mimetype", "content_length", "options"]
    body = b"grant_type=pass%FFword"
    parser = LenientFormParser()
    _, form, _ = parser.parse(BytesIO(body), "application/x-www-form-urlencoded", len(body), {})
    # Java's decoding: the bad byte becomes U+FFFD instead of werkzeug's empty form.
    assert form.to_dict() == {"grant_type": "pass\ufffdword"}


def test_flask_app_context_globals_class_is_the_one_we_annotate_with() -> None:
    app = Flask(__name__)
    assert app.app_ctx_globals_class is _AppCtxGlobals
    with app.app_context():
        assert type(current_globals()) is _AppCtxGlobals
        assert current_globals() is g._get_current_object()  # type: ignore[attr-defined]
