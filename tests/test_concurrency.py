"""Concurrent clients and hostile bodies: nothing lost, nothing shared, the server keeps serving."""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import jwt
import pytest
import requests

from keycloak_mock import MockServer

from .conftest import token_url

PASSWORD_FORM = {
    "client_id": "demobank-cli",
    "username": "demo",
    "password": "demo",
    "grant_type": "password",
}


def test_200_concurrent_password_grants(keycloak_mock: MockServer) -> None:
    url = token_url(keycloak_mock.url)

    def grant(_: int) -> dict[str, Any]:
        with requests.Session() as session:
            response = session.post(url, data=PASSWORD_FORM, timeout=30)
            assert response.status_code == 200
            body: dict[str, Any] = response.json()
            return body

    with ThreadPoolExecutor(max_workers=8) as pool:
        bodies = list(pool.map(grant, range(200)))
    jtis = {
        jwt.decode(b["access_token"], options={"verify_signature": False})["jti"] for b in bodies
    }
    sessions = {b["session_state"] for b in bodies}
    assert len(jtis) == 200
    assert len(sessions) == 200
    assert sessions <= set(keycloak_mock.state.sessions)


def test_concurrent_refreshes_of_one_session(keycloak_mock: MockServer) -> None:
    url = token_url(keycloak_mock.url)
    first = requests.post(url, data=PASSWORD_FORM, timeout=10).json()
    data = {
        "grant_type": "refresh_token",
        "client_id": "demobank-cli",
        "refresh_token": first["refresh_token"],
    }
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(lambda _: requests.post(url, data=data, timeout=30), range(40)))
    assert {r.status_code for r in responses} == {200}
    assert {r.json()["session_state"] for r in responses} == {first["session_state"]}


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"\xff\xfe\xfa=\xc3\x28&grant_type=password", "application/x-www-form-urlencoded"),
        (b"grant_type=%ZZ&client_id=%", "application/x-www-form-urlencoded"),
        (b"&&&===&&", "application/x-www-form-urlencoded"),
        (
            b"grant_type=password&username=\x00\x01&password=%00",
            "application/x-www-form-urlencoded",
        ),
        (b"\x00" * 1000, "application/x-www-form-urlencoded; charset=latin-9000"),
        (
            b'--x\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n--x--',
            "multipart/form-data; boundary=x",
        ),
    ],
)
def test_malformed_forms_get_4xx(keycloak_mock: MockServer, body: bytes, content_type: str) -> None:
    response = requests.post(
        token_url(keycloak_mock.url), data=body, headers={"Content-Type": content_type}, timeout=10
    )
    assert 400 <= response.status_code < 500
    assert response.headers["Content-Type"] == "application/json"
    assert "error" in response.json()
    assert (
        requests.post(token_url(keycloak_mock.url), data=PASSWORD_FORM, timeout=10).status_code
        == 200
    )


def test_ten_megabyte_body_gets_413_and_server_keeps_serving(keycloak_mock: MockServer) -> None:
    body = b"a=" + b"x" * (10 * 1024 * 1024)
    response = requests.post(
        token_url(keycloak_mock.url),
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=30,
    )
    assert response.status_code == 413
    assert response.json() == {
        "error": "invalid_request",
        "error_description": "Request body too large",
    }
    assert (
        requests.post(token_url(keycloak_mock.url), data=PASSWORD_FORM, timeout=10).status_code
        == 200
    )


def test_half_sent_request_does_not_block_others(keycloak_mock: MockServer) -> None:
    host, port = keycloak_mock.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as stalled:
        stalled.sendall(
            b"POST /realms/customer/protocol/openid-connect/token HTTP/1.1\r\n"
            b"Host: x\r\nContent-Length: 100\r\n\r\ngrant"
        )
        assert (
            requests.post(token_url(keycloak_mock.url), data=PASSWORD_FORM, timeout=10).status_code
            == 200
        )
