"""E-mail addresses are stored lower-cased, as Keycloak's user adapters' ``setEmail`` does."""

from __future__ import annotations

import json
from pathlib import Path

import jwt
import requests

from keycloak_mock import MockConfig, MockServer

REALM = {
    "realm": "customer",
    "clients": [{"clientId": "demobank-cli", "publicClient": True}],
    "users": [
        {
            "username": "Alice",
            "email": "Alice.Smith@Example.TEST",
            "credentials": [{"type": "password", "value": "pw"}],
        }
    ],
}


def test_email_is_lower_case_in_tokens_userinfo_and_controls(tmp_path: Path) -> None:
    path = tmp_path / "realm.json"
    path.write_text(json.dumps(REALM), encoding="utf-8")
    with MockServer(MockConfig(port=0, config=str(path))) as server:
        oidc = f"{server.url}/realms/customer/protocol/openid-connect"
        form = {
            "grant_type": "password",
            "client_id": "demobank-cli",
            # Login by e-mail address, in yet another case.
            "username": "ALICE.SMITH@example.test",
            "password": "pw",
            "scope": "openid email",
        }
        body = requests.post(f"{oidc}/token", data=form, timeout=10).json()
        claims = jwt.decode(body["access_token"], options={"verify_signature": False})
        assert claims["email"] == "alice.smith@example.test"
        assert claims["preferred_username"] == "alice"
        info = requests.get(
            f"{oidc}/userinfo",
            headers={"Authorization": f"Bearer {body['access_token']}"},
            timeout=10,
        ).json()
        assert info["email"] == "alice.smith@example.test"
        changed = requests.patch(
            f"{server.url}/_mock/realms/customer/users/alice",
            json={"email": "New.Address@Example.TEST"},
            timeout=10,
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["email"] == "new.address@example.test"
