"""Remembered consent: a user's approval of one client for one exact set of scopes.

Asking again for a different scope set is deliberate: approving ``reports:read`` says
nothing about ``reports:destroy``. The set is stored sorted, so order does not matter.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..audit import Actor, EventType, record
from ..extensions import db
from ..models import Client, Consent, User


def scope_key(scope: str) -> str:
    return " ".join(sorted(set(scope.split())))


def has_consent(user: User, client: Client, scope: str) -> bool:
    """A client that registered itself (RFC 7591 or a metadata document) is asked about every
    time: nobody vetted it, and a remembered scope says nothing about the resource it asks for."""
    if client.self_registered:
        return False
    query = select(Consent.id).where(
        Consent.user_id == user.id, Consent.client_pk == client.id, Consent.scope == scope_key(scope)
    )
    return db.session.scalar(query) is not None


def remember_consent(user: User, client: Client, scope: str) -> None:
    """Keep the approval, and record it (``consent.granted``) every time it is given."""
    if not has_consent(user, client, scope):
        db.session.add(Consent(user_id=user.id, client_pk=client.id, scope=scope_key(scope)))
        _granted(user, client, scope)
        try:
            db.session.commit()
            return
        except IntegrityError:  # the same approval from another tab won the insert
            db.session.rollback()
    _granted(user, client, scope)
    db.session.commit()


def _granted(user: User, client: Client, scope: str) -> None:
    record(EventType.CONSENT_GRANTED, Actor.USER, user=user.username, client_id=client.client_id,
           scope=scope_key(scope))
