"""Java hash order reproduces the orders recorded from real Keycloak responses."""

from __future__ import annotations

import pytest

from keycloak_mock.imitation.javaorder import java_hash_order, java_string_hash


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        # finAPI's response: the four extra fields in the order of its documentation page.
        (
            ["is_technical_user", "is_test_mandator", "mandator_uuid", "mandator_name"],
            ["mandator_name", "mandator_uuid", "is_test_mandator", "is_technical_user"],
        ),
        # A real Keycloak token's profile claims (otherClaims map).
        (
            ["email", "family_name", "given_name", "preferred_username", "name", "email_verified"],
            ["email_verified", "name", "preferred_username", "given_name", "family_name", "email"],
        ),
        (
            ["default-roles-customer", "offline_access", "uma_authorization"],
            ["offline_access", "uma_authorization", "default-roles-customer"],
        ),
    ],
)
def test_orders_seen_on_real_servers(keys: list[str], expected: list[str]) -> None:
    assert java_hash_order(keys) == expected


def test_string_hash_matches_java() -> None:
    # Values of "".hashCode(), "a".hashCode(), "hello".hashCode() and a negative one in Java.
    assert java_string_hash("") == 0
    assert java_string_hash("a") == 97
    assert java_string_hash("hello") == 99162322
    assert java_string_hash("polygenelubricants") == -2147483648
    assert java_string_hash("ü€") == 252 * 31 + 8364
