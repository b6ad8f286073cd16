"""Fixed-window counters in the database, so every worker and server shares one budget:
failed sign-ins, and registration requests (``people.throttle.DatabaseLimiter``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .types import UTCDateTime


class CountedWindow(Model):
    """The columns of one counter: a keyed hash of what is counted (so the table never names
    who was tried, or from where), the start of its window and the count in it."""

    __abstract__ = True

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    count: Mapped[int]


class LoginFailure(CountedWindow):
    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_window_start", "window_start"),)


class RegistrationAttempt(CountedWindow):
    """RFC 7591 registrations per client address; its own table, because its window is
    not the sign-in limit's and each limiter clears the rows its window has passed."""

    __tablename__ = "registration_attempts"
    __table_args__ = (Index("ix_registration_attempts_window_start", "window_start"),)
