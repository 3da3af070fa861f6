"""Password hashing with scrypt (standard library), parameters stored with each hash."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

# About 50 ms and 16 MiB per hash: slow for a guesser, quick enough for a login.
N, R, P = 2**14, 8, 1
KEY_BYTES = 32
MAX_PASSWORD_CHARS = 1024  # a longer "password" is only a way to burn CPU


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=N, r=R, p=P, dklen=KEY_BYTES)
    return f"scrypt${N}${R}${P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(key)
        given = hashlib.scrypt(
            password[:MAX_PASSWORD_CHARS].encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except ValueError:
        return False
    return hmac.compare_digest(given, expected)


# Checked against when the username is unknown, so a wrong name costs as long as a wrong password.
DUMMY_HASH = hash_password(secrets.token_urlsafe(16))
