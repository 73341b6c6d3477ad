"""Hashes of what people and machines prove themselves with. Only hashes are stored: scrypt
for passwords (low entropy, so slow on purpose), SHA-256 for tokens and tickets (256 random
bits, so a fast hash is enough); comparisons take constant time."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return "scrypt${n}${r}${p}$".format(**_SCRYPT) + f"{_b64(salt)}${_b64(digest)}"


def same_text(given: str, expected: str) -> bool:
    """Constant-time comparison of a signature from a URL: as bytes, since compare_digest
    refuses a str with non-ASCII characters (a TypeError, a 500, found by schemathesis)."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode())


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p))
    except ValueError:
        return False
    return hmac.compare_digest(got, expected)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@functools.cache
def dummy_hash() -> str:
    """A hash to check unknown people's passwords against: the same work as for known ones."""
    return hash_password(secrets.token_urlsafe(12))
