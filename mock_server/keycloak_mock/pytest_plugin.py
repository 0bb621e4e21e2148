"""pytest plugin: the mock Keycloak in-process as fixtures, with control over time, users, failures.

Registered through the ``pytest11`` entry point, so installing the package is enough.  Every
fixture, option and marker is prefixed ``keycloak_``/``--keycloak-``: ``client``, ``app`` and
``config`` belong to other plugins, and ``client`` (our token manager package) is imported only
inside the fixtures that hand one out, since a project may have a module of that name.

Fixture layers (override the small ones in a ``conftest.py``)::

    keycloak_realms_file -> keycloak_mock_config -> keycloak_realms, keycloak_signing_key
        -> keycloak_mock_server (session) -> keycloak_mock (per test: reset, markers applied)
        -> keycloak_client_factory -> keycloak_client

Modes: in-process (default); ``--keycloak-url URL`` / ``KEYCLOAK_MOCK_URL`` drives a mock in
another process through its control API; ``--keycloak-live`` points the client fixtures at
finAPI's live Keycloak and skips every test that needs the mock's controls.
"""

from __future__ import annotations

import dataclasses
import os
import types
from collections.abc import Generator, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Union, get_args, get_origin, get_type_hints

import pytest

from keycloak_mock.controls.schema import MANDATOR_ATTRIBUTES, REALM_SETTINGS, ControlError

# Only light modules at import time: pytest imports this plugin in every run of every project
# that has the kit installed, so flask, werkzeug and cryptography load inside the fixtures.
from keycloak_mock.imitation.config import MockConfig, RealmConfig
from keycloak_mock.imitation.errors import ConfigError, MockServerError
from keycloak_mock.imitation.realmfile import configured_realms

if TYPE_CHECKING:
    from demobank_client import TokenManager
    from keycloak_mock.controls.servererrors import ServerError
    from keycloak_mock.handle import KeycloakMock
    from keycloak_mock.imitation.keys import SigningKey
    from keycloak_mock.serving.server import MockServer

URL_ENV = "KEYCLOAK_MOCK_URL"
ADMIN_TOKEN_ENV = "KEYCLOAK_MOCK_ADMIN_TOKEN"  # noqa: S105 - a variable name, not a secret
REALM_MARKER = "keycloak_realm"
CONFIG_MARKER = "keycloak_config"
#: Settings the ``keycloak_realm`` marker takes: ``RealmConfig``'s fields.
REALM_MARKER_OPTIONS = ("realm", *REALM_SETTINGS, *MANDATOR_ATTRIBUTES)
#: Options the ``keycloak_config`` marker takes: ``MockConfig``'s fields, like the CLI's flags.
CONFIG_MARKER_OPTIONS = tuple(f.name for f in dataclasses.fields(MockConfig))
_DEMO_USERNAME = "demo"
_DEMO_PASSWORD = "demo"  # noqa: S105 - the embedded realm's documented demo user


class ServerThreadError(MockServerError):
    """The mock raised while serving this test's requests (its client saw a 500)."""


@dataclass(frozen=True)
class _Mode:
    url: str | None
    live: bool

    @property
    def in_process(self) -> bool:
        return self.url is None and not self.live


class KeycloakClientFactory(Protocol):
    """``keycloak_client_factory(...)``: a ``demobank_client.TokenManager`` for a mock user."""

    def __call__(
        self,
        username: str = ...,
        password: str = ...,
        *,
        realm: str | None = None,
        client_id: str | None = None,
        **settings: Any,
    ) -> TokenManager: ...


# -- registration -----------------------------------------------------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("keycloak", "keycloak mock (demobank-keycloak-mock)")
    group.addoption(
        "--keycloak-url",
        metavar="URL",
        default=None,
        help=f"use the mock already running at URL (e.g. the container) instead of starting one; "
        f"controls go over its /_mock API (env {URL_ENV}; bearer token from {ADMIN_TOKEN_ENV})",
    )
    group.addoption(
        "--keycloak-live",
        action="store_true",
        default=False,
        help="point the client fixtures at finAPI's live Keycloak (FINAPI_* env vars); tests "
        "that need the mock's controls are skipped",
    )
    group.addoption(
        "--keycloak-tls",
        action="store_true",
        default=False,
        help="serve the in-process mock over https with a generated test-only CA "
        "(keycloak_mock.ca_file; the client fixtures trust it)",
    )
    group.addoption(
        "--keycloak-realm-file",
        metavar="FILE",
        default=None,
        help="realm file (Keycloak realm-export JSON) for the in-process mock "
        "(default: the embedded realm 'customer' with demo/demo)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{REALM_MARKER}(realm=None, **settings): change a realm of the mock for this test "
        "(RealmConfig field names, e.g. access_token_lifespan=60, users=[...]); "
        "an unknown realm name adds that realm",
    )
    config.addinivalue_line(
        "markers",
        f"{CONFIG_MARKER}(**options): run this test against its own in-process mock started "
        "with these MockConfig options (the keycloak-mock CLI's flags, e.g. issuer_url=...)",
    )
    if config.getoption("keycloak_live") and _external_url(config):
        raise pytest.UsageError("--keycloak-live and --keycloak-url exclude each other")


def _external_url(config: pytest.Config) -> str | None:
    url: str | None = config.getoption("keycloak_url") or os.environ.get(URL_ENV) or None
    return url.rstrip("/") if url else None


def _mode(config: pytest.Config) -> _Mode:
    return _Mode(url=_external_url(config), live=bool(config.getoption("keycloak_live")))


def _skip_unless_in_process(mode: _Mode, what: str) -> None:
    if mode.live:
        pytest.skip(f"{what} needs the mock; --keycloak-live talks to finAPI's live Keycloak")
    if mode.url is not None:
        pytest.skip(
            f"{what} needs an in-process mock; --keycloak-url {mode.url} is in another process"
        )


# -- configuration fixtures (override these) ---------------------------------------------
@pytest.fixture(scope="session")
def keycloak_realms_file(pytestconfig: pytest.Config) -> str | None:
    """Realm file the in-process mock serves (``--keycloak-realm-file``); ``None`` serves the
    embedded realm ``customer`` with ``demo``/``demo``.  Override to use your own file."""
    path: str | None = pytestconfig.getoption("keycloak_realm_file")
    return str(Path(path).resolve()) if path else None


@pytest.fixture(scope="session")
def keycloak_mock_config(
    pytestconfig: pytest.Config, keycloak_realms_file: str | None
) -> MockConfig:
    """Options of the session's in-process mock (``MockConfig``, as the CLI's flags); port 0
    picks a free port, so parallel workers never clash; ``--keycloak-tls`` serves https.
    Override to change them."""
    tls = bool(pytestconfig.getoption("keycloak_tls"))
    return MockConfig(port=0, config=keycloak_realms_file, tls=tls)


@pytest.fixture(scope="session")
def keycloak_realms(keycloak_mock_config: MockConfig) -> tuple[RealmConfig, ...]:
    """The realms the in-process mock starts with (and every test is reset to).  Override to
    build them in Python, e.g. ``(dataclasses.replace(default_realm(), ...),)``."""
    return configured_realms(keycloak_mock_config)


@pytest.fixture(scope="session")
def keycloak_signing_key(keycloak_mock_config: MockConfig) -> SigningKey:
    """The RS256 key, parsed once per session (the bundled TEST-ONLY key unless configured)."""
    from keycloak_mock.imitation.keys import load_signing_key

    config = keycloak_mock_config
    return load_signing_key(config.signing_key, generate=config.generate_key)


# -- the server and the handle ----------------------------------------------------------------
@pytest.fixture(scope="session")
def keycloak_mock_server(
    pytestconfig: pytest.Config,
    keycloak_mock_config: MockConfig,
    keycloak_realms: tuple[RealmConfig, ...],
    keycloak_signing_key: SigningKey,
) -> Iterator[MockServer]:
    """One in-process mock Keycloak per session (per xdist worker): real HTTP on a free
    loopback port, served from a thread.  Prefer ``keycloak_mock``, which resets it per test."""
    from keycloak_mock.assembly import create_app
    from keycloak_mock.serving.server import MockServer

    _skip_unless_in_process(_mode(pytestconfig), "keycloak_mock_server")
    app = create_app(keycloak_mock_config, realms=keycloak_realms, signing_key=keycloak_signing_key)
    with MockServer(keycloak_mock_config, app=app) as server:
        yield server


@pytest.fixture(scope="session")
def _keycloak_mock_session(request: pytest.FixtureRequest) -> Iterator[KeycloakMock]:
    """The session's handle: on the in-process server, or on the mock at ``--keycloak-url``."""
    from keycloak_mock.controls.local import controls_of
    from keycloak_mock.handle import KeycloakMock

    mode = _mode(request.config)
    if mode.live:
        pytest.skip("needs the mock's controls; --keycloak-live talks to finAPI's live Keycloak")
    if mode.url is None:
        server: MockServer = request.getfixturevalue("keycloak_mock_server")
        config: MockConfig = request.getfixturevalue("keycloak_mock_config")
        yield KeycloakMock(
            server.url, controls_of(server.app), server=server, issuer_base=config.issuer_url
        )
        return
    from keycloak_mock.controls.remote import RemoteControls

    remote = RemoteControls(mode.url, admin_token=os.environ.get(ADMIN_TOKEN_ENV) or None)
    try:
        overview = remote.overview()
    except ControlError as exc:
        pytest.fail(f"--keycloak-url {mode.url}: {exc}", pytrace=False)
    try:
        yield KeycloakMock(mode.url, remote, issuer_base=overview["issuerBase"])
    finally:
        remote.close()


@pytest.fixture
def keycloak_mock(
    request: pytest.FixtureRequest, _keycloak_mock_session: KeycloakMock
) -> Iterator[KeycloakMock]:
    """The mock for this test, reset to its pristine realms, key, clock, faults and log.

    Has the URLs (``url``, ``token_url``, ``issuer``, ``jwks_url``, ``demobank_url``,
    ``urls(realm)``) and the controls: ``advance``/``freeze``/``expire_access_tokens``/
    ``expire_sessions``, ``add_user``/``disable_user``/``remove_user``/``set_password``,
    ``set_lifetimes``/``add_realm``, ``end_session(s)``/``push_not_before``/
    ``rotate_signing_key``, ``fail_next``/``delay_next``/``drop_next``/``set_error_rate``, and
    the request log ``requests``/``count``/``counters``.  In-process also ``state`` and ``app``.
    Applies ``keycloak_realm``/``keycloak_config`` markers.  A 500 raised in the server fails
    the test with the server's traceback.
    """
    with ExitStack() as stack:
        marker = request.node.get_closest_marker(CONFIG_MARKER)
        if marker is None:
            handle = _keycloak_mock_session
            handle.reset()
            # Also after the test: tests that use keycloak_mock_server directly then never meet
            # a fault or a moved clock left behind.
            stack.callback(handle.reset)
        else:
            handle = _dedicated_mock(request, marker, stack)
        for realm_marker in reversed(list(request.node.iter_markers(REALM_MARKER))):
            _apply_realm_marker(handle, realm_marker)
        yield handle


def _dedicated_mock(
    request: pytest.FixtureRequest, marker: pytest.Mark, stack: ExitStack
) -> KeycloakMock:
    from keycloak_mock.assembly import create_app
    from keycloak_mock.controls.local import controls_of
    from keycloak_mock.handle import KeycloakMock
    from keycloak_mock.serving.server import MockServer

    _skip_unless_in_process(_mode(request.config), f"@pytest.mark.{CONFIG_MARKER}")
    base: MockConfig = request.getfixturevalue("keycloak_mock_config")
    try:
        config = config_from_marker(base, marker.args, marker.kwargs)
    except ConfigError as exc:
        pytest.fail(f"@pytest.mark.{CONFIG_MARKER}: {exc}", pytrace=False)
    realms = None
    if not {"config", "access_token_lifespan", "refresh_token_lifespan"} & set(marker.kwargs):
        realms = request.getfixturevalue("keycloak_realms")
    key = None
    if config.signing_key == base.signing_key and config.generate_key == base.generate_key:
        key = request.getfixturevalue("keycloak_signing_key")
    try:
        app = create_app(config, realms=realms, signing_key=key)
    except ConfigError as exc:
        pytest.fail(f"@pytest.mark.{CONFIG_MARKER}: {exc}", pytrace=False)
    server = stack.enter_context(MockServer(config, app=app))
    return KeycloakMock(server.url, controls_of(app), server=server, issuer_base=config.issuer_url)


def config_from_marker(
    base: MockConfig, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> MockConfig:
    """``base`` with the marker's options; raises ``ConfigError`` for unknown or mistyped ones."""
    from keycloak_mock.serving.options import validate

    if args:
        raise ConfigError("takes keyword options only, e.g. access_token_lifespan=60")
    hints = get_type_hints(MockConfig)
    for name, value in kwargs.items():
        if name not in CONFIG_MARKER_OPTIONS:
            raise ConfigError(f"unknown option {name!r}; known: {', '.join(CONFIG_MARKER_OPTIONS)}")
        if not _has_type(value, hints[name]):
            raise ConfigError(f"{name}: {value!r} is not of type {hints[name]}")
    config = dataclasses.replace(base, **kwargs)
    validate(config)
    return config


def _has_type(value: object, hint: Any) -> bool:
    if get_origin(hint) in (Union, types.UnionType):
        return any(_has_type(value, arg) for arg in get_args(hint))
    if hint is type(None):
        return value is None
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _apply_realm_marker(handle: KeycloakMock, marker: pytest.Mark) -> None:
    where = f"@pytest.mark.{REALM_MARKER}"
    if len(marker.args) > 1 or (marker.args and "realm" in marker.kwargs):
        pytest.fail(f"{where}: give the realm name once, then keyword settings", pytrace=False)
    name = marker.kwargs.get("realm", marker.args[0] if marker.args else None)
    settings = {k: v for k, v in marker.kwargs.items() if k != "realm"}
    try:
        if name is None or name in handle.realm_names():
            if settings:
                handle.update_realm(name, **settings)
        else:
            handle.add_realm(name, **settings)
    except ControlError as exc:
        pytest.fail(f"{where}: {exc}", pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    """Fail the test that made the server raise, with the server's traceback."""
    failure: BaseException | None = None
    try:
        result = yield
    except BaseException as exc:
        failure = exc
    handle = getattr(item, "funcargs", {}).get("keycloak_mock")
    errors: list[ServerError] = (
        [] if handle is None else getattr(handle, "take_server_errors", list)()
    )
    if errors:
        lines = [f"the mock Keycloak raised while serving {len(errors)} request(s):"]
        for error in errors:
            lines.append(f"  {error.method} {error.path}: {error.type}: {error.message}")
        if failure is not None:
            lines.append(f"(the test then failed with {type(failure).__name__}: {failure})")
        lines.append("server traceback:\n" + errors[0].traceback)
        raise ServerThreadError("\n".join(lines)) from errors[0].exception
    if failure is not None:
        raise failure
    return result


# -- client fixtures --------------------------------------------------------------------------
@pytest.fixture
def keycloak_client_factory(request: pytest.FixtureRequest) -> Iterator[KeycloakClientFactory]:
    """Makes ``demobank_client.TokenManager``s bound to the mock (or, with ``--keycloak-live``, to
    finAPI with ``FINAPI_*`` credentials): ``keycloak_client_factory("alice", "pw", realm=...)``.
    Their clock is the mock's, so ``advance()`` makes them refresh.  Closed after the test."""
    from demobank_client import Settings, TokenManager

    mode = _mode(request.config)
    with ExitStack() as stack:
        if mode.live:
            factory = _live_factory(stack, Settings, TokenManager)
        else:
            handle: KeycloakMock = request.getfixturevalue("keycloak_mock")
            factory = _mock_factory(handle, stack, Settings, TokenManager)
        yield factory


def _mock_factory(
    handle: KeycloakMock, stack: ExitStack, settings_type: Any, manager_type: Any
) -> KeycloakClientFactory:
    def make(
        username: str = _DEMO_USERNAME,
        password: str = _DEMO_PASSWORD,
        *,
        realm: str | None = None,
        client_id: str | None = None,
        **settings: Any,
    ) -> TokenManager:
        if client_id is not None:
            settings["client_id"] = client_id
        if handle.ca_file is not None:
            settings.setdefault("ca_bundle", handle.ca_file)
        config = settings_type(
            base_url=handle.url,
            mandator=realm or handle.realm,
            username=username,
            password=password,
            **settings,
        )
        manager: TokenManager = manager_type(config, clock=handle.now)
        stack.callback(manager.close)
        return manager

    return make


def _live_factory(stack: ExitStack, settings_type: Any, manager_type: Any) -> KeycloakClientFactory:
    from demobank_client import AuthError, ConfigurationError

    def make(
        username: str | None = None,
        password: str | None = None,
        *,
        realm: str | None = None,
        client_id: str | None = None,
        **settings: Any,
    ) -> TokenManager:
        try:
            config = settings_type.from_env(
                username=username,
                password=password,
                mandator=realm,
                client_id=client_id,
                **settings,
            )
        except ConfigurationError as exc:
            pytest.skip(f"--keycloak-live needs finAPI credentials: {exc}")
        manager: TokenManager = manager_type(config)

        def logout() -> None:
            try:
                manager.logout()
            except AuthError:
                pass  # best effort: the live session times out on its own
            finally:
                manager.close()

        stack.callback(logout)
        return manager

    return make


@pytest.fixture
def keycloak_client(keycloak_client_factory: KeycloakClientFactory) -> TokenManager:
    """A ``demobank_client.TokenManager`` for the default realm's ``demo``/``demo`` (live: the
    ``FINAPI_*`` credentials), not yet logged in.
    ``demobank_client.authorized_session(keycloak_client)`` gives a ``requests.Session`` that
    sends its bearer token."""
    return keycloak_client_factory()
