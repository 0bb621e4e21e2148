"""``demobank-token``: print a fresh access token, e.g. for ``curl -H "Authorization: Bearer ..."``.

Settings come from the ``FINAPI_*`` env vars, flags win.  The token (or, with ``--json``, the whole
token response) goes to stdout and nothing else does, so ``$(demobank-token)`` is just the token.
Every failure is one line on stderr: exit 1 when Keycloak refuses or cannot be reached, 2 for a
usage error.  The session is left open on purpose: the printed token must keep working.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from .errors import AuthError, ConfigurationError
from .manager import TokenManager
from .settings import DEFAULT_BASE_URL, DEFAULT_CLIENT_ID, ENV_VARS, Settings

PROG = "demobank-token"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Log in to finAPI Demobank's Keycloak (or the mock) and print an access token.",
        epilog=(
            "Prefer FINAPI_PASSWORD over --password: command lines are visible to other users. "
            'Example: curl -H "Authorization: Bearer $(demobank-token)" https://...'
        ),
    )
    env = ENV_VARS
    parser.add_argument(
        "--url",
        dest="base_url",
        metavar="URL",
        help=f"Keycloak base URL (env {env['base_url']}; default {DEFAULT_BASE_URL})",
    )
    parser.add_argument("--mandator", help=f"realm / finAPI mandator (env {env['mandator']})")
    parser.add_argument("--username", help=f"user name (env {env['username']})")
    parser.add_argument("--password", help=f"password (env {env['password']})")
    parser.add_argument(
        "--client-id", help=f"OIDC client (env {env['client_id']}; default {DEFAULT_CLIENT_ID})"
    )
    parser.add_argument(
        "--client-secret", help=f"secret of a confidential client (env {env['client_secret']})"
    )
    parser.add_argument(
        "--service-account",
        dest="grant_type",
        action="store_const",
        const="client_credentials",
        help="log in as the client's service account (client credentials; needs --client-secret; "
        f"env {env['grant_type']}=client_credentials)",
    )
    parser.add_argument("--scope", help='scope to request, e.g. "openid" for an ID token')
    parser.add_argument(
        "--timeout", type=float, metavar="SECONDS", help="per-request timeout (default 10)"
    )
    parser.add_argument(
        "--json", action="store_true", help="print the whole token response as JSON"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in vars(args).items() if k != "json"}
    try:
        settings = Settings.from_env(**overrides)
    except ConfigurationError as error:
        parser.print_usage(sys.stderr)
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    manager = TokenManager(settings)
    try:
        tokens = manager.login()
    except AuthError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    finally:
        manager.close()
    if args.json:
        print(json.dumps(dict(tokens.raw), indent=2))
    else:
        print(tokens.access_token)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
