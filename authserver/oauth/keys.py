"""The signing key ring: one active key signs, retired keys stay in JWKS until every token
they signed has expired, then drop out.

Workers keep the decrypted active key in memory and re-check which key is active at most
every ``refresh_interval`` seconds (the ``key_refresh_interval`` setting), so
``authserver keys rotate`` in another process is picked up without a restart and without a
database read per token.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.fernet import InvalidToken
from joserfc import jwk
from sqlalchemy import or_, select

from ..extensions import db
from ..models import SigningKey
from ..models.types import utcnow
from ..secrets import SecretHasher
from .names import SigningAlg

_KEY_TYPES: dict[str, tuple[str, Any]] = {
    SigningAlg.ES256: ("EC", "P-256"), SigningAlg.RS256: ("RSA", 2048), SigningAlg.EDDSA: ("OKP", "Ed25519"),
}


@dataclass(frozen=True)
class ActiveKey:
    kid: str
    alg: str
    key: Any  # a joserfc key with its private half


def generate_signing_key(alg: str, hasher: SecretHasher) -> SigningKey:
    kty, size = _KEY_TYPES[alg]
    key = jwk.generate_key(kty, size)  # type: ignore[call-overload]  # joserfc overloads per literal kty; ours comes from _KEY_TYPES
    kid = key.thumbprint()
    public = {**key.as_dict(private=False), "kid": kid, "alg": alg, "use": "sig"}
    encrypted = hasher.encrypt(key.as_pem(private=True))
    return SigningKey(kid=kid, alg=alg, public_jwk=public, private_key_encrypted=encrypted)


class KeyRing:
    def __init__(self, hasher: SecretHasher, alg: str, publish_grace: timedelta, refresh_interval: float = 5.0) -> None:
        self._hasher = hasher
        self._alg = alg
        self._grace = publish_grace
        self._refresh_interval = refresh_interval
        self._lock = threading.Lock()
        self._active: ActiveKey | None = None
        self._checked_at = 0.0
        self._verify_keys: dict[str, tuple[str, Any]] = {}

    def active(self) -> ActiveKey:
        """The key that signs now (created on first use if the database has none)."""
        now = time.monotonic()
        if self._active is None or now - self._checked_at > self._refresh_interval:
            with self._lock:
                row = self._current_row() or self._create_first()
                if self._active is None or self._active.kid != row.kid:
                    try:
                        pem = self._hasher.decrypt(row.private_key_encrypted)
                    except InvalidToken:
                        raise RuntimeError(
                            f"cannot decrypt signing key {row.kid}: AUTHSERVER_SECRET_KEY is not the one it was "
                            "stored with; restore that secret, or run `authserver keys rotate` with the new one"
                        ) from None
                    self._active = ActiveKey(row.kid, row.alg, jwk.import_key(pem, _KEY_TYPES[row.alg][0]))  # type: ignore[call-overload]  # as above
                self._checked_at = now
        return self._active

    def rotate(self) -> SigningKey:
        """Start signing with a new key; the old one stays published for one token lifetime."""
        now = utcnow()
        for old in db.session.scalars(select(SigningKey).where(SigningKey.retired_at.is_(None))):
            old.retired_at = now
            old.publish_until = now + self._grace
        new = generate_signing_key(self._alg, self._hasher)
        db.session.add(new)
        db.session.commit()
        self._checked_at = 0.0
        return new

    def published(self, now: datetime | None = None) -> list[SigningKey]:
        now = now or utcnow()
        query = (
            select(SigningKey)
            .where(or_(SigningKey.retired_at.is_(None), SigningKey.publish_until > now))
            .order_by(SigningKey.created_at.desc(), SigningKey.id.desc())
        )
        return list(db.session.scalars(query))

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        return {"keys": [k.public_jwk for k in self.published()]}

    def verification_key(self, kid: str) -> tuple[str, Any] | None:
        """A published public key by ``kid``, for verifying our own JWTs at introspection."""
        cached = self._verify_keys.get(kid)
        if cached is not None:
            return cached
        row = db.session.scalar(select(SigningKey).where(SigningKey.kid == kid))
        if row is None:
            return None
        entry = (row.alg, jwk.import_key(row.public_jwk))
        self._verify_keys[kid] = entry
        return entry

    def _current_row(self) -> SigningKey | None:
        query = select(SigningKey).where(SigningKey.retired_at.is_(None)).order_by(SigningKey.id.desc()).limit(1)
        return db.session.scalar(query)

    def _create_first(self) -> SigningKey:
        # Two workers starting at once may both create one; both stay published and the
        # newest signs, so every worker converges on the same kid.
        db.session.add(generate_signing_key(self._alg, self._hasher))
        db.session.commit()
        row = self._current_row()
        assert row is not None
        return row
