"""Ending sign-ins: the one way a person's sessions end, whoever ends them.

Each ended session queues the back-channel logouts it owes and records ``session.ended``,
in the transaction that ends it.
"""

from __future__ import annotations

from sqlalchemy import update

from ..audit import Actor, EventType, record
from ..extensions import db
from ..models import Session, User
from ..models.backchannel import queue_logouts
from ..models.sessions import DISABLED, PASSWORD_CHANGED
from ..models.types import utcnow

# Reasons only ``authserver users`` gives: the audit trail names the command line as the actor.
BY_ADMINISTRATOR = frozenset({DISABLED, PASSWORD_CHANGED})


def end_sessions(user_id: int, reason: str, *, public_id: str | None = None, keep: int | None = None) -> int:
    """End a user's live sessions (one by ``public_id``, or all but ``keep``); commits and
    returns how many ended. Filtering on ``user_id`` is what keeps one person from ending
    another's session by naming it. The back-channel logouts the ended sessions owe are
    queued in the same transaction."""
    query = update(Session).where(Session.user_id == user_id, Session.ended_at.is_(None))
    if public_id is not None:
        query = query.where(Session.public_id == public_id)
    if keep is not None:
        query = query.where(Session.id != keep)
    now = utcnow()
    ended = db.session.execute(
        query.values(ended_at=now, end_reason=reason).returning(Session.id, Session.public_id)
    ).all()
    queue_logouts(user_id, [(row.id, row.public_id) for row in ended], now)
    if ended:
        user = db.session.get(User, user_id)
        actor = Actor.CLI if reason in BY_ADMINISTRATOR else Actor.USER
        for row in ended:
            record(EventType.SESSION_ENDED, actor, user=user.username if user else None, sid=row.public_id,
                   reason=reason)
    db.session.commit()
    return len(ended)
