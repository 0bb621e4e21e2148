"""``keycloak-mock drift``: run the drift scenario against live Keycloak and an in-process mock.

Exit status: 0 no drift, 1 drift, 2 usage error, 3 the scenario could not run (live server
unreachable, credentials refused).  The password comes from ``FINAPI_PASSWORD`` or a prompt,
never from a flag, so it stays out of shell history and process listings.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import secrets
import sys
from collections.abc import Callable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, NoReturn, TextIO

from demobank_client.settings import DEFAULT_BASE_URL, DEFAULT_CLIENT_ID, ENV_VARS
from keycloak_mock.assembly import create_app
from keycloak_mock.drift.compare import DEFAULT_IGNORED_HEADERS, compare
from keycloak_mock.drift.mockrealm import mock_realm
from keycloak_mock.drift.recording import (
    Recording,
    RecordingError,
    load_recording,
    save_recording,
)
from keycloak_mock.drift.report import Summary, json_report, text_report
from keycloak_mock.drift.scenario import STEPS, Credentials, ScenarioError, Target, run_scenario
from keycloak_mock.imitation.config import MockConfig, RealmConfig
from keycloak_mock.imitation.errors import ConfigError

from .options import EXIT_USAGE, PROG
from .server import MockServer

EXIT_SAME = 0
EXIT_DRIFT = 1
EXIT_CANNOT_RUN = 3
EXIT_INTERRUPTED = 130
_REPLAY_USER = "drift-check-user"


class _Usage(Exception):
    """A usage error found after parsing; one line on stderr, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    steps = "\n".join(f"  {name:<24} {what}" for name, what in STEPS)
    parser = _Parser(
        prog=f"{PROG} drift",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run one fixed scenario against finAPI's live Keycloak and against this mock, "
        "and report every field where they differ. Username and password come from "
        f"{ENV_VARS['username']} / {ENV_VARS['password']} or a prompt.",
        epilog=f"Scenario (one wrong-password attempt only, requests spaced out):\n{steps}\n\n"
        "Exit status: 0 no drift, 1 drift, 2 usage error, 3 the scenario could not run.",
    )
    parser.add_argument(
        "--url",
        metavar="URL",
        help=f"live Keycloak base URL (env {ENV_VARS['base_url']}; default {DEFAULT_BASE_URL})",
    )
    parser.add_argument(
        "--mandator", metavar="NAME", help=f"realm / finAPI mandator (env {ENV_VARS['mandator']})"
    )
    parser.add_argument(
        "--client-id",
        metavar="ID",
        help=f"public client (env {ENV_VARS['client_id']}; default {DEFAULT_CLIENT_ID})",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="realm file for the mock side (default: the mock's embedded defaults)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--record", metavar="FILE", help="write the live answers, secrets removed, to FILE"
    )
    parser.add_argument(
        "--replay",
        metavar="FILE",
        help="compare the mock against a recording instead of the live server (no network)",
    )
    parser.add_argument(
        "--ignore-header",
        metavar="NAME",
        action="append",
        default=[],
        help="also ignore this response header (glob, case-blind; repeatable); default list: "
        + ", ".join(DEFAULT_IGNORED_HEADERS),
    )
    parser.add_argument(
        "--pause",
        metavar="SECONDS",
        type=float,
        default=1.0,
        help="pause between live requests (default 1)",
    )
    parser.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=float,
        default=15.0,
        help="timeout per live request (default 15)",
    )
    return parser


def main(
    argv: Sequence[str],
    environ: Mapping[str, str] | None = None,
    *,
    stdin: TextIO | None = None,
    ask_password: Callable[[str], str] = getpass.getpass,
) -> int:
    env = os.environ if environ is None else environ
    args = build_parser().parse_args(argv)
    try:
        return _run(args, env, stdin or sys.stdin, ask_password)
    except _Usage as exc:
        print(f"{PROG} drift: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ScenarioError as exc:
        print(f"{PROG} drift: could not run the scenario: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    except (KeyboardInterrupt, EOFError):
        # At the prompts, or between requests: every session opened so far is logged out.
        print(f"\n{PROG} drift: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _run(
    args: argparse.Namespace,
    env: Mapping[str, str],
    stdin: TextIO,
    ask_password: Callable[[str], str],
) -> int:
    if args.pause < 0 or args.timeout <= 0:
        raise _Usage("--pause must not be negative and --timeout must be positive")
    if args.replay and args.record:
        raise _Usage("--record and --replay exclude each other")
    if args.replay and (args.url or args.mandator):
        raise _Usage("--replay takes the realm from the recording; drop --url/--mandator")
    if args.record and not Path(args.record).resolve().parent.is_dir():
        raise _Usage(f"--record: no directory for {args.record}")
    ignored = (*DEFAULT_IGNORED_HEADERS, *args.ignore_header)
    secrets_seen: list[str] = []
    if args.replay:
        try:
            recording = load_recording(args.replay)
        except RecordingError as exc:
            raise _Usage(str(exc)) from None
        live = recording.steps
        source, mandator, client_id = recording.source, recording.mandator, recording.client_id
        mock_user = Credentials(_REPLAY_USER, secrets.token_urlsafe(18))
    else:
        source = (args.url or env.get(ENV_VARS["base_url"]) or DEFAULT_BASE_URL).rstrip("/")
        if not source.startswith(("http://", "https://")):
            raise _Usage(f"--url: {source!r} is not an http(s) URL")
        mandator = args.mandator or env.get(ENV_VARS["mandator"]) or ""
        if not mandator:
            raise _Usage(f"no mandator: pass --mandator or set {ENV_VARS['mandator']}")
        client_id = args.client_id or env.get(ENV_VARS["client_id"]) or DEFAULT_CLIENT_ID
        mock_user = _credentials(env, stdin, ask_password)
        # The username only as a whole JSON string: a short one ("demo") is part of other words.
        secrets_seen += [mock_user.password, json.dumps(mock_user.username, ensure_ascii=False)]
        # A realm file that cannot serve must fail before the live server is bothered.
        _mock_realm(mandator, client_id, mock_user, {}, args.config)
        _progress(f"live: {len(STEPS)} steps against {source}, {args.pause:g} s apart")
        live = run_scenario(
            Target(source, mandator, client_id), mock_user, pause=args.pause, timeout=args.timeout
        )
        if args.record:
            recording = Recording(source, mandator, client_id, live)
            try:
                save_recording(args.record, recording, secrets_seen)
            except RecordingError as exc:
                raise _Usage(str(exc)) from None
            _progress(f"recorded the live answers to {args.record}")
    realm = _mock_realm(mandator, client_id, mock_user, live, args.config)
    with MockServer(app=create_app(MockConfig(port=0), realms=(realm,)), port=0) as server:
        try:
            mock = run_scenario(Target(server.url, mandator, client_id), mock_user, pause=0)
        except ScenarioError as exc:
            # Only a realm file (--config) can make the mock refuse the user, e.g. disabled.
            raise ScenarioError(f"on the mock side: {exc}") from None
    if args.replay:
        # A recording may hold only some steps (one built by hand from documentation does).
        mock = {step: observed for step, observed in mock.items() if step in live}
    differences = compare(live, mock, ignored)
    summary = Summary(
        live=source, mock=_mock_name(), mandator=mandator, steps=len(mock), ignored_headers=ignored
    )
    report = json_report if args.json else text_report
    sys.stdout.write(report(summary, differences))
    return EXIT_DRIFT if differences else EXIT_SAME


def _mock_realm(
    mandator: str,
    client_id: str,
    user: Credentials,
    live: Mapping[str, Mapping[str, Any]],
    realm_file: str | None,
) -> RealmConfig:
    try:
        return mock_realm(mandator, client_id, user, live, realm_file)
    except ConfigError as exc:
        raise _Usage(str(exc)) from None


def _credentials(
    env: Mapping[str, str], stdin: TextIO, ask_password: Callable[[str], str]
) -> Credentials:
    username = env.get(ENV_VARS["username"]) or ""
    password = env.get(ENV_VARS["password"]) or ""
    interactive = stdin.isatty()
    if not username:
        if not interactive:
            raise _Usage(f"no username: set {ENV_VARS['username']} (no terminal to ask on)")
        sys.stderr.write("finAPI username: ")
        sys.stderr.flush()
        username = stdin.readline().strip()
    if not password:
        if not interactive:
            raise _Usage(f"no password: set {ENV_VARS['password']} (no terminal to ask on)")
        password = ask_password("finAPI password: ")
    if not username or not password:
        raise _Usage("username and password must not be empty")
    return Credentials(username, password)


def _progress(message: str) -> None:
    print(f"{PROG} drift: {message}", file=sys.stderr)


def _mock_name() -> str:
    try:
        return f"keycloak-mock {metadata.version('demobank-keycloak-mock')}"
    except metadata.PackageNotFoundError:
        return "keycloak-mock"


__all__ = ["EXIT_CANNOT_RUN", "EXIT_DRIFT", "EXIT_SAME", "build_parser", "main"]
