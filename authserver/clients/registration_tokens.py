"""Initial access tokens (RFC 7591 §3): what an administrator hands out so that a client may
register itself when ``dynamic_registration`` is ``initial-token``.

A token is kept as its keyed hash, may expire and may be limited to ``max_uses``
registrations. A use is claimed by one conditional UPDATE (``uses < max_uses``, not expired,
not revoked) in the transaction that creates the client, so concurrent registrations never
exceed the limit, and a registration that fails spends nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select, update

from ..database import rows_changed
from ..extensions import db
from ..models import RegistrationToken
from ..models.types import utcnow
from ..records import record
from ..secrets import SecretHasher, TokenKind, is_well_formed, new_secret
from ..validation import InvalidField


def create_registration_token(
    hasher: SecretHasher, expires_in: int | None = None, max_uses: int | None = None, note: str = ""
) -> tuple[RegistrationToken, str]:
    """A new initial access token; returns the row and the token, shown once."""
    if expires_in is not None and expires_in <= 0:
        raise InvalidField("expires_in", "the lifetime must be a positive number of seconds")
    if max_uses is not None and max_uses <= 0:
        raise InvalidField("max_uses", "the number of uses must be positive")
    value = new_secret(TokenKind.INITIAL_ACCESS)
    row = RegistrationToken(
        token_hash=hasher.hash(value),
        note=note,
        expires_at=utcnow() + timedelta(seconds=expires_in) if expires_in else None,
        max_uses=max_uses,
    )
    db.session.add(row)
    db.session.commit()
    return row, value


def _usable(hasher: SecretHasher, value: str) -> Any:
    """The condition a token must meet to register one more client."""
    return (
        RegistrationToken.token_hash == hasher.hash(value),
        RegistrationToken.revoked_at.is_(None),
        or_(RegistrationToken.expires_at.is_(None), RegistrationToken.expires_at > utcnow()),
        or_(RegistrationToken.max_uses.is_(None), RegistrationToken.uses < RegistrationToken.max_uses),
    )


def is_usable(hasher: SecretHasher, value: str) -> bool:
    """Whether ``value`` could register a client now (a read: nothing is spent)."""
    if not is_well_formed(value, TokenKind.INITIAL_ACCESS):
        return False
    return db.session.scalar(select(RegistrationToken.id).where(*_usable(hasher, value))) is not None


def claim_use(hasher: SecretHasher, value: str) -> bool:
    """Spend one use of the token, uncommitted: the caller commits it with the client it
    registers. False when the token is no longer usable (spent meanwhile, say)."""
    if not is_well_formed(value, TokenKind.INITIAL_ACCESS):
        return False
    result = db.session.execute(
        update(RegistrationToken).where(*_usable(hasher, value)).values(uses=RegistrationToken.uses + 1)
    )
    return rows_changed(result) == 1


def registration_token_record(row: RegistrationToken, value: str | None = None) -> dict[str, Any]:
    return record({"id": row.id}, "token", value, {
        "note": row.note,
        "created_at": row.created_at,
        "expires_at": row.expires_at,
        "max_uses": row.max_uses,
        "uses": row.uses,
        "revoked_at": row.revoked_at,
    })
