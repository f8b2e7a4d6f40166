"""The lab password: a salted, slow hash (scrypt) to store it, and the check of an entered password.

The stored form (the value of SEGSTUDIO_PASSWORD_HASH) describes itself::

    scrypt:n=16384,r=8,p=1:<salt>:<hash>

with salt and hash in URL-safe base64 without padding. It holds no ``$``, quote or space, so it can be pasted
into a shell, a systemd unit or a docker-compose file as it is. ``segstudio password`` makes one.

The old form, the 64 hex digits of an unsalted SHA-256, is still accepted (:func:`is_legacy` tells it apart)
so that a lab that set one keeps working; the app then tells the admin how to upgrade.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from dataclasses import dataclass

from core.errors import InvalidInputError

SCHEME = "scrypt"
# n=2**14, r=8: 16 MiB and 110-165 ms per hash on this 2-core AMD EPYC machine while 8 jobs shared it
# (so less when idle); n=2**15 took 155-240 ms there. Stored hashes carry their parameters: raise N freely.
N, R, P = 2**14, 8, 1
SALT_BYTES = 16
HASH_BYTES = 32
# What a stored hash may ask for: enough to raise the cost later, not so much that a typo exhausts memory.
_N_RANGE = (2**10, 2**20)
_R_RANGE = (1, 32)
_P_RANGE = (1, 16)
_MAX_MEMORY = 2**28  # 256 MiB for scrypt's table (128 * n * r bytes)

HOW_TO_MAKE = "make one with `segstudio password` and set SEGSTUDIO_PASSWORD_HASH to what it prints"
_LEGACY = re.compile(r"[0-9a-fA-F]{64}")
_PARAMS = re.compile(r"n=(\d+),r=(\d+),p=(\d+)")


@dataclass(frozen=True)
class StoredHash:
    """A parsed SEGSTUDIO_PASSWORD_HASH: scrypt with its parameters, or the legacy unsalted SHA-256."""

    scheme: str  # "scrypt" | "sha256"
    digest: bytes
    salt: bytes = b""
    n: int = 0
    r: int = 0
    p: int = 0

    @property
    def legacy(self) -> bool:
        return self.scheme == "sha256"


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _b64decode(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]+", text):
        raise ValueError("not URL-safe base64")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, size: int) -> bytes:
    # OpenSSL refuses more than 32 MiB unless told: allow what n, r and p need, and some more.
    maxmem = 128 * r * (n + p + 2) + 2**20
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=maxmem, dklen=size)


def hash_password(password: str) -> str:
    """The stored form of ``password``: scrypt with a fresh random salt (so two calls never give the same)."""
    if not isinstance(password, str) or password == "":
        raise InvalidInputError("the lab password must not be empty; choose a password the lab can share")
    salt = os.urandom(SALT_BYTES)
    digest = _scrypt(password, salt, N, R, P, HASH_BYTES)
    return f"{SCHEME}:n={N},r={R},p={P}:{_b64encode(salt)}:{_b64encode(digest)}"


def _malformed(stored: str, why: str) -> InvalidInputError:
    shown = stored if len(stored) <= 24 else stored[:20] + "..."
    return InvalidInputError(
        f"SEGSTUDIO_PASSWORD_HASH={shown!r} is not a password hash ({why}); it must look like "
        f"'scrypt:n=16384,r=8,p=1:<salt>:<hash>': {HOW_TO_MAKE}"
    )


def parse_stored(stored: str) -> StoredHash:
    """Check and parse a SEGSTUDIO_PASSWORD_HASH value; InvalidInputError says what form is expected."""
    text = stored.strip()
    if _LEGACY.fullmatch(text):
        return StoredHash(scheme="sha256", digest=bytes.fromhex(text))
    parts = text.split(":")
    if parts[0] != SCHEME:
        raise _malformed(stored, f"it neither starts with '{SCHEME}:' nor is 64 hex digits of the old form")
    if len(parts) != 4:
        raise _malformed(stored, f"it has {len(parts)} ':'-separated parts, not 4")
    params = _PARAMS.fullmatch(parts[1])
    if params is None:
        raise _malformed(stored, f"its parameters {parts[1]!r} are not 'n=...,r=...,p=...'")
    n, r, p = (int(v) for v in params.groups())
    if not (_N_RANGE[0] <= n <= _N_RANGE[1] and n & (n - 1) == 0):
        raise _malformed(stored, f"n={n} must be a power of 2 from {_N_RANGE[0]} to {_N_RANGE[1]}")
    if not (_R_RANGE[0] <= r <= _R_RANGE[1] and _P_RANGE[0] <= p <= _P_RANGE[1]):
        raise _malformed(stored, f"r={r} must be {_R_RANGE[0]}-{_R_RANGE[1]} and p={p} "
                                 f"{_P_RANGE[0]}-{_P_RANGE[1]}")
    if 128 * n * r > _MAX_MEMORY:
        raise _malformed(stored, f"n={n} and r={r} ask for {128 * n * r // 2**20} MiB; at most "
                                 f"{_MAX_MEMORY // 2**20} MiB")
    try:
        salt, digest = _b64decode(parts[2]), _b64decode(parts[3])
    except ValueError as exc:  # binascii.Error included
        raise _malformed(stored, "its salt or hash is not URL-safe base64") from exc
    if len(salt) < 8 or len(digest) < 16:
        raise _malformed(stored, f"its salt ({len(salt)} bytes) or hash ({len(digest)} bytes) is too short")
    return StoredHash(scheme=SCHEME, digest=digest, salt=salt, n=n, r=r, p=p)


def is_legacy(stored: str) -> bool:
    """True when ``stored`` is the old unsalted SHA-256 form (InvalidInputError when it is malformed)."""
    return parse_stored(stored).legacy


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` is the one ``stored`` was made from; compared in constant time.

    ``stored`` is either form; a malformed one raises InvalidInputError (never a silent "wrong password").
    """
    parsed = parse_stored(stored)
    if parsed.legacy:
        entered = hashlib.sha256(password.encode("utf-8")).digest()
    else:
        entered = _scrypt(password, parsed.salt, parsed.n, parsed.r, parsed.p, len(parsed.digest))
    return hmac.compare_digest(entered, parsed.digest)

