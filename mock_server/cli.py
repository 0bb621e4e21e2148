"""``keycloak-mock``: run the mock Keycloak in the foreground.

Flags are generated from ``MockConfig``'s fields, and each reads its default from an env var
``KEYCLOAK_MOCK_<FLAG>`` (for containers), so the three surfaces cannot drift apart.  Every
problem a user can cause (bad flag, unreadable realm file, taken port) ends in one line on
stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import ipaddress
import logging
import os
import signal
import sys
import types
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn, TextIO, get_type_hints

from flask import Flask

from .app import create_app, mock_state
from .config import MockConfig
from .errors import ConfigError
from .server import serve_on

PROG = "keycloak-mock"
ENV_PREFIX = "KEYCLOAK_MOCK_"
EXIT_USAGE = 2
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def env_var(field_name: str) -> str:
    return ENV_PREFIX + field_name.upper()


def flag(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


@functools.cache
def _config_type_hints() -> dict[str, Any]:
    # Once per process: evaluating the string annotations again for every option cost 2 to 4 ms
    # of every start here (the container parses its env through this parser too).
    return get_type_hints(MockConfig)


def _field_type(field: dataclasses.Field[Any]) -> type:
    hint = _config_type_hints()[field.name]
    args = [a for a in getattr(hint, "__args__", ()) if a is not type(None)]
    if isinstance(hint, types.UnionType) or args:
        return args[0]  # type: ignore[no-any-return]
    return hint  # type: ignore[no-any-return]


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog=PROG,
        description="Mock of finAPI Demobank's Keycloak (token endpoint, JWKS, discovery). "
        "A development tool: never use it to guard real data.",
        epilog=f"Every option can also be set with an env var: {ENV_PREFIX}<OPTION>, "
        f"e.g. {env_var('port')}=9000. `{PROG} healthcheck --help`: check a running mock.",
    )
    for field in dataclasses.fields(MockConfig):
        kind = _field_type(field)
        help_text = f"{field.metadata['help']} (env {env_var(field.name)})"
        if kind is bool:
            parser.add_argument(flag(field.name), action="store_true", default=None, help=help_text)
        else:
            metavar = {int: "SECONDS" if "lifespan" in field.name else "N", str: "VALUE"}[kind]
            if field.name in ("config", "signing_key"):
                metavar = "FILE"
            elif field.name == "issuer_url":
                metavar = "URL"
            elif field.name == "host":
                metavar = "HOST"
            elif field.name == "port":
                metavar = "PORT"
            parser.add_argument(flag(field.name), type=kind, metavar=metavar, help=help_text)
    return parser


def config_from(argv: Sequence[str] | None, environ: Mapping[str, str]) -> MockConfig:
    """Flags win over env vars, env vars over ``MockConfig``'s defaults."""
    parser = build_parser()
    args = parser.parse_args(argv)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(MockConfig):
        given = getattr(args, field.name)
        if given is not None:
            values[field.name] = given
            continue
        raw = environ.get(env_var(field.name))
        if raw is None:
            continue
        values[field.name] = _parse_env(parser, field, raw)
    return MockConfig(**values)


def _parse_env(parser: argparse.ArgumentParser, field: dataclasses.Field[Any], raw: str) -> Any:
    kind = _field_type(field)
    name = env_var(field.name)
    if kind is bool:
        lowered = raw.strip().lower()
        if lowered not in _TRUE | _FALSE:
            parser.error(f"{name}: expected true or false, got {raw!r}")
        return lowered in _TRUE
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            parser.error(f"{name}: expected an integer, got {raw!r}")
    return raw


def validate(config: MockConfig) -> None:
    """Checks that need no I/O; raises ``ConfigError``."""
    if not 0 <= config.port <= 65535:
        raise ConfigError(f"--port: {config.port} is not a TCP port")
    for name in ("access_token_lifespan", "refresh_token_lifespan"):
        value = getattr(config, name)
        if value is not None and value <= 0:
            raise ConfigError(f"{flag(name)}: must be a positive number of seconds")
    if config.issuer_url is not None and not config.issuer_url.startswith(("http://", "https://")):
        raise ConfigError(f"--issuer-url: {config.issuer_url!r} is not an http(s) URL")
    if not is_loopback(config.host) and not config.allow_remote:
        raise ConfigError(
            f"--host {config.host} is not a loopback address; this mock must not guard real data. "
            "Pass --allow-remote (the container does) if you mean it"
        )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _raise_keyboard_interrupt(signum: int, frame: types.FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``keycloak-mock`` and ``python -m mock_server``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["healthcheck"]:
        from . import healthcheck

        return healthcheck.main(args[1:], os.environ)
    try:
        config = config_from(argv, os.environ)
        validate(config)
        app = create_app(config)
        server = serve_on(config.host, config.port, app)
    except ConfigError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        print(
            f"{PROG}: error: cannot listen on {config.host}:{config.port}: {reason}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    # SIGINT too: a shell that starts us in the background leaves SIGINT ignored, and Python then
    # installs no KeyboardInterrupt handler of its own.
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, _raise_keyboard_interrupt)
    announce(app, config.issuer_url or f"http://{url_host(config.host)}:{server.port}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    print(f"{PROG}: stopped", file=sys.stderr)
    return 0


def announce(app: Flask, base: str, file: TextIO | None = None) -> None:
    """The start-up banner: a warning and each realm's token URL."""
    out = file or sys.stdout
    print(
        f"{PROG}: MOCK Keycloak for development and tests only; never use it to guard real data.",
        file=out,
    )
    for realm in mock_state(app).realms.values():
        token_url = f"{base.rstrip('/')}/realms/{realm.realm}/protocol/openid-connect/token"
        print(f"{PROG}: realm {realm.realm}: {token_url}", file=out)
    out.flush()


def url_host(host: str) -> str:
    """``host`` as a client would write it in a URL (a wildcard bind means loopback)."""
    if host in ("0.0.0.0", "::"):  # noqa: S104 - only used to print a reachable URL
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


__all__ = ["build_parser", "config_from", "main"]
