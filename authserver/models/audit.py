"""The audit trail: one row per security-relevant event, written in the transaction of the
change it records, so a change and its record commit together or not at all.

Names, not foreign keys: an event outlives the user or client it names (a deleted client's
``client.deleted`` is the point). ``details`` holds what the event type needs (a grant type,
an error code, counts) and never a secret: ``audit.record`` is the only writer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .types import BIG_ID, UTCDateTime, utcnow

# Longest remote address kept: an IPv6 address with a zone index, as Werkzeug gives it.
ADDRESS_LENGTH = 64
REQUEST_ID_LENGTH = 128


class AuditEvent(Model):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_occurred_at", "occurred_at"),
        Index("ix_audit_events_username", "username", "occurred_at"),
        Index("ix_audit_events_client_id", "client_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    type: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(20))
    username: Mapped[str | None] = mapped_column(String(150))
    client_id: Mapped[str | None] = mapped_column(String(2048))
    remote_addr: Mapped[str | None] = mapped_column(String(ADDRESS_LENGTH))
    request_id: Mapped[str | None] = mapped_column(String(REQUEST_ID_LENGTH))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
