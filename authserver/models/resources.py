"""The protected resources this server issues tokens for (RFC 8707 resource indicators)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .types import UTCDateTime, utcnow

URI_LENGTH = 2048


class ProtectedResource(Model):
    """An API by its resource indicator: the ``aud`` of the tokens issued for it, what the
    consent page calls it, and the scopes a client that registered itself may ask for."""

    __tablename__ = "protected_resources"

    id: Mapped[int] = mapped_column(primary_key=True)
    uri: Mapped[str] = mapped_column(String(URI_LENGTH), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    scope: Mapped[str] = mapped_column(String(2000), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def scopes(self) -> list[str]:
        return self.scope.split()
