"""Options of ``keycloak-mock``: one parser for flags, env vars and the container.

Flags are generated from ``MockConfig``'s fields, and each reads its default from an env var
``KEYCLOAK_MOCK_<FLAG>``, so the command line, the WSGI entry, the health probe and the pytest
markers cannot drift apart.  This module loads no web framework: the health probe uses it.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import ipaddress
import socket
import types
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn, get_type_hints

from keycloak_mock.imitation.config import MockConfig
from keycloak_mock.imitation.errors import ConfigError

PROG = "keycloak-mock"
DISTRIBUTION = "demobank-keycloak-mock"
ENV_PREFIX = "KEYCLOAK_MOCK_"
EXIT_USAGE = 2
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


class _VersionAction(argparse.Action):
    """``--version``, reading the installed version only when asked (start-up stays as it was)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> NoReturn:
        from importlib.metadata import PackageNotFoundError, version

        try:
            installed = version(DISTRIBUTION)
        except PackageNotFoundError:
            installed = "unknown (not installed)"
        print(f"{PROG} {installed}")
        parser.exit(0)


#: What ``--help`` gives as the default of options whose ``MockConfig`` default is ``None``.
_DEFAULT_TEXT = {
    "access_token_lifespan": "each realm's own (900 in the embedded realm, as finAPI's)",
    "refresh_token_lifespan": "each realm's own (1800 in the embedded realm)",
    "config": "the embedded realm customer with demo/demo",
    "signing_key": "the bundled TEST-ONLY dev key",
    "issuer_url": "from each request",
}


def env_var(field_name: str) -> str:
    return ENV_PREFIX + field_name.upper()


def flag(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


@functools.cache
def _config_type_hints() -> dict[str, Any]:
    # Once per process, not once per option: every start pays for it (the container parses its
    # env through this parser too).
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
        usage=f"{PROG} [options]\n       {PROG} healthcheck [--url URL] [--timeout SECONDS]\n"
        f"       {PROG} drift [options]",
        description="Mock of finAPI Demobank's Keycloak (token endpoint, JWKS, discovery). "
        "A development tool: never use it to guard real data.",
        epilog="commands:\n"
        "  healthcheck  exit 0 if a running mock answers /health/ready with UP,\n"
        f"               else 1 (`{PROG} healthcheck --help` for its options)\n"
        "  drift        compare the mock with finAPI's live Keycloak, field by field\n"
        f"               (`{PROG} drift --help`)\n\n"
        f"Every option can also be set with an env var: {ENV_PREFIX}<OPTION>, "
        f"e.g. {env_var('port')}=9000.\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_VersionAction, help="print the version and exit")
    for field in dataclasses.fields(MockConfig):
        kind = _field_type(field)
        help_text = (
            f"{field.metadata['help']} (env {env_var(field.name)}; default {_default(field)})"
        )
        if kind is bool:
            parser.add_argument(flag(field.name), action="store_true", default=None, help=help_text)
        else:
            metavar = {int: "SECONDS" if "lifespan" in field.name else "N", str: "VALUE"}[kind]
            if field.name in ("config", "signing_key", "tls_ca_file", "tls_cert", "tls_key"):
                metavar = "FILE"
            elif field.name == "tls_hostnames":
                metavar = "NAMES"
            elif field.name == "issuer_url":
                metavar = "URL"
            elif field.name == "host":
                metavar = "HOST"
            elif field.name == "port":
                metavar = "PORT"
            elif field.name == "allowed_hosts":
                metavar = "HOSTS"
            parser.add_argument(flag(field.name), type=kind, metavar=metavar, help=help_text)
    return parser


def _default(field: dataclasses.Field[Any]) -> str:
    if field.name in _DEFAULT_TEXT:
        return _DEFAULT_TEXT[field.name]
    if field.default is False:
        return "off"
    if field.default is None:
        return "none"
    return str(field.default)


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
        addresses = resolve(config.host)
        if not addresses:
            raise ConfigError(f"--host {config.host}: no such host (the name does not resolve)")
        if not all(ipaddress.ip_address(a).is_loopback for a in addresses):
            raise ConfigError(
                f"--host {config.host} is not a loopback address; this mock must not guard real "
                "data. Pass --allow-remote (the container does) if you mean it"
            )


def resolve(host: str) -> list[str]:
    """The addresses ``host`` names (none if it does not resolve): a literal address is itself.

    Only names other than ``localhost`` get here, so the default start does no lookup.
    """
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return []
    return sorted({str(info[4][0]).split("%")[0] for info in infos})


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_host(host: str) -> str:
    """``host`` as a client would write it in a URL (a wildcard bind means loopback)."""
    if host in ("0.0.0.0", "::"):  # noqa: S104 - only used to print a reachable URL
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


__all__ = [
    "ENV_PREFIX",
    "EXIT_USAGE",
    "PROG",
    "build_parser",
    "config_from",
    "env_var",
    "flag",
    "is_loopback",
    "url_host",
    "validate",
]
