"""Sign-ins: one row per browser session, so ending one is a write the next request sees.

The cookie carries a random secret; the row keeps only its keyed hash, so a copy of the
database signs nobody in. ``public_id`` is the session's name everywhere else (the account
page's forms, and OpenID Connect's ``sid`` later): knowing it grants nothing. ``auth_time``
and ``amr`` record when and how the person proved who they are, which ID tokens,
``max_age`` and ``prompt=login`` need; the device summary and the truncated address are
only there so people recognise their own sessions on the account page.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .types import UTCDateTime, utcnow
from .users import User

# Why a session ended, as stored in ``end_reason``.
LOGOUT = "logout"
ENDED_BY_USER = "ended_by_user"  # from the account page, possibly on another device
DISABLED = "user_disabled"
PASSWORD_CHANGED = "password_changed"


class Session(Model):
    __tablename__ = "sessions"
    __table_args__ = (
        Index("ix_sessions_user_id", "user_id"),
        Index("ix_sessions_expires_at", "expires_at"),
        # Only ended rows, for the purge: live ones (nearly all that are kept) cost nothing.
        Index(
            "ix_sessions_ended_at", "ended_at",
            sqlite_where=text("ended_at IS NOT NULL"), postgresql_where=text("ended_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime)
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    device: Mapped[str] = mapped_column(String(100), default="")
    ip_prefix: Mapped[str] = mapped_column(String(64), default="")
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(20))

    user: Mapped[User] = relationship(lazy="joined")  # read with the row: one query per request

    def is_live(self, now: datetime) -> bool:
        return self.ended_at is None and now < self.expires_at

