"""Start-up and the token path stay cheap, and what keeps them so changes nothing a client sees."""

from __future__ import annotations

import os
import re
import uuid
import warnings
from importlib import resources

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from keycloak_mock.imitation.errors import ConfigError
from keycloak_mock.imitation.ids import random_uuid
from keycloak_mock.imitation.keys import DEV_KEY_RESOURCE, load_signing_key, parse_private_key

from .conftest import packages_loaded_by

UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def test_bundled_dev_key_passes_the_check_start_up_skips() -> None:
    """The dev key is loaded without OpenSSL's RSA consistency check; it must pass that check."""
    pem = resources.files("keycloak_mock").joinpath("data").joinpath(DEV_KEY_RESOURCE).read_bytes()
    checked = serialization.load_pem_private_key(pem, password=None)
    fast = load_signing_key()
    assert checked.private_numbers() == fast.private_key.private_numbers()


def test_a_users_key_is_still_checked() -> None:
    pem = resources.files("keycloak_mock").joinpath("data").joinpath(DEV_KEY_RESOURCE).read_bytes()
    broken = serialization.load_pem_private_key(pem, password=None)
    numbers = broken.private_numbers()  # type: ignore[union-attr]
    inconsistent = rsa.RSAPrivateNumbers(
        p=numbers.p,
        q=numbers.q,
        d=numbers.d + 2,  # no longer the inverse of e: signatures would not verify
        dmp1=numbers.dmp1,
        dmq1=numbers.dmq1,
        iqmp=numbers.iqmp,
        public_numbers=numbers.public_numbers,
    ).private_key(unsafe_skip_rsa_key_validation=True)
    bad_pem = inconsistent.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(ConfigError, match="not an unencrypted PEM private key"):
        parse_private_key(bad_pem, "key.pem")


def test_random_uuids_are_version_4_and_unique() -> None:
    ids = [random_uuid() for _ in range(5000)]  # crosses several 4 KiB refills
    assert len(set(ids)) == len(ids)
    for value in ids[:300]:
        assert UUID4.fullmatch(value), value
        parsed = uuid.UUID(value)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_process_does_not_repeat_the_parents_ids() -> None:
    random_uuid()  # the parent now holds a partly used buffer that the child inherits
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        # Python 3.12+ warns about forking a process that has threads (other tests' servers);
        # the child only draws ids and exits.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.close(read_end)
        os.write(write_end, " ".join(random_uuid() for _ in range(5)).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        child = pipe.read().split()
    os.waitpid(pid, 0)
    parent = [random_uuid() for _ in range(5)]
    assert len(child) == 5
    assert not set(child) & set(parent)


def test_the_pytest_plugin_imports_no_server_libraries_until_a_fixture_needs_them() -> None:
    """pytest imports the plugin in every run of every project with the kit installed, whether
    the run uses the mock or not; Flask, werkzeug, cryptography, PyJWT and requests (about 0.3 s
    here) load only when a test first asks for the server."""
    heavy = ("flask", "werkzeug", "cryptography", "jwt", "requests", "demobank_client")
    assert packages_loaded_by("pytest, keycloak_mock.pytest_plugin", heavy) == []
