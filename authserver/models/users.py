"""People who log in at the authorization endpoint and own API tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime, utcnow


def user_subject(user_id: int) -> str:
    """The ``sub`` of tokens issued on a user's behalf; the colon keeps it apart from every
    client id (base62), so a person can never be mistaken for a client."""
    return f"user:{user_id}"


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def subject(self) -> str:
        return user_subject(self.id)

    def get_user_id(self) -> int:  # Authlib's user protocol
        return self.id
