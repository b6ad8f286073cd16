"""What dynamic registration and private_key_jwt keep: initial access tokens, and the ``jti``
of every client assertion until it expires."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .types import UTCDateTime, utcnow


class RegistrationToken(Model):
    """An RFC 7591 §3 initial access token, kept as its keyed hash. ``uses`` grows by one
    conditional UPDATE per registration, so ``max_uses`` holds under concurrency."""

    __tablename__ = "registration_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    max_uses: Mapped[int | None]
    uses: Mapped[int] = mapped_column(default=0)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class UsedAssertion(Model):
    """A client assertion already presented (RFC 7523 §3 item 7): a keyed hash of
    (client_id, jti), the primary key, so a second INSERT of it fails on any worker. Kept
    until the assertion expires; expired rows are cleared on the way."""

    __tablename__ = "used_assertions"
    __table_args__ = (Index("ix_used_assertions_expires_at", "expires_at"),)

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
