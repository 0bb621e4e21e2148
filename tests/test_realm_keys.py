"""A key per realm, as in Keycloak: what each realm's JWKS lists, what verifies where, and that the
same realm file gives the same keys after a restart."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from keycloak_mock import MockConfig, MockServer, create_app, load_signing_key
from keycloak_mock.imitation.errors import ConfigError
from keycloak_mock.imitation.keys import POOL_KEY_RESOURCES, assign_pool_keys, keycloak_key_id

from .conftest import REALMS_FILE
from .sessions_support import login

_DEMO = {"username": "demo", "credentials": [{"type": "password", "value": "demo"}]}


def certs(server: MockServer, realm: str) -> dict[str, Any]:
    url = f"{server.url}/realms/{realm}/protocol/openid-connect/certs"
    response = requests.get(url, timeout=10)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def kids(server: MockServer, realm: str) -> list[str]:
    return [key["kid"] for key in certs(server, realm)["keys"]]


def verifies_with_jwks_of(server: MockServer, realm: str, token: str) -> bool:
    url = f"{server.url}/realms/{realm}/protocol/openid-connect/certs"
    try:
        key = jwt.PyJWKClient(url, cache_keys=False).get_signing_key_from_jwt(token)
        jwt.decode(token, key.key, algorithms=["RS256"], options={"verify_aud": False})
    except jwt.PyJWTError:
        return False
    return True


def test_the_default_realm_keeps_the_dev_key(realms_server: MockServer) -> None:
    assert kids(realms_server, "customer") == [load_signing_key().kid]


def test_each_realm_publishes_only_its_own_key(realms_server: MockServer) -> None:
    customer, sandbox = kids(realms_server, "customer"), kids(realms_server, "sandbox-mandator")
    assert len(customer) == len(sandbox) == 1
    assert customer != sandbox
    info = requests.get(f"{realms_server.url}/realms/sandbox-mandator", timeout=10).json()
    assert (
        info["public_key"]
        != requests.get(f"{realms_server.url}/realms/customer", timeout=10).json()["public_key"]
    )


def test_a_token_verifies_only_against_its_own_realms_jwks(realms_server: MockServer) -> None:
    sandbox = login(realms_server, realm="sandbox-mandator", username="sandbox", password="sandbox")
    token = sandbox["access_token"]
    assert verifies_with_jwks_of(realms_server, "sandbox-mandator", token)
    assert not verifies_with_jwks_of(realms_server, "customer", token)
    # Keycloak's userinfo of another realm cannot verify it either.
    response = requests.get(
        f"{realms_server.url}/realms/customer/protocol/openid-connect/userinfo",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 401
    assert 'error_description="Token verification failed"' in response.headers["WWW-Authenticate"]


def test_the_same_realm_file_gives_the_same_keys_after_a_restart() -> None:
    seen = []
    for _ in range(2):
        with MockServer(MockConfig(port=0, config=str(REALMS_FILE))) as server:
            seen.append((kids(server, "customer"), kids(server, "sandbox-mandator")))
    assert seen[0] == seen[1]


def test_a_token_survives_a_restart_of_the_mock() -> None:
    with MockServer(MockConfig(port=0, config=str(REALMS_FILE))) as first:
        token = login(first, realm="sandbox-mandator", username="sandbox", password="sandbox")
    with MockServer(MockConfig(port=0, config=str(REALMS_FILE))) as second:
        url = f"{second.url}/realms/sandbox-mandator/protocol/openid-connect/certs"
        key = jwt.PyJWKClient(url).get_signing_key_from_jwt(token["access_token"])
        claims = jwt.decode(
            token["access_token"], key.key, algorithms=["RS256"], options={"verify_aud": False}
        )
        assert claims["azp"] == "demobank-cli"


def test_pool_keys_are_never_shared_and_run_out_visibly() -> None:
    names = [f"mandator-{i}" for i in range(len(POOL_KEY_RESOURCES) + 1)]
    assigned = assign_pool_keys(names)
    indices = [assigned[n] for n in names[:-1]]
    assert sorted(indices) == list(range(len(POOL_KEY_RESOURCES)))  # type: ignore[type-var]
    assert assigned[names[-1]] is None
    assert assign_pool_keys(names) == assigned  # deterministic


def test_many_realms_all_get_distinct_keys(tmp_path: Path) -> None:
    realms = [{"realm": f"m{i}", "users": [_DEMO]} for i in range(10)]
    path = tmp_path / "many.json"
    path.write_text(json.dumps(realms), encoding="utf-8")
    with MockServer(MockConfig(port=0, config=str(path))) as server:
        published = [kids(server, f"m{i}")[0] for i in range(10)]
    # The first realm signs with the server's key, eight with bundled keys, one with a generated.
    assert len(set(published)) == 10


def _export_component(
    key: rsa.RSAPrivateKey, priority: int = 100, kid: str | None = None
) -> dict[str, Any]:
    """A key provider as a Keycloak realm export writes it: base64 DER, values in lists."""
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return {
        "name": "rsa-generated",
        "providerId": "rsa-generated",
        "subComponents": {},
        "config": {
            "privateKey": [base64.b64encode(der).decode()],
            "keyUse": ["SIG"],
            "priority": [str(priority)],
            **({"kid": [kid]} if kid else {}),
        },
    }


def test_a_realm_signs_with_the_key_its_realm_file_carries(tmp_path: Path) -> None:
    own = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    older = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    realm = {
        "realm": "exported",
        "users": [_DEMO],
        "components": {
            "org.keycloak.keys.KeyProvider": [
                _export_component(older, priority=50),
                _export_component(own, priority=100),
                {"providerId": "hmac-generated-hs512", "config": {"secret": ["x"]}},
                {"providerId": "rsa-enc-generated", "config": {"algorithm": ["RSA-OAEP"]}},
            ]
        },
    }
    path = tmp_path / "exported.json"
    path.write_text(json.dumps(realm), encoding="utf-8")
    with MockServer(MockConfig(port=0, config=str(path))) as server:
        assert kids(server, "exported") == [
            keycloak_key_id(own.public_key()),
            keycloak_key_id(older.public_key()),
        ]
        token = login(server, realm="exported")["access_token"]
        claims = jwt.decode(
            token, own.public_key(), algorithms=["RS256"], options={"verify_aud": False}
        )
        assert claims["iss"].endswith("/realms/exported")


def test_a_bad_key_in_a_realm_file_is_named(tmp_path: Path) -> None:
    realm = {
        "realm": "broken",
        "components": {
            "org.keycloak.keys.KeyProvider": [
                {"providerId": "rsa", "config": {"privateKey": ["bm90IGEga2V5"]}}
            ]
        },
    }
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(realm), encoding="utf-8")
    message = r"components\.org\.keycloak\.keys\.KeyProvider\[0\]\.config\.privateKey: not a PEM"
    with pytest.raises(ConfigError, match=message):
        create_app(MockConfig(config=str(path)))


def test_a_bad_key_in_a_realm_added_at_run_time_is_a_400(realms_server: MockServer) -> None:
    realm = {
        "realm": "broken",
        "components": {
            "org.keycloak.keys.KeyProvider": [
                {"providerId": "rsa", "config": {"privateKey": "bm90IGEga2V5"}}
            ]
        },
    }
    response = requests.post(f"{realms_server.url}/_mock/realms", json=realm, timeout=10)
    assert response.status_code == 400
    assert "privateKey: not a PEM or base64 DER RSA private key" in response.text
    assert "broken" not in realms_server.state.realms


def test_key_rotation_through_the_controls_works_per_realm(realms_server: MockServer) -> None:
    before_customer = kids(realms_server, "customer")
    base = f"{realms_server.url}/_mock"
    rotated = requests.post(
        f"{base}/keys/rotate", json={"realm": "sandbox-mandator"}, timeout=30
    ).json()
    assert kids(realms_server, "sandbox-mandator")[0] == rotated["kid"]
    assert len(kids(realms_server, "sandbox-mandator")) == 2
    assert kids(realms_server, "customer") == before_customer
    listed = requests.get(f"{base}/keys", params={"realm": "sandbox-mandator"}, timeout=10)
    assert [k["kid"] for k in listed.json()["keys"]] == kids(realms_server, "sandbox-mandator")
    token = login(realms_server, realm="sandbox-mandator", username="sandbox", password="sandbox")
    assert token["access_token"]  # signed with the new key
    assert verifies_with_jwks_of(realms_server, "sandbox-mandator", token["access_token"])
    dropped = requests.delete(f"{base}/keys", params={"realm": "sandbox-mandator"}, timeout=10)
    assert [k["kid"] for k in dropped.json()["keys"]] == [rotated["kid"]]
    unknown = requests.get(f"{base}/keys", params={"realm": "nope"}, timeout=10)
    assert unknown.status_code == 404


def test_a_realm_added_at_run_time_gets_a_key_of_its_own(realms_server: MockServer) -> None:
    base = f"{realms_server.url}/_mock"
    added = requests.post(f"{base}/realms", json={"realm": "late", "users": [_DEMO]}, timeout=10)
    assert added.status_code in (200, 201), added.text
    late = kids(realms_server, "late")
    assert late[0] not in kids(realms_server, "customer") + kids(realms_server, "sandbox-mandator")


@pytest.mark.parametrize("realm", ["customer", "sandbox-mandator"])
def test_jwks_certificates_name_the_realm(realms_server: MockServer, realm: str) -> None:
    from cryptography import x509

    key = certs(realms_server, realm)["keys"][0]
    cert = x509.load_der_x509_certificate(base64.b64decode(key["x5c"][0]))
    assert cert.subject.rfc4514_string() == f"CN={realm}"


def test_a_realm_update_with_key_providers_signs_with_them(realms_server: MockServer) -> None:
    own = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    components = {"org.keycloak.keys.KeyProvider": [_export_component(own)]}
    response = requests.patch(
        f"{realms_server.url}/_mock/realms/sandbox-mandator",
        json={"components": components},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert "components" not in response.json()  # keys are never shown
    assert kids(realms_server, "sandbox-mandator") == [keycloak_key_id(own.public_key())]
    bad = {"org.keycloak.keys.KeyProvider": [{"providerId": "rsa", "config": {"privateKey": "x"}}]}
    refused = requests.patch(
        f"{realms_server.url}/_mock/realms/sandbox-mandator",
        json={"components": bad},
        timeout=10,
    )
    assert refused.status_code == 400
    assert kids(realms_server, "sandbox-mandator") == [keycloak_key_id(own.public_key())]


def test_kids_are_keycloaks_or_the_providers_own(tmp_path: Path) -> None:
    """``KeyUtils.createKeyId``: SHA-256 of the public key's X.509 encoding, unless configured."""
    derived = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    named = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    spki = derived.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    expected = base64.urlsafe_b64encode(hashlib.sha256(spki).digest()).rstrip(b"=").decode()
    realm = {
        "realm": "exported",
        "components": {
            "org.keycloak.keys.KeyProvider": [
                _export_component(derived, priority=100),
                _export_component(named, priority=50, kid="my-own-kid"),
            ]
        },
    }
    path = tmp_path / "exported.json"
    path.write_text(json.dumps(realm), encoding="utf-8")
    with MockServer(MockConfig(port=0, config=str(path))) as server:
        assert kids(server, "exported") == [expected, "my-own-kid"]


def test_reset_brings_back_the_keys_a_realm_started_with(realms_server: MockServer) -> None:
    before = kids(realms_server, "sandbox-mandator")
    own = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    components = {"org.keycloak.keys.KeyProvider": [_export_component(own)]}
    base = f"{realms_server.url}/_mock"
    requests.patch(f"{base}/realms/sandbox-mandator", json={"components": components}, timeout=10)
    requests.post(f"{base}/keys/rotate", json={"realm": "customer"}, timeout=30)
    assert kids(realms_server, "sandbox-mandator") != before
    requests.post(f"{base}/reset", json={}, timeout=10)
    assert kids(realms_server, "sandbox-mandator") == before
    assert kids(realms_server, "customer") == [load_signing_key().kid]
