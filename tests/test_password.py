"""The lab password's stored form: scrypt with a salt, the legacy sha256 form, malformed values."""

from __future__ import annotations

import hashlib
import time

import pytest

from core.errors import InvalidInputError
from core.password import N, P, R, hash_password, is_legacy, parse_stored, verify_password


def test_round_trip_and_a_wrong_password():
    stored = hash_password("correct horse")
    assert stored.startswith(f"scrypt:n={N},r={R},p={P}:")
    assert verify_password("correct horse", stored)
    assert not verify_password("correct hors", stored)
    assert not verify_password("", stored)
    assert not is_legacy(stored)
    assert verify_password("correct horse", f"  {stored}\n")  # as pasted from a file


def test_the_same_password_gets_a_different_salt_and_hash_each_time():
    first, second = hash_password("s3cret"), hash_password("s3cret")
    assert first != second
    assert parse_stored(first).salt != parse_stored(second).salt
    assert verify_password("s3cret", first) and verify_password("s3cret", second)


def test_the_stored_form_needs_no_quoting_in_a_shell_or_compose_file():
    stored = hash_password("pa$$ word 'with' \"quotes\" ünïcode")
    assert not set(stored) & set("$'\"` \\!&;|<>(){}#*?~")
    assert verify_password("pa$$ word 'with' \"quotes\" ünïcode", stored)


def test_an_empty_password_is_refused():
    with pytest.raises(InvalidInputError, match="must not be empty"):
        hash_password("")


def test_the_legacy_sha256_form_still_works_and_is_told_apart():
    legacy = hashlib.sha256(b"correct horse").hexdigest()
    assert is_legacy(legacy) and is_legacy(legacy.upper())
    assert verify_password("correct horse", legacy)
    assert verify_password("correct horse", legacy.upper())
    assert not verify_password("wrong", legacy)


@pytest.mark.parametrize("stored, why", [
    ("hunter2", "neither starts with 'scrypt:' nor is 64 hex digits"),
    ("ab" * 31, "neither starts with 'scrypt:'"),  # 62 hex digits: a cut-off sha256
    ("scrypt:n=16384,r=8,p=1:c2FsdHNhbHQ", "4"),
    ("scrypt:n=16384,r=8:c2FsdHNhbHQ:aGFzaGhhc2hoYXNoaGFzaA", "not 'n=...,r=...,p=...'"),
    ("scrypt:n=1000,r=8,p=1:c2FsdHNhbHQ:aGFzaGhhc2hoYXNoaGFzaA", "power of 2"),
    ("scrypt:n=1073741824,r=8,p=1:c2FsdHNhbHQ:aGFzaGhhc2hoYXNoaGFzaA", "power of 2"),
    ("scrypt:n=16384,r=99,p=1:c2FsdHNhbHQ:aGFzaGhhc2hoYXNoaGFzaA", "r=99"),
    ("scrypt:n=1048576,r=32,p=1:c2FsdHNhbHQ:aGFzaGhhc2hoYXNoaGFzaA", "4096 MiB; at most 256 MiB"),
    ("scrypt:n=16384,r=8,p=1:c2Fsd+Nh/HQ=:aGFzaGhhc2hoYXNoaGFzaA", "base64"),
    ("scrypt:n=16384,r=8,p=1:c2E:aGFzaGhhc2hoYXNoaGFzaA", "too short"),
])
def test_a_malformed_hash_says_what_form_is_expected_and_how_to_make_one(stored, why):
    for call in (parse_stored, is_legacy, lambda s: verify_password("x", s)):
        with pytest.raises(InvalidInputError) as err:
            call(stored)
        message = str(err.value)
        assert why in message
        assert "SEGSTUDIO_PASSWORD_HASH" in message and "scrypt:n=16384,r=8,p=1:<salt>:<hash>" in message
        assert "segstudio password" in message


def test_a_stored_hash_with_other_parameters_is_verified_with_them():
    # A hash made with other (here cheaper) parameters keeps working when the defaults change.
    import base64

    salt = b"0123456789abcdef"
    digest = hashlib.scrypt(b"pw", salt=salt, n=2**10, r=4, p=2, dklen=24)
    b64 = lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")  # noqa: E731
    stored = f"scrypt:n=1024,r=4,p=2:{b64(salt)}:{b64(digest)}"
    assert verify_password("pw", stored) and not verify_password("pw2", stored)


def test_hashing_is_slow_enough_and_not_too_slow():
    start = time.perf_counter()
    verify_password("correct horse", hash_password("correct horse"))
    per_hash = (time.perf_counter() - start) / 2
    assert 0.01 < per_hash < 2.0, per_hash  # 110-165 ms each on a busy 2-core machine
