"""Users' legacy API tokens (``Authorization: token <t>``): creating them and their records."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from resource_guard.policy import validate_policy

from ..extensions import db
from ..models import APIToken, User
from ..models.types import utcnow
from ..records import record
from ..secrets import SecretHasher, TokenKind, new_secret
from ..validation import InvalidField


def create_api_token(
    hasher: SecretHasher,
    user: User,
    policy: dict[str, Any] | None = None,
    expires_in: int | None = None,
    note: str = "",
) -> tuple[APIToken, str]:
    """Create a legacy API token; returns the row and the token, shown once."""
    if policy:
        try:
            validate_policy(policy)
        except ValueError as exc:
            raise InvalidField("policy", f"invalid policy: {exc}") from None
    if expires_in is not None and expires_in <= 0:
        raise InvalidField("expires_in", "the lifetime must be a positive number of seconds")
    value = new_secret(TokenKind.API_TOKEN)
    row = APIToken(
        user_id=user.id,
        token_hash=hasher.hash(value),
        token_prefix=value[:12],
        expires=utcnow() + timedelta(seconds=expires_in) if expires_in else None,
        note=note,
        policy=policy or {},
    )
    db.session.add(row)
    db.session.commit()
    return row, value


def api_token_record(row: APIToken, value: str | None = None) -> dict[str, Any]:
    return record({"id": row.id}, "token", value, {
        "user": row.user.username,
        "prefix": row.token_prefix,
        "note": row.note,
        "policy": row.policy,
        "created": row.created,
        "last_used": row.last_used,
        "expires": row.expires,
        "valid": row.valid,
        "invalid_date": row.invalid_date,
        "invalid_reason": row.invalid_reason,
    })
