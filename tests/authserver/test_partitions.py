"""Day partitions on PostgreSQL: ``tokens purge`` drops a whole ended day without touching
a live token, makes the coming days, moves rows that waited in the default partition into
their day, and stops with one line when other work keeps the table locked. ``audit purge``
drops whole days of events. SQLite keeps plain tables (its purge is tested in test_cli)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Connection, func, insert, select, text, update

from authserver import partitions
from authserver.appstate import state
from authserver.audit import Actor, EventType
from authserver.extensions import db
from authserver.models import AuditEvent, Token
from authserver.models.types import utcnow
from authserver.partitions import AUDIT, TOKENS, add_days, days, days_ahead, start_of

from .helpers import introspect, token


@pytest.fixture
def pg(app: Flask) -> Iterator[Connection]:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("day partitions are PostgreSQL's; SQLite keeps plain tables")
    with db.engine.connect() as connection:
        yield connection


def _purge(app: Flask, *args: str, ok: bool = True) -> Any:
    result = app.test_cli_runner().invoke(args=[*args, "--json"])
    assert (result.exit_code == 0) is ok, result.output
    return json.loads(result.output) if ok else result.output


def _partition_of(token_id: int) -> str:
    return str(db.session.scalar(text("SELECT tableoid::regclass::text FROM tokens WHERE id = :id"), {"id": token_id}))


def _issue(app: Flask, make_client: Any, count: int) -> tuple[tuple[str, str], list[str]]:
    client = make_client(token_format="opaque", introspect_any=True)
    creds = client.basic
    return creds, [token(app, creds).get_json()["access_token"] for _ in range(count)]


def test_purge_drops_an_ended_day_whole_and_keeps_live_tokens(app: Flask, pg: Connection, make_client: Any) -> None:
    creds, (live, *old) = _issue(app, make_client, 4)
    ended = utcnow().date() - timedelta(days=3)
    add_days(pg, TOKENS, ended, ended)
    newest = db.session.scalars(select(Token.id).order_by(Token.id.desc()).limit(3)).all()
    noon = start_of(ended) + timedelta(hours=12)
    db.session.execute(update(Token).where(Token.id.in_(newest)).values(expires_at=noon))
    db.session.commit()
    assert {_partition_of(i) for i in newest} == {TOKENS.partition(ended)}  # moved into their day
    db.session.rollback()  # no read left open: dropping a day waits for those

    report = _purge(app, "tokens", "purge")
    assert report["days_dropped"]["tokens"] >= 1
    db.session.rollback()
    assert ended not in days(pg, TOKENS)
    assert db.session.scalar(select(func.count()).select_from(Token).where(Token.id.in_(newest))) == 0
    assert introspect(app, creds, live).get_json()["active"] is True
    assert all(introspect(app, creds, value).get_json() == {"active": False} for value in old)


def test_purge_makes_the_coming_days_and_moves_waiting_rows_into_theirs(app: Flask, pg: Connection,
                                                                        make_client: Any) -> None:
    creds, (value,) = _issue(app, make_client, 1)
    far = utcnow().date() + timedelta(days=400)  # past any day made ahead: it waits in the default partition
    row = db.session.scalar(select(Token.id).order_by(Token.id.desc()).limit(1))
    assert row is not None
    db.session.execute(update(Token).where(Token.id == row).values(expires_at=start_of(far) + timedelta(hours=1)))
    db.session.commit()
    assert _partition_of(row) == TOKENS.default
    db.session.rollback()

    _purge(app, "tokens", "purge")
    today = utcnow().date()
    ahead = days_ahead(state(app).settings.refresh_token_ttl)
    assert {today + timedelta(days=n) for n in range(ahead + 1)} <= set(days(pg, TOKENS))
    assert today + timedelta(days=1) in set(days(pg, AUDIT))

    add_days(pg, TOKENS, far, far)
    assert _partition_of(row) == TOKENS.partition(far)
    assert introspect(app, creds, value).get_json()["active"] is True


def test_a_token_that_ended_today_goes_with_its_day(app: Flask, pg: Connection, make_client: Any) -> None:
    _issue(app, make_client, 1)
    row = db.session.scalar(select(Token.id).order_by(Token.id.desc()).limit(1))
    ended = utcnow() - timedelta(seconds=1)
    db.session.execute(update(Token).where(Token.id == row).values(expires_at=ended))
    db.session.commit()
    _purge(app, "tokens", "purge")
    db.session.rollback()
    # Still there, and inactive, until its day has ended: removing it now would mean reading
    # today's partition row by row.
    kept = db.session.scalar(select(func.count()).select_from(Token).where(Token.id == row))
    assert kept == (1 if ended.date() == utcnow().date() else 0)


def test_a_purge_kept_from_its_lock_stops_with_one_line(app: Flask, pg: Connection, make_client: Any,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    ended = utcnow().date() - timedelta(days=5)
    add_days(pg, TOKENS, ended, ended)
    monkeypatch.setattr(partitions, "LOCK_WAIT", "50ms")
    with db.engine.connect() as other:
        other.execute(text("LOCK TABLE tokens IN ACCESS SHARE MODE"))  # a long read, still running
        output = _purge(app, "tokens", "purge", ok=False)
        other.rollback()
    assert output.count("\n") == 1 and "Traceback" not in output
    assert f"could not drop the partition {TOKENS.partition(ended)}" in output and "run the purge again" in output
    assert _purge(app, "tokens", "purge")["days_dropped"]["tokens"] >= 1


def test_audit_purge_drops_whole_days_older_than_asked(app: Flask, pg: Connection) -> None:
    old_day = utcnow().date() - timedelta(days=10)
    add_days(pg, AUDIT, old_day, old_day)
    when = start_of(old_day) + timedelta(hours=6)
    db.session.execute(insert(AuditEvent), [
        {"occurred_at": when, "type": EventType.KEY_ROTATED, "actor": Actor.CLI, "details": {}},
        {"occurred_at": utcnow(), "type": EventType.KEY_ROTATED, "actor": Actor.CLI, "details": {"kept": 1}}])
    db.session.commit()
    report = _purge(app, "audit", "purge", "--older-than", "5d")
    assert report["days_dropped"] >= 1
    db.session.rollback()
    assert old_day not in days(pg, AUDIT)
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.occurred_at == when)) == 0
    recent = db.session.scalar(select(func.count()).select_from(AuditEvent)
                               .where(AuditEvent.details["kept"].as_integer() == 1))
    assert recent is not None and recent >= 1
