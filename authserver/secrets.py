"""Secrets people copy and how they are kept at rest.

Every secret the server hands out (client secrets, opaque access tokens, refresh tokens,
authorization codes, API tokens) is high-entropy, so a keyed SHA-256 (HMAC with a pepper
derived from the server secret) is the right hash: as strong as a password hash against
guessing, and fast enough for the hot path. The token shape — ``<prefix>_<entropy><crc>`` —
comes from ``resource_guard.tokens`` so resource servers reject typos without a lookup.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from enum import StrEnum

from cryptography.fernet import Fernet

from resource_guard.tokens import check_token_format, generate_token


class TokenKind(StrEnum):
    """Prefixes per kind, so a leaked token says what it is and scanners find it."""

    ACCESS = "asat"
    REFRESH = "asrt"
    CODE = "asac"
    CLIENT_SECRET = "ascs"
    API_TOKEN = "asapi"
    SESSION = "asbs"  # a browser's sign-in, held in the session cookie
    INITIAL_ACCESS = "asiat"  # RFC 7591 §3: lets its holder register a client
    REGISTRATION_ACCESS = "asrat"  # RFC 7592: lets a self-registered client manage itself


def new_secret(kind: TokenKind) -> str:
    return generate_token(kind.value)


def is_well_formed(value: str, kind: TokenKind) -> bool:
    """Shape and checksum only: a mistyped or foreign value is refused without a read."""
    return check_token_format(value, prefixes=(kind.value,))


def _derive(secret_key: str, purpose: bytes) -> bytes:
    return hmac.new(secret_key.encode(), purpose, hashlib.sha256).digest()


class SecretHasher:
    """Keyed hashing of secrets and encryption of private keys, both from one server secret."""

    def __init__(self, secret_key: str) -> None:
        self._hash_key = _derive(secret_key, b"authserver/token-hash/v1")
        self._fernet = Fernet(base64.urlsafe_b64encode(_derive(secret_key, b"authserver/key-encryption/v1")))

    def hash(self, value: str) -> str:
        return hmac.new(self._hash_key, value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()

    def matches(self, value: str, stored_hash: str | None) -> bool:
        return stored_hash is not None and hmac.compare_digest(self.hash(value), stored_hash)

    def encrypt(self, data: bytes) -> bytes:
        return self._fernet.encrypt(data)

    def decrypt(self, data: bytes) -> bytes:
        return self._fernet.decrypt(data)
