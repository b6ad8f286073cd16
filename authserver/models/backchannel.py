"""Back-Channel Logout 1.0: which clients a session signed in to, and the logout notices
owed to them when it ends.

``session_clients`` records each client a session issued a code to, so ending the session
knows whom to tell. ``backchannel_logouts`` is an outbox: its rows are written in the same
transaction that ends the session, and a worker in each server process delivers them
(``oauth.backchannel_logout``), never the person's request. Each row keeps its ``jti``
across retries, so a client that receives one notice twice can tell.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..changes import Change, Kind, announce
from ..extensions import Model, db
from .clients import Client
from .types import UTCDateTime, utcnow
from .users import user_subject

DELIVERED = "delivered"
FAILED = "failed"


class SessionClient(Model):
    __tablename__ = "session_clients"
    __table_args__ = (UniqueConstraint("session_id", "client_pk", name="uq_session_clients_session_client"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    client_pk: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BackchannelLogout(Model):
    """One logout token owed to one client for one ended session."""

    __tablename__ = "backchannel_logouts"
    __table_args__ = (
        # Only undelivered rows, which the worker polls for: delivered ones cost nothing.
        Index(
            "ix_backchannel_logouts_due", "next_attempt_at",
            sqlite_where=text("finished_at IS NULL"), postgresql_where=text("finished_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    jti: Mapped[str] = mapped_column(String(36), unique=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(64))
    sid: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(10))

    client: Mapped[Client] = relationship(lazy="joined")


def record_session_client(session_id: int, client: Client) -> None:
    """Remember that the session ``session_id`` signed the person in to ``client`` (once
    per pair). It takes the id, not the row: sessions depend on this module, not back."""
    known = select(SessionClient.id).where(SessionClient.session_id == session_id, SessionClient.client_pk == client.id)
    if db.session.scalar(known) is not None:
        return
    db.session.add(SessionClient(session_id=session_id, client_pk=client.id))
    try:
        db.session.commit()
    except IntegrityError:  # the same session's other tab recorded it first
        db.session.rollback()


def queue_logouts(user_id: int, ended: Sequence[tuple[int, str]], now: datetime) -> None:
    """Owe a logout token to every client with a ``backchannel_logout_uri`` that the ended
    sessions (id, public id) signed in to. Does not commit: the caller's transaction ends
    the sessions, so either both happen or neither."""
    if not ended:
        return
    sids = dict(ended)
    owed = db.session.execute(
        select(SessionClient.session_id, SessionClient.client_pk)
        .join(Client, Client.id == SessionClient.client_pk)
        .where(SessionClient.session_id.in_(sids), Client.backchannel_logout_uri.is_not(None))
    ).all()
    db.session.add_all(
        BackchannelLogout(
            jti=str(uuid.uuid4()), client_pk=client_pk, subject=user_subject(user_id), sid=sids[session_id],
            created_at=now, next_attempt_at=now,
        )
        for session_id, client_pk in owed
    )
    if owed:
        announce(Change(Kind.LOGOUTS))  # wakes the delivery threads once this commits
