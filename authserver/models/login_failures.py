"""Failed sign-ins counted in the database, so every worker and server shares one budget."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .types import UTCDateTime


class LoginFailure(Model):
    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_window_start", "window_start"),)

    # A keyed hash of (username, address): the table never names who was tried, or from where.
    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    count: Mapped[int]
