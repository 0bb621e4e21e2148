"""The attack table: forged and misused tokens, each rejected by every endpoint that takes one.

Endpoints and the token kind they take: the refresh grant and logout take refresh tokens, userinfo
and the Demobank stand-in take access tokens, revocation and introspection take both (so every
forgery is tried with both kinds there).  Type confusion is an attack only where the endpoint
expects one kind: a refresh token as bearer (userinfo, stand-in), an access token as refresh token
(refresh grant, logout, introspection with ``token_type_hint=refresh_token``).  Revocation acts on
a token by its own ``typ`` whatever the hint says (``test_logout_revoke.py`` shows that).

Every case also checks that the victim's genuine session survived: a rejected forgery must not
log anyone out or revoke anything.  ``test_genuine_token_is_accepted`` is the control that shows
each endpoint does accept the real token the forgeries are made from.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from keycloak_mock import MockConfig, MockServer

from .conftest import REALMS_FILE
from .sessions_support import (
    INVALID_REFRESH,
    INVALID_TOKEN,
    demobank,
    introspect,
    login,
    logout,
    parts,
    refresh,
    revoke,
    signed_elsewhere,
    userinfo,
    with_alg_none,
    with_hs256_public_key,
    with_tampered_claims,
)

ACCESS, REFRESH = "access_token", "refresh_token"
TOKEN_VERIFICATION_FAILED = (
    'Bearer realm="customer", error="invalid_token", error_description="Token verification failed"'
)


@dataclass(frozen=True)
class Endpoint:
    kinds: tuple[str, ...]
    call: Callable[[MockServer, str, str], requests.Response]
    """``call(server, token, kind)``; ``kind`` is what the caller claims the token is."""
    rejected: Callable[[requests.Response], None]
    accepted: Callable[[requests.Response], None]


def _rejected_json(status: int, body: dict[str, Any]) -> Callable[[requests.Response], None]:
    def check(response: requests.Response) -> None:
        assert (response.status_code, response.json()) == (status, body)

    return check


def _status(status: int) -> Callable[[requests.Response], None]:
    def check(response: requests.Response) -> None:
        assert response.status_code == status, response.text

    return check


def _userinfo_rejected(response: requests.Response) -> None:
    assert (response.status_code, response.headers["WWW-Authenticate"]) == (
        401,
        TOKEN_VERIFICATION_FAILED,
    )
    assert response.content == b""


def _demobank_rejected(response: requests.Response) -> None:
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    assert response.json()["error"] == "invalid_token"


def _introspected(active: bool) -> Callable[[requests.Response], None]:
    def check(response: requests.Response) -> None:
        assert response.status_code == 200
        assert response.json()["active"] is active

    return check


ENDPOINTS: dict[str, Endpoint] = {
    "refresh grant": Endpoint(
        (REFRESH,),
        lambda s, token, kind: refresh(s, token),
        _rejected_json(400, INVALID_REFRESH),
        _status(200),
    ),
    "logout": Endpoint(
        (REFRESH,),
        lambda s, token, kind: logout(s, token),
        _rejected_json(400, INVALID_REFRESH),
        _status(204),
    ),
    "userinfo": Endpoint(
        (ACCESS,),
        lambda s, token, kind: userinfo(s, token),
        _userinfo_rejected,
        _status(200),
    ),
    "revoke": Endpoint(
        (ACCESS, REFRESH),
        lambda s, token, kind: revoke(s, token, token_type_hint=kind),
        _rejected_json(200, INVALID_TOKEN),
        _status(200),
    ),
    "introspect": Endpoint(
        (ACCESS, REFRESH),
        lambda s, token, kind: introspect(s, token, token_type_hint=kind),
        _introspected(False),
        _introspected(True),
    ),
    "demobank": Endpoint(
        (ACCESS,),
        lambda s, token, kind: demobank(s, token),
        _demobank_rejected,
        _status(200),
    ),
}


@dataclass(frozen=True)
class Forgery:
    """Inputs a forgery may use; only the server's *public* material and the attacker's keys."""

    server: MockServer
    tokens: dict[str, Any]
    attacker_key: rsa.RSAPrivateKey
    sandbox_tokens: dict[str, Any]
    foreign_tokens: dict[str, Any]


def _real_kid(token: str) -> str:
    return str(parts(token)[0]["kid"])


#: attack -> (kinds it applies to, how to build the token from the genuine one of that kind).
FORGED: dict[str, Callable[[Forgery, str], str]] = {
    "alg none": lambda f, kind: with_alg_none(f.tokens[kind]),
    "HS256 signed with the RSA public key": lambda f, kind: with_hs256_public_key(
        f.tokens[kind], f.server
    ),
    "kid of an unpublished key": lambda f, kind: signed_elsewhere(f.tokens[kind], f.attacker_key),
    "real kid, attacker's signature": lambda f, kind: signed_elsewhere(
        f.tokens[kind], f.attacker_key, kid=_real_kid(f.tokens[kind])
    ),
    "payload tampered": lambda f, kind: with_tampered_claims(
        f.tokens[kind],
        sub="00000000-0000-0000-0000-000000000000",
        exp=parts(f.tokens[kind])[1]["exp"] + 86400,
    ),
}


def _other_realm(f: Forgery, kind: str, endpoint: str) -> str:
    """Another realm's genuine token; the stand-in serves every realm, so for it: another issuer
    (a second mock with the same bundled key, i.e. a genuine signature under a foreign ``iss``)."""
    source = f.foreign_tokens if endpoint == "demobank" else f.sandbox_tokens
    return str(source[kind])


def _cases() -> Iterator[Any]:
    for name, endpoint in ENDPOINTS.items():
        for kind in endpoint.kinds:
            for attack in FORGED:
                yield pytest.param(attack, name, kind, id=f"{name}: {attack} ({kind})")
            yield pytest.param("other realm", name, kind, id=f"{name}: other realm ({kind})")
        if endpoint.kinds == (ACCESS,):
            yield pytest.param(
                "refresh token as bearer", name, ACCESS, id=f"{name}: refresh token as bearer"
            )
        if REFRESH in endpoint.kinds and name != "revoke":
            yield pytest.param(
                "access token as refresh token",
                name,
                REFRESH,
                id=f"{name}: access token as refresh token",
            )


@pytest.fixture(scope="module")
def attacker_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_mock() -> Iterator[MockServer]:
    """A second mock with the same bundled TEST-ONLY key: genuine signatures, another issuer."""
    with MockServer(MockConfig(port=0, config=str(REALMS_FILE))) as server:
        yield server


def _forgery(server: MockServer, other: MockServer, attacker_key: rsa.RSAPrivateKey) -> Forgery:
    return Forgery(
        server=server,
        tokens=login(server),
        attacker_key=attacker_key,
        sandbox_tokens=login(
            server, realm="sandbox-mandator", username="sandbox", password="sandbox"
        ),
        foreign_tokens=login(other),
    )


@pytest.mark.parametrize(("attack", "endpoint", "kind"), list(_cases()))
def test_attack_is_rejected(
    realms_server: MockServer,
    other_mock: MockServer,
    attacker_key: rsa.RSAPrivateKey,
    attack: str,
    endpoint: str,
    kind: str,
) -> None:
    forgery = _forgery(realms_server, other_mock, attacker_key)
    if attack in FORGED:
        token = FORGED[attack](forgery, kind)
    elif attack == "other realm":
        token = _other_realm(forgery, kind, endpoint)
    elif attack == "refresh token as bearer":
        token = forgery.tokens[REFRESH]
    else:  # access token as refresh token
        token = forgery.tokens[ACCESS]
    target = ENDPOINTS[endpoint]
    target.rejected(target.call(realms_server, token, kind))
    # The genuine session is untouched: not logged out, nothing revoked.
    assert refresh(realms_server, forgery.tokens[REFRESH]).status_code == 200
    assert userinfo(realms_server, forgery.tokens[ACCESS]).status_code == 200


@pytest.mark.parametrize(
    ("endpoint", "kind"),
    [(name, kind) for name, e in ENDPOINTS.items() for kind in e.kinds],
    ids=[f"{name} ({kind})" for name, e in ENDPOINTS.items() for kind in e.kinds],
)
def test_genuine_token_is_accepted(realms_server: MockServer, endpoint: str, kind: str) -> None:
    tokens = login(realms_server)
    target = ENDPOINTS[endpoint]
    target.accepted(target.call(realms_server, tokens[kind], kind))
