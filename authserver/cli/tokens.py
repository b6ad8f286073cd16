"""``authserver tokens``: revoke issued tokens, purge expired rows."""

from __future__ import annotations

import sys
from datetime import date, timedelta

import click
from flask.cli import AppGroup
from sqlalchemy import ColumnElement, delete, select

from ..appstate import state
from ..audit import Actor, EventType, record
from ..database import held_once
from ..extensions import db
from ..models import AuthorizationCode, Client, Session, Token
from ..models.backchannel import BackchannelLogout
from ..models.types import utcnow
from ..oauth.revocation import record_revocation, revoke_family, revoke_user_tokens, revoke_where
from ..partitions import AUDIT, CODES, TOKENS, days_ahead, is_partitioned, roll, start_of
from .clients import find_client
from .output import busy_is_one_line, emit, fail, json_option
from .users import find_user

group = AppGroup("tokens", help="Revoke and purge tokens.")
# One purge at a time across every server on the database: the others would only wait on its rows.
PURGE_LOCK = "authserver tokens purge"


@group.command("revoke")
@click.option("--token", "token_value", help="Revoke this token (read from stdin if '-') and its grant family.")
@click.option("--client", "client_id", help="Revoke every token issued to this client.")
@click.option("--user", "username", help="Revoke every token issued on this user's behalf.")
@json_option
def revoke(token_value: str | None, client_id: str | None, username: str | None, as_json: bool) -> None:
    """Revoke one token, or all of a client's or user's.

    One refresh token takes its whole family with it.
    """
    if sum(x is not None for x in (token_value, client_id, username)) != 1:
        fail("give exactly one of --token, --client or --user")
    if token_value is not None:
        if token_value == "-":
            token_value = sys.stdin.readline().strip()
        token = state().tokens.find(token_value)
        if token is None:
            fail("no such token")
        assert token is not None
        record_revocation(token, Actor.CLI)
        revoke_family(token)
        emit({"revoked": "token", "family_id": token.family_id}, as_json)
    elif client_id is not None:
        client: Client = find_client(client_id)
        revoked = revoke_where(Token.client_pk == client.id)
        record(EventType.TOKEN_REVOKED, Actor.CLI, client_id=client.client_id, revoked=revoked)
        db.session.commit()
        emit({"revoked": revoked, "client_id": client_id}, as_json)
    else:
        user = find_user(username or "")
        record(EventType.TOKEN_REVOKED, Actor.CLI, user=user.username)
        emit({"revoked": revoke_user_tokens(user.id), "user": user.username}, as_json)


def _purge(
    model: type[Token] | type[AuthorizationCode] | type[Session] | type[BackchannelLogout],
    condition: ColumnElement[bool],
    batch_size: int,
) -> int:
    """Delete in batches so a large purge never holds a long lock or a huge transaction."""
    total = 0
    while True:
        ids = list(db.session.scalars(select(model.id).where(condition).limit(batch_size)))
        if not ids:
            db.session.rollback()  # ends the read: no lock kept for the next day to wait on
            return total
        # The condition again, so a partitioned table looks in the partitions it names only.
        db.session.execute(delete(model).where(model.id.in_(ids), condition))
        db.session.commit()
        total += len(ids)


@group.command("purge")
@click.option("--batch-size", default=5000, show_default=True, type=click.IntRange(1, 100000),
              help="Rows deleted per transaction, so no lock is held long.")
@json_option
def purge(batch_size: int, as_json: bool) -> None:
    """Delete expired tokens, codes and sessions.

    Ended sessions go too, and back-channel logout notices finished a day ago. On
    PostgreSQL, tokens and codes go a whole day at a time: each ended day's partition is
    dropped, and the coming days' partitions are made. Run it daily. Reports how many of
    each, and the days dropped.
    """
    with held_once(db.engine, PURGE_LOCK) as held:
        if not held:
            emit({"skipped": "another tokens purge is running, on this or another server"}, as_json)
            return
        _purge_all(batch_size, as_json)


def _purge_all(batch_size: int, as_json: bool) -> None:
    now = utcnow()
    settings = state().settings
    today = now.date()
    lifetime = max(settings.access_token_ttl, settings.refresh_token_ttl)
    with db.engine.connect() as connection, busy_is_one_line():
        # Whole days first, on PostgreSQL: dropping a day's partition reads none of its rows.
        days = {spec.table: roll(connection, spec, today, days_ahead(ttl), today) for spec, ttl in (
            (TOKENS, lifetime), (CODES, settings.authorization_code_ttl))}
        roll(connection, AUDIT, today, days_ahead(0), date.min)  # made ahead here, dropped by audit purge
        partitioned = is_partitioned(connection, TOKENS)
    # What no day partition held (SQLite, or a day made too late) goes row by row; on
    # PostgreSQL a token that ended today goes with its day, at tomorrow's purge.
    before = start_of(today) if partitioned else now
    tokens = _purge(Token, Token.expires_at <= before, batch_size)
    codes = _purge(AuthorizationCode, AuthorizationCode.expires_at <= before, batch_size)
    # Two indexed passes rather than one OR, which neither index could serve.
    sessions = _purge(Session, Session.expires_at <= now, batch_size)
    sessions += _purge(Session, Session.ended_at.is_not(None), batch_size)
    # Back-channel logout notices delivered, or given up on, a day ago or more.
    logouts = _purge(BackchannelLogout, BackchannelLogout.finished_at <= now - timedelta(days=1), batch_size)
    emit({"tokens_deleted": tokens, "codes_deleted": codes, "sessions_deleted": sessions,
          "logout_notices_deleted": logouts, "days_dropped": days}, as_json)
