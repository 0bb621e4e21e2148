"""The start-up banner every way of serving prints."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TextIO

from .options import PROG


def announce(
    realms: Iterable[str], base: str, file: TextIO | None = None, *, ca_file: str | None = None
) -> None:
    """The start-up banner: a warning, each realm's token URL, and the CA bundle to trust."""
    out = file or sys.stdout
    print(
        f"{PROG}: MOCK Keycloak for development and tests only; never use it to guard real data.",
        file=out,
    )
    for realm in realms:
        token_url = f"{base.rstrip('/')}/realms/{realm}/protocol/openid-connect/token"
        print(f"{PROG}: realm {realm}: {token_url}", file=out)
    if ca_file is not None:
        print(f"{PROG}: TEST-ONLY CA bundle (trust it in your client): {ca_file}", file=out)
    out.flush()
