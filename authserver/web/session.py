"""Who is signed in: a server-side session row named by a secret in the browser's cookie.

Flask's signed cookie carries the CSRF token and the session secret; the ``sessions`` row
keeps only the secret's keyed hash, so a session ends when its row does — at logout, from
the account page, or when the user is disabled or their password changes — and a copied
cookie dies with it. The lifetime is bounded absolutely from the moment of sign-in
(``auth_time`` + ``session_ttl``), not extended by activity.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import timedelta

from flask import request, session
from sqlalchemy import select

from ..appstate import state
from ..audit import Actor, EventType, record
from ..extensions import db
from ..models import Session, User
from ..models.sessions import LOGOUT
from ..models.types import utcnow
from ..people.sessions import end_sessions
from ..secrets import SecretHasher, TokenKind, is_well_formed, new_secret
from .devices import device_summary, network_of

SESSION_KEY = "sign_in"  # the session secret's place in Flask's cookie
# "Last seen" is for people, to the minute: not a write on every page view.
LAST_SEEN_RESOLUTION = timedelta(minutes=1)


def _hasher() -> SecretHasher:
    hasher: SecretHasher = state().hasher
    return hasher


def _ttl() -> timedelta:
    return timedelta(seconds=state().settings.session_ttl)


def current_session() -> Session | None:
    """This browser's live session: one indexed read (with its user)."""
    secret = session.get(SESSION_KEY)
    if secret is None:
        return None
    row: Session | None = None
    if isinstance(secret, str) and is_well_formed(secret, TokenKind.SESSION):
        row = db.session.scalar(select(Session).where(Session.secret_hash == _hasher().hash(secret)))
    now = utcnow()
    if row is None or not row.is_live(now) or now >= row.auth_time + _ttl() or not row.user.is_active:
        session.clear()  # the cookie names no live session: forget it, CSRF token and all
        return None
    if now - row.last_seen_at >= LAST_SEEN_RESOLUTION:
        row.last_seen_at = now
        db.session.commit()
    return row


def current_user() -> User | None:
    row = current_session()
    if row is None:
        return None
    user: User = row.user
    return user


def log_in(user: User, methods: Sequence[str] = ("pwd",)) -> Session:
    """A new session row and a new cookie secret (and CSRF token) at every sign-in, so
    nothing set before it — a planted cookie included — carries over."""
    previous = current_session()
    if previous is not None:
        end_sessions(previous.user_id, LOGOUT, public_id=previous.public_id)
    session.clear()
    session.permanent = True
    secret = new_secret(TokenKind.SESSION)
    now = utcnow()
    row = Session(
        secret_hash=_hasher().hash(secret),
        public_id=secrets.token_urlsafe(16),
        user_id=user.id,
        auth_time=now,
        amr=list(methods),
        created_at=now,
        last_seen_at=now,
        expires_at=now + _ttl(),
        device=device_summary(request.user_agent.string),
        ip_prefix=network_of(request.remote_addr),
    )
    db.session.add(row)
    record(EventType.USER_SIGNED_IN, Actor.USER, user=user.username, sid=row.public_id, amr=list(methods))
    db.session.commit()
    session[SESSION_KEY] = secret
    return row


def log_out() -> None:
    row = current_session()
    if row is not None:
        end_sessions(row.user_id, LOGOUT, public_id=row.public_id)
    session.clear()
