"""The server's scope catalogue: what a scope means, and whether the metadata names it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .types import UTCDateTime, utcnow


class Scope(Model):
    __tablename__ = "scopes"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # Shown on the consent page in place of the bare name.
    description: Mapped[str] = mapped_column(Text, default="")
    # Listed in ``scopes_supported``; unpublished scopes stay the business of their clients.
    public: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
