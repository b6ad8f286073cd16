"""The signing key ring: one active key per algorithm signs, retired keys stay in JWKS until
every token they signed has expired, then drop out. JWKS publishes every algorithm's keys.

Workers keep each decrypted active key in memory. ``authserver keys rotate`` anywhere is
heard by every worker within a second (``changes``), which re-reads the active keys then;
while the change channel is down, a worker re-checks at most every ``refresh_interval``
seconds (the ``key_refresh_interval`` setting). Never a database read per token.
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

from ..audit import Actor, EventType, record
from ..changes import Change, Kind, announce
from ..extensions import db
from ..models import SigningKey
from ..models.types import utcnow
from ..secrets import SecretHasher
from .names import SigningAlg

LIVE_REFRESH = 60.0  # while every rotation is heard: a key changed by hand in the database
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
    """Keys by algorithm: access tokens use ``alg`` (the ``signing_alg`` setting), ID tokens
    RS256 or their client's algorithm. Each algorithm has its own active key, created on
    first use, and its own overlap when rotated."""

    def __init__(self, hasher: SecretHasher, alg: str, publish_grace: timedelta, refresh_interval: float = 5.0,
                 live: threading.Event | None = None) -> None:
        self._hasher = hasher
        self._alg = alg
        self._grace = publish_grace
        self._refresh_interval = refresh_interval
        self._live = live or threading.Event()
        self._lock = threading.Lock()
        self._active: dict[str, ActiveKey] = {}
        self._checked_at: dict[str, float] = {}
        self._verify_keys: dict[str, tuple[str, Any]] = {}

    def active(self, alg: str | None = None) -> ActiveKey:
        """The key that signs ``alg`` now (default: the access-token algorithm), created on
        first use if the database has none; read from the database at most once per
        refresh interval and algorithm."""
        alg = alg or self._alg
        now = time.monotonic()
        key = self._active.get(alg)
        interval = max(self._refresh_interval, LIVE_REFRESH) if self._live.is_set() else self._refresh_interval
        if key is None or now - self._checked_at.get(alg, 0.0) > interval:
            with self._lock:
                row = self._current_row(alg) or self._create_first(alg)
                key = self._active.get(alg)
                if key is None or key.kid != row.kid:
                    key = self._active[alg] = ActiveKey(row.kid, row.alg, self._private_key(row))
                self._checked_at[alg] = now
        return key

    def _private_key(self, row: SigningKey) -> Any:
        try:
            pem = self._hasher.decrypt(row.private_key_encrypted)
        except InvalidToken:
            raise RuntimeError(
                f"cannot decrypt signing key {row.kid}: AUTHSERVER_SECRET_KEY is not the one it was "
                "stored with; restore that secret, or run `authserver keys rotate` with the new one"
            ) from None
        return jwk.import_key(pem, _KEY_TYPES[row.alg][0])  # type: ignore[call-overload]  # as above

    def rotate(self, alg: str | None = None) -> SigningKey:
        """Start signing ``alg`` (default: the access-token algorithm) with a new key; the
        old one stays published for one token lifetime. Other algorithms are untouched."""
        alg = alg or self._alg
        now = utcnow()
        live = select(SigningKey).where(SigningKey.retired_at.is_(None), SigningKey.alg == alg)
        for old in db.session.scalars(live):
            old.retired_at = now
            old.publish_until = now + self._grace
        new = generate_signing_key(alg, self._hasher)
        db.session.add(new)
        record(EventType.KEY_ROTATED, Actor.CLI, alg=alg, kid=new.kid)
        announce(Change(Kind.KEYS))
        db.session.commit()
        return new

    def recheck(self, _change: Change | None = None) -> None:
        """At the next signature, read which key is active: one was rotated somewhere."""
        self._checked_at.clear()

    def rotate_in_use(self) -> list[SigningKey]:
        """Rotate every algorithm that has an active key (at least the access-token one)."""
        in_use = db.session.scalars(select(SigningKey.alg).where(SigningKey.retired_at.is_(None)).distinct())
        algs = sorted({self._alg, *in_use}, key=lambda a: (a != self._alg, a))
        return [self.rotate(alg) for alg in algs]

    def published(self, now: datetime | None = None) -> list[SigningKey]:
        now = now or utcnow()
        query = (
            select(SigningKey)
            .where(or_(SigningKey.retired_at.is_(None), SigningKey.publish_until > now))
            .order_by(SigningKey.created_at.desc(), SigningKey.id.desc())
        )
        return list(db.session.scalars(query))

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        """Every algorithm's published keys. The access-token key and the RS256 key (OpenID
        Connect's default for ID tokens) exist before anyone fetches the set."""
        self.active()
        self.active(SigningAlg.RS256)
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

    def _current_row(self, alg: str) -> SigningKey | None:
        query = (
            select(SigningKey)
            .where(SigningKey.retired_at.is_(None), SigningKey.alg == alg)
            .order_by(SigningKey.id.desc())
            .limit(1)
        )
        return db.session.scalar(query)

    def _create_first(self, alg: str) -> SigningKey:
        # Two workers starting at once may both create one; both stay published and the
        # newest signs, so every worker converges on the same kid.
        db.session.add(generate_signing_key(alg, self._hasher))
        db.session.commit()
        row = self._current_row(alg)
        assert row is not None
        return row
