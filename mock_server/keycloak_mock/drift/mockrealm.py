"""The realm the mock side of a drift check serves.

Realm behaviour (lifetimes, scopes, reuse rules, finAPI's mandator fields) comes from the mock's
embedded defaults, or from the user's realm file: that is what is being checked, so it is never
copied from the live answers.  The *user* is data, not behaviour: the mock's user gets the live
user's name and password, and profile fields wherever the live user has them (with made-up
values: only their presence is compared), so a difference in the report is never just "your
account has a last name".
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from typing import Any

from keycloak_mock.imitation.config import (
    DEMOBANK_CLI,
    RealmConfig,
    UserConfig,
    complete_user,
    default_realm,
)
from keycloak_mock.imitation.errors import ConfigError
from keycloak_mock.imitation.passwords import PlainCredential
from keycloak_mock.imitation.realmfile import load_realm_file

from .scenario import Credentials


def mock_realm(
    mandator: str,
    client_id: str,
    credentials: Credentials,
    live: Mapping[str, Mapping[str, Any]],
    realm_file: str | None = None,
) -> RealmConfig:
    """The realm ``mandator`` for the mock, with the scenario's user in it.

    Raises ``ConfigError`` if ``realm_file`` cannot be read or has no realm of that name.
    """
    if realm_file:
        realm = next((r for r in load_realm_file(realm_file) if r.realm == mandator), None)
        if realm is None:
            raise ConfigError(f"{realm_file}: no realm named {mandator!r}")
    else:
        realm = dataclasses.replace(default_realm(), realm=mandator, users=())
    if realm.client(client_id) is None:
        realm = dataclasses.replace(
            realm, clients=(*realm.clients, dataclasses.replace(DEMOBANK_CLI, client_id=client_id))
        )
    credential = PlainCredential(credentials.password)
    existing = realm.find_user(credentials.username)
    if existing is not None:
        # The user's own realm file describes the user: only the password is the scenario's.
        user = dataclasses.replace(existing, credential=credential)
    else:
        user = _user_like_live(credentials.username, live)
        user = dataclasses.replace(user, credential=credential)
    others = tuple(u for u in realm.users if u is not existing)
    return dataclasses.replace(realm, users=(*others, complete_user(mandator, user)))


def _user_like_live(username: str, live: Mapping[str, Mapping[str, Any]]) -> UserConfig:
    profile = _json_body(live.get("userinfo_with_openid"))
    login = _json_body(live.get("password_grant"))
    attributes: dict[str, tuple[str, ...]] = {}
    technical = login.get("is_technical_user")
    if isinstance(technical, str):
        attributes["is_technical_user"] = (technical,)
    verified = profile.get("email_verified")
    return UserConfig(
        username=username,
        # What Keycloak gives a new user; the mock's own default (a name-based UUID) would show
        # as a difference in ``sub`` that says nothing about the live server.
        id=str(uuid.uuid4()),
        first_name="Given" if "given_name" in profile else None,
        last_name="Family" if "family_name" in profile else None,
        email="drift-check@example.org" if "email" in profile else None,
        email_verified=verified if isinstance(verified, bool) else False,
        attributes=attributes,
    )


def _json_body(observed: Mapping[str, Any] | None) -> Mapping[str, Any]:
    body = (observed or {}).get("body") or {}
    value = body.get("value") if isinstance(body, dict) else None
    return value if isinstance(value, dict) else {}


__all__ = ["mock_realm"]
