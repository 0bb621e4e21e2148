"""Realm files: Keycloak export names load; wrong types are rejected with the JSON path."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import requests

from keycloak_mock import ConfigError, MockConfig, MockServer
from keycloak_mock.imitation.realmfile import load_realm_file

from .conftest import FIXTURES, REALMS_FILE, token_url


def write(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / "realm.json"
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"enabled": True}, "$.realm: required field is missing"),
        ({"realm": 5}, "$.realm: expected a string, got 5"),
        ({"realm": "a", "enabled": "yes"}, '$.enabled: expected a boolean, got "yes"'),
        (
            {"realm": "a", "accessTokenLifespan": True},
            "$.accessTokenLifespan: expected an integer, got true",
        ),
        (
            {"realm": "a", "accessTokenLifespan": 0},
            "$.accessTokenLifespan: must be a positive number of seconds",
        ),
        ({"realm": "a", "users": {}}, "$.users: expected a list, got {}"),
        (
            {"realm": "a", "users": [{"username": "u", "enabled": 1}]},
            "$.users[0].enabled: expected a boolean, got 1",
        ),
        (
            [{"realm": "a"}, {"realm": "b", "clients": [{"publicClient": True}]}],
            "$[1].clients[0].clientId: required field is missing",
        ),
        ([{"realm": "a"}, {"realm": "a"}], "$: realm 'a' appears twice"),
        (
            {"realm": "a", "users": [{"username": "u"}, {"username": "U"}]},
            "$.users: username 'u' appears twice",
        ),
        (
            {"realm": "a", "clients": [{"clientId": "c", "publicClient": False}]},
            "$.clients[0].secret: a confidential client (publicClient false) needs a secret",
        ),
        (
            {"realm": "a", "attributes": {"is_test_mandator": 1}},
            "$.attributes.is_test_mandator: expected a string, got 1",
        ),
        (
            {"realm": "a", "users": [{"username": "u", "credentials": [{"type": "password"}]}]},
            "$.users[0].credentials[0]: a password credential needs `value` or `secretData`",
        ),
        ([], "$: the file lists no realm"),
    ],
)
def test_invalid_realm_file(tmp_path: Path, document: Any, message: str) -> None:
    path = write(tmp_path, document)
    with pytest.raises(ConfigError) as excinfo:
        load_realm_file(path)
    assert str(excinfo.value) == f"{path}: {message}"


def test_a_wrongly_typed_password_is_not_echoed(tmp_path: Path) -> None:
    path = write(
        tmp_path, {"realm": "a", "users": [{"username": "u", "credentials": [{"value": 123456}]}]}
    )
    with pytest.raises(ConfigError) as excinfo:
        load_realm_file(path)
    assert "123456" not in str(excinfo.value)
    assert "credentials[0].value" in str(excinfo.value)


def test_unreadable_and_invalid_json(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read realm file .*: No such file or directory"):
        load_realm_file(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"realm": ')
    with pytest.raises(ConfigError, match=r"invalid JSON at line 1 column 11"):
        load_realm_file(broken)


def test_fixture_files_load() -> None:
    realms = load_realm_file(REALMS_FILE)
    assert [r.realm for r in realms] == ["customer", "sandbox-mandator"]
    (customer,) = load_realm_file(FIXTURES / "customer-realm.json")
    assert customer.realm == "customer"


def test_trimmed_real_export_loads_with_hashed_password(tmp_path: Path) -> None:
    """Unknown fields are ignored and Keycloak's PBKDF2 credential format works."""
    salt = b"0123456789abcdef"
    hashed = hashlib.pbkdf2_hmac("sha256", b"s3cret", salt, 27500, dklen=64)
    export = {
        "id": "7b0f...",
        "realm": "exported",
        "displayName": "Exported",
        "sslRequired": "external",
        "bruteForceProtected": False,
        "defaultRoles": ["offline_access"],
        "attributes": {"frontendUrl": "", "mandator_name": "Exported Mandator"},
        "clients": [
            {
                "clientId": "demobank-cli",
                "publicClient": True,
                "protocol": "openid-connect",
                "redirectUris": [],
                "directAccessGrantsEnabled": True,
            }
        ],
        "users": [
            {
                "id": "0d5c3e4a-1111-2222-3333-444455556666",
                "username": "Exported-User",
                "enabled": True,
                "createdTimestamp": 1700000000000,
                "totp": False,
                "credentials": [
                    {
                        "type": "password",
                        "userLabel": "My password",
                        "createdDate": 1700000000000,
                        "secretData": json.dumps(
                            {
                                "value": base64.b64encode(hashed).decode(),
                                "salt": base64.b64encode(salt).decode(),
                                "additionalParameters": {},
                            }
                        ),
                        "credentialData": json.dumps(
                            {
                                "hashIterations": 27500,
                                "algorithm": "pbkdf2-sha256",
                                "additionalParameters": {},
                            }
                        ),
                    }
                ],
                "realmRoles": ["default-roles-exported"],
                "notBefore": 0,
                "groups": [],
            }
        ],
    }
    path = write(tmp_path, export)
    with MockServer(MockConfig(port=0, config=str(path))) as server:
        data = {
            "client_id": "demobank-cli",
            "username": "exported-user",
            "password": "s3cret",
            "grant_type": "password",
        }
        response = requests.post(token_url(server.url, "exported"), data=data, timeout=10)
        assert response.status_code == 200, response.text
        assert response.json()["mandator_name"] == "Exported Mandator"
        claims = json.loads(
            base64.urlsafe_b64decode(response.json()["access_token"].split(".")[1] + "==")
        )
        assert claims["sub"] == "0d5c3e4a-1111-2222-3333-444455556666"
        wrong = requests.post(
            token_url(server.url, "exported"), data={**data, "password": "nope"}, timeout=10
        )
        assert wrong.status_code == 401


def test_unsupported_hash_algorithm_is_named(tmp_path: Path) -> None:
    user = {
        "username": "u",
        "credentials": [
            {
                "type": "password",
                "secretData": '{"value":"x","salt":"y"}',
                "credentialData": '{"algorithm":"argon2"}',
            }
        ],
    }
    with pytest.raises(ConfigError, match=r"credentialData.algorithm: 'argon2' is not supported"):
        load_realm_file(write(tmp_path, {"realm": "a", "users": [user]}))


def test_user_repr_hides_the_password() -> None:
    (customer, _) = load_realm_file(REALMS_FILE)
    assert "demo" in repr(customer.users[0])
    for realm_repr in (repr(customer), repr(customer.users[0]), repr(customer.clients)):
        assert "TEST-ONLY-backend-secret" not in realm_repr
        assert "'demo'" not in realm_repr.split("username=")[0]
    assert "value" not in repr(customer.users[0].credential)


def test_browser_client_fields(tmp_path: Path) -> None:
    """webOrigins, redirectUris and the post-logout redirect URIs attribute (``##``-joined)."""
    document = {
        "realm": "web",
        "clients": [
            {
                "clientId": "spa",
                "redirectUris": ["https://app.test/*"],
                "webOrigins": ["+"],
                "attributes": {
                    "post.logout.redirect.uris": "https://app.test/bye##https://x.test/*"
                },
            },
            {"clientId": "plain"},
        ],
    }
    path = tmp_path / "realm.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    (realm,) = load_realm_file(path)
    spa, plain = realm.clients
    assert spa.redirect_uris == ("https://app.test/*",)
    assert spa.web_origins == ("+",)
    assert spa.post_logout_redirect_uris == ("https://app.test/bye", "https://x.test/*")
    # Without the attribute: "+", the redirect URIs, as a client made in the admin console has.
    assert plain.post_logout_redirect_uris == ("+",)
    document["clients"][0]["attributes"] = {"post.logout.redirect.uris": ["not", "a string"]}
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ConfigError, match="attributes"):
        load_realm_file(path)


# Published PBKDF2 test vectors (RFC 6070 for HMAC-SHA1; RFC 7914 section 11 for HMAC-SHA256; the
# widely cited HMAC-SHA512 vectors of the same shape), written as Keycloak exports a password
# credential.  They come from outside this code base, so a mock that hashed differently from
# PBKDF2 (wrong digest, salt decoding, iteration count or key length) would refuse them.
# Keycloak takes the derived key's length from the stored hash, so the 20-byte SHA1 vectors are
# valid credentials as they are.
PBKDF2_VECTORS = [
    ("pbkdf2", "password", b"salt", 1, "0c60c80f961f0e71f3a9b524af6012062fe037a6"),
    ("pbkdf2", "password", b"salt", 4096, "4b007901b765489abead49d926f721d065a429c1"),
    (
        "pbkdf2-sha256",
        "passwd",
        b"salt",
        1,
        "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
        "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783",
    ),
    (
        "pbkdf2-sha256",
        "Password",
        b"NaCl",
        80000,
        "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56"
        "a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d",
    ),
    (
        "pbkdf2-sha512",
        "password",
        b"salt",
        1,
        "867f70cf1ade02cff3752599a3a53dc4af34c7a669815ae5d513554e1c8cf252"
        "c02d470a285a0501bad999bfe943c08f050235d7d68b1da55e63f73b60a57fce",
    ),
    (
        "pbkdf2-sha512",
        "password",
        b"salt",
        2,
        "e1d9c16aa681708a45f5c7c4e215ceb66e011a2e9f0040713f18aefdb866d53c"
        "f76cab2868a39b9f7840edce4fef5a82be67335c77a6068e04112754f27ccf4e",
    ),
]


@pytest.mark.parametrize(
    ("algorithm", "password", "salt", "iterations", "derived_hex"),
    PBKDF2_VECTORS,
    ids=[f"{v[0]}-{v[3]}" for v in PBKDF2_VECTORS],
)
def test_published_pbkdf2_vectors_as_keycloak_credentials(
    tmp_path: Path, algorithm: str, password: str, salt: bytes, iterations: int, derived_hex: str
) -> None:
    credential = {
        "type": "password",
        "userLabel": "My password",
        "createdDate": 1700000000000,
        "secretData": json.dumps(
            {
                "value": base64.b64encode(bytes.fromhex(derived_hex)).decode(),
                "salt": base64.b64encode(salt).decode(),
                "additionalParameters": {},
            }
        ),
        "credentialData": json.dumps(
            {"hashIterations": iterations, "algorithm": algorithm, "additionalParameters": {}}
        ),
    }
    export = {
        "realm": "vectors",
        "clients": [{"clientId": "demobank-cli", "publicClient": True}],
        "users": [{"username": "vector", "enabled": True, "credentials": [credential]}],
    }
    path = write(tmp_path, export)
    with MockServer(MockConfig(port=0, config=str(path))) as server:
        form = {"client_id": "demobank-cli", "username": "vector", "grant_type": "password"}
        url = token_url(server.url, "vectors")
        accepted = requests.post(url, data={**form, "password": password}, timeout=10)
        assert accepted.status_code == 200, accepted.text
        refused = requests.post(url, data={**form, "password": password + "x"}, timeout=10)
        assert (refused.status_code, refused.json()) == (
            401,
            {"error": "invalid_grant", "error_description": "Invalid user credentials"},
        )
