"""The account page: the person's live sessions and the applications they approved, each
of which they can end or revoke, and their recent security activity.

Every action names its target by a public id and is carried out only among the signed-in
person's own rows, so naming someone else's session or consent changes nothing (404).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import delete, select

from ..appstate import state
from ..audit import Actor, EventType, record
from ..audit.trail import recent_for
from ..extensions import db
from ..models import AuthorizationCode, Client, Consent, Session, Token
from ..models.sessions import DISABLED, ENDED_BY_USER, LOGOUT, PASSWORD_CHANGED
from ..models.types import utcnow
from ..oauth.revocation import revoke_where
from ..people.sessions import end_sessions
from .csrf import csrf_ok
from .devices import network_of
from .login import CSRF_FAILED
from .pages import error_page
from .scopes import ScopeText, describe
from .session import current_session, log_out

bp = Blueprint("account", __name__)

NOT_YOURS = ("Nothing to do", "That is not one of yours, or it has already ended.", 404)
# Session and client ids are printable ASCII; anything else (a NUL byte would be a 500 on
# PostgreSQL) names nothing, and is answered without a read.
AN_ID = re.compile(r"[\x21-\x7e]{1,64}")


@dataclass(frozen=True)
class Approval:
    """One application the person approved, with every scope they approved for it."""

    client_id: str
    name: str
    granted_at: datetime
    scopes: list[ScopeText]


def _live_sessions(user_id: int) -> list[Session]:
    now = utcnow()
    ttl = state().settings.session_ttl
    rows = db.session.scalars(
        select(Session)
        .where(Session.user_id == user_id, Session.ended_at.is_(None), Session.expires_at > now)
        .order_by(Session.auth_time.desc())
    )
    return [s for s in rows if (now - s.auth_time).total_seconds() < ttl]


def _approvals(user_id: int) -> list[Approval]:
    rows = db.session.execute(
        select(Client.client_id, Client.name, Consent.scope, Consent.granted_at)
        .join(Client, Client.id == Consent.client_pk)
        .where(Consent.user_id == user_id)
        .order_by(Client.name, Client.client_id)
    ).all()
    scopes: dict[tuple[str, str], set[str]] = {}
    first: dict[tuple[str, str], datetime] = {}
    for client_id, name, scope, granted_at in rows:
        scopes.setdefault((client_id, name), set()).update(scope.split())
        first[(client_id, name)] = min(granted_at, first.get((client_id, name), granted_at))
    return [
        Approval(client_id, name, first[(client_id, name)], describe(" ".join(sorted(granted))))
        for (client_id, name), granted in scopes.items()
    ]


# Each personal event type in words; a session's end says why.
ACTIVITY = {
    EventType.USER_SIGNED_IN: "Signed in",
    EventType.USER_SIGN_IN_FAILED: "A sign-in with your name failed",
    EventType.USER_LOCKED_OUT: "Sign-ins with your name paused after repeated failures",
    EventType.CONSENT_GRANTED: "Allowed {client}",
    EventType.CONSENT_REVOKED: "Revoked access for {client}",
}
SESSION_ENDINGS = {
    LOGOUT: "Signed out", ENDED_BY_USER: "A session was ended from this page",
    PASSWORD_CHANGED: "Signed out everywhere: your password was changed",
    DISABLED: "Signed out everywhere: your account was disabled",
}


@dataclass(frozen=True)
class Activity:
    """One line of the person's recent security activity."""

    occurred_at: datetime
    text: str
    address: str  # its network only, as the sessions above show it


def _activity(username: str) -> list[Activity]:
    events = recent_for(username)
    client_ids = {event.client_id for event in events if event.client_id}
    names = {row.client_id: row.name for row in db.session.execute(
        select(Client.client_id, Client.name).where(Client.client_id.in_(client_ids)))} if client_ids else {}
    lines = []
    for event in events:
        if event.type == EventType.SESSION_ENDED:
            text = SESSION_ENDINGS.get(event.details.get("reason", ""), "A session ended")
        else:
            client = names.get(event.client_id or "", "an application that no longer exists")
            text = ACTIVITY[EventType(event.type)].format(client=client)
        lines.append(Activity(event.occurred_at, text, network_of(event.remote_addr)))
    return lines


def _form_action(view: Callable[..., ResponseReturnValue]) -> Callable[..., ResponseReturnValue]:
    """A POST from the account page: its CSRF token checked, then run for the signed-in session."""

    @functools.wraps(view)
    def checked(**ids: str) -> ResponseReturnValue:
        if not csrf_ok():
            return error_page(*CSRF_FAILED)
        current = current_session()
        if current is None:
            return redirect(url_for("login.login_page"), 303)
        if not all(AN_ID.fullmatch(value) for value in ids.values()):
            return error_page(*NOT_YOURS)
        return view(current, **ids)

    return checked


@bp.get("/account")
def account_page() -> ResponseReturnValue:
    """The account page: a person's sessions (on which devices they are signed in), the
    applications they approved, and their recent security activity (the audit trail's)."""
    current = current_session()
    if current is None:
        return redirect(url_for("login.login_page"), 303)
    return render_template(
        "account.html",
        user=current.user,
        current=current,
        sessions=_live_sessions(current.user_id),
        approvals=_approvals(current.user_id),
        activity=_activity(current.user.username),
    )


@bp.post("/account/sessions/<public_id>/end")
@_form_action
def end_session(current: Session, public_id: str) -> ResponseReturnValue:
    """End one of the person's sessions (this one signs them out here); its refresh tokens stop working."""
    if public_id == current.public_id:
        log_out()
        return redirect(url_for("login.login_page", signed_out=1), 303)
    if not end_sessions(current.user_id, ENDED_BY_USER, public_id=public_id):
        return error_page(*NOT_YOURS)
    return redirect(url_for("account.account_page"), 303)


@bp.post("/account/sessions/end-others")
@_form_action
def end_other_sessions(current: Session) -> ResponseReturnValue:
    """End every session of the person but this one: "sign out everywhere else"."""
    end_sessions(current.user_id, ENDED_BY_USER, keep=current.id)
    return redirect(url_for("account.account_page"), 303)


@bp.post("/account/applications/<client_id>/revoke")
@_form_action
def revoke_application(current: Session, client_id: str) -> ResponseReturnValue:
    """Forget the approval and take back what it gave: the client's tokens for this person
    (refresh tokens included) and any code it has not redeemed yet."""
    client_pk = db.session.scalar(
        select(Client.id).join(Consent, Consent.client_pk == Client.id)
        .where(Client.client_id == client_id, Consent.user_id == current.user_id).limit(1)
    )
    if client_pk is None:
        return error_page(*NOT_YOURS)
    mine = {"user_id": current.user_id, "client_pk": client_pk}
    db.session.execute(delete(Consent).filter_by(**mine))
    revoked = revoke_where(Token.user_id == current.user_id, Token.client_pk == client_pk)
    db.session.execute(delete(AuthorizationCode).filter_by(**mine, used_at=None))
    record(EventType.CONSENT_REVOKED, Actor.USER, user=current.user.username, client_id=client_id,
           tokens_revoked=revoked)
    db.session.commit()
    return redirect(url_for("account.account_page"), 303)
