"""authserver.database: the token endpoint's direct INSERT and the idle-ping pool policy."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from authserver.database import configure
from authserver.extensions import db
from authserver.models import Client, Token, User
from authserver.models.types import utcnow
from authserver.oauth.server import insert_token

from ..conftest import BACKENDS, PG_ADMIN, new_database


def _client_pk(client_id: str) -> int:
    return db.session.scalar(select(Client.id).where(Client.client_id == client_id))  # type: ignore[return-value]


def _row(client_pk: int, **kw: object) -> dict[str, object]:
    now = utcnow()
    return {"kind": "access", "token_hash": None, "jti": uuid.uuid4().hex, "family_id": None,
            "client_pk": client_pk, "user_id": None, "scope": "reports:read reports:write",
            "audience": ["https://a.example", "https://b.example"], "token_format": "jwt",
            "issued_at": now, "expires_at": now + timedelta(seconds=90), "family_expires_at": None, **kw}


def test_direct_insert_stores_what_the_orm_reads_back(app: Flask, make_client) -> None:
    client_pk = _client_pk(make_client().client_id)
    row = _row(client_pk)
    insert_token(db.engine, row)
    stored = db.session.scalar(select(Token).where(Token.jti == row["jti"]))
    assert stored is not None
    assert (stored.scope, stored.audience, stored.client_pk) == (row["scope"], row["audience"], client_pk)
    assert stored.issued_at == row["issued_at"] and stored.expires_at == row["expires_at"]
    assert stored.expires_at.tzinfo is not None and stored.family_expires_at is None
    assert stored.is_active(utcnow())


def test_direct_insert_raises_sqlalchemy_errors_and_leaves_the_connection_transactional(
    app: Flask, make_client, server_settings: dict
) -> None:
    client_pk = _client_pk(make_client().client_id)
    engine = configure(create_engine(server_settings["database_url"], pool_size=1, max_overflow=0))
    try:
        row = _row(client_pk)
        insert_token(engine, row)
        with pytest.raises(IntegrityError) as raised:
            insert_token(engine, {**row, "token_hash": None})  # the same jti again
        assert "parameters hidden" in str(raised.value)  # bound values stay out of messages and logs
        with pytest.raises(IntegrityError):
            insert_token(engine, _row(client_pk + 10_000))  # no such client
        with engine.connect() as conn:  # the one pooled connection, back in transactional mode
            conn.execute(text("DELETE FROM tokens WHERE jti = :j"), {"j": row["jti"]})
            conn.rollback()
    finally:
        engine.dispose()
    assert db.session.scalar(select(Token.id).where(Token.jti == row["jti"])) is not None


def _terminate_backends(database: str) -> int:
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        rows = admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = %s AND pid <> pg_backend_pid()", (database,)).fetchall()
    return len(rows)


@pytest.mark.skipif("postgresql" not in BACKENDS, reason="only a database server can drop a connection")
@pytest.mark.parametrize("idle_before_ping", [0.0, 3600.0])
def test_an_idle_connection_is_pinged_and_replaced_after_the_database_drops_it(
    tmp_path: Path, idle_before_ping: float
) -> None:
    with new_database("postgresql", tmp_path) as url:
        engine = configure(create_engine(url, pool_size=1), ping_after_idle=idle_before_ping)
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            assert _terminate_backends(url.rsplit("/", 1)[1]) == 1
            if idle_before_ping > 0:  # within the trusted window the dead connection is handed out
                with pytest.raises(OperationalError), engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
            else:
                with engine.connect() as conn:
                    assert conn.execute(text("SELECT 1")).scalar() == 1
        finally:
            engine.dispose()


def test_session_errors_do_not_carry_bound_values(app: Flask, make_user) -> None:
    name, _ = make_user()
    with pytest.raises(IntegrityError) as raised:
        db.session.execute(insert(User), [{"username": name, "password_hash": "x"}])
    db.session.rollback()
    assert name not in str(raised.value).split("[SQL")[1] and "parameters hidden" in str(raised.value)


@pytest.mark.skipif("postgresql" not in BACKENDS, reason="only a database server can drop a connection")
def test_a_dropped_database_connection_is_a_503_then_the_pool_recovers(tmp_path: Path) -> None:
    from flask_migrate import upgrade

    from authserver import create_app
    from authserver.registration import register_client

    with new_database("postgresql", tmp_path) as url:
        app = create_app({"database_url": url, "instance_path": str(tmp_path / "instance"),
                          "secret_key": "outage-" + uuid.uuid4().hex, "db_ping_after_idle": 3600})
        with app.app_context():
            upgrade()
            client, secret = register_client(app.extensions["authserver"].hasher, "o", ["client_credentials"],
                                             "reports:read")
            client_id = client.client_id
            db.session.remove()
        http = app.test_client()

        def token() -> Any:
            return http.post("/oauth/token", data={"grant_type": "client_credentials"},
                             auth=(client_id, secret))

        assert token().status_code == 200
        assert _terminate_backends(url.rsplit("/", 1)[1]) >= 1
        failed = token()
        assert failed.status_code == 503 and failed.headers["Retry-After"] == "1"
        assert failed.json == {"error": "temporarily_unavailable",
                               "error_description": "The server cannot reach its database; retry."}
        assert token().status_code == 200
        with app.app_context():
            db.engine.dispose()
