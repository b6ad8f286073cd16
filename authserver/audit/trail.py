"""Reading and purging the audit trail.

A client-credentials token is its own ``token.issued`` event: issuing it writes the token
row and nothing else (the hot path stays one INSERT), and the trail reads such rows beside
``audit_events``. They live as long as the token rows (``tokens purge`` removes expired
ones); ``purge`` here removes only ``audit_events``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, select

from ..extensions import db
from ..models import ACCESS, AuditEvent, Client, Token
from .events import EventType, token_issued_line
from .sink import as_line


@dataclass(frozen=True)
class Query:
    """What ``audit list`` asks for; an empty ``types`` is every type."""

    types: frozenset[str] = frozenset()
    since: datetime | None = None
    client_id: str | None = None
    username: str | None = None
    limit: int = 100


def _stored(query: Query) -> list[dict[str, Any]]:
    conditions: list[ColumnElement[bool]] = []
    if query.types:
        conditions.append(AuditEvent.type.in_(query.types))
    if query.since is not None:
        conditions.append(AuditEvent.occurred_at >= query.since)
    if query.client_id is not None:
        conditions.append(AuditEvent.client_id == query.client_id)
    if query.username is not None:
        conditions.append(AuditEvent.username == query.username)
    rows = db.session.scalars(select(AuditEvent).where(*conditions)
                              .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc()).limit(query.limit))
    return [as_line(row) for row in rows]


def _client_credentials_tokens(query: Query) -> list[dict[str, Any]]:
    """Newest first by primary key, which follows issue order and needs no index of its own
    on the hot table."""
    if (query.types and EventType.TOKEN_ISSUED not in query.types) or query.username is not None:
        return []
    conditions: list[ColumnElement[bool]] = [Token.kind == ACCESS, Token.family_id.is_(None), Token.user_id.is_(None)]
    if query.since is not None:
        conditions.append(Token.issued_at >= query.since)
    if query.client_id is not None:
        conditions.append(Client.client_id == query.client_id)
    rows = db.session.execute(
        select(Token.issued_at, Token.scope, Token.token_format, Token.remote_addr, Token.request_id, Client.client_id)
        .join(Client, Client.id == Token.client_pk).where(*conditions).order_by(Token.id.desc()).limit(query.limit)
    )
    return [token_issued_line(row.issued_at, row.client_id, row.scope, row.token_format, row.remote_addr,
                              row.request_id) for row in rows]


def events(query: Query) -> list[dict[str, Any]]:
    """The newest ``query.limit`` events matching ``query``, newest first."""
    merged = _stored(query) + _client_credentials_tokens(query)
    merged.sort(key=lambda line: datetime.fromisoformat(line["time"]), reverse=True)
    return merged[:query.limit]


# What a person sees of their own trail on the account page.
PERSONAL = frozenset({EventType.USER_SIGNED_IN, EventType.USER_SIGN_IN_FAILED, EventType.USER_LOCKED_OUT,
                      EventType.SESSION_ENDED, EventType.CONSENT_GRANTED, EventType.CONSENT_REVOKED})


def recent_for(username: str, limit: int = 20) -> list[AuditEvent]:
    """A person's own recent security events, newest first (one indexed read)."""
    return list(db.session.scalars(
        select(AuditEvent).where(AuditEvent.username == username, AuditEvent.type.in_(PERSONAL))
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc()).limit(limit)
    ))


def purge(older_than: datetime, batch_size: int) -> int:
    """Delete events from before ``older_than``, a batch per transaction; how many."""
    total = 0
    while True:
        ids = list(db.session.scalars(select(AuditEvent.id).where(AuditEvent.occurred_at < older_than)
                                      .limit(batch_size)))
        if not ids:
            db.session.rollback()  # ends the read: no lock kept for the next day to wait on
            return total
        db.session.execute(delete(AuditEvent).where(AuditEvent.id.in_(ids)))
        db.session.commit()
        total += len(ids)

