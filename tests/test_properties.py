"""Property tests: whatever the input, the token endpoint answers like Keycloak, and tokens hold.

- form parsing: arbitrary bytes, fields and headers never raise out of a view (no 5xx), and every
  answer is one of Keycloak's JSON shapes (Flask's test client for volume, real HTTP for a few);
- the token builder: for arbitrary users, lifetimes and scopes, what the endpoint issues verifies
  with the published key and says what it should (issue -> verify round trip);
- the verifiers: a token with any byte altered is rejected.

Example counts come from the hypothesis profile (``tests/conftest.py``): a few seconds locally,
more and never the same examples under ``CI=true``; ``HYPOTHESIS_PROFILE=long`` (see
docs/robustness.md) runs the same properties with many more examples.
"""

from __future__ import annotations

import base64
import json
import string
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from keycloak_mock import MockServer, create_app, load_signing_key, verify_access_token
from keycloak_mock.imitation.app import mock_state
from keycloak_mock.imitation.config import ClientConfig, RealmConfig, UserConfig, complete_user
from keycloak_mock.imitation.errors import InvalidGrant, TokenVerificationError
from keycloak_mock.imitation.grants import check_refresh_claims, decode_refresh_token
from keycloak_mock.imitation.passwords import PlainCredential

#: The profile's example count (``tests/conftest.py`` loads the profile).
MANY = settings()
#: For the properties that cost a real request per example.
FEW = settings(max_examples=max(25, settings.default.max_examples // 10))

TOKEN_PATH = "/realms/customer/protocol/openid-connect/token"
BASE = "http://localhost"
SIGNING_KEY = load_signing_key()
FIELD_NAMES = [
    "grant_type", "client_id", "client_secret", "username", "password", "scope",
    "refresh_token", "token", "token_type_hint", "access_token",
]  # fmt: skip
GRANT_TYPES = [
    "password", "refresh_token", "client_credentials", "", "PASSWORD", "authorization_code",
]  # fmt: skip
CONTENT_TYPES = [
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=UTF-8",
    "application/json",
    "multipart/form-data; boundary=x",
    "text/plain",
    "",
    "application/x-www-form-urlencoded; charset=\u00ff",
]
#: The keys an error body of the token endpoint may have, in Keycloak's order.
OAUTH_ERROR_KEYS = [["error", "error_description"], ["error"]]


@pytest.fixture(scope="module")
def app() -> Flask:
    return create_app(signing_key=SIGNING_KEY)


@pytest.fixture(scope="module")
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def assert_keycloak_answer(status: int, body: bytes, content_type: str | None) -> None:
    """A status Keycloak uses for this endpoint and a JSON body of the matching shape."""
    assert status in (200, 400, 401, 403, 413, 415), (status, body)
    assert content_type == "application/json"
    document = json.loads(body)
    if status == 200:
        assert list(document)[:5] == [
            "access_token", "expires_in", "refresh_expires_in", "refresh_token", "token_type",
        ]  # fmt: skip
    else:
        assert list(document) in OAUTH_ERROR_KEYS, document
        assert all(isinstance(value, str) for value in document.values())


# -- form parsing ----------------------------------------------------------------------------

field_names = st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=20))
field_values = st.one_of(
    st.sampled_from([*GRANT_TYPES, "demobank-cli", "demo", "openid", "profile email"]),
    st.text(max_size=200),
)
forms = st.lists(st.tuples(field_names, field_values), max_size=12)
headers = st.fixed_dictionaries(
    {"Content-Type": st.sampled_from(CONTENT_TYPES)},
    optional={
        "Authorization": st.one_of(
            # Printable, no line breaks, and no leading space or tab: requests refuses to send
            # such a value (InvalidHeader), so it would never reach the server under test.
            st.text(alphabet=string.printable.strip("\r\n\x0b\x0c"), max_size=80).filter(
                lambda value: not value[:1].isspace()
            ),
            st.builds(
                lambda raw: "Basic " + base64.b64encode(raw).decode(),
                st.binary(max_size=60),
            ),
            st.just("Basic ZGVtb2JhbmstY2xpOg=="),
        ),
    },
)


@MANY
@given(body=st.binary(max_size=2048), content_type=st.sampled_from(CONTENT_TYPES))
def test_arbitrary_bytes_never_raise_out_of_the_token_view(
    client: FlaskClient, body: bytes, content_type: str
) -> None:
    response = client.post(TOKEN_PATH, data=body, headers={"Content-Type": content_type})
    assert_keycloak_answer(response.status_code, response.data, response.content_type)


@MANY
@given(form=forms, extra_headers=headers)
def test_arbitrary_fields_never_raise_out_of_the_token_view(
    client: FlaskClient, form: list[tuple[str, str]], extra_headers: dict[str, str]
) -> None:
    body = urlencode(form).encode()
    response = client.post(TOKEN_PATH, data=body, headers=extra_headers)
    assert_keycloak_answer(response.status_code, response.data, response.content_type)


@MANY
@given(form=st.lists(st.tuples(field_names, field_values), max_size=6))
def test_arbitrary_login_attempts_with_a_real_client_id_stay_keycloak_shaped(
    client: FlaskClient, form: list[tuple[str, str]]
) -> None:
    """Past grant type and client checks: the grant code itself sees arbitrary values."""
    data = [("grant_type", "password"), ("client_id", "demobank-cli"), *form]
    response = client.post(TOKEN_PATH, data=dict(data))
    assert_keycloak_answer(response.status_code, response.data, response.content_type)


@MANY
@given(form=st.lists(st.tuples(field_names, field_values), max_size=6), token=st.text(max_size=400))
def test_arbitrary_refresh_tokens_stay_keycloak_shaped(
    client: FlaskClient, form: list[tuple[str, str]], token: str
) -> None:
    data = dict([("grant_type", "refresh_token"), ("client_id", "demobank-cli"), *form])
    data.setdefault("refresh_token", token)
    response = client.post(TOKEN_PATH, data=data)
    assert_keycloak_answer(response.status_code, response.data, response.content_type)
    assert response.status_code != 200


@FEW
@given(body=st.binary(max_size=4096), extra_headers=headers)
def test_arbitrary_bytes_over_real_http(
    keycloak_mock_server: MockServer, body: bytes, extra_headers: dict[str, str]
) -> None:
    response = requests.post(
        keycloak_mock_server.url + TOKEN_PATH, data=body, headers=extra_headers, timeout=10
    )
    assert_keycloak_answer(
        response.status_code, response.content, response.headers.get("Content-Type")
    )


# -- issue -> verify round trip -------------------------------------------------------------

#: Keycloak strips control characters from form values, so passwords here have none.
printable = st.characters(blacklist_categories=("Cc", "Cs"))
usernames = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zs", "Zl", "Zp")),
    min_size=1,
    max_size=30,
).filter(lambda name: name == name.strip() and "@" not in name)
names = st.none() | st.text(alphabet=printable, min_size=1, max_size=20)
OPTIONAL_SCOPES = ("email", "phone", "address")


@st.composite
def realms_and_logins(draw: st.DrawFn) -> tuple[RealmConfig, str, str, list[str]]:
    username = draw(usernames)
    password = draw(st.text(alphabet=printable, min_size=1, max_size=40))
    user = UserConfig(
        username=username,
        credential=PlainCredential(password),
        first_name=draw(names),
        last_name=draw(names),
        email=draw(st.none() | st.emails()),
        email_verified=draw(st.booleans()),
        attributes={"is_technical_user": (draw(st.sampled_from(["true", "false"])),)},
    )
    max_lifespan = draw(st.integers(min_value=60, max_value=10**7))
    realm = RealmConfig(
        realm="customer",
        access_token_lifespan=draw(st.integers(min_value=1, max_value=10**7)),
        sso_session_idle_timeout=draw(st.integers(min_value=1, max_value=10**7)),
        sso_session_max_lifespan=max_lifespan,
        clients=(
            ClientConfig(
                client_id="demobank-cli",
                # ``basic`` (sub) is in every Keycloak realm; without it no token verifies.
                default_client_scopes=(
                    "basic",
                    *draw(
                        st.lists(
                            st.sampled_from(["xs2a_mock:user", "profile", "roles", "acr"]),
                            unique=True,
                        )
                    ),
                ),
                optional_client_scopes=OPTIONAL_SCOPES,
            ),
        ),
        users=(complete_user("customer", user),),
    )
    requested = draw(st.lists(st.sampled_from(("openid", *OPTIONAL_SCOPES)), unique=True))
    return realm, username, password, requested


@MANY
@given(case=realms_and_logins(), now=st.integers(min_value=10**9, max_value=4 * 10**9))
def test_issued_tokens_verify_and_say_what_was_issued(
    case: tuple[RealmConfig, str, str, list[str]], now: int
) -> None:
    realm, username, password, requested = case
    app = create_app(realms=(realm,), signing_key=SIGNING_KEY)
    state = mock_state(app)
    state.clock.freeze(now)
    form = {"grant_type": "password", "client_id": "demobank-cli", "username": username}
    form["password"] = password
    if requested:
        form["scope"] = " ".join(requested)
    response = app.test_client().post(TOKEN_PATH, data=form, base_url=BASE)
    assert response.status_code == 200, response.json
    body = response.json
    assert body is not None
    user = realm.users[0]
    client = realm.clients[0]

    claims = verify_access_token(body["access_token"], state, issuer_base=BASE)
    lifespan = min(realm.access_token_lifespan, realm.sso_session_max_lifespan)
    assert (claims["iat"], claims["exp"], body["expires_in"]) == (now, now + lifespan, lifespan)
    assert claims["iss"] == f"{BASE}/realms/customer"
    assert claims["azp"] == "demobank-cli"
    assert claims["sid"] == body["session_state"]
    assert claims["scope"] == body["scope"]
    applied = set(client.default_client_scopes) | (set(requested) & set(OPTIONAL_SCOPES))
    assert claims["sub"] == user.id
    if "profile" in applied:
        assert claims["preferred_username"] == username.lower()
    else:
        assert "preferred_username" not in claims
    assert ("email_verified" in claims) == ("email" in applied)
    assert body["is_technical_user"] == user.is_technical_user

    refresh = decode_refresh_token(state, realm, body["refresh_token"])
    check_refresh_claims(realm, client, refresh, f"{BASE}/realms/customer", now, check_expiry=True)
    idle = min(realm.sso_session_idle_timeout, realm.sso_session_max_lifespan)
    assert (refresh["exp"] - now, body["refresh_expires_in"]) == (idle, idle)
    assert refresh["sid"] == claims["sid"]

    if "openid" in requested:
        id_claims = jwt.decode(
            body["id_token"],
            SIGNING_KEY.public_key,
            algorithms=["RS256"],
            audience="demobank-cli",
            options={"verify_exp": False, "verify_iat": False},
        )
        assert (id_claims["typ"], id_claims["sid"]) == ("ID", claims["sid"])
    else:
        assert "id_token" not in body


# -- altered tokens are rejected ------------------------------------------------------------


@pytest.fixture(scope="module")
def issued(app: Flask) -> dict[str, Any]:
    """One token response of the module's app (issuer ``http://localhost``)."""
    form = {"grant_type": "password", "client_id": "demobank-cli", "username": "demo"}
    response = app.test_client().post(TOKEN_PATH, data={**form, "password": "demo"}, base_url=BASE)
    assert response.status_code == 200
    body: dict[str, Any] = response.json or {}
    return body


def b64url_decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@st.composite
def alterations(draw: st.DrawFn, token: str) -> str:
    """``token`` with its bytes changed: in a segment's decoded bytes or in its text."""
    segments = token.split(".")
    kinds = ["flip bit", "replace bytes", "edit text", "last char", "truncate", "append"]
    how = draw(st.sampled_from(kinds))
    if how == "edit text":
        position = draw(st.integers(0, len(token) - 1))
        replacement = draw(st.text(alphabet=string.printable, max_size=3))
        altered = token[:position] + replacement + token[position + 1 :]
    elif how == "last char":
        # The last character of a segment may carry unused bits: changing only those keeps the
        # decoded bytes, and the token must still be refused.
        index = draw(st.integers(0, 2))
        segment = segments[index]
        segments[index] = segment[:-1] + draw(st.sampled_from(string.ascii_letters + "-_+/"))
        altered = ".".join(segments)
    elif how == "truncate":
        altered = token[: draw(st.integers(0, len(token) - 1))]
    elif how == "append":
        # Padding and whitespace decode to the same bytes; they are alterations all the same.
        suffix = st.sampled_from(["=", "==", "\n", " ", ".", "\x00"])
        altered = token + draw(suffix | st.text(alphabet=string.printable, min_size=1, max_size=5))
    else:
        index = draw(st.integers(0, 2))
        data = bytearray(b64url_decode(segments[index]))
        offset = draw(st.integers(0, len(data) - 1))
        if how == "flip bit":
            data[offset] ^= 1 << draw(st.integers(0, 7))
        else:
            data[offset : offset + 4] = draw(st.binary(min_size=1, max_size=4))
        segments[index] = b64url_encode(bytes(data))
        altered = ".".join(segments)
    assume(altered != token)
    return altered


@MANY
@given(data=st.data())
def test_altered_access_tokens_are_rejected(
    app: Flask, issued: dict[str, Any], data: st.DataObject
) -> None:
    state = mock_state(app)
    token = issued["access_token"]
    assert verify_access_token(token, state, issuer_base=BASE)["azp"] == "demobank-cli"
    altered = data.draw(alterations(token))
    with pytest.raises(TokenVerificationError):
        verify_access_token(altered, state, issuer_base=BASE)


@MANY
@given(data=st.data())
def test_altered_refresh_tokens_are_rejected(
    app: Flask, issued: dict[str, Any], data: st.DataObject
) -> None:
    state = mock_state(app)
    realm = state.realm("customer")
    assert realm is not None
    token = issued["refresh_token"]
    assert decode_refresh_token(state, realm, token)["typ"] == "Refresh"
    altered = data.draw(alterations(token))
    with pytest.raises(InvalidGrant):
        decode_refresh_token(state, realm, altered)


@FEW
@given(data=st.data())
def test_altered_refresh_tokens_are_refused_by_the_endpoint(
    client: FlaskClient, issued: dict[str, Any], data: st.DataObject
) -> None:
    altered = data.draw(alterations(issued["refresh_token"]))
    form = {"grant_type": "refresh_token", "client_id": "demobank-cli", "refresh_token": altered}
    response = client.post(TOKEN_PATH, data=form, base_url=BASE)
    assert response.status_code == 400
    assert response.json == {"error": "invalid_grant", "error_description": "Invalid refresh token"}
