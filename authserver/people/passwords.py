"""User passwords: argon2id, the slow hash meant for low-entropy human secrets."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()

MIN_LENGTH = 8


def hash_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise ValueError(f"a password needs at least {MIN_LENGTH} characters")
    return _hasher.hash(password)


@cache
def _dummy_hash() -> str:
    """Verified against when the user does not exist, so timing does not reveal usernames;
    made on first use, not at import (an argon2 hash costs tens of milliseconds)."""
    return _hasher.hash("authserver-no-such-user")


def verify_password(stored_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash or _dummy_hash(), password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False
